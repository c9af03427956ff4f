//go:build js && wasm

package main

import (
	"reflect"
	"testing"
)

func TestGridLayoutExact(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int
		w, h  int
		large bool
		want  []rect
	}{
		{"nothing", 0, 1280, 720, false, nil},
		{"no room", 3, 0, 720, false, nil},
		{"one fills the window", 1, 1280, 720, false, []rect{{8, 8, 1264, 704}}},
		{"two side by side", 2, 1280, 720, false, []rect{{8, 8, 628, 704}, {644, 8, 628, 704}}},
		{"three: two, then one centred", 3, 1280, 720, false,
			[]rect{{8, 8, 628, 348}, {644, 8, 628, 348}, {326, 364, 628, 348}}},
		{"two on an upright phone: one above the other", 2, 390, 844, false,
			[]rect{{8, 8, 374, 410}, {8, 426, 374, 410}}},
		{"three on an upright phone: stacked", 3, 390, 844, false,
			[]rect{{8, 8, 374, 270}, {8, 286, 374, 270}, {8, 564, 374, 270}}},
		{"a lone screen share is just large", 1, 1280, 720, true, []rect{{8, 8, 1264, 704}}},
		{"screen share and two beside it", 3, 1280, 720, true,
			[]rect{{8, 8, 944, 704}, {960, 8, 312, 348}, {960, 364, 312, 348}}},
		{"screen share and two under it, upright", 3, 390, 844, true,
			[]rect{{8, 8, 374, 617}, {8, 633, 183, 203}, {199, 633, 183, 203}}},
	} {
		if got := gridLayout(tc.n, tc.w, tc.h, tc.large); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: gridLayout(%d, %d, %d, %v) = %v, want %v", tc.name, tc.n, tc.w, tc.h, tc.large, got, tc.want)
		}
	}
}

// Every count from 1 to 8, in a desktop window, a small laptop, an upright phone and a
// phone on its side: every tile inside the area, none overlapping, none tiny, and a large
// tile larger than every other.
func TestGridLayoutFits(t *testing.T) {
	for _, vp := range []struct {
		name string
		w, h int
	}{{"desktop", 1280, 720}, {"laptop", 1024, 600}, {"phone upright", 390, 844}, {"phone on its side", 844, 390}} {
		for n := 1; n <= 8; n++ {
			for _, large := range []bool{false, true} {
				rs := gridLayout(n, vp.w, vp.h, large)
				if len(rs) != n {
					t.Fatalf("%s, %d tiles, large %v: %d rects", vp.name, n, large, len(rs))
				}
				for i, r := range rs {
					if r.X < 0 || r.Y < 0 || r.X+r.W > vp.w || r.Y+r.H > vp.h {
						t.Errorf("%s, %d tiles, large %v: tile %d %v outside %dx%d", vp.name, n, large, i, r, vp.w, vp.h)
					}
					if r.W < 80 || r.H < 60 {
						t.Errorf("%s, %d tiles, large %v: tile %d %v too small", vp.name, n, large, i, r)
					}
					for j := i + 1; j < len(rs); j++ {
						if overlap(r, rs[j]) {
							t.Errorf("%s, %d tiles, large %v: tiles %d %v and %d %v overlap", vp.name, n, large, i, r, j, rs[j])
						}
					}
					if large && i > 0 && r.W*r.H >= rs[0].W*rs[0].H {
						t.Errorf("%s, %d tiles: tile %d %v not smaller than the screen share %v", vp.name, n, i, r, rs[0])
					}
				}
			}
		}
	}
}

func overlap(a, b rect) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}
