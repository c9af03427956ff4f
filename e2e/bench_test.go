//go:build !js

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onertc/onertc/bot"
	"github.com/onertc/onertc/internal/testkit/testsync"
)

// benchCommand is how the results are produced; it goes into RESULTS.md verbatim.
const benchCommand = "ONERTC_BENCH=1 go test -count=1 -run TestBenchmarkCalls -v -timeout 20m ./e2e"

// TestBenchmarkCalls measures call set-up time (second bot's join → first RTP packet
// received on both sides) over 50 sequential calls, direct and relay-only, and the server
// process's CPU and RSS while 50 concurrent calls run. It writes bench/call/RESULTS.md.
// It runs only with ONERTC_BENCH=1.
func TestBenchmarkCalls(t *testing.T) {
	if os.Getenv("ONERTC_BENCH") == "" {
		t.Skip("benchmark; set ONERTC_BENCH=1")
	}
	srv := startServerChild(t)
	var report strings.Builder
	fmt.Fprintf(&report, "# Call benchmarks\n\nMachine: %s, %d CPUs, %s/%s. Date: %s. Go: %s.\n\nCommand (from the repository root):\n\n    %s\n\n",
		cpuModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, time.Now().UTC().Format("2006-01-02 15:04 MST"),
		runtime.Version(), benchCommand)
	fmt.Fprintf(&report, "The server runs in its own process (the test binary re-executed); bots are pion peers in the test process, "+
		"each with its own PeerConnection API, sending VP8 320x240@15 ~150 kbit/s, Opus 32 kbit/s and 4 data messages/s, on loopback.\n\n")
	fmt.Fprintf(&report, "## Call set-up time, 50 sequential calls\n\nFrom the second bot starting its /join to the first RTP packet received on both sides. "+
		"The first bot joined earlier and its offer and candidates wait in the mailbox.\n\n| mode | median | p90 | min | max |\n|---|---|---|---|---|\n")
	relay := relayStatus(srv.testServer)
	for _, m := range modes {
		if m.relay && relay != "" {
			fmt.Fprintf(&report, "| %s | not measured: %s | | | |\n", m.name, relay)
			continue
		}
		d := setupTimes(t, srv.testServer, m.relay, benchCalls())
		fmt.Fprintf(&report, "| %s | %v | %v | %v | %v |\n", m.name, pct(d, 50), pct(d, 90), d[0], d[len(d)-1])
		t.Logf("%s: median %v p90 %v", m.name, pct(d, 50), pct(d, 90))
	}
	fmt.Fprintf(&report, "\n## Server CPU and memory with 50 concurrent calls\n\n")
	loadMode := modes[1]
	if relay != "" {
		loadMode = modes[0]
		fmt.Fprintf(&report, "Relay-only not measured (%s); the figures below are for direct calls, where the server only signals.\n\n", relay)
	}
	cpu, rss, hwm := serverLoad(t, srv, loadMode.relay, 50)
	fmt.Fprintf(&report, "| mode | server CPU (1 core = 100%%) | server RSS | peak RSS |\n|---|---|---|---|\n| %s | %.1f%% | %.1f MiB | %.1f MiB |\n",
		loadMode.name, cpu, rss, hwm)
	out := os.Getenv("ONERTC_BENCH_OUT")
	if out == "" {
		out = filepath.Join("..", "bench", "call", "RESULTS.md")
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, []byte(report.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s:\n%s", out, report.String())
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))]
}

