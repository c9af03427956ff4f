//go:build !js

package bot

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v3"

	"github.com/onertc/onertc/client"
	"github.com/onertc/onertc/protocol"
)

// GroupOptions are what a bot in a group room adds to Options.
type GroupOptions struct {
	// Name is the display name in the group (empty: the server makes one up).
	Name string
	// ViewWidth and ViewHeight are the tile size the bot reports for every other
	// participant (the SFU picks the simulcast layer from it); 0 leaves it to bandwidth.
	ViewWidth, ViewHeight int
	// Simulcast publishes the video in three encodings (RIDs q, h, f) on the SFU.
	Simulcast bool
	// OnSFU makes the bot count as connected (for Options.Duration and Options.Timeout)
	// only once it is on the SFU, not when the 1:1 call it may start in connects: in a
	// room meant for three or more, a slow move to the SFU must not eat the call's time.
	OnSFU bool
	// OnGroupEvent, when set, sees every group session event (tests); it must not block.
	OnGroupEvent func(client.GroupEvent)
	// OnGroupRecord, when set, sees every record of the group bot (tests).
	OnGroupRecord func(GroupRecord)
}

// RemoteStats is what a bot received from one other participant (the key of
// GroupRecord.Remotes: in a group room its participant id, in a 1:1 call the stream id its
// tracks carry).
type RemoteStats struct {
	VideoPackets int64  `json:"video_packets"`
	VideoFrames  int64  `json:"video_frames"`
	VideoBytes   int64  `json:"video_bytes"`
	AudioPackets int64  `json:"audio_packets"`
	AudioBytes   int64  `json:"audio_bytes"`
	Layer        string `json:"layer,omitempty"`
	// MaxVideoGapMS is the longest time between two video packets since the bot started
	// (or since ResetGaps).
	MaxVideoGapMS int64 `json:"max_video_gap_ms"`
	// FirstVideo and LastVideo are the arrival times of the first and the last video packet.
	FirstVideo time.Time `json:"-"`
	LastVideo  time.Time `json:"-"`
	// VideoGaps are the last gaps between video packets of at least recordGap, oldest
	// first, so a test can tell whether another stream of the same person covered them.
	VideoGaps []Gap `json:"-"`
}

// Gap is a time without video packets: From the last before it, To the first after it.
type Gap struct{ From, To time.Time }

// Gaps shorter than recordGap are not listed in VideoGaps; at most keepGaps are.
const (
	recordGap = 200 * time.Millisecond
	keepGaps  = 16
)

// Covered lists the times s received video: from its first packet to its last, without
// its gaps.
func (s RemoteStats) Covered() []Gap {
	if s.FirstVideo.IsZero() {
		return nil
	}
	out, from := []Gap{}, s.FirstVideo
	for _, g := range s.VideoGaps {
		out = append(out, Gap{From: from, To: g.From})
		from = g.To
	}
	return append(out, Gap{From: from, To: s.LastVideo})
}

// LongestStop is the longest time, between the first video packet of any of streams and
// the last of any, in which none of them received video: how long the picture of one
// person froze who reached the bot by several streams (a 1:1 call, then the SFU). Gaps
// shorter than recordGap are not seen.
func LongestStop(streams ...RemoteStats) time.Duration {
	var spans []Gap
	for _, s := range streams {
		spans = append(spans, s.Covered()...)
	}
	if len(spans) == 0 {
		return 0
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].From.Before(spans[j].From) })
	var longest time.Duration
	end := spans[0].To
	for _, sp := range spans[1:] {
		if gap := sp.From.Sub(end); gap > longest {
			longest = gap
		}
		if sp.To.After(end) {
			end = sp.To
		}
	}
	return longest
}

// GroupRecord is a record of a group-capable bot: Record plus what it receives per remote.
type GroupRecord struct {
	Record
	Participants int                    `json:"participants,omitempty"`
	Remotes      map[string]RemoteStats `json:"remotes,omitempty"`
}

// remotes counts what arrives per remote publisher.
type remotes struct {
	mu sync.Mutex
	m  map[string]*RemoteStats
}

func (r *remotes) get(key string) *RemoteStats {
	s := r.m[key]
	if s == nil {
		s = &RemoteStats{}
		r.m[key] = s
	}
	return s
}

