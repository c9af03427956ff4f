// Command relay measures the Collider relay on loopback with real WebSocket clients:
// throughput and latency with 1, 100 and 1,000 active rooms, and the memory an idle
// registered socket costs at 10,000 sockets. It runs the server in a child process of its
// own so that the server's RSS and heap are not mixed with the load generator's.
//
//	go run ./bench/relay            (prints a markdown report)
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server"
)

func main() {
	role := flag.String("role", "load", "load (default) or server (internal)")
	addr := flag.String("addr", "127.0.0.1:0", "server address (role server)")
	duration := flag.Duration("duration", 5*time.Second, "length of each throughput and latency run")
	idle := flag.Int("idle", 10000, "idle sockets for the memory measurement")
	roomsList := flag.String("rooms", "1,100,1000", "active room counts to measure")
	perRoom := flag.Float64("rate", 10, "messages per second per room in the latency runs")
	cpuProfile := flag.String("cpuprofile", "", "write the server's CPU profile here (role server)")
	flag.Parse()
	if *role == "server" {
		runServer(*addr, *cpuProfile)
		return
	}
	var rooms []int
	for _, f := range strings.Split(*roomsList, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			log.Fatalf("-rooms: %v", err)
		}
		rooms = append(rooms, n)
	}
	if err := runLoad(*duration, *idle, rooms, *perRoom, *cpuProfile); err != nil {
		log.Fatal(err)
	}
}

// runServer serves onertc plus /benchmem (heap and RSS after a GC) and prints its address.
func runServer(addr, cpuProfile string) {
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
	}
	cfg := server.DefaultConfig()
	cfg.TURN.Disabled = true
	cfg.RelayGrace = time.Minute
	// Measure the relay, not the per-socket abuse limit (200 frames/s by default).
	cfg.RelayFramesPerSecond = 1e6
	// Every load client comes from 127.0.0.1: per-IP limits and caps would refuse them.
	cfg.Limits = server.RateLimits{}
	cfg.MaxSockets, cfg.MaxSocketsPerIP = 0, 0
	srv, err := server.New(cfg, nil)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	mux.HandleFunc("/benchsched", func(w http.ResponseWriter, _ *http.Request) {
		sample := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
		metrics.Read(sample)
		h := sample[0].Value.Float64Histogram()
		buckets := make([]float64, len(h.Buckets))
		for i, b := range h.Buckets { // JSON has no infinities
			buckets[i] = max(min(b, 1e9), -1e9)
		}
		json.NewEncoder(w).Encode(map[string]any{"counts": h.Counts, "buckets": buckets})
	})
	mux.HandleFunc("/benchmem", func(w http.ResponseWriter, _ *http.Request) {
		cpu := cpuMicros() // before the GC below, which is the benchmark's, not the relay's
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		json.NewEncoder(w).Encode(map[string]uint64{
			"heap": ms.HeapAlloc, "stack": ms.StackInuse, "sys": ms.Sys, "rss": rss(),
			"goroutines": uint64(runtime.NumGoroutine()), "cpu_us": cpu,
		})
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr().String())
	hs := &http.Server{Handler: mux}
	go func() {
		io.Copy(io.Discard, os.Stdin) // exit with the parent
		pprof.StopCPUProfile()
		os.Exit(0)
	}()
	log.Fatal(hs.Serve(ln))
}

// cpuMicros is the process's user+system CPU time so far, from /proc/self/stat.
func cpuMicros() uint64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name in parentheses: utime and stime are the 12th and 13th.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return (ut + st) * 10000 // clock ticks of 10 ms
}

func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

type memStats struct {
	Heap, Stack, Sys, RSS, Goroutines, CPUMicros uint64
}

func startServer(cpuProfile string) (addr string, stop func(), err error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(self, "-role", "server", "-cpuprofile", cpuProfile)
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	line := make([]byte, 64)
	n, err := out.Read(line)
	if err != nil {
		return "", nil, fmt.Errorf("server address: %w", err)
	}
	return strings.TrimSpace(string(line[:n])), func() { stdin.Close(); cmd.Wait() }, nil
}

func mem(addr string) (memStats, error) {
	resp, err := http.Get("http://" + addr + "/benchmem")
	if err != nil {
		return memStats{}, err
	}
	defer resp.Body.Close()
	var m map[string]uint64
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return memStats{}, err
	}
	return memStats{Heap: m["heap"], Stack: m["stack"], Sys: m["sys"], RSS: m["rss"], Goroutines: m["goroutines"], CPUMicros: m["cpu_us"]}, nil
}

var dialer = &websocket.Dialer{ReadBufferSize: 1024, WriteBufferSize: 1024, HandshakeTimeout: 30 * time.Second}

