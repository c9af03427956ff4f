package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// runMatrix prints the tables of scripts/bench-turn: for each peer mode and allocation count,
// per server, the medians over runs of server CPU per relayed packet at each fixed offered
// rate, the highest delivered rate at ≤ max-loss of the ramp, and RSS per allocation; then
// each server's ratio to the first (the anchor, run in the same session).
func runMatrix(args []string) error {
	fs := flag.NewFlagSet("matrix", flag.ExitOnError)
	in := fs.String("in", "", "JSON lines written by relay with -run and -rates")
	servers := fs.String("servers", "coturn,onertc", "servers in column order; the first is the anchor of the ratios")
	maxLoss := fs.Float64("max-loss", 1, "loss % under which a ramp step counts as sustained")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := readRelayLines(f)
	if err != nil {
		return err
	}
	names := strings.Split(*servers, ",")
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	matrixTables(w, rows, names, *maxLoss)
	return nil
}

func readRelayLines(r io.Reader) ([]relayResult, error) {
	var out []relayResult
	dec := json.NewDecoder(r)
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		var kind struct{ Kind string }
		if err := json.Unmarshal(raw, &kind); err != nil {
			return nil, err
		}
		if kind.Kind != "relay" {
			continue
		}
		var s relayResult
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		if s.Peers == "" {
			s.Peers = "pairs"
		}
		out = append(out, s)
	}
}

type cellKey struct {
	peers  string
	allocs int
	server string
}

// medianOr0 is median(xs), 0 for none.
func medianOr0(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return median(xs)
}

// minMax is "min–max" of xs.
func minMax(xs []float64, format string) string {
	if len(xs) == 0 {
		return "–"
	}
	return fmt.Sprintf(format+"–"+format, slices.Min(xs), slices.Max(xs))
}

func matrixTables(w io.Writer, rows []relayResult, names []string, maxLoss float64) {
	type runKey struct {
		cellKey
		run int
	}
	cpu := map[cellKey]map[float64][]float64{} // fixed rate → per-run µs per delivered packet
	loss := map[cellKey]map[float64][]float64{}
	sat := map[runKey]relayResult{} // per run, the ramp step delivering most at ≤ maxLoss
	rss := map[cellKey]map[int]float64{}
	var peerModes []string
	var allocCounts []int
	var rates []float64
	for _, r := range rows {
		k := cellKey{r.Peers, r.Allocations, r.Server}
		if !slices.Contains(peerModes, r.Peers) {
			peerModes = append(peerModes, r.Peers)
		}
		if !slices.Contains(allocCounts, r.Allocations) {
			allocCounts = append(allocCounts, r.Allocations)
		}
		if rss[k] == nil {
			rss[k] = map[int]float64{}
		}
		rss[k][r.Run] = r.RSSPerAlloc
		if r.Fixed {
			if cpu[k] == nil {
				cpu[k], loss[k] = map[float64][]float64{}, map[float64][]float64{}
			}
			if r.Delivered > 0 {
				cpu[k][r.Offered] = append(cpu[k][r.Offered], 1e6*r.ServerCPUSec/float64(r.Delivered))
			}
			loss[k][r.Offered] = append(loss[k][r.Offered], r.LossPct)
			if !slices.Contains(rates, r.Offered) {
				rates = append(rates, r.Offered)
			}
			continue
		}
		// The load may fail to offer a rate (it has one core too): the best step counts
		// whatever was offered, and its server CPU % shows how far the server was from its limit.
		rk := runKey{k, r.Run}
		if r.LossPct <= maxLoss && r.DeliveredPS > sat[rk].DeliveredPS {
			sat[rk] = r
		}
	}
	slices.Sort(allocCounts)
	slices.Sort(rates)
	header := func(metric string) {
		fmt.Fprintf(w, "| %s |", metric)
		for _, n := range names {
			fmt.Fprintf(w, " %s |", n)
		}
		for _, n := range names[1:] {
			fmt.Fprintf(w, " %s/%s |", n, names[0])
		}
		fmt.Fprintln(w)
		fmt.Fprint(w, "|---|")
		for range 2*len(names) - 1 {
			fmt.Fprint(w, "---|")
		}
		fmt.Fprintln(w)
	}
	row := func(label string, vals []float64, cells []string) {
		fmt.Fprintf(w, "| %s |", label)
		for _, c := range cells {
			fmt.Fprintf(w, " %s |", c)
		}
		for _, v := range vals[1:] {
			if vals[0] > 0 && v > 0 {
				fmt.Fprintf(w, " %.2f |", v/vals[0])
			} else {
				fmt.Fprint(w, " – |")
			}
		}
		fmt.Fprintln(w)
	}
	for _, pm := range peerModes {
		for _, n := range allocCounts {
			fmt.Fprintf(w, "\n**%s, %d allocations** (median of runs; min–max in brackets)\n\n", peerModeText(pm), n)
			header("metric")
			for _, rate := range rates {
				var vals []float64
				var cells []string
				for _, s := range names {
					xs := cpu[cellKey{pm, n, s}][rate]
					m := medianOr0(xs)
					vals = append(vals, m)
					cells = append(cells, fmt.Sprintf("%.1f (%s), loss %.2f %%", m, minMax(xs, "%.1f"), medianOr0(loss[cellKey{pm, n, s}][rate])))
				}
				row(fmt.Sprintf("server CPU µs per relayed packet at %.0f pkt/s", rate), vals, cells)
			}
			var vals []float64
			var cells []string
			for _, s := range names {
				var xs, cpus []float64
				for rk, v := range sat {
					if rk.cellKey == (cellKey{pm, n, s}) {
						xs = append(xs, v.DeliveredPS)
						cpus = append(cpus, v.ServerCPUPct)
					}
				}
				m := medianOr0(xs)
				vals = append(vals, m)
				cells = append(cells, fmt.Sprintf("%.0f (%s), server CPU %.0f %%", m, minMax(xs, "%.0f"), medianOr0(cpus)))
			}
			row(fmt.Sprintf("most delivered pkt/s at ≤ %g %% loss (ramp; server CPU %% of one core there: under 100 means the load, not the server, was the limit)", maxLoss), vals, cells)
			vals, cells = nil, nil
			for _, s := range names {
				var xs []float64
				for _, v := range rss[cellKey{pm, n, s}] {
					xs = append(xs, v)
				}
				m := medianOr0(xs)
				vals = append(vals, m)
				cells = append(cells, fmt.Sprintf("%.1f", m))
			}
			row("RSS KiB per allocation (after setup)", vals, cells)
		}
	}
}

func peerModeText(pm string) string {
	if pm == "external" {
		return "Allocations relaying to plain UDP peers (half the packets each way)"
	}
	return "Allocations in pairs relaying to each other"
}
