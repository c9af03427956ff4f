package sfu

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

// vp8Payload builds a VP8 RTP payload: a descriptor with a 15-bit picture id and a
// TL0PICIDX, then (on a frame's first packet) a frame tag, and for key frames the start
// code and size.
func vp8Payload(start, key bool, pid uint16, tl0 uint8, w, h int) []byte {
	b0 := byte(0x80)
	if start {
		b0 |= 0x10
	}
	p := []byte{b0, 0xc0, 0x80 | byte(pid>>8), byte(pid), tl0}
	if !start {
		return append(p, 0xaa, 0xbb)
	}
	if key {
		return append(p, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, byte(w), byte(w>>8), byte(h), byte(h>>8), 0xee)
	}
	return append(p, 0x11, 0x02, 0x00, 0xee)
}

func TestParseVP8(t *testing.T) {
	tests := []struct {
		name    string
		p       []byte
		ok      bool
		start   bool
		key     bool
		w, h    int
		pid     uint16
		tl0     uint8
		pidOff  int
		tl0Off  int
		pid15   bool
		rewrite bool
	}{
		{"key frame start", vp8Payload(true, true, 0x1234, 7, 640, 360), true, true, true, 640, 360, 0x1234, 7, 2, 4, true, true},
		{"delta frame start", vp8Payload(true, false, 5, 9, 0, 0), true, true, false, 0, 0, 5, 9, 2, 4, true, true},
		{"continuation", vp8Payload(false, false, 5, 9, 0, 0), true, false, false, 0, 0, 5, 9, 2, 4, true, true},
		{"no extension, key frame", []byte{0x10, 0x00, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00}, true, true, true, 320, 180, 0, 0, -1, -1, false, false},
		{"7-bit picture id", []byte{0x90, 0x80, 0x05, 0x01}, true, true, false, 0, 0, 5, 0, 2, -1, false, true},
		{"later partition is not a start", []byte{0x11, 0x00}, true, false, false, 0, 0, 0, 0, -1, -1, false, false},
		{"empty", nil, false, false, false, 0, 0, 0, 0, -1, -1, false, false},
		{"truncated picture id", []byte{0x90, 0x80, 0x85}, false, false, false, 0, 0, 0, 0, 2, -1, false, false},
		{"descriptor only", []byte{0x90, 0x80, 0x05}, false, false, false, 0, 0, 5, 0, 2, -1, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info, ok := parseVP8(tc.p)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if info.start != tc.start || info.keyframe != tc.key || info.width != tc.w || info.height != tc.h {
				t.Fatalf("start %v key %v %dx%d, want %v %v %dx%d", info.start, info.keyframe, info.width, info.height, tc.start, tc.key, tc.w, tc.h)
			}
			if info.pid != tc.pid || info.tl0 != tc.tl0 || info.pidOff != tc.pidOff || info.tl0Off != tc.tl0Off || info.pid15 != tc.pid15 {
				t.Fatalf("pid %d@%d (15 bits %v) tl0 %d@%d, want %d@%d (%v) %d@%d", info.pid, info.pidOff, info.pid15, info.tl0, info.tl0Off, tc.pid, tc.pidOff, tc.pid15, tc.tl0, tc.tl0Off)
			}
			if !tc.rewrite {
				return
			}
			p := append([]byte(nil), tc.p...)
			setVP8IDs(p, info, 0x7ffe, 200)
			again, ok := parseVP8(p)
			wantPid := uint16(0x7ffe)
			if !info.pid15 {
				wantPid &= 0x7f
			}
			wantTl0 := uint8(200)
			if info.tl0Off < 0 {
				wantTl0 = 0
			}
			if !ok || again.pid != wantPid || again.tl0 != wantTl0 || again.keyframe != info.keyframe || again.width != info.width {
				t.Fatalf("after rewrite: %+v, want pid %d tl0 %d", again, wantPid, wantTl0)
			}
		})
	}
}

