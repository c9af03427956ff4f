//go:build !js

package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/onertc/onertc/client"
)

// Run takes part in the call until the duration is over, ctx ends or the call fails. It
// returns an error wrapping ErrNoConnection or ErrNoMedia when the call did not work.
func (b *Bot) Run(ctx context.Context) (Summary, error) {
	s := session{run: b.call.Run, hangup: b.call.Hangup, handle: b.handle, emit: b.emit,
		media: func(sum Summary) error {
			if b.mediaReceived(sum) {
				return nil
			}
			return fmt.Errorf("%w: video %d, audio %d packets, %d data messages", ErrNoMedia,
				sum.Video.PacketsReceived, sum.Audio.PacketsReceived, sum.Data.MessagesReceived)
		}}
	if b.tracks != nil {
		s.pumps = []pump{{"media", b.tracks.pump}}
	}
	return b.runSession(ctx, s)
}

// session is what differs between a 1:1 bot's call and a group bot's; runSession is the
// rest, the same for both.
type session struct {
	pumps  []pump
	run    func(context.Context) error
	hangup func()
	// handle turns a call event into records and reports a (re)connection; group and
	// handleGroup do the same for a group session's events (nil for a 1:1 bot).
	handle      func(client.Event, *Summary) bool
	group       <-chan client.GroupEvent
	handleGroup func(client.GroupEvent, *Summary) bool
	emit        func(Record)
	// media says why what arrived is not enough (nil: enough).
	media func(Summary) error
}

// pump sends media until its context ends.
type pump struct {
	name string
	run  func(context.Context) error
}

func (b *Bot) runSession(ctx context.Context, s session) (Summary, error) {
	b.start = time.Now()
	defer close(b.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := b.admit(ctx); err != nil {
		return Summary{}, err
	}
	for _, p := range s.pumps {
		go func() {
			if err := p.run(ctx); err != nil {
				b.log.Error(p.name+" pump stopped", "err", err)
			}
		}()
	}
	errc := make(chan error, 1)
	go func() { errc <- s.run(ctx) }()

	var sum Summary
	var failure, callErr error
	connectTimer := time.NewTimer(b.opts.Timeout)
	defer connectTimer.Stop()
	var hangup <-chan time.Time
	var stats <-chan time.Time
	if b.opts.StatsEvery > 0 {
		t := time.NewTicker(b.opts.StatsEvery)
		defer t.Stop()
		stats = t.C
	}
	connected := func(ok bool) {
		if ok && hangup == nil {
			connectTimer.Stop()
			if b.opts.Duration > 0 {
				hangup = time.After(b.opts.Duration)
			}
		}
	}
loop:
	for {
		select {
		case ev := <-b.events:
			connected(s.handle(ev, &sum))
		case ev := <-s.group:
			connected(s.handleGroup(ev, &sum))
		case t := <-b.first:
			sum.FirstMedia = t
		case <-connectTimer.C:
			failure = fmt.Errorf("%w (%v)", ErrNoConnection, b.opts.Timeout)
			s.hangup()
		case <-hangup:
			s.hangup()
		case <-stats:
			s.emit(b.statsRecord("stats"))
		case callErr = <-errc:
			break loop
		}
	}
	// Drain what the call reported before it returned.
	for drained := false; !drained; {
		select {
		case ev := <-b.events:
			s.handle(ev, &sum)
		case ev := <-s.group:
			s.handleGroup(ev, &sum)
		case t := <-b.first:
			sum.FirstMedia = t
		default:
			drained = true
		}
	}
	sum.Video, sum.Audio = b.cnt.video.snapshot(), b.cnt.audio.snapshot()
	sum.Data = DataStats{MessagesSent: b.cnt.dataSent.Load(), MessagesReceived: b.cnt.dataRecv.Load()}
	switch {
	case callErr != nil:
		failure = fmt.Errorf("call: %w", callErr)
	case failure != nil:
	case !sum.Connected:
		failure = ErrNoConnection
	default:
		failure = s.media(sum)
	}
	rec := b.statsRecord("closed")
	ok := failure == nil
	rec.OK = &ok
	if failure != nil {
		rec.Error = failure.Error()
	}
	s.emit(rec)
	return sum, failure
}

func (b *Bot) mediaReceived(s Summary) bool {
	if s.Data.MessagesReceived == 0 {
		return false
	}
	return b.opts.Media == MediaData || (s.Video.PacketsReceived > 0 && s.Audio.PacketsReceived > 0)
}

// handle turns a call event into records; it reports a (re)connection.
func (b *Bot) handle(ev client.Event, sum *Summary) bool {
	switch ev.Kind {
	case client.EventJoined:
		init := ev.Initiator
		sum.JoinedAt = time.Now()
		b.emit(Record{Event: "joined", Room: b.opts.Room, ClientID: ev.Params.ClientID, IsInitiator: &init})
	case client.EventState:
		if ev.State != client.PeerStateConnected {
			b.emit(Record{Event: "state", State: ev.State.String()})
			return false
		}
		rec := Record{Event: "connected"}
		if p := b.peer.Load(); p != nil {
			rec.LocalCandidate, rec.RemoteCandidate, _ = p.SelectedPair()
		}
		if !sum.Connected {
			sum.Connected = true
			sum.ConnectedAt = time.Now()
		}
		b.emit(rec)
		return true
	case client.EventVerification:
		v := ev.Verification
		b.log.Info("verification code", "code", v.Code)
		b.emit(Record{Event: "verification", VerificationCode: v.Code,
			LocalFingerprint: v.Local.String(), RemoteFingerprint: v.Remote.String()})
	case client.EventBye:
		b.emit(Record{Event: "bye"})
	case client.EventRelayLost, client.EventRelayRestore:
		b.emit(Record{Event: string(ev.Kind)})
	}
	return false
}

func (b *Bot) statsRecord(event string) Record {
	v, a := b.cnt.video.snapshot(), b.cnt.audio.snapshot()
	d := DataStats{MessagesSent: b.cnt.dataSent.Load(), MessagesReceived: b.cnt.dataRecv.Load()}
	rec := Record{Event: event, Data: &d}
	if b.tracks != nil {
		rec.Video, rec.Audio = &v, &a
	}
	if p := b.peer.Load(); p != nil {
		if rtt, ok := p.RTT(); ok {
			ms := float64(rtt.Microseconds()) / 1000
			rec.RTTMS = &ms
		}
	}
	return rec
}

func (b *Bot) emit(rec Record) {
	rec.Bot = b.opts.Index
	rec.At = time.Now()
	rec.TimeMS = rec.At.Sub(b.start).Milliseconds()
	b.opts.Output.write(rec)
	if b.opts.OnRecord != nil {
		b.opts.OnRecord(rec)
	}
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic("bot: marshal record: " + err.Error())
	}
	return data
}