// setupTimes runs n calls one after the other and returns their set-up times, sorted.
func setupTimes(t *testing.T, s *testServer, relay bool, n int) []time.Duration {
	t.Helper()
	var out []time.Duration
	mode := "direct"
	if relay {
		mode = "relay"
	}
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		room := fmt.Sprintf("bench-%s-%d", mode, i)
		a := startBot(t, ctx, s, room, "a", modeOpts(relay)...)
		time.Sleep(300 * time.Millisecond) // a's offer and candidates are stored
		start := time.Now()
		b := startBot(t, ctx, s, room, "b", modeOpts(relay)...)
		// Hang up once both bots have what a bot counts as a working call (video, audio and a
		// data message), so each ends without error; the set-up time is the first packet's.
		working := func(rb *runningBot) bool {
			v, au, d := rb.b.Totals()
			return v.PacketsReceived > 0 && au.PacketsReceived > 0 && d.MessagesReceived > 0
		}
		testsync.Eventually(t, 20*time.Second, "video, audio and data both ways", func() bool { return working(a) && working(b) })
		errA, errB := a.stop(t), b.stop(t)
		cancel()
		// A call that did not end cleanly or a bot with no first-media time is a failed
		// sample, never a number in the table.
		if errA != nil || errB != nil {
			t.Fatalf("%s call %d: bots ended with %v, %v", mode, i, errA, errB)
		}
		if a.sum.FirstMedia.IsZero() || b.sum.FirstMedia.IsZero() {
			t.Fatalf("%s call %d: no first-media time (a %v, b %v)", mode, i, a.sum.FirstMedia, b.sum.FirstMedia)
		}
		first := later(a.sum.FirstMedia, b.sum.FirstMedia)
		if first.Before(start) {
			t.Fatalf("%s call %d: first media at %v, before b started at %v", mode, i, first, start)
		}
		out = append(out, first.Sub(start).Round(100*time.Microsecond))
	}
	if len(out) == 0 {
		t.Fatalf("%s: no calls measured (ONERTC_BENCH_CALLS=%q)", mode, os.Getenv("ONERTC_BENCH_CALLS"))
	}
	slices.Sort(out)
	return out
}

func later(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

// serverChild is a server in its own process.
type serverProc struct {
	*testServer
	cmd *exec.Cmd
}

func startServerChild(t *testing.T) *serverProc {
	t.Helper()
	spec, err := json.Marshal(childSpec{})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = childEnv(envServer, string(spec))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("server child: %v", err)
	}
	return &serverProc{testServer: &testServer{URL: strings.TrimSpace(line)}, cmd: cmd}
}

// serverLoad runs calls concurrent calls and samples the server's CPU over 10 s while all
// of them are up, and its RSS.
func serverLoad(t *testing.T, s *serverProc, relay bool, calls int) (cpuPct, rssMiB, hwmMiB float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := bot.Options{Server: s.URL, Room: "bench-load", RelayOnly: relay, IncludeLoopback: true,
		Duration: 25 * time.Second, Timeout: 60 * time.Second, StatsEvery: -1}
	done := make(chan []error, 1)
	go func() { done <- bot.RunMany(ctx, base, 2*calls, nil, testLogger()) }()
	time.Sleep(10 * time.Second) // all connected (set-up takes < 3 s here)
	pid := s.cmd.Process.Pid
	c0, t0 := procCPU(t, pid), time.Now()
	time.Sleep(10 * time.Second)
	c1, t1 := procCPU(t, pid), time.Now()
	rssMiB, hwmMiB = procMem(t, pid)
	errs := <-done
	for i, err := range errs {
		if err != nil {
			t.Errorf("load bot %d: %v", i, err)
		}
	}
	return 100 * (c1 - c0).Seconds() / t1.Sub(t0).Seconds(), rssMiB, hwmMiB
}

// procCPU is the user+system CPU time of pid.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the ")" that closes the command name; utime and stime are 14 and 15.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/%d/stat: utime %q, stime %q: %v %v", pid, f[11], f[12], err1, err2)
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks
}

func procMem(t *testing.T, pid int) (rss, hwm float64) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if f[0] != "VmRSS:" && f[0] != "VmHWM:" {
			continue
		}
		kb, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			t.Fatalf("/proc/%d/status: %s %q: %v", pid, f[0], f[1], err)
		}
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			hwm = kb / 1024
		}
	}
	if rss == 0 || hwm == 0 {
		t.Fatalf("/proc/%d/status: no VmRSS or VmHWM", pid)
	}
	return rss, hwm
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// benchCalls is the number of sequential calls (ONERTC_BENCH_CALLS, default 50).
func benchCalls() int {
	if n, err := strconv.Atoi(os.Getenv("ONERTC_BENCH_CALLS")); err == nil && n > 0 {
		return n
	}
	return 50
}
