package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// runReport prints the markdown tables of the results in -in: a summary with a column per
// server and the ratio onertc/coTurn, then every relay step.
func runReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	in := fs.String("in", "", "JSON lines written by alloc and relay")
	a := fs.String("a", "coturn", "first server (the reference)")
	b := fs.String("b", "onertc", "second server")
	maxLoss := fs.Float64("max-loss", 1, "loss % under which a step counts as sustained")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := readResults(f)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	summary(w, res, *a, *b, *maxLoss)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every step of the best round of each server and allocation count:")
	fmt.Fprintln(w)
	steps(w, res, []string{*a, *b}, *maxLoss)
	return nil
}

type relayKey struct {
	server string
	allocs int
}

// results holds every round: the servers are run alternately several times and, since a
// disturbance on a shared machine only ever lowers a result, the report shows each round
// and takes the best.
type results struct {
	allocs map[string][]allocResult
	relays map[relayKey][][]relayResult // runs of steps; a run restarts at step 1
}

func readResults(r io.Reader) (results, error) {
	res := results{allocs: map[string][]allocResult{}, relays: map[relayKey][][]relayResult{}}
	dec := json.NewDecoder(r)
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			break
		} else if err != nil {
			return res, err
		}
		var kind struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(raw, &kind); err != nil {
			return res, err
		}
		switch kind.Kind {
		case "alloc":
			var a allocResult
			if err := json.Unmarshal(raw, &a); err != nil {
				return res, err
			}
			res.allocs[a.Server] = append(res.allocs[a.Server], a)
		case "relay":
			var s relayResult
			if err := json.Unmarshal(raw, &s); err != nil {
				return res, err
			}
			k := relayKey{s.Server, s.Allocations}
			runs := res.relays[k]
			if s.Step == 1 || len(runs) == 0 {
				runs = append(runs, nil)
			}
			runs[len(runs)-1] = append(runs[len(runs)-1], s)
			res.relays[k] = runs
		}
	}
	return res, nil
}

func bestAlloc(rs []allocResult) (allocResult, bool) {
	if len(rs) == 0 {
		return allocResult{}, false
	}
	return slices.MaxFunc(rs, func(x, y allocResult) int { return cmpFloat(x.PerSec, y.PerSec) }), true
}

