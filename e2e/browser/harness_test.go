//go:build !js

package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/onertc/onertc/internal/testkit/servertest"
	"github.com/onertc/onertc/server"
	"github.com/onertc/onertc/web"
)

// chromiumPath finds the browser; a missing one fails the test with the fix, never skips.
func chromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: run `make deps` (installs Debian's chromium) or set CHROMIUM=/path/to/chrome")
	return ""
}

func requireApp(t testing.TB) {
	t.Helper()
	if web.DefaultAssets().WasmURL() == "" {
		t.Fatal("the browser app is not built into package web: run `make wasm` (or `make build`) first")
	}
}

// testServer is a real onertc server on an ephemeral loopback port.
type testServer struct {
	*server.Server
	url  string
	stop func() // shuts the server down (at most once; cleanup calls it too)
}

// startServer runs a server with its TURN relay on loopback (servertest's defaults), relay
// ports apart from the other packages' whose tests run at the same time.
func startServer(t testing.TB, mutate func(*server.Config)) *testServer {
	t.Helper()
	return startServerWith(t, mutate, servertest.Options{})
}

// startServerWith is startServer with servertest's options (the log is set here).
func startServerWith(t testing.TB, mutate func(*server.Config), o servertest.Options) *testServer {
	t.Helper()
	cfg := servertest.Config()
	cfg.RelayGrace = 2 * time.Second
	cfg.TURN.RelayPortMin, cfg.TURN.RelayPortMax = 65001, 65535
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("ONERTC_E2E_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// http://127.0.0.1 is a secure context, like http://localhost: the page gets the
	// (fake) camera.
	o.Log = log
	r := servertest.StartT(t, cfg, o)
	return &testServer{Server: r.Server, url: r.URL, stop: func() { _ = r.Stop() }}
}

// newBrowser starts headless Chromium with fake devices and a fresh profile; tabs are made
// from the returned context with newTab. Extra options come last, so they override the
// defaults (chromedp.Flag(name, false) removes one).
func newBrowser(t testing.TB, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	requireApp(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		// Background windows must keep decoding video and running timers.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.WindowSize(1280, 800),
	}
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	start := time.Now()
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Logf("chromium started in %v", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	return bctx
}

// tab is one browser tab (its own window, so it gets frames while another is in front).
type tab struct {
	t    testing.TB
	ctx  context.Context
	name string
}

// logConsoleOnFailure has the test log the tab's console when it fails.
func (tb *tab) logConsoleOnFailure() {
	logs := tb.console()
	tb.t.Cleanup(func() {
		if tb.t.Failed() {
			tb.t.Logf("%s's console:\n%s", tb.name, logs.String())
		}
	})
}

func newTab(t testing.TB, browser context.Context, name string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab %s: %v", name, err)
	}
	t.Cleanup(cancel)
	return &tab{t: t, ctx: ctx, name: name}
}

// in returns the tab for use in subtest t, so that failures end the subtest.
func (tb *tab) in(t testing.TB) *tab {
	c := *tb
	c.t = t
	return &c
}

// do runs actions with a deadline, failing the test on error.
func (tb *tab) do(timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v", tb.name, err)
	}
}

func (tb *tab) navigate(url string) {
	tb.t.Helper()
	tb.do(20*time.Second, chromedp.Navigate(url))
}

// eval evaluates a JS expression (promises awaited) and decodes its JSON value into out.
func (tb *tab) eval(expr string, out any) {
	tb.t.Helper()
	if err := tb.tryEval(expr, out); err != nil {
		tb.t.Fatalf("%s: eval %s: %v", tb.name, expr, err)
	}
}