func (r *remotes) packet(key string, video bool, n int, marker bool, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.get(key)
	if !video {
		s.AudioPackets++
		s.AudioBytes += int64(n)
		return
	}
	s.VideoPackets++
	s.VideoBytes += int64(n)
	if marker {
		s.VideoFrames++
	}
	if s.FirstVideo.IsZero() {
		s.FirstVideo = at
	} else {
		gap := at.Sub(s.LastVideo)
		s.MaxVideoGapMS = max(s.MaxVideoGapMS, gap.Milliseconds())
		if gap >= recordGap {
			if len(s.VideoGaps) == keepGaps {
				s.VideoGaps = append(s.VideoGaps[:0:0], s.VideoGaps[1:]...)
			}
			s.VideoGaps = append(s.VideoGaps, Gap{From: s.LastVideo, To: at})
		}
	}
	s.LastVideo = at
}

func (r *remotes) layer(key, layer string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.get(key).Layer = layer
}

func (r *remotes) snapshot() map[string]RemoteStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]RemoteStats, len(r.m))
	for k, s := range r.m {
		c := *s
		c.VideoGaps = append([]Gap(nil), s.VideoGaps...)
		out[k] = c
	}
	return out
}

func (r *remotes) resetGaps() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.m {
		s.MaxVideoGapMS, s.VideoGaps = 0, nil
	}
}

// GroupBot is a bot that can be in a group room: it joins with group=1, takes part in the
// 1:1 call while the room holds two, and moves to the SFU when the room becomes a group
// (or joins the group directly). On the SFU it publishes the same VP8 clip (one layer, or
// with Simulcast three of different sizes) and Opus, and counts what it receives per
// participant.
type GroupBot struct {
	b     *Bot
	gopts GroupOptions
	call  *client.GroupCall
	rem   remotes
	sim   *simulcast // nil: one layer

	groupEv chan client.GroupEvent
	mu      sync.Mutex
	people  int
	ids     map[string]bool // participant ids of the group, ever
	self    string          // this bot's participant id
	others  []string        // the other participants now
}

// groupTrack reports whether key is a participant of the group (not a 1:1 stream).
func (gb *GroupBot) groupTrack(key string) bool {
	gb.mu.Lock()
	defer gb.mu.Unlock()
	return gb.ids[key]
}

// everyonesVideo reports whether video from every other participant has arrived.
func (gb *GroupBot) everyonesVideo() bool {
	gb.mu.Lock()
	others := gb.others
	gb.mu.Unlock()
	if len(others) == 0 {
		return false
	}
	rem := gb.rem.snapshot()
	for _, id := range others {
		if rem[id].VideoPackets == 0 {
			return false
		}
	}
	return true
}

