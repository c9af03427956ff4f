package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// runMatrix prints the tables of scripts/bench-turn: for each transport, peer mode and
// allocation count, per server, the medians over runs of server CPU per relayed packet and
// one-way latency p50 and p99 at each fixed offered rate (beside the load's own latency
// without a server, -peers direct), the highest delivered rate at ≤ max-loss of the ramp, and
// RSS per allocation; then each server's ratio to the first (the anchor, run in the same
// session). A series without samples is an error, and then nothing is printed.
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
	// Nothing is printed unless every series has samples: a missing figure must not read as 0.
	var b bytes.Buffer
	if err := matrixTables(&b, rows, names, *maxLoss); err != nil {
		return err
	}
	_, err = os.Stdout.Write(b.Bytes())
	return err
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
		if s.Transport == "" {
			s.Transport = "udp"
		}
		out = append(out, s)
	}
}

// tableKey is one table: a transport, peer mode and allocation count.
type tableKey struct {
	transport, peers string
	allocs           int
}

type cellKey struct {
	tableKey
	server string
}

// rateKey is the series of one server at one fixed rate (or the floor's, server "floor").
type rateKey struct {
	cellKey
	rate float64
}

// series are the per-run values of one server in one table.
type series struct {
	cpu, loss, p50, p99 map[float64][]float64 // fixed rate → per run
	sat                 map[int]relayResult   // per run, the ramp step delivering most at ≤ max loss
	ramped              bool                  // the run had ramp steps at all
	rss                 map[int]float64
}

const floorServer = "floor"

// minMax is "min–max" of xs.
func minMax(xs []float64, format string) string {
	return fmt.Sprintf(format+"–"+format, slices.Min(xs), slices.Max(xs))
}

func matrixTables(w io.Writer, rows []relayResult, names []string, maxLoss float64) error {
	cells := map[cellKey]*series{}
	floor := map[rateKey][2][]float64{} // p50s, p99s of the load alone, by allocations and rate
	var tables []tableKey
	rates := map[tableKey][]float64{}
	for _, r := range rows {
		if r.Peers == "direct" {
			k := rateKey{cellKey{tableKey{allocs: r.Allocations}, floorServer}, r.Offered}
			if r.LatSamples > 0 {
				f := floor[k]
				floor[k] = [2][]float64{append(f[0], r.LatP50us), append(f[1], r.LatP99us)}
			}
			continue
		}
		tk := tableKey{r.Transport, r.Peers, r.Allocations}
		if !slices.Contains(tables, tk) {
			tables = append(tables, tk)
		}
		k := cellKey{tk, r.Server}
		s := cells[k]
		if s == nil {
			s = &series{cpu: map[float64][]float64{}, loss: map[float64][]float64{}, p50: map[float64][]float64{},
				p99: map[float64][]float64{}, sat: map[int]relayResult{}, rss: map[int]float64{}}
			cells[k] = s
		}
		s.rss[r.Run] = r.RSSPerAlloc
		if r.Fixed {
			if r.Delivered > 0 {
				s.cpu[r.Offered] = append(s.cpu[r.Offered], 1e6*r.ServerCPUSec/float64(r.Delivered))
			}
			if r.LatSamples > 0 {
				s.p50[r.Offered] = append(s.p50[r.Offered], r.LatP50us)
				s.p99[r.Offered] = append(s.p99[r.Offered], r.LatP99us)
			}
			s.loss[r.Offered] = append(s.loss[r.Offered], r.LossPct)
			if !slices.Contains(rates[tk], r.Offered) {
				rates[tk] = append(rates[tk], r.Offered)
			}
			continue
		}
		// The load may fail to offer a rate (it has one core too): the best step counts
		// whatever was offered, and its server CPU % shows how far the server was from its limit.
		s.ramped = true
		if r.LossPct <= maxLoss && r.DeliveredPS > s.sat[r.Run].DeliveredPS {
			s.sat[r.Run] = r
		}
	}
	// UDP, TCP, TLS; peer modes in the order they were run; allocations ascending.
	order := map[string]int{"udp": 0, "tcp": 1, "tls": 2}
	seen := func(tk tableKey) int {
		return slices.IndexFunc(tables, func(o tableKey) bool { return o.transport == tk.transport && o.peers == tk.peers })
	}
	firstSeen := map[tableKey]int{}
	for _, tk := range tables {
		firstSeen[tk] = seen(tk)
	}
	slices.SortStableFunc(tables, func(a, b tableKey) int {
		return cmp.Or(order[a.transport]-order[b.transport], firstSeen[a]-firstSeen[b], a.allocs-b.allocs)
	})
	for _, tk := range tables {
		if err := matrixTable(w, tk, cells, floor, rates[tk], names, maxLoss); err != nil {
			return err
		}
	}
	return nil
}