func (tb *tab) tryEval(expr string, out any) error {
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

// waitFor polls a JS expression until it is true; on timeout it fails with what the page
// shows in #status-div and the app's view.
func (tb *tab) waitFor(what, expr string, timeout time.Duration) {
	tb.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		err := tb.tryEval("!!("+expr+")", &ok)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			var state string
			_ = tb.tryEval(`(document.getElementById("room")?.dataset.state||"")+" | "+(document.getElementById("status-div")?.textContent||"")`, &state)
			tb.t.Fatalf("%s: timed out after %v waiting for %s (%s); page: %s; err %v", tb.name, timeout, what, expr, state, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.do(10*time.Second, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	var s string
	tb.eval(fmt.Sprintf(`document.querySelector(%q)?.textContent ?? ""`, sel), &s)
	return strings.TrimSpace(s)
}

// screenshot saves the tab as e2e/artifacts/NAME.png (gitignored) for a person to look at.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
	defer cancel()
	// Screenshots need the tab in front.
	_ = chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.BringToFront, cdp.Empty{})
		return err
	}))
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Errorf("%s: screenshot: %v", tb.name, err)
		return
	}
	dir := filepath.Join("..", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Errorf("artifacts: %v", err)
		return
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Errorf("screenshot: %v", err)
		return
	}
	tb.t.Logf("screenshot %s", path)
}

// state is the room view (#room[data-state]).
func (tb *tab) state() string {
	var s string
	_ = tb.tryEval(`document.getElementById("room")?.dataset.state ?? ""`, &s)
	return s
}

// joinRoom opens the room page and clicks Join once the camera is ready.
func (tb *tab) joinRoom(url string) {
	tb.t.Helper()
	tb.navigate(url)
	tb.waitFor("app ready", `document.documentElement.dataset.app === "ready" && !document.getElementById("join-button").disabled`, 20*time.Second)
	tb.click("#join-button")
}

// remoteVideoPlaying: the remote video element has frames and getStats counts decoded
// frames that keep growing.
func (tb *tab) waitRemoteVideo(timeout time.Duration) {
	tb.t.Helper()
	tb.waitFor("remote video dimensions", `document.getElementById("remote-video").videoWidth > 0`, timeout)
	first := tb.framesDecoded()
	deadline := time.Now().Add(10 * time.Second)
	for tb.framesDecoded() <= first {
		if time.Now().After(deadline) {
			tb.t.Fatalf("%s: framesDecoded stuck at %v", tb.name, first)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

const framesDecodedJS = `(async () => {
	const pc = window.onertcPC; if (!pc) return 0;
	let n = 0;
	(await pc.getStats()).forEach(s => { if (s.type === "inbound-rtp" && s.kind === "video") n += s.framesDecoded || 0; });
	return n;
})()`

func (tb *tab) framesDecoded() float64 {
	var n float64
	tb.eval(framesDecodedJS, &n)
	return n
}

// audioEnergy is the total energy of the received audio so far (grows while sound arrives).
func (tb *tab) audioEnergy() float64 {
	var n float64
	tb.eval(`(async () => {
		const pc = window.onertcPC; if (!pc) return 0;
		let e = 0;
		(await pc.getStats()).forEach(s => { if (s.type === "inbound-rtp" && s.kind === "audio") e += s.totalAudioEnergy || 0; });
		return e;
	})()`, &n)
	return n
}

// candidatePair is the selected candidate pair of a tab's connection: the candidates' types
// and ports (a relay candidate's is the port its TURN server allocated), and for a local
// relay candidate how it reaches its TURN server (udp, tcp, tls) and that server's URI.
type candidatePair struct {
	LocalType, RemoteType string
	LocalPort, RemotePort int
	RelayProtocol, URL    string
}

func (tb *tab) pair() candidatePair {
	tb.t.Helper()
	return tb.pairOf("window.onertcPC")
}

// pairOf is the selected candidate pair of the RTCPeerConnection the expression pc names
// (the zero pair while there is none).
func (tb *tab) pairOf(pc string) candidatePair {
	tb.t.Helper()
	var p candidatePair
	tb.eval(`(async () => {
		const pc = `+pc+`; if (!pc) return {};
		const r = await pc.getStats();
		let pair;
		r.forEach(s => { if (s.type === "transport" && s.selectedCandidatePairId) pair = r.get(s.selectedCandidatePairId); });
		if (!pair) return {};
		const l = r.get(pair.localCandidateId), rm = r.get(pair.remoteCandidateId);
		return {LocalType: l.candidateType, RemoteType: rm.candidateType, LocalPort: l.port, RemotePort: rm.port,
			RelayProtocol: l.relayProtocol || "", URL: l.url || ""};
	})()`, &p)
	return p
}

// selectedPair is the local and remote candidate types of the selected pair.
func (tb *tab) selectedPair() (local, remote string) {
	tb.t.Helper()
	p := tb.pair()
	return p.LocalType, p.RemoteType
}
