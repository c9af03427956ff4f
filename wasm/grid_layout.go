//go:build js && wasm

package main

// rect is a tile's place in the grid, in CSS pixels from the grid's top left corner.
type rect struct{ X, Y, W, H int }

// gridGap is the space between tiles and around them.
const gridGap = 8

// gridLayout places n tiles in a w×h area. The tiles fill their cells (the video is
// cropped to them), so the number of columns is the one whose cells waste the least of a
// camera picture shown whole: 4:3 cells on a landscape window, 3:4 on a phone held upright,
// where people hold their cameras upright too. With large, tile 0 (a screen share) takes
// most of the area and the others share a strip beside it (landscape) or under it (upright),
// laid out as a small grid of their own.
func gridLayout(n, w, h int, large bool) []rect {
	if n <= 0 || w <= 0 || h <= 0 {
		return nil
	}
	if !large || n == 1 {
		return fillGrid(n, rect{0, 0, w, h})
	}
	out := make([]rect, 0, n)
	if w >= h {
		strip := min(max(w/4, 120), w/2)
		out = append(out, inset(rect{0, 0, w - strip, h}))
		return append(out, fillGrid(n-1, rect{w - strip - gridGap, 0, strip + gridGap, h})...)
	}
	strip := min(max(h/4, 100), h/2)
	out = append(out, inset(rect{0, 0, w, h - strip}))
	return append(out, fillGrid(n-1, rect{0, h - strip - gridGap, w, strip + gridGap})...)
}

// fillGrid is the grid without a large tile: the column count that shows the most of each
// picture, rows centred, a last row that is not full centred too.
func fillGrid(n int, area rect) []rect {
	portrait := area.H > area.W
	best, bestScore := 1, -1.0
	for cols := 1; cols <= n; cols++ {
		rows := (n + cols - 1) / cols
		cw, ch := cell(area.W, cols), cell(area.H, rows)
		if cw <= 0 || ch <= 0 {
			continue
		}
		// The area a whole picture of the preferred shape would cover inside the cell.
		aw, ah := 4.0, 3.0
		if portrait {
			aw, ah = 3, 4
		}
		fw, fh := float64(cw), float64(cw)*ah/aw
		if fh > float64(ch) {
			fh, fw = float64(ch), float64(ch)*aw/ah
		}
		if s := fw * fh; s > bestScore+0.5 { // fewer columns win a tie
			best, bestScore = cols, s
		}
	}
	cols := best
	rows := (n + cols - 1) / cols
	cw, ch := cell(area.W, cols), cell(area.H, rows)
	if cw <= 0 || ch <= 0 {
		return nil
	}
	out := make([]rect, 0, n)
	for i := 0; i < n; i++ {
		r, c := i/cols, i%cols
		inRow := cols
		if r == rows-1 {
			inRow = n - r*cols
		}
		// Centre a short last row.
		x0 := area.X + gridGap + (cols-inRow)*(cw+gridGap)/2
		out = append(out, rect{x0 + c*(cw+gridGap), area.Y + gridGap + r*(ch+gridGap), cw, ch})
	}
	return out
}

// cell is the size of one of k cells across length, with gaps between and around them.
func cell(length, k int) int { return (length - (k+1)*gridGap) / k }

func inset(r rect) rect {
	return rect{r.X + gridGap, r.Y + gridGap, max(r.W-2*gridGap, 0), max(r.H-2*gridGap, 0)}
}
