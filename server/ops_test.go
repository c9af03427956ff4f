package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/limit"
)

// scrape reads /metrics with the Prometheus text parser and returns value by
// name{label="v"} (labels sorted as Prometheus prints them) and by bare name for
// unlabelled series.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.Metric {
			key := name
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key+"_count"] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

func TestMetricsFollowACall(t *testing.T) {
	ts := startServer(t, nil)
	before := scrape(t, ts.url+"/metrics")
	if before["onertc_rooms"] != 0 || before["onertc_relay_sockets_open"] != 0 {
		t.Fatalf("idle server: %v rooms, %v sockets", before["onertc_rooms"], before["onertc_relay_sockets_open"])
	}
	a := ts.join(t, "metered")
	b := ts.join(t, "metered")
	if status, body := ts.post(t, "/join/metered", ""); status != http.StatusOK || !strings.Contains(body, `"result":"`+protocol.ResultFull+`"`) {
		t.Fatalf("third join = %d %s, want %s", status, body, protocol.ResultFull)
	}
	wsA, wsB := ts.dial(t), ts.dial(t)
	wsA.register("metered", a.ClientID)
	wsB.register("metered", b.ClientID)
	wsA.sendMsg("one")
	wsA.sendMsg("two")
	wsB.sendMsg("three")
	wsB.expectMsg("one")
	wsB.expectMsg("two")
	wsA.expectMsg("three")
	testsync.Eventually(t, 5*time.Second, "messages confirmed", func() bool {
		return ts.relay.Pending("metered", a.ClientID) == 0 && ts.relay.Pending("metered", b.ClientID) == 0
	})
	m := scrape(t, ts.url+"/metrics")
	want := map[string]float64{
		"onertc_rooms":                         1,
		"onertc_room_clients":                  2,
		"onertc_relay_sockets_open":            2,
		`onertc_joins_total{result="SUCCESS"}`: 2,
		`onertc_joins_total{result="FULL"}`:    1,
		"onertc_relay_messages_relayed_total":  3,
		// The relay feeds the one histogram /metrics serves: a sample per message.
		"onertc_relay_delivery_seconds_count": 3,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if m[`onertc_http_requests_total{code="200",route="POST /join/{room}"}`] != 3 {
		t.Errorf("join requests by route: %v", m[`onertc_http_requests_total{code="200",route="POST /join/{room}"}`])
	}
	if m[`onertc_http_requests_total{code="101",route="GET /ws"}`] != 2 {
		t.Errorf("ws upgrades counted as 101: %v", m[`onertc_http_requests_total{code="101",route="GET /ws"}`])
	}
	found := false
	for k := range m {
		found = found || strings.HasPrefix(k, "onertc_build_info{")
	}
	if !found {
		t.Error("no onertc_build_info")
	}
	wsA.conn.Close()
	testsync.Eventually(t, 5*time.Second, "socket gauge falls", func() bool { return scrape(t, ts.url+"/metrics")["onertc_relay_sockets_open"] == 1 })
}

func TestMetricsListenerAndAuth(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TURN.Disabled = true
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.MetricsAuth = "prom:s3cret"
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	mln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, Listeners{HTTP: ln, Metrics: mln}) }()
	defer func() { cancel(); <-done }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("/metrics on the main port with --metrics-listen = %d, want 404", resp.StatusCode)
	}
	murl := "http://" + mln.Addr().String() + "/metrics"
	resp, _ = http.Get(murl)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("no credentials = %d, want 401", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", murl, nil)
	req.SetBasicAuth("prom", "s3cret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "onertc_rooms") {
		t.Errorf("with credentials = %d", resp.StatusCode)
	}
}