func TestRewriter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type step struct {
		switchTo bool // start a new epoch at this packet first
		p        srcPacket
		at       time.Duration
		ok       bool
		want     outIDs
	}
	tests := []struct {
		name  string
		clock uint32
		steps []step
	}{
		{"one layer passes through with reordering", 90000, []step{
			{true, srcPacket{0, 100, 5000, 10, 1, false}, 0, true, outIDs{100, 5000, 10, 1}},
			{false, srcPacket{0, 102, 8000, 11, 1, false}, 33 * time.Millisecond, true, outIDs{102, 8000, 11, 1}},
			{false, srcPacket{0, 101, 5000, 10, 1, false}, 34 * time.Millisecond, true, outIDs{101, 5000, 10, 1}},
			{false, srcPacket{0, 99, 2000, 9, 1, false}, 35 * time.Millisecond, false, outIDs{}},
			{false, srcPacket{1, 500, 1, 1, 1, false}, 35 * time.Millisecond, false, outIDs{}},
		}},
		{"switch continues numbers and advances time", 90000, []step{
			{true, srcPacket{0, 65534, 4294967000, 0x7fff, 255, false}, 0, true, outIDs{65534, 4294967000, 0x7fff, 255}},
			{false, srcPacket{0, 65535, 4294967000, 0x7fff, 255, false}, 0, true, outIDs{65535, 4294967000, 0x7fff, 255}},
			// 100 ms later layer 1's key frame: next seq, ts + 9000 (both wrapping), pid and tl0 wrap.
			{true, srcPacket{1, 7, 123, 40, 3, false}, 100 * time.Millisecond, true, outIDs{0, 8704, 0, 0}},
			{false, srcPacket{1, 8, 3123, 41, 3, false}, 133 * time.Millisecond, true, outIDs{1, 11704, 1, 0}},
			{false, srcPacket{1, 6, 0, 39, 3, false}, 134 * time.Millisecond, false, outIDs{}},
			{false, srcPacket{0, 0, 4294967000, 0, 0, false}, 134 * time.Millisecond, false, outIDs{}},
		}},
		// A probe (padding only, no VP8 descriptor) takes its sequence number; the next
		// layer's picture id and TL0PICIDX continue from the last packet that had them.
		{"a switch after a probe continues the picture id from before it", 90000, []step{
			{true, srcPacket{0, 100, 5000, 2019, 7, false}, 0, true, outIDs{100, 5000, 2019, 7}},
			{false, srcPacket{0, 101, 5000, 0, 0, true}, 10 * time.Millisecond, true, outIDs{101, 5000, 0, 0}},
			{true, srcPacket{1, 900, 70000, 40, 3, false}, 33 * time.Millisecond, true, outIDs{102, 7070, 2020, 8}},
		}},
		{"switch at once advances time by one tick", 48000, []step{
			{true, srcPacket{0, 10, 960, 0, 0, false}, 0, true, outIDs{10, 960, 0, 0}},
			{true, srcPacket{1, 90, 50, 0, 0, false}, 0, true, outIDs{11, 961, 1, 1}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRewriter(tc.clock)
			for i, s := range tc.steps {
				now := t0.Add(s.at)
				if s.switchTo {
					r.switchTo(s.p, now)
				}
				got, ok := r.rewrite(s.p, now)
				if ok != s.ok || got != s.want {
					t.Fatalf("step %d: rewrite(%+v) = %+v %v, want %+v %v", i, s.p, got, ok, s.want, s.ok)
				}
			}
		})
	}
}

// TestRewriterLongEpoch: a stream that never switches layer (audio, or a video whose layer
// suits its subscriber) keeps flowing past the half of the 16-bit sequence space, and
// retransmissions of recent packets still map back.
func TestRewriterLongEpoch(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := newRewriter(48000)
	const n = 100000
	first := uint16(60000)
	r.switchTo(srcPacket{seq: first}, t0)
	for i := 0; i < n; i++ {
		p := srcPacket{seq: first + uint16(i), ts: uint32(i) * 960}
		got, ok := r.rewrite(p, t0)
		if !ok || got.seq != p.seq || got.ts != p.ts {
			t.Fatalf("packet %d (seq %d): rewrite = %+v %v, want it unchanged", i, p.seq, got, ok)
		}
	}
	last := first + uint16((n-1)%65536)
	for _, back := range []uint16{0, 1, 100, epochReach - 1} {
		if e, in, ok := r.lookup(last - back); !ok || e.layer != 0 || in != last-back {
			t.Errorf("lookup(%d) = layer %d in %d %v, want layer 0 in %d", last-back, e.layer, in, ok, last-back)
		}
	}
	if _, ok := r.rewrite(srcPacket{seq: last - 3*epochReach}, t0); ok {
		t.Errorf("a packet %d behind the newest was forwarded", 3*epochReach)
	}
}

