package sfu

import "sort"

// layerView is what the layer chooser knows of one simulcast layer of a published track.
type layerView struct {
	bitrate       uint64 // bits per second, measured over the last interval (0: not yet known)
	width, height int    // from its last key frame (0: not yet known)
	active        bool   // packets arrived recently
}

// upHeadroom is how much room above a higher layer's bitrate the estimate must leave before
// the chooser climbs to it: without it a subscriber whose estimate sits at a layer's rate
// would switch up and down at every interval (each switch costs a key frame).
const upHeadroom = 1.25

// chooseLayer picks the layer (an index into layers) to forward to a subscriber that shows
// the track in a tile of tileW×tileH pixels (0×0: size unknown) within budget bits per
// second, currently receiving layer current (-1: none). It prefers the smallest layer that
// covers the tile, then steps down until the layer fits the budget; when none fits it
// returns the lowest. Layers are ordered by resolution, or by bitrate while their size is
// unknown, so their order on the wire does not matter. Without an active layer it keeps
// current.
func chooseLayer(layers []layerView, current int, budget uint64, tileW, tileH int) int {
	order := make([]int, 0, len(layers))
	for i, l := range layers {
		if l.active {
			order = append(order, i)
		}
	}
	if len(order) == 0 {
		return current
	}
	sort.SliceStable(order, func(a, b int) bool {
		la, lb := layers[order[a]], layers[order[b]]
		if la.width > 0 && lb.width > 0 && la.width != lb.width {
			return la.width < lb.width
		}
		return la.bitrate < lb.bitrate
	})
	curPos := -1
	for pos, i := range order {
		if i == current {
			curPos = pos
		}
	}
	capPos := len(order) - 1
	if tileW > 0 || tileH > 0 {
		for pos, i := range order {
			if layers[i].width >= tileW && layers[i].height >= tileH {
				capPos = pos
				break
			}
		}
	}
	for pos := capPos; pos >= 0; pos-- {
		need := float64(layers[order[pos]].bitrate)
		if pos > curPos {
			need *= upHeadroom
		}
		if need <= float64(budget) {
			return order[pos]
		}
	}
	return order[0]
}
