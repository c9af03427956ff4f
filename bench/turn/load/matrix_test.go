package main

import (
	"bytes"
	"strings"
	"testing"
)

// matrixRows is one run of two servers and the floor: UDP pairs at two fixed rates and a
// ramp step, TCP at one fixed rate.
func matrixRows() []relayResult {
	var rows []relayResult
	for _, srv := range []string{"coturn", "onertc"} {
		cpu := map[string]float64{"coturn": 0.2, "onertc": 0.1}[srv] // s over 10,000 packets: 20 and 10 µs
		lat := map[string]float64{"coturn": 100, "onertc": 50}[srv]
		for _, rate := range []float64{2500, 20000} {
			rows = append(rows, relayResult{Kind: "relay", Server: srv, Allocations: 100, Peers: "pairs", Transport: "udp", Fixed: true, Run: 1,
				Offered: rate, Sent: 10000, Delivered: 10000, ServerCPUSec: cpu, LatSamples: 10000, LatP50us: lat, LatP99us: 4 * lat, RSSPerAlloc: 30})
		}
		rows = append(rows, relayResult{Kind: "relay", Server: srv, Allocations: 100, Peers: "pairs", Transport: "udp", Run: 1,
			Offered: 30000, Sent: 10000, Delivered: 10000, DeliveredPS: 30000, ServerCPUSec: cpu, ServerCPUPct: 40, RSSPerAlloc: 30})
		rows = append(rows, relayResult{Kind: "relay", Server: srv, Allocations: 100, Peers: "external", Transport: "tcp", Fixed: true, Run: 1,
			Offered: 2500, Sent: 10000, Delivered: 10000, ServerCPUSec: cpu, LatSamples: 10000, LatP50us: 2 * lat, LatP99us: 8 * lat, RSSPerAlloc: 60})
	}
	for _, rate := range []float64{2500, 20000} {
		rows = append(rows, relayResult{Kind: "relay", Server: floorServer, Allocations: 100, Peers: "direct", Transport: "udp", Fixed: true, Run: 1,
			Offered: rate, Sent: 10000, Delivered: 10000, LatSamples: 10000, LatP50us: 30, LatP99us: 90})
	}
	return rows
}

func TestMatrixTables(t *testing.T) {
	var b bytes.Buffer
	if err := matrixTables(&b, matrixRows(), []string{"coturn", "onertc"}, 1); err != nil {
		t.Fatalf("matrixTables: %v", err)
	}
	out := b.String()
	for _, want := range []string{
		"| server CPU µs per relayed packet at 2500 pkt/s | 20.0 (20.0–20.0), loss 0.00 % | 10.0 (10.0–10.0), loss 0.00 % | 0.50 |",
		"| one-way latency p50 µs at 20000 pkt/s (the load alone, no server: 30) | 100 (100–100) | 50 (50–50) | 0.50 |",
		"| one-way latency p99 µs at 2500 pkt/s (the load alone, no server: 90) | 400 (400–400) | 200 (200–200) | 0.50 |",
		"| most delivered pkt/s at ≤ 1 % loss",
		"**TURN over TCP: Allocations relaying to plain UDP peers (half the packets each way), 100 allocations** (median of runs; min–max in brackets; over TCP fewer rates and no ramp)",
		"| one-way latency p50 µs at 2500 pkt/s (the load alone, no server: 30) | 200 (200–200) | 100 (100–100) | 0.50 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no line %q in\n%s", want, out)
		}
	}
	if i, j := strings.Index(out, "\n**Allocations in pairs relaying to each other, 100 allocations** (median of runs; min–max in brackets)\n"),
		strings.Index(out, "TURN over TCP"); i < 0 || j < i {
		t.Errorf("UDP table not before the TCP one:\n%s", out)
	}
}

// A series without samples is an error, not a 0 in the table.
func TestMatrixTablesMissingSeries(t *testing.T) {
	tests := []struct {
		name string
		drop func(r *relayResult) bool // rows to leave out
		edit func(r *relayResult)
		want string
	}{
		{name: "no latency samples", edit: func(r *relayResult) {
			if r.Server == "onertc" && r.Offered == 20000 && r.Transport == "udp" {
				r.LatSamples = 0
			}
		}, want: "no samples of latency from onertc at 20000"},
		{name: "nothing delivered", edit: func(r *relayResult) {
			if r.Server == "coturn" && r.Transport == "tcp" {
				r.Delivered = 0
			}
		}, want: "no samples of CPU per packet from coturn at 2500"},
		{name: "no floor", drop: func(r *relayResult) bool { return r.Peers == "direct" && r.Offered == 2500 },
			want: "no samples of the load's floor"},
		{name: "a server without a run", drop: func(r *relayResult) bool { return r.Server == "onertc" && r.Transport == "tcp" },
			want: "no results from onertc"},
		{name: "a server without ramp steps", drop: func(r *relayResult) bool { return r.Server == "coturn" && !r.Fixed && r.Peers == "pairs" },
			want: "no ramp steps from coturn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rows []relayResult
			for _, r := range matrixRows() {
				if tt.drop != nil && tt.drop(&r) {
					continue
				}
				if tt.edit != nil {
					tt.edit(&r)
				}
				rows = append(rows, r)
			}
			var b bytes.Buffer
			err := matrixTables(&b, rows, []string{"coturn", "onertc"}, 1)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("matrixTables = %v, want an error with %q", err, tt.want)
			}
		})
	}
}