func TestRewriterLookup(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := newRewriter(90000)
	if _, _, ok := r.lookup(5); ok {
		t.Fatal("lookup before any packet succeeded")
	}
	// Layer 0 sends in 1000..1009 (out 1000..1009), layer 2 from in 50 (out 1010..1019),
	// layer 1 from in 7000 (out 1020..1024).
	feed := func(layer int, first uint16, n int) {
		for i := 0; i < n; i++ {
			p := srcPacket{layer: layer, seq: first + uint16(i)}
			if i == 0 {
				r.switchTo(p, t0)
			}
			if _, ok := r.rewrite(p, t0); !ok {
				t.Fatalf("packet %+v not forwarded", p)
			}
		}
	}
	feed(0, 1000, 10)
	feed(2, 50, 10)
	feed(1, 7000, 5)
	tests := []struct {
		out   uint16
		ok    bool
		layer int
		in    uint16
	}{
		{1000, true, 0, 1000},
		{1009, true, 0, 1009},
		{1010, true, 2, 50},
		{1019, true, 2, 59},
		{1020, true, 1, 7000},
		{1024, true, 1, 7004},
		{1025, false, 0, 0}, // not sent yet
		{999, false, 0, 0},  // before the stream
	}
	for _, tc := range tests {
		e, in, ok := r.lookup(tc.out)
		if ok != tc.ok || (ok && (e.layer != tc.layer || in != tc.in)) {
			t.Errorf("lookup(%d) = layer %d in %d %v, want layer %d in %d %v", tc.out, e.layer, in, ok, tc.layer, tc.in, tc.ok)
		}
	}
}