// register joins roomID (the relay registers only clients the room table holds) and
// registers the client it was given; clientID names it in the load generator only.
func register(addr, roomID, _ string) (*websocket.Conn, error) {
	resp, err := http.Post("http://"+addr+"/join/"+roomID, "text/plain", nil)
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	var joined protocol.JoinResponse
	err = json.NewDecoder(resp.Body).Decode(&joined)
	resp.Body.Close()
	if err != nil || joined.Result != protocol.ResultSuccess {
		return nil, fmt.Errorf("join room %q: %s %v", roomID, joined.Result, err)
	}
	clientID := joined.Params.ClientID
	c, _, err := dialer.Dial("ws://"+addr+"/ws", nil)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	if err := c.WriteJSON(protocol.RelayRequest{Cmd: protocol.CmdRegister, RoomID: roomID, ClientID: clientID}); err != nil {
		return nil, err
	}
	return c, nil
}

type pair struct{ a, b *websocket.Conn }

func openRooms(addr, prefix string, n int) ([]pair, error) {
	pairs := make([]pair, n)
	for i := range pairs {
		a, err := register(addr, fmt.Sprintf("%s-%d", prefix, i), "A")
		if err != nil {
			return nil, err
		}
		b, err := register(addr, fmt.Sprintf("%s-%d", prefix, i), "B")
		if err != nil {
			return nil, err
		}
		pairs[i] = pair{a, b}
	}
	// Let registrations settle so the first messages are not queued.
	time.Sleep(200 * time.Millisecond)
	return pairs, nil
}

func closeRooms(pairs []pair) {
	for _, p := range pairs {
		p.a.Close()
		p.b.Close()
	}
}

type result struct {
	rooms       int
	msgsPerSec  float64
	p50, p99    time.Duration
	paceRate    float64
	received    int64
	sentLatency int
}

// throughput: every room's A keeps `window` messages in flight to B for d.
func throughput(addr string, rooms int, d time.Duration) (float64, int64, error) {
	pairs, err := openRooms(addr, fmt.Sprintf("tp%d", rooms), rooms)
	if err != nil {
		return 0, 0, err
	}
	defer closeRooms(pairs)
	const window = 32
	var received atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	payload := `{"type":"candidate","label":0,"id":"0","candidate":"candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host"}`
	for _, p := range pairs {
		credits := make(chan struct{}, window)
		for i := 0; i < window; i++ {
			credits <- struct{}{}
		}
		wg.Add(2)
		go func(c *websocket.Conn) {
			defer wg.Done()
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
				if ctx.Err() == nil {
					received.Add(1)
				}
				credits <- struct{}{}
			}
		}(p.b)
		go func(c *websocket.Conn) {
			defer wg.Done()
			defer p.b.SetReadDeadline(time.Now())
			for ctx.Err() == nil {
				select {
				case <-credits:
				case <-ctx.Done():
					return
				}
				if err := c.WriteJSON(protocol.RelayRequest{Cmd: protocol.CmdSend, Msg: payload}); err != nil {
					return
				}
			}
		}(p.a)
	}
	start := time.Now()
	<-ctx.Done()
	n := received.Load()
	elapsed := time.Since(start)
	wg.Wait()
	return float64(n) / elapsed.Seconds(), n, nil
}

// latency: every room sends `perRoom` messages a second, each carrying its send time.
func latency(addr string, rooms int, perRoom float64, d time.Duration) (p50, p99 time.Duration, n int, err error) {
	pairs, err := openRooms(addr, fmt.Sprintf("lat%d", rooms), rooms)
	if err != nil {
		return 0, 0, 0, err
	}
	defer closeRooms(pairs)
	var mu sync.Mutex
	var samples []time.Duration
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / perRoom)
	for i, p := range pairs {
		wg.Add(2)
		go func(c *websocket.Conn) {
			defer wg.Done()
			var local []time.Duration
			defer func() { mu.Lock(); samples = append(samples, local...); mu.Unlock() }()
			// The load generator shares the cores with the server: it reads the frame
			// {"msg":"<ns>","error":""} by hand rather than with reflection.
			for {
				_, data, err := c.ReadMessage()
				if err != nil {
					return
				}
				rest, ok := bytes.CutPrefix(data, []byte(`{"msg":"`))
				end := bytes.IndexByte(rest, '"')
				ns, perr := strconv.ParseInt(string(rest[:max(end, 0)]), 10, 64)
				if !ok || end < 0 || perr != nil {
					log.Printf("unexpected frame %q", data)
					return
				}
				local = append(local, time.Since(time.Unix(0, ns)))
			}
		}(p.b)
		go func(c *websocket.Conn, phase time.Duration) {
			defer wg.Done()
			defer p.b.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			time.Sleep(phase) // spread rooms over the interval
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				frame := strconv.AppendInt([]byte(`{"cmd":"send","msg":"`), time.Now().UnixNano(), 10)
				if err := c.WriteMessage(websocket.TextMessage, append(frame, `"}`...)); err != nil {
					return
				}
			}
		}(p.a, time.Duration(i)*interval/time.Duration(rooms))
	}
	wg.Wait()
	if len(samples) == 0 {
		return 0, 0, 0, fmt.Errorf("no latency samples")
	}
	slices.Sort(samples)
	return samples[len(samples)/2], samples[len(samples)*99/100], len(samples), nil
}

