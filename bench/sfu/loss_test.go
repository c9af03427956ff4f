package main

import (
	"strings"
	"testing"
)

// bits is a window's arrivals written as a string: x arrived, . did not.
func bits(s string) []bool {
	b := make([]bool, len(s))
	for i, c := range s {
		b[i] = c == 'x'
	}
	return b
}

func TestCountLoss(t *testing.T) {
	audio, top, mid, low := streamID(7, kindAudio), streamID(7, videoKind(0)), streamID(7, videoKind(1)), streamID(7, videoKind(2))
	for _, tc := range []struct {
		name           string
		want           map[uint32][]bool
		expected, lost uint64
		mixed          int
		err            string
	}{
		{"one layer, nothing lost", map[uint32][]bool{audio: bits("xxxx"), top: bits("xxxxxx")}, 10, 0, 0, ""},
		{"one layer, losses anywhere in the window count", map[uint32][]bool{audio: bits(".xx."), top: bits("x.xxx.")}, 10, 4, 0, ""},
		{"simulcast, the top layer throughout: the others are not expected",
			map[uint32][]bool{audio: bits("xxxx"), top: bits("xx.x"), mid: bits("...."), low: bits("..")}, 8, 1, 0, ""},
		{"simulcast, a switch in the window: each layer from its first packet to its last",
			map[uint32][]bool{audio: bits("xxxx"), top: bits("...x.x"), low: bits("xx.x..")}, 4 + 3 + 4, 2, 1, ""},
		{"a video that never arrived", map[uint32][]bool{audio: bits("xxxx"), top: bits("...."), low: bits("..")}, 0, 0, 0, "received nothing of stream 0x701"},
		{"a stream that published nothing", map[uint32][]bool{audio: bits("xx"), top: nil}, 0, 0, 0, "published nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out outcome
			err := countLoss(&out, "load0", tc.want)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.expected != tc.expected || out.lost != tc.lost || out.mixedLayers != tc.mixed {
				t.Errorf("expected %d lost %d mixed %d, want %d, %d, %d", out.expected, out.lost, out.mixedLayers, tc.expected, tc.lost, tc.mixed)
			}
		})
	}
}
