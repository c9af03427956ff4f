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
	{"host UDP receive-buffer drops in the window (any socket)", "datagrams", func(o outcome) float64 { return float64(o.kernelDrops) }},
	{"server's forwarded count / subscribers' count", "ratio", outcome.countRatio},
	{"load generator CPU", "% of a core", outcome.loadCPU},
}

// report writes the markdown table: per room count and measure, min / median / max of
// each target's runs. (With a second target, a ratio column to the reference goes here.)
func report(w io.Writer, targets []target, rooms []int, size int, results [][][]outcome) {
	header, rule := "| rooms × participants | measure |", "|---|---|"
	for _, t := range targets {
		header += " " + t.name + " min / median / max |"
		rule += "---:|"
	}
	fmt.Fprintln(w, header)
	fmt.Fprintln(w, rule)
	for ri, n := range rooms {
		for _, m := range metrics {
			line := fmt.Sprintf("| %d × %d | %s (%s) |", n, size, m.name, m.unit)
			for ti := range targets {
				var vs []float64
				for _, o := range results[ri][ti] {
					vs = append(vs, m.get(o))
				}
				slices.Sort(vs)
				line += fmt.Sprintf(" %s / **%s** / %s |", num(vs[0]), num(vs[len(vs)/2]), num(vs[len(vs)-1]))
			}
			fmt.Fprintln(w, line)
		}
	}
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