type schedHist struct {
	Counts  []uint64  `json:"counts"`
	Buckets []float64 `json:"buckets"`
}

func readSched(addr string) (schedHist, error) {
	var h schedHist
	resp, err := http.Get("http://" + addr + "/benchsched")
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	return h, json.NewDecoder(resp.Body).Decode(&h)
}

// schedQuantile is the server's goroutine scheduling latency (runnable → running) at
// quantile q between two readings: how long a woken reader or writer waited for a CPU.
func schedQuantile(before, after schedHist, q float64) string {
	var total uint64
	for i := range after.Counts {
		total += after.Counts[i] - before.Counts[i]
	}
	var seen uint64
	for i := range after.Counts {
		seen += after.Counts[i] - before.Counts[i]
		if float64(seen) >= q*float64(total) {
			return "≤ " + time.Duration(after.Buckets[i+1]*float64(time.Second)).Round(time.Microsecond).String()
		}
	}
	return "?"
}

// deliveryBuckets reads the relay's own delivery-latency histogram: cumulative counts by
// upper bound.
func deliveryBuckets(addr string) (map[float64]uint64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, err
	}
	f := families["onertc_relay_delivery_seconds"]
	if f == nil || len(f.Metric) == 0 {
		return nil, fmt.Errorf("no onertc_relay_delivery_seconds in /metrics")
	}
	out := map[float64]uint64{}
	for _, b := range f.Metric[0].Histogram.Bucket {
		out[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	return out, nil
}

// serverQuantile is the smallest bucket bound under which fraction q of the deliveries
// between two readings fell: an upper bound on the relay's own part of the latency.
func serverQuantile(before, after map[float64]uint64, q float64) string {
	var bounds []float64
	for b := range after {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	total := float64(after[bounds[len(bounds)-1]] - before[bounds[len(bounds)-1]])
	for _, b := range bounds {
		if float64(after[b]-before[b]) >= q*total {
			return "≤ " + time.Duration(b*float64(time.Second)).String()
		}
	}
	return "> 10s"
}

func runLoad(d time.Duration, idle int, roomCounts []int, perRoom float64, cpuProfile string) error {
	addr, stop, err := startServer(cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Printf("| active rooms | throughput (msg/s) | server CPU per message | latency p50 | latency p99 | in the relay p50 | in the relay p99 | server scheduling p99 | latency load |\n|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, rooms := range roomCounts {
		b0, err := deliveryBuckets(addr)
		if err != nil {
			return err
		}
		s0, err := readSched(addr)
		if err != nil {
			return err
		}
		p50, p99, n, err := latency(addr, rooms, perRoom, d)
		if err != nil {
			return fmt.Errorf("latency %d rooms: %w", rooms, err)
		}
		b1, err := deliveryBuckets(addr)
		if err != nil {
			return err
		}
		s1, err := readSched(addr)
		if err != nil {
			return err
		}
		time.Sleep(time.Second)
		before, err := mem(addr)
		if err != nil {
			return err
		}
		tp, count, err := throughput(addr, rooms, d)
		if err != nil {
			return fmt.Errorf("throughput %d rooms: %w", rooms, err)
		}
		after, err := mem(addr)
		if err != nil {
			return err
		}
		perMsg := float64(after.CPUMicros-before.CPUMicros) / float64(max(count, 1))
		time.Sleep(time.Second)
		fmt.Printf("| %d | %.0f | %.1f µs | %v | %v | %s | %s | %s | %g msg/s per room, %d samples |\n", rooms, tp, perMsg,
			p50.Round(time.Microsecond), p99.Round(time.Microsecond), serverQuantile(b0, b1, 0.5), serverQuantile(b0, b1, 0.99),
			schedQuantile(s0, s1, 0.99), perRoom, n)
	}

	if idle == 0 {
		return nil
	}
	before, err := mem(addr)
	if err != nil {
		return err
	}
	var conns []*websocket.Conn
	for i := 0; i < idle; i++ {
		c, err := register(addr, fmt.Sprintf("idle-%d", i/2), fmt.Sprintf("c%d", i%2))
		if err != nil {
			return fmt.Errorf("idle socket %d: %w", i, err)
		}
		conns = append(conns, c)
	}
	time.Sleep(time.Second)
	after, err := mem(addr)
	if err != nil {
		return err
	}
	for _, c := range conns {
		c.Close()
	}
	per := func(a, b uint64) float64 { return float64(int64(b)-int64(a)) / float64(idle) / 1024 }
	fmt.Printf("\nIdle registered sockets: %d (%d goroutines in the server).\n\n", idle, after.Goroutines)
	fmt.Printf("| per idle socket | KiB |\n|---|---:|\n| RSS | %.2f |\n| Go heap | %.2f |\n| goroutine stacks | %.2f |\n",
		per(before.RSS, after.RSS), per(before.Heap, after.Heap), per(before.Stack, after.Stack))
	return nil
}