// matrixTable prints one table; any series without samples is an error.
func matrixTable(w io.Writer, tk tableKey, cells map[cellKey]*series, floor map[rateKey][2][]float64,
	rates []float64, names []string, maxLoss float64) error {
	slices.Sort(rates)
	get := func(server string) (*series, error) {
		s := cells[cellKey{tk, server}]
		if s == nil {
			return nil, fmt.Errorf("%s: no results from %s", tableTitle(tk), server)
		}
		return s, nil
	}
	title := tableTitle(tk)
	note := "median of runs; min–max in brackets"
	if tk.transport != "udp" {
		note += fmt.Sprintf("; over %s fewer rates and no ramp", strings.ToUpper(tk.transport))
	}
	fmt.Fprintf(w, "\n**%s** (%s)\n\n", title, note)
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
	// perRate is one row of a per-rate series: median (min–max) per server.
	perRate := func(label string, rate float64, pick func(*series) map[float64][]float64, format, extra string,
		suffix func(*series) string) error {
		var vals []float64
		var cs []string
		for _, name := range names {
			s, err := get(name)
			if err != nil {
				return err
			}
			xs := pick(s)[rate]
			if len(xs) == 0 {
				return fmt.Errorf("%s: no samples of %s from %s at %.0f pkt/s", title, extra, name, rate)
			}
			m := median(xs)
			vals = append(vals, m)
			cs = append(cs, fmt.Sprintf(format+" (%s)%s", m, minMax(xs, format), suffix(s)))
		}
		row(label, vals, cs)
		return nil
	}
	header("metric")
	for _, rate := range rates {
		lossOf := func(s *series) string { return fmt.Sprintf(", loss %.2f %%", median(s.loss[rate])) }
		none := func(*series) string { return "" }
		if err := perRate(fmt.Sprintf("server CPU µs per relayed packet at %.0f pkt/s", rate), rate,
			func(s *series) map[float64][]float64 { return s.cpu }, "%.1f", "CPU per packet", lossOf); err != nil {
			return err
		}
		fl := floor[rateKey{cellKey{tableKey{allocs: tk.allocs}, floorServer}, rate}]
		if len(fl[0]) == 0 {
			return fmt.Errorf("%s: no samples of the load's floor (-peers direct) at %.0f pkt/s", title, rate)
		}
		for i, q := range []struct {
			name string
			pick func(*series) map[float64][]float64
		}{{"p50", func(s *series) map[float64][]float64 { return s.p50 }}, {"p99", func(s *series) map[float64][]float64 { return s.p99 }}} {
			label := fmt.Sprintf("one-way latency %s µs at %.0f pkt/s (the load alone, no server: %.0f)", q.name, rate, median(fl[i]))
			if err := perRate(label, rate, q.pick, "%.0f", "latency", none); err != nil {
				return err
			}
		}
	}
	var vals []float64
	var cs []string
	ramped := false
	for _, name := range names {
		s, err := get(name)
		if err != nil {
			return err
		}
		ramped = ramped || s.ramped
	}
	if ramped {
		for _, name := range names {
			s, _ := get(name)
			if !s.ramped {
				return fmt.Errorf("%s: no ramp steps from %s", title, name)
			}
			var xs, cpus []float64
			for _, v := range s.sat {
				xs = append(xs, v.DeliveredPS)
				cpus = append(cpus, v.ServerCPUPct)
			}
			if len(xs) == 0 { // ramp steps, every one losing more: a result, not a missing one
				vals = append(vals, 0)
				cs = append(cs, fmt.Sprintf("none at ≤ %g %% loss", maxLoss))
				continue
			}
			m := median(xs)
			vals = append(vals, m)
			cs = append(cs, fmt.Sprintf("%.0f (%s), server CPU %.0f %%", m, minMax(xs, "%.0f"), median(cpus)))
		}
		row(fmt.Sprintf("most delivered pkt/s at ≤ %g %% loss (ramp: rates x1.5 bisected twice, up to the first step that loses more or that the load cannot send 90 %% of; server CPU %% of one core there)", maxLoss), vals, cs)
	}
	vals, cs = nil, nil
	for _, name := range names {
		s, _ := get(name)
		var xs []float64
		for _, v := range s.rss {
			xs = append(xs, v)
		}
		m := median(xs)
		vals = append(vals, m)
		cs = append(cs, fmt.Sprintf("%.1f", m))
	}
	row("RSS KiB per allocation (after setup)", vals, cs)
	return nil
}

func tableTitle(tk tableKey) string {
	t := fmt.Sprintf("%s, %d allocations", peerModeText(tk.peers), tk.allocs)
	if tk.transport != "udp" {
		t = fmt.Sprintf("TURN over %s: %s", strings.ToUpper(tk.transport), t)
	}
	return t
}

func peerModeText(pm string) string {
	if pm == "external" {
		return "Allocations relaying to plain UDP peers (half the packets each way)"
	}
	return "Allocations in pairs relaying to each other"
}