// NewGroup builds a group-capable bot. Media must be av (the SFU forwards no data channel).
func NewGroup(opts Options, g GroupOptions) (*GroupBot, error) {
	if opts.Media == MediaData {
		return nil, fmt.Errorf("%w: a group bot sends audio and video (--media av)", ErrBadOptions)
	}
	if g.Name != "" && !protocol.ValidName(g.Name) {
		return nil, fmt.Errorf("%w: name %q", ErrBadOptions, g.Name)
	}
	if g.ViewWidth < 0 || g.ViewHeight < 0 {
		return nil, fmt.Errorf("%w: view %dx%d", ErrBadOptions, g.ViewWidth, g.ViewHeight)
	}
	b, err := New(opts)
	if err != nil {
		return nil, err
	}
	gb := &GroupBot{b: b, gopts: g, rem: remotes{m: map[string]*RemoteStats{}}, ids: map[string]bool{}, groupEv: make(chan client.GroupEvent, 256)}
	if g.Simulcast {
		if gb.sim, err = newSimulcast(b, fmt.Sprintf("onertc-bot-%d", opts.Index)); err != nil {
			return nil, err
		}
	}
	tr := opts.Transport
	if tr == nil {
		tr = b.http
	}
	gc, err := client.NewGroupCall(client.GroupCallConfig{
		Call: client.Config{Room: opts.Room, Transport: tr, NewPeer: gb.newPeer, RelayOnly: opts.RelayOnly,
			Logger: b.log, OnEvent: b.onEvent, RecoverAfter: opts.RecoverAfter,
			DisconnectedGrace: -1, SilenceTimeout: opts.SilenceTimeout},
		WaitMedia: true,
		Group: client.GroupConfig{Name: g.Name, NewUp: gb.newUp, NewDown: gb.newDown,
			ViewWidth: g.ViewWidth, ViewHeight: g.ViewHeight, Logger: b.log, OnEvent: gb.onGroupEvent},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	gb.call = gc
	return gb, nil
}

// Bot is the underlying bot (counters over every peer).
func (gb *GroupBot) Bot() *Bot { return gb.b }

// GroupCall is the bot's call.
func (gb *GroupBot) GroupCall() *client.GroupCall { return gb.call }

// Hangup leaves the call, 1:1 or group.
func (gb *GroupBot) Hangup() { gb.call.Hangup() }

// Remotes is what the bot received so far per remote publisher.
func (gb *GroupBot) Remotes() map[string]RemoteStats { return gb.rem.snapshot() }

// ResetGaps starts the gap measurement of every remote afresh.
func (gb *GroupBot) ResetGaps() { gb.rem.resetGaps() }

// newPeer is the 1:1 peer: the bot's usual peer, whose remote tracks are also counted per
// remote, so a move to the SFU can be measured end to end.
func (gb *GroupBot) newPeer(ctx context.Context, cfg client.PeerConfig) (client.Peer, error) {
	p, err := gb.b.newPeer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	p.(*client.PionPeer).PC().OnTrack(gb.onTrack)
	return p, nil
}

// newUp is the publishing peer of the group: the bot's tracks (the video in three layers
// with Simulcast), send only, no data channel.
func (gb *GroupBot) newUp(_ context.Context, cfg client.PeerConfig) (client.Peer, error) {
	api, tracks := gb.b.api, []webrtc.TrackLocal{gb.b.tracks.video, gb.b.tracks.audio}
	if gb.sim != nil {
		api, tracks = gb.sim.api, tracks[1:]
	}
	p, err := client.NewPionPeer(api, cfg)
	if err != nil {
		return nil, err
	}
	if gb.sim != nil {
		if err := gb.sim.attach(p.PC()); err != nil {
			_ = p.Close()
			return nil, err
		}
	}
	for _, t := range tracks {
		tr, err := p.PC().AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			_ = p.Close()
			return nil, fmt.Errorf("add %s track: %w", t.Kind(), err)
		}
		go gb.b.tracks.readRTCP(tr.Sender())
	}
	return p, nil
}

// newDown is the receiving peer of the group.
func (gb *GroupBot) newDown(_ context.Context, cfg client.PeerConfig) (client.Peer, error) {
	p, err := client.NewPionPeer(gb.b.api, cfg)
	if err != nil {
		return nil, err
	}
	p.PC().OnTrack(gb.onTrack)
	return p, nil
}

// onTrack reads a remote track (reading drives the counting interceptors) and counts it
// per publisher: the stream id.
func (gb *GroupBot) onTrack(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	key, video := t.StreamID(), t.Kind() == webrtc.RTPCodecTypeVideo
	go readTrack(t, func(pkt *rtp.Packet) {
		gb.rem.packet(key, video, pkt.MarshalSize(), pkt.Marker, time.Now())
		if video && gb.groupTrack(key) && gb.everyonesVideo() {
			// The group's video plays: the 1:1 call can go.
			gb.call.MediaArrived()
		}
	})
}

func (gb *GroupBot) onGroupEvent(ev client.GroupEvent) {
	switch ev.Kind {
	case client.GroupEventLayer:
		gb.rem.layer(ev.Participant, ev.Layer)
	case client.GroupEventWelcome, client.GroupEventParticipants:
		gb.mu.Lock()
		gb.people = len(ev.Participants)
		if ev.Self != "" {
			gb.self = ev.Self
		}
		gb.others = gb.others[:0:0]
		for _, p := range ev.Participants {
			gb.ids[p.ID] = true
			if p.ID != gb.self {
				gb.others = append(gb.others, p.ID)
			}
		}
		gb.mu.Unlock()
	}
	if gb.gopts.OnGroupEvent != nil {
		gb.gopts.OnGroupEvent(ev)
	}
	select {
	case gb.groupEv <- ev:
	case <-gb.b.done:
	}
}

// remoteKeys lists the remotes in order, for stable output.
func remoteKeys(m map[string]RemoteStats) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// emit writes rec with what the bot receives per remote (one line, not Bot.emit's too).
func (gb *GroupBot) emit(rec Record) {
	b := gb.b
	rec.Bot = b.opts.Index
	rec.At = time.Now()
	rec.TimeMS = rec.At.Sub(b.start).Milliseconds()
	if b.opts.OnRecord != nil {
		b.opts.OnRecord(rec)
	}
	gb.mu.Lock()
	people := gb.people
	gb.mu.Unlock()
	gr := GroupRecord{Record: rec, Participants: people}
	if rec.Event == "stats" || rec.Event == "closed" {
		gr.Remotes = gb.rem.snapshot()
	}
	gb.b.opts.Output.writeGroup(gr)
	if gb.gopts.OnGroupRecord != nil {
		gb.gopts.OnGroupRecord(gr)
	}
}

func (r *Recorder) writeGroup(rec GroupRecord) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = r.w.Write(append(mustJSON(rec), '\n'))
}
