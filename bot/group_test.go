//go:build !js

package bot

import (
	"errors"
	"fmt"
	"io"
	"testing"
	"time"
)

func TestParseGroupFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr error
		check   func(config) bool
	}{
		{"defaults: rooms of two, no group", []string{"--room", "r"}, nil, func(c config) bool {
			return c.groupSize == 2 && !c.group && c.gopts.ViewWidth == 640 && c.gopts.ViewHeight == 360
		}},
		{"group size implies group", []string{"--room", "r", "--count", "8", "--group-size", "4", "--name", "Bot Zoë", "--view", "320x180"}, nil, func(c config) bool {
			return c.groupSize == 4 && c.group && c.gopts.OnSFU && c.count == 8 && c.gopts.Name == "Bot Zoë" && c.gopts.ViewWidth == 320 && c.gopts.ViewHeight == 180
		}},
		{"group alone", []string{"--room", "r", "--group", "--view", "0x0"}, nil, func(c config) bool {
			return c.group && !c.gopts.OnSFU && c.groupSize == 2 && c.gopts.ViewWidth == 0
		}},
		{"group size 1", []string{"--room", "r", "--group-size", "1"}, ErrBadOptions, nil},
		{"group size over the protocol's", []string{"--room", "r", "--group-size", "51"}, ErrBadOptions, nil},
		{"bad view", []string{"--room", "r", "--view", "640"}, ErrBadOptions, nil},
		{"negative view", []string{"--room", "r", "--view", "-1x5"}, ErrBadOptions, nil},
		{"view with junk", []string{"--room", "r", "--view", "640x360px"}, ErrBadOptions, nil},
		{"bad name", []string{"--room", "r", "--group", "--name", "a\x01"}, ErrBadOptions, nil},
		{"group without media", []string{"--room", "r", "--group", "--media", "data"}, ErrBadOptions, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseFlags(tt.args, io.Discard)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.check != nil && !tt.check(c) {
				t.Fatalf("parsed %+v", c)
			}
		})
	}
}

func TestRemotesCountAndGaps(t *testing.T) {
	var r remotes
	r.m = map[string]*RemoteStats{}
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	steps := []struct {
		key          string
		video        bool
		n            int
		marker       bool
		atMS         int
		wantGapAfter int64 // MaxVideoGapMS of key after the step
	}{
		{"p1", true, 1000, false, 0, 0},
		{"p1", true, 1000, true, 40, 40},
		{"p1", false, 100, false, 50, 40},
		{"p2", true, 900, true, 60, 0},
		{"p1", true, 1000, true, 700, 660},
		{"p1", true, 1000, true, 740, 660},
	}
	for i, s := range steps {
		r.packet(s.key, s.video, s.n, s.marker, t0.Add(time.Duration(s.atMS)*time.Millisecond))
		if got := r.snapshot()[s.key].MaxVideoGapMS; got != s.wantGapAfter {
			t.Fatalf("step %d: gap %d ms, want %d", i, got, s.wantGapAfter)
		}
	}
	p1 := r.snapshot()["p1"]
	if p1.VideoPackets != 4 || p1.VideoFrames != 3 || p1.VideoBytes != 4000 || p1.AudioPackets != 1 || p1.AudioBytes != 100 {
		t.Errorf("p1 counted %+v", p1)
	}
	if !p1.FirstVideo.Equal(t0) || !p1.LastVideo.Equal(t0.Add(740*time.Millisecond)) {
		t.Errorf("p1 first/last video %v %v", p1.FirstVideo, p1.LastVideo)
	}
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	if got, want := fmt.Sprint(p1.Covered()), fmt.Sprint([]Gap{{ms(0), ms(40)}, {ms(700), ms(740)}}); got != want {
		t.Errorf("p1 covered %s, want %s", got, want)
	}
	r.resetGaps()
	r.layer("p2", "h")
	if s := r.snapshot(); s["p1"].MaxVideoGapMS != 0 || s["p1"].VideoGaps != nil || s["p2"].Layer != "h" || s["p1"].VideoPackets != 4 {
		t.Errorf("after reset and layer: %+v", s)
	}
}

// The longest stop of one person seen through two streams counts only the time neither
// had video: the switch between them, or a gap of one the other did not cover.
func TestLongestStop(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	stream := func(first, last int, gaps ...[2]int) RemoteStats {
		s := RemoteStats{FirstVideo: ms(first), LastVideo: ms(last)}
		for _, g := range gaps {
			s.VideoGaps = append(s.VideoGaps, Gap{ms(g[0]), ms(g[1])})
		}
		return s
	}
	tests := []struct {
		name    string
		streams []RemoteStats
		want    time.Duration
	}{
		{"none", nil, 0},
		{"one stream, no gap", []RemoteStats{stream(0, 1000)}, 0},
		{"one stream, a gap", []RemoteStats{stream(0, 3000, [2]int{1000, 1800})}, 800 * time.Millisecond},
		{"overlapping switch", []RemoteStats{stream(0, 2000), stream(1500, 4000)}, 0},
		{"switch gap", []RemoteStats{stream(0, 2000), stream(2700, 4000)}, 700 * time.Millisecond},
		{"gap of the old stream covered by the new", []RemoteStats{stream(0, 3000, [2]int{1600, 2900}), stream(1500, 4000)}, 0},
		{"gap of the old stream before the new one", []RemoteStats{stream(0, 3000, [2]int{500, 1700}), stream(1500, 4000)}, 1000 * time.Millisecond},
		{"gap in both at once", []RemoteStats{stream(0, 3000, [2]int{1800, 2600}), stream(1500, 4000, [2]int{2000, 2900})}, 600 * time.Millisecond},
		{"a stream that never had video", []RemoteStats{stream(0, 1000), {}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LongestStop(tt.streams...); got != tt.want {
				t.Errorf("LongestStop = %v, want %v", got, tt.want)
			}
		})
	}
}