func TestChooseLayer(t *testing.T) {
	sim := []layerView{
		{bitrate: 150_000, width: 320, height: 180, active: true},
		{bitrate: 500_000, width: 640, height: 360, active: true},
		{bitrate: 1_500_000, width: 1280, height: 720, active: true},
	}
	// The same layers announced high first, as some clients order their rids.
	reversed := []layerView{sim[2], sim[1], sim[0]}
	highDown := []layerView{sim[0], sim[1], {bitrate: 0, width: 1280, height: 720, active: false}}
	unknownSize := []layerView{
		{bitrate: 900_000, active: true},
		{bitrate: 100_000, active: true},
	}
	tests := []struct {
		name         string
		layers       []layerView
		current      int
		budget       uint64
		tileW, tileH int
		want         int
	}{
		{"plenty of bandwidth, size unknown: highest", sim, -1, 5_000_000, 0, 0, 2},
		{"low estimate: lowest", sim, 2, 100_000, 0, 0, 0},
		{"middle estimate", sim, 0, 1_000_000, 0, 0, 1},
		{"small tile caps the layer", sim, -1, 5_000_000, 300, 170, 0},
		{"medium tile", sim, -1, 5_000_000, 600, 340, 1},
		{"tile off screen (1x1): lowest", sim, 2, 5_000_000, 1, 1, 0},
		{"tile larger than every layer: highest", sim, -1, 5_000_000, 1920, 1080, 2},
		{"stays on a layer that fits exactly", sim, 1, 500_000, 0, 0, 1},
		{"does not climb without headroom", sim, 1, 1_600_000, 0, 0, 1},
		{"climbs with headroom", sim, 1, 1_900_000, 0, 0, 2},
		{"order on the wire does not matter", reversed, -1, 1_000_000, 0, 0, 1},
		{"inactive high layer is skipped", highDown, 2, 5_000_000, 0, 0, 1},
		{"size unknown: ordered by bitrate", unknownSize, -1, 500_000, 0, 0, 1},
		{"nothing active keeps current", []layerView{{}, {}}, 1, 5_000_000, 0, 0, 1},
		{"single layer", []layerView{{bitrate: 40_000, active: true}}, -1, 1, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := chooseLayer(tc.layers, tc.current, tc.budget, tc.tileW, tc.tileH); got != tc.want {
				t.Fatalf("chooseLayer = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestSpeakerDetector(t *testing.T) {
	const tick = 100 * time.Millisecond
	// Each interval lists the levels every publisher sends in it (one packet each).
	type interval map[string]uint8
	tests := []struct {
		name      string
		intervals []interval
		remove    map[int]string // before interval i, remove this publisher
		want      string         // active speaker after the last interval
		changes   int            // how many times the mark moved
	}{
		{"nobody speaks", []interval{{"a": 127, "b": 100}, {"a": 127, "b": 100}}, nil, "", 0},
		{"one speaker takes the mark at once", []interval{{"a": 30, "b": 127}}, nil, "a", 1},
		{"the louder of two", []interval{{"a": 50, "b": 20}, {"a": 50, "b": 20}}, nil, "b", 1},
		{"a short interruption does not move the mark", []interval{
			{"a": 30}, {"a": 30}, {"a": 30, "b": 5}, {"a": 30, "b": 5}, {"a": 30}, {"a": 30},
		}, nil, "a", 1},
		{"a sustained new speaker takes it", []interval{
			{"a": 30}, {"a": 30}, {"a": 127, "b": 20}, {"a": 127, "b": 20}, {"a": 127, "b": 20},
			{"a": 127, "b": 20}, {"a": 127, "b": 20}, {"a": 127, "b": 20}, {"a": 127, "b": 20},
		}, nil, "b", 2},
		{"silence keeps the last speaker", []interval{{"a": 30}, {"a": 127}, {"a": 127}, {"a": 127}}, nil, "a", 1},
		{"the speaker leaves", []interval{{"a": 30, "b": 70}, {"b": 70}}, map[int]string{1: "a"}, "b", 2},
		// b's voice comes in short bursts, quiet in between (Chromium's fake microphone):
		// the quiet intervals do not cancel its claim.
		{"a speaker in bursts takes the mark from a silent holder", append([]interval{{"a": 30}},
			bursts(10, interval{"a": 127, "b": 70}, interval{"a": 127})...), nil, "b", 2},
		// One burst, then a long quiet: the claim lapsed, so the next burst starts a new one.
		{"a claim lapses after a long quiet", append(append([]interval{{"a": 30}, {"a": 127, "b": 70}},
			bursts(24, interval{"a": 127}, interval{"a": 127})...), interval{"a": 127, "b": 70}), nil, "a", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newSpeakerDetector()
			now := time.Unix(0, 0)
			changes := 0
			var got string
			for i, iv := range tc.intervals {
				if id, ok := tc.remove[i]; ok {
					d.remove(id)
				}
				for id, level := range iv {
					d.observe(id, level)
				}
				now = now.Add(tick)
				var changed bool
				got, changed = d.tick(now)
				if changed {
					changes++
				}
			}
			if got != tc.want || changes != tc.changes {
				t.Fatalf("active %q after %d changes, want %q after %d", got, changes, tc.want, tc.changes)
			}
		})
	}
}

// bursts is n intervals alternating between loud and quiet, loud first.
func bursts[T any](n int, loud, quiet T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = quiet
		if i%2 == 0 {
			out[i] = loud
		}
	}
	return out
}

// FuzzParseVP8: any payload a publisher sends parses without panicking, and writing picture
// ids into what parsed keeps its length and its frame boundaries.
func FuzzParseVP8(f *testing.F) {
	f.Add(vp8Payload(true, true, 0x1234, 7, 640, 360))
	f.Add(vp8Payload(false, false, 5, 9, 0, 0))
	f.Add([]byte{0x90, 0x80, 0x05, 0x01})
	f.Fuzz(func(t *testing.T, p []byte) {
		info, ok := parseVP8(p)
		if !ok {
			return
		}
		q := append([]byte(nil), p...)
		setVP8IDs(q, info, 0x1357, 9)
		again, ok := parseVP8(q)
		if !ok || len(q) != len(p) || again.start != info.start || again.keyframe != info.keyframe || again.width != info.width {
			t.Fatalf("rewriting ids changed %+v into %+v", info, again)
		}
	})
}

func TestPionLogsGoToSlog(t *testing.T) {
	var buf strings.Builder
	f := pionLogs(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	l := f.NewLogger("ice")
	l.Infof("chatter %d", 1) // debug: below the handler's level
	l.Warnf("pair %s failed", "x")
	l.Error("dtls broke")
	got := buf.String()
	for _, want := range []string{`level=INFO msg="pair x failed" pion=ice`, `level=WARN msg="dtls broke" pion=ice`} {
		if !strings.Contains(got, want) {
			t.Errorf("log %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "chatter") {
		t.Errorf("pion's info reached an info-level log: %q", got)
	}
}

func TestLossEstimator(t *testing.T) {
	t0 := time.Unix(0, 0)
	type rep struct {
		at   time.Duration
		lost uint8 // of 256
	}
	tests := []struct {
		name    string
		reports []rep
		want    uint64
	}{
		{"first report without loss grows nothing yet", []rep{{0, 0}}, 1_000_000},
		{"a second without loss: +8 %", []rep{{0, 0}, {time.Second, 0}}, 1_080_000},
		{"growth counts at most a second per report", []rep{{0, 0}, {10 * time.Second, 0}}, 1_080_000},
		{"moderate loss holds", []rep{{0, 0}, {time.Second, 10}}, 1_000_000},
		{"25 % loss cuts by 12.5 %", []rep{{0, 64}}, 875_000},
		{"one cut per burst", []rep{{0, 64}, {100 * time.Millisecond, 64}}, 875_000},
		{"cuts again after the gap", []rep{{0, 64}, {400 * time.Millisecond, 64}}, 765_625},
		{"total loss floors at the minimum", []rep{{0, 255}, {time.Second, 255}, {2 * time.Second, 255}, {3 * time.Second, 255}, {4 * time.Second, 255}, {5 * time.Second, 255}, {6 * time.Second, 255}, {7 * time.Second, 255}}, minEstimate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e lossEstimator
			var got uint64
			for _, r := range tc.reports {
				got = e.report(r.lost, t0.Add(r.at), 1_000_000)
			}
			// Float rounding: within 1 bps.
			if d := int64(got) - int64(tc.want); d < -1 || d > 1 {
				t.Fatalf("estimate %d, want %d", got, tc.want)
			}
		})
	}
}
