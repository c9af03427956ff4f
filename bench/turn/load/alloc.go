package main

import (
	"flag"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pionturn "github.com/pion/turn/v2"
)

// allocResult is one allocations/s measurement.
type allocResult struct {
	Kind        string            `json:"kind"` // "alloc"
	Server      string            `json:"server"`
	Workers     int               `json:"workers"`
	Seconds     float64           `json:"seconds"`
	OK          uint64            `json:"ok"`
	Errors      uint64            `json:"errors"`
	ErrorKinds  map[string]uint64 `json:"error_kinds,omitempty"`
	PerSec      float64           `json:"per_sec"`
	P50ms       float64           `json:"p50_ms"`
	P99ms       float64           `json:"p99_ms"`
	ServerCPU   float64           `json:"server_cpu_s"`
	ClientCPU   float64           `json:"client_cpu_s"`
	ServerHWM   int               `json:"server_hwm_kib"`
	RcvbufDrops uint64            `json:"rcvbuf_drops"`
	HostCPUPct  float64           `json:"host_cpu_pct"` // all cores busy, 100 per core
}

// runAlloc measures allocations per second: each worker, in a loop, opens a fresh client
// socket (a new 5-tuple, as a new caller would), allocates with REST credentials, then
// deallocates (Refresh with lifetime 0) and closes.
func runAlloc(args []string) error {
	var c common
	fs := flag.NewFlagSet("alloc", flag.ExitOnError)
	c.register(fs)
	workers := fs.Int("workers", 32, "concurrent workers")
	dur := fs.Duration("duration", 5*time.Second, "how long to allocate")
	if err := fs.Parse(args); err != nil {
		return err
	}
	user, pass := c.credentials()
	var ok, errs atomic.Uint64
	var mu sync.Mutex
	kinds := map[string]uint64{}
	lat := make([][]time.Duration, *workers)
	dc := dropClassifier{}
	s0 := sample(c.pid, dc)
	start := time.Now()
	deadline := start.Add(*dur)
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				t := time.Now()
				if err := allocateOnce(&c, user, pass); err != nil {
					errs.Add(1)
					mu.Lock()
					kinds[err.Error()]++
					mu.Unlock()
					continue
				}
				lat[w] = append(lat[w], time.Since(t))
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	s1 := sample(c.pid, dc)
	all := slices.Concat(lat...)
	slices.Sort(all)
	r := allocResult{
		Kind: "alloc", Server: c.server, Workers: *workers, Seconds: elapsed,
		OK: ok.Load(), Errors: errs.Load(), PerSec: float64(ok.Load()) / elapsed,
		P50ms: pct(all, 0.50), P99ms: pct(all, 0.99),
		ServerCPU: s1.cpuSec - s0.cpuSec, ClientCPU: s1.selfCPUSec - s0.selfCPUSec,
		ServerHWM: s1.hwmKiB, RcvbufDrops: s1.rcvbufErrs - s0.rcvbufErrs,
		HostCPUPct: 100 * (s1.host.busy - s0.host.busy) / elapsed,
	}
	if len(kinds) > 0 {
		r.ErrorKinds = kinds
	}
	return c.emit(r)
}

// srcIP rotates the client address over 127.0.0.2-127.0.0.254: with one address the kernel
// soon hands out a recently used ephemeral port again, and the server (coTurn keeps a
// deallocated session a few seconds) answers that 5-tuple's Allocate with 437.
var srcIP atomic.Uint32

func allocateOnce(c *common, user, pass string) error {
	ip := fmt.Sprintf("127.0.0.%d:0", 2+srcIP.Add(1)%253)
	conn, err := net.ListenPacket("udp4", ip)
	if err != nil {
		return err
	}
	defer conn.Close()
	cfg := c.clientConfig(user, pass)
	cfg.Conn = conn
	cl, err := pionturn.NewClient(cfg)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.Listen(); err != nil {
		return err
	}
	relay, err := cl.Allocate()
	if err != nil {
		return fmt.Errorf("allocate: %w", err)
	}
	return relay.Close() // Refresh lifetime 0, not waited for
}

func pct(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[int(p*float64(len(sorted)-1))]) / float64(time.Millisecond)
}
