//go:build !js

package bot

import (
	"context"
	"fmt"
	"time"

	"github.com/onertc/onertc/client"
	"github.com/onertc/onertc/protocol"
)

// Run takes part in the call, 1:1 then group or group from the start, until the duration
// is over, ctx ends or the call fails. It fails (ErrNoConnection, ErrNoMedia) when no
// connection came up or no audio and video arrived.
func (gb *GroupBot) Run(ctx context.Context) (Summary, error) {
	b := gb.b
	b.start = time.Now()
	defer close(b.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := b.admit(ctx); err != nil {
		return Summary{}, err
	}
	go func() {
		if err := b.tracks.pump(ctx); err != nil {
			b.log.Error("media pump stopped", "err", err)
		}
	}()
	if gb.sim != nil {
		go func() {
			if err := gb.sim.pump(ctx); err != nil {
				b.log.Error("simulcast pump stopped", "err", err)
			}
		}()
	}
	errc := make(chan error, 1)
	go func() { errc <- gb.call.Run(ctx) }()

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
	connected := func() {
		if hangup == nil {
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
			if gb.handle(ev, &sum) {
				connected()
			}
		case ev := <-gb.groupEv:
			if gb.handleGroup(ev, &sum) {
				connected()
			}
		case t := <-b.first:
			sum.FirstMedia = t
		case <-connectTimer.C:
			failure = fmt.Errorf("%w (%v)", ErrNoConnection, b.opts.Timeout)
			gb.call.Hangup()
		case <-hangup:
			gb.call.Hangup()
		case <-stats:
			gb.emit(b.statsRecord("stats"))
		case callErr = <-errc:
			break loop
		}
	}
	for drained := false; !drained; {
		select {
		case ev := <-b.events:
			gb.handle(ev, &sum)
		case ev := <-gb.groupEv:
			gb.handleGroup(ev, &sum)
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
	case sum.Video.PacketsReceived == 0 || sum.Audio.PacketsReceived == 0:
		failure = fmt.Errorf("%w: video %d, audio %d packets", ErrNoMedia, sum.Video.PacketsReceived, sum.Audio.PacketsReceived)
	}
	rec := b.statsRecord("closed")
	ok := failure == nil
	rec.OK = &ok
	if failure != nil {
		rec.Error = failure.Error()
	}
	gb.emit(rec)
	return sum, failure
}

// handle turns a 1:1 call event into records; it reports a connection.
func (gb *GroupBot) handle(ev client.Event, sum *Summary) bool {
	switch ev.Kind {
	case client.EventJoined:
		init := ev.Initiator
		sum.JoinedAt = time.Now()
		gb.emit(Record{Event: "joined", Room: gb.b.opts.Room, ClientID: ev.Params.ClientID, IsInitiator: &init})
	case client.EventGroup:
		gb.emit(Record{Event: "group"})
	case client.EventState:
		if ev.State != client.PeerStateConnected {
			gb.emit(Record{Event: "state", State: ev.State.String()})
			return false
		}
		rec := Record{Event: "connected"}
		if p := gb.b.peer.Load(); p != nil {
			rec.LocalCandidate, rec.RemoteCandidate, _ = p.SelectedPair()
		}
		gb.connected(sum)
		gb.emit(rec)
		return true
	case client.EventBye:
		gb.emit(Record{Event: "bye"})
	}
	return false
}

// handleGroup turns a group event into records; it reports the down connection's.
func (gb *GroupBot) handleGroup(ev client.GroupEvent, sum *Summary) bool {
	switch ev.Kind {
	case client.GroupEventState:
		rec := Record{Event: "group_state", State: ev.PC + ":" + ev.State.String()}
		if p, ok := ev.Peer.(*client.PionPeer); ok {
			rec.LocalCandidate, rec.RemoteCandidate, _ = p.SelectedPair()
		}
		gb.emit(rec)
		if ev.PC == protocol.PCDown && ev.State == client.PeerStateConnected {
			gb.connected(sum)
			return true
		}
	case client.GroupEventWelcome:
		gb.emit(Record{Event: "group_welcome", ClientID: ev.Self})
	case client.GroupEventSocketLost, client.GroupEventError:
		gb.emit(Record{Event: "group_" + string(ev.Kind), Error: ev.Err.Error()})
	}
	return false
}

func (gb *GroupBot) connected(sum *Summary) {
	if !sum.Connected {
		sum.Connected = true
		sum.ConnectedAt = time.Now()
	}
}