// bestRun is the run with the highest sustained rate.
func bestRun(runs [][]relayResult, maxLoss float64) []relayResult {
	var best []relayResult
	bestRate := -1.0
	for _, r := range runs {
		s, _ := sustained(r, maxLoss)
		if s.DeliveredPS > bestRate {
			best, bestRate = r, s.DeliveredPS
		}
	}
	return best
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// sustained is the step with the highest delivered rate at most maxLoss % lost.
func sustained(rs []relayResult, maxLoss float64) (relayResult, bool) {
	var best relayResult
	found := false
	for _, r := range rs {
		if r.LossPct <= maxLoss && (!found || r.DeliveredPS > best.DeliveredPS) {
			best, found = r, true
		}
	}
	return best, found
}

func peak(rs []relayResult) (relayResult, bool) {
	if len(rs) == 0 {
		return relayResult{}, false
	}
	return slices.MaxFunc(rs, func(x, y relayResult) int { return cmpFloat(x.DeliveredPS, y.DeliveredPS) }), true
}

func summary(w io.Writer, res results, a, b string, maxLoss float64) {
	fmt.Fprintf(w, "| metric | %s | %s | %s/%s |\n|---|---|---|---|\n", a, b, b, a)
	row := func(name, format string, va, vb float64, oka, okb bool) {
		cell := func(v float64, ok bool) string {
			if !ok {
				return "–"
			}
			return fmt.Sprintf(format, v)
		}
		ratio := "–"
		if oka && okb && va != 0 {
			ratio = fmt.Sprintf("%.2f", vb/va)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", name, cell(va, oka), cell(vb, okb), ratio)
	}
	text := func(name, va, vb string) { fmt.Fprintf(w, "| %s | %s | %s | |\n", name, va, vb) }
	aa, oka := bestAlloc(res.allocs[a])
	ab, okb := bestAlloc(res.allocs[b])
	if oka || okb {
		workers := max(aa.Workers, ab.Workers)
		row(fmt.Sprintf("allocations/s (%d workers, allocate + deallocate; best round)", workers), "%.0f", aa.PerSec, ab.PerSec, oka, okb)
		rounds := func(rs []allocResult) string {
			var out []string
			for _, r := range rs {
				out = append(out, fmt.Sprintf("%.0f", r.PerSec))
			}
			return strings.Join(out, " / ")
		}
		text("allocations/s, every round", rounds(res.allocs[a]), rounds(res.allocs[b]))
		row("allocation errors", "%.0f", float64(aa.Errors), float64(ab.Errors), oka, okb)
		row("allocation latency p50 ms", "%.2f", aa.P50ms, ab.P50ms, oka, okb)
		row("allocation latency p99 ms", "%.2f", aa.P99ms, ab.P99ms, oka, okb)
		row("host CPU busy % during it (all processes, 200 = both cores)", "%.0f", aa.HostCPUPct, ab.HostCPUPct, oka, okb)
		row("server CPU µs per allocation", "%.0f", perUnit(aa.ServerCPU, aa.OK), perUnit(ab.ServerCPU, ab.OK), oka, okb)
	}
	var counts []int
	for k := range res.relays {
		if !slices.Contains(counts, k.allocs) {
			counts = append(counts, k.allocs)
		}
	}
	slices.Sort(counts)
	for _, n := range counts {
		runsA, runsB := res.relays[relayKey{a, n}], res.relays[relayKey{b, n}]
		ra, rb := bestRun(runsA, maxLoss), bestRun(runsB, maxLoss)
		sa, oka := sustained(ra, maxLoss)
		sb, okb := sustained(rb, maxLoss)
		row(fmt.Sprintf("%d allocations: delivered pkt/s at ≤ %g %% loss (best round)", n, maxLoss), "%.0f", sa.DeliveredPS, sb.DeliveredPS, oka, okb)
		rounds := func(runs [][]relayResult) string {
			var out []string
			for _, r := range runs {
				s, _ := sustained(r, maxLoss)
				out = append(out, fmt.Sprintf("%.0f", s.DeliveredPS))
			}
			return strings.Join(out, " / ")
		}
		text(fmt.Sprintf("%d allocations: the same, every round", n), rounds(runsA), rounds(runsB))
		row(fmt.Sprintf("%d allocations: Mbit/s (payload) at ≤ %g %% loss", n, maxLoss), "%.1f", sa.Mbps, sb.Mbps, oka, okb)
		row(fmt.Sprintf("%d allocations: loss %% at that step", n), "%.2f", sa.LossPct, sb.LossPct, oka, okb)
		row(fmt.Sprintf("%d allocations: server CPU µs per delivered pkt there", n), "%.1f",
			perUnit(sa.ServerCPUSec, sa.Delivered), perUnit(sb.ServerCPUSec, sb.Delivered), oka, okb)
		pa, oka2 := peak(ra)
		pb, okb2 := peak(rb)
		row(fmt.Sprintf("%d allocations: peak delivered pkt/s (any loss)", n), "%.0f", pa.DeliveredPS, pb.DeliveredPS, oka2, okb2)
		row(fmt.Sprintf("%d allocations: server RSS MiB", n), "%.1f", float64(pa.ServerRSS)/1024, float64(pb.ServerRSS)/1024, oka2, okb2)
		row(fmt.Sprintf("%d allocations: RSS KiB per allocation", n), "%.1f", pa.RSSPerAlloc, pb.RSSPerAlloc, oka2, okb2)
	}
}

func perUnit(sec float64, n uint64) float64 {
	if n == 0 {
		return 0
	}
	return sec * 1e6 / float64(n)
}

// steps lists every step of the best round of each server and allocation count.
func steps(w io.Writer, res results, servers []string, maxLoss float64) {
	fmt.Fprintln(w, "| server | allocations | offered pkt/s | sent pkt/s | delivered pkt/s | Mbit/s | loss % | server CPU % | server CPU µs/pkt | load client CPU % | host CPU % (softirq) | kernel drops: listener / relay / client sockets (RcvbufErrors) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	var keys []relayKey
	for k := range res.relays {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y relayKey) int {
		if x.allocs != y.allocs {
			return x.allocs - y.allocs
		}
		return slices.Index(servers, x.server) - slices.Index(servers, y.server)
	})
	for _, k := range keys {
		for _, r := range bestRun(res.relays[k], maxLoss) {
			fmt.Fprintf(w, "| %s | %d | %.0f | %.0f | %.0f | %.1f | %.2f | %.0f | %.1f | %.0f | %.0f (%.0f) | %d / %d / %d (%d) |\n",
				r.Server, r.Allocations, r.Offered, r.SentPerSec, r.DeliveredPS, r.Mbps, r.LossPct,
				r.ServerCPUPct, perUnit(r.ServerCPUSec, r.Delivered), r.ClientCPUPct, r.HostCPUPct, r.SoftirqPct,
				r.ListenerDrops, r.RelaySockDrops, r.ClientSockDrop, r.RcvbufDrops)
		}
	}
}
