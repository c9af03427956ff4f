package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
)

type metric struct {
	name string
	unit string
	get  func(outcome) float64
}

var metrics = []metric{
	{"forwarded packets/s (counted at the subscribers)", "pkt/s", outcome.pktPerSec},
	{"server CPU", "% of a core", outcome.serverCPU},
	{"server CPU per forwarded packet", "µs", outcome.cpuPerPacket},
	{"RSS per participant", "KiB", func(o outcome) float64 { return o.rssPer }},
	{"added latency p50", "µs", func(o outcome) float64 { return o.p50 }},
	{"added latency p99", "µs", func(o outcome) float64 { return o.p99 }},
	{"loss", "%", outcome.lossPct},
	{"video received on the top layer", "%", outcome.topPct},
	{"subscriber × video pairs switched between layers in the window", "pairs", func(o outcome) float64 { return float64(o.mixedLayers) }},
	{"host UDP receive-buffer drops in the window (any socket)", "datagrams", func(o outcome) float64 { return float64(o.kernelDrops) }},
	{"server's forwarded count / subscribers' count", "ratio", outcome.countRatio},
	{"load generator CPU", "% of a core", outcome.loadCPU},
}

// report writes the markdown table: per room count and measure, min / median / max of
// each target's runs and, with a second target (the reference), the ratio of the first's
// median to the reference's.
func report(w io.Writer, targets []target, rooms []int, size int, results [][][]outcome) {
	header, rule := "| rooms × participants | measure |", "|---|---|"
	for _, t := range targets {
		header += " " + t.name + " min / median / max |"
		rule += "---:|"
	}
	if len(targets) == 2 {
		header += " " + targets[0].name + " / " + targets[1].name + " (medians) |"
		rule += "---:|"
	}
	fmt.Fprintln(w, header)
	fmt.Fprintln(w, rule)
	for ri, n := range rooms {
		for _, m := range metrics {
			line := fmt.Sprintf("| %d × %d | %s (%s) |", n, size, m.name, m.unit)
			var medians []float64
			for ti := range targets {
				var vs []float64
				for _, o := range results[ri][ti] {
					vs = append(vs, m.get(o))
				}
				slices.Sort(vs)
				line += fmt.Sprintf(" %s / **%s** / %s |", num(vs[0]), num(vs[len(vs)/2]), num(vs[len(vs)-1]))
				medians = append(medians, vs[len(vs)/2])
			}
			if len(targets) == 2 {
				line += " " + ratio(medians[0], medians[1]) + " |"
			}
			fmt.Fprintln(w, line)
		}
	}
}

// ratio is a / b, or "n/a" where b is 0 (no loss on the reference, or a figure it does not
// report, such as its own forwarded count).
func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return strconv.FormatFloat(a/b, 'f', 2, 64)
}

func num(v float64) string {
	switch {
	case v >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}