func TestRateLimits(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Limits = limit.Rates{Join: 1, Message: 1, WS: 1, Burst: 3}
	})
	codes := func(n int, do func() int) []int {
		var out []int
		for i := 0; i < n; i++ {
			out = append(out, do())
		}
		return out
	}
	joins := codes(5, func() int {
		resp, err := http.Post(ts.url+"/join/limited", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 429 {
			if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
				t.Errorf("429 without a Retry-After in seconds: %q", resp.Header.Get("Retry-After"))
			}
		}
		return resp.StatusCode
	})
	if joins[2] != 200 || joins[3] != 429 || joins[4] != 429 {
		t.Fatalf("join codes %v: want three allowed (burst), then 429", joins)
	}
	// Another client address is not limited by the first one's use: behind the trusted
	// proxy (loopback), X-Forwarded-For names the client.
	req, _ := http.NewRequest("POST", ts.url+"/join/other", nil)
	req.Header.Set("X-Forwarded-For", "198.51.100.7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("join from another forwarded address = %d", resp.StatusCode)
	}
	var wsCodes []int
	for i := 0; i < 5; i++ {
		c, resp, err := websocket.DefaultDialer.Dial("ws://"+ts.host+"/ws", nil)
		if err == nil {
			c.Close()
			wsCodes = append(wsCodes, 101)
			continue
		}
		wsCodes = append(wsCodes, resp.StatusCode)
	}
	if wsCodes[0] != 101 || wsCodes[4] != 429 {
		t.Fatalf("ws codes %v", wsCodes)
	}
	if m := scrape(t, ts.url+"/metrics"); m[`onertc_rate_limited_total{class="join"}`] != 2 {
		t.Errorf("rate_limited join = %v", m[`onertc_rate_limited_total{class="join"}`])
	}
	// The bucket refills at one join a second: a join goes through again within about that.
	// (A refused attempt takes no token, so polling does not hold the bucket empty.)
	testsync.Eventually(t, 5*time.Second, "a join once the bucket refilled", func() bool {
		resp, err := http.Post(ts.url+"/join/limited2", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// TestCredentialRateLimit: GET /turn and POST /v1alpha/iceconfig share one per-address bucket;
// past its burst (3; the refill of one a second is far slower than six requests on loopback)
// both answer 429 with Retry-After, and the refusals are counted.
func TestCredentialRateLimit(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.TURN.Disabled = false
		c.Limits = limit.Rates{Join: 100, Message: 100, WS: 100, TURN: 1, Burst: 3} // burst = rate × 3 = 3
	})
	var got []int
	for i := 0; i < 6; i++ {
		var resp *http.Response
		var err error
		if i%2 == 0 {
			resp, err = http.Get(ts.url + "/turn?service=turn&username=alice")
		} else {
			resp, err = http.Post(ts.url+"/v1alpha/iceconfig?key=", "text/plain", nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}
		got = append(got, resp.StatusCode)
	}
	if want := []int{200, 200, 200, 429, 429, 429}; !slices.Equal(got, want) {
		t.Fatalf("credential request codes %v, want %v", got, want)
	}
	if m := scrape(t, ts.url+"/metrics"); m[`onertc_rate_limited_total{class="turn"}`] != 3 {
		t.Errorf("rate_limited turn = %v, want 3", m[`onertc_rate_limited_total{class="turn"}`])
	}
}

func TestSocketCaps(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxSocketsPerIP = 2; c.MaxSockets = 3 })
	dial := func(xff string) (int, *websocket.Conn) {
		h := http.Header{}
		if xff != "" {
			h.Set("X-Forwarded-For", xff)
		}
		c, resp, err := websocket.DefaultDialer.Dial("ws://"+ts.host+"/ws", h)
		if err != nil {
			return resp.StatusCode, nil
		}
		return 101, c
	}
	var open []*websocket.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for i, tt := range []struct {
		xff  string
		want int
	}{{"", 101}, {"", 101}, {"", 429}, {"203.0.113.9", 101}, {"203.0.113.10", 503}} {
		code, c := dial(tt.xff)
		if code != tt.want {
			t.Fatalf("socket %d from %q = %d, want %d", i, tt.xff, code, tt.want)
		}
		if c != nil {
			open = append(open, c)
		}
	}
	open[0].Close()
	open = open[1:]
	testsync.Eventually(t, 5*time.Second, "a freed place is usable again", func() bool {
		code, c := dial("")
		if c != nil {
			open = append(open, c)
		}
		return code == 101
	})
}

// Drain: readiness goes false, new joins are refused with a reason, the call in progress
// keeps relaying (and its queued message arrives), and Serve returns once the room empties.
func TestDrainOnShutdown(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TURN.Disabled = true
	cfg.Limits = limit.Rates{}
	cfg.DrainTimeout = 20 * time.Second
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ts := &testServer{Server: srv, url: "http://" + ln.Addr().String(), host: ln.Addr().String()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, Listeners{HTTP: ln}) }()
	a, b := ts.join(t, "draining"), ts.join(t, "draining")
	wsA, wsB := ts.dial(t), ts.dial(t)
	wsA.register("draining", a.ClientID)
	wsB.register("draining", b.ClientID)
	testsync.Eventually(t, 5*time.Second, "both online", func() bool { return srv.relay.Stats().Online == 2 })

	cancel()
	testsync.Eventually(t, 5*time.Second, "readyz says draining", func() bool {
		resp, err := http.Get(ts.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 503
	})
	status, body := ts.post(t, "/join/newcomer", "")
	if status != 503 || !strings.Contains(body, "restarting") {
		t.Fatalf("join while draining = %d %s", status, body)
	}
	wsA.sendMsg("still talking")
	wsB.expectMsg("still talking")
	select {
	case <-done:
		t.Fatal("Serve returned while a call was in progress")
	case <-time.After(200 * time.Millisecond):
	}
	// The call ends: B hangs up, A's message queued for B just before is still delivered.
	if r := ts.message(t, "draining", a.ClientID, "last words"); r != "SUCCESS" {
		t.Fatalf("message = %s", r)
	}
	wsB.expectMsg("last words")
	ts.leave(t, "leave", "draining", b.ClientID)
	ts.leave(t, "leave", "draining", a.ClientID)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the last room emptied")
	}
}

// A connection that is open but silent (net/http waits up to 5 s for those) or a request
// still running at shutdown must not make Serve fail: it is cut after ShutdownTimeout.
func TestShutdownCutsLingeringConnections(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TURN.Disabled = true
	cfg.ShutdownTimeout = 300 * time.Millisecond
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, Listeners{HTTP: ln}) }()
	silent, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// A request whose body never finishes keeps its handler reading.
	slow, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, "POST /message/r/c HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial")
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v, want nil after cutting lingering connections", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}
