//go:build !js

package browser

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onertc/onertc/web"
)

// TestBenchmarkBrowser measures, in headless Chromium on loopback, the time from navigation
// to the app running and to remote video playing, over 10 calls, and writes
// bench/browser/RESULTS.md. It runs only with ONERTC_BENCH=1:
//
//	ONERTC_BENCH=1 go test ./e2e/browser -run TestBenchmarkBrowser -count=1 -v
func TestBenchmarkBrowser(t *testing.T) {
	if os.Getenv("ONERTC_BENCH") != "1" {
		t.Skip("benchmark: set ONERTC_BENCH=1 to run it")
	}
	const runs = 10
	ts := startServer(t, nil)
	browser := newBrowser(t)
	var ready, wasmStart, remote, joined []float64
	// A mark the page did not set fails the benchmark: averaging it in as a number would
	// publish a figure nothing measured.
	mark := func(tb *tab, run int, name string) float64 {
		t.Helper()
		var ms float64
		tb.eval(`performance.getEntriesByName("`+name+`")[0]?.startTime ?? -1`, &ms)
		if ms < 0 {
			t.Fatalf("run %d: %s: the page set no performance mark %q", run, tb.name, name)
		}
		return ms
	}
	for i := range runs {
		a, b := newTab(t, browser, "A"), newTab(t, browser, "B")
		room := fmt.Sprintf("%s/r/bench-%d", ts.url, i)
		a.joinRoom(room)
		a.waitFor("A waiting", `document.getElementById("room").dataset.state === "waiting"`, 15*time.Second)
		b.joinRoom(room)
		b.waitFor("remote video", `performance.getEntriesByName("onertc-remote-playing").length > 0`, 20*time.Second)
		ready = append(ready, mark(b, i, "onertc-app-ready"))
		wasmStart = append(wasmStart, mark(b, i, "onertc-wasm-start"))
		remote = append(remote, mark(b, i, "onertc-remote-playing"))
		joined = append(joined, remote[len(remote)-1]-mark(b, i, "onertc-join"))
		b.do(5*time.Second, pressKey("q"))
		a.do(5*time.Second, pressKey("q"))
		b.waitFor("B left", `document.getElementById("room").dataset.state === "ended"`, 10*time.Second)
		a.waitFor("A left", `document.getElementById("room").dataset.state === "ended"`, 10*time.Second)
	}
	t.Logf("app ready (ms): %v", ready)
	t.Logf("remote video (ms): %v", remote)
	for name, series := range map[string][]float64{"app ready": ready, "wasm start": wasmStart, "remote video": remote, "join to video": joined} {
		if len(series) != runs {
			t.Fatalf("%s: %d samples of %d runs", name, len(series), runs)
		}
	}
	raw, gz, br := web.DefaultAssets().WasmSizes()
	if raw == 0 || gz == 0 || br == 0 {
		t.Fatalf("wasm sizes raw %d, gzip %d, brotli %d: the app is not built (make wasm)", raw, gz, br)
	}
	var version string
	if err := newTab(t, browser, "version").tryEval(`navigator.userAgent`, &version); err != nil || version == "" {
		t.Fatalf("the browser's user agent %q: %v", version, err)
	}
	writeResults(t, raw, gz, br, version, ready, wasmStart, remote, joined)
}

// median of a series that has samples (the benchmark fails before writing an empty one).
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func writeResults(t *testing.T, raw, gz, br int, ua string, ready, wasmStart, remote, joined []float64) {
	host, _ := os.Hostname()
	cpu := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	mb := func(n int) string { return fmt.Sprintf("%.2f MB (%d bytes)", float64(n)/1e6, n) }
	ms := func(xs []float64) string {
		parts := make([]string, len(xs))
		for i, x := range xs {
			parts[i] = fmt.Sprintf("%.0f", x)
		}
		return strings.Join(parts, ", ")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Browser app benchmark\n\n")
	fmt.Fprintf(&b, "- Date: %s\n- Machine: %s, %s, %d CPUs (shared with other test runs)\n- Go: %s\n- Browser: %s\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), host, cpu, runtime.NumCPU(), runtime.Version(), ua)
	fmt.Fprintf(&b, "- Command: `make wasm && ONERTC_BENCH=1 go test ./e2e/browser -run TestBenchmarkBrowser -count=1 -v`\n\n")
	fmt.Fprintf(&b, "## .wasm size (`-trimpath -ldflags '-s -w'`)\n\n| | size | target |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| raw | %s | |\n| gzip -9 | %s | |\n| brotli q11 | %s | < 0.8 MB |\n\n", mb(raw), mb(gz), mb(br))
	fmt.Fprintf(&b, "## Timings, headless Chromium on loopback, median of %d\n\n", len(ready))
	fmt.Fprintf(&b, "Measured in the joining tab (B) from its navigation start (performance marks set by boot.js and the app); ")
	fmt.Fprintf(&b, "run 1 has a cold cache, the others a warm one (the wasm comes from the cache).\n\n")
	fmt.Fprintf(&b, "| | median | target | all runs (ms) |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| navigation → wasm instantiated | %.0f ms | | %s |\n", median(wasmStart), ms(wasmStart))
	fmt.Fprintf(&b, "| navigation → app's main running (interactive) | %.0f ms | < 400 ms | %s |\n", median(ready), ms(ready))
	fmt.Fprintf(&b, "| navigation → remote video playing (incl. Join click) | %.0f ms | < 1500 ms | %s |\n", median(remote), ms(remote))
	fmt.Fprintf(&b, "| Join click → remote video playing | %.0f ms | | %s |\n", median(joined), ms(joined))
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Fprintf(&b, "\nLoad average at the end of the run: %s", load)
	}
	path := filepath.Join("..", "..", "bench", "browser", "RESULTS.md")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s:\n%s", path, b.String())
}
