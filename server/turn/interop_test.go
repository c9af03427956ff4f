package turn

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/onertc/onertc/protocol"
)

// requireTool fails (never skips) when a coTurn client is missing: the interop tests are
// part of the suite, and `make test` installs Debian's coturn package.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: run `make deps` (installs Debian's coturn, whose clients the interop tests drive)", name)
	}
	return p
}

func runTool(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, requireTool(t, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// restCredentials fetches credentials the way a deployment hands them out: from GET /turn.
func restCredentials(t *testing.T, user string) protocol.TURNCredentials {
	t.Helper()
	h, _ := NewRESTHandlers(RESTConfig{Secret: testSecret, TTL: time.Hour,
		URIs: func(*http.Request) []string { return URIs("127.0.0.1", 3478, 3478, 0) }})
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/turn?service=turn&username=" + user)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c protocol.TURNCredentials
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /turn: %d, %v", resp.StatusCode, err)
	}
	return c
}

// TestInteropCoturnClients drives the server with coTurn's own test clients. With -y the
// clients relay to each other's relay addresses, which the peer policy admits as our own
// relays although loopback peers are otherwise refused here.
func TestInteropCoturnClients(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.AllowLoopback = false })
	host, udpPort := splitHostPort(t, ts.udp)
	_, tcpPort := splitHostPort(t, ts.tcp)
	_, tlsPort := splitHostPort(t, ts.tls)

	t.Run("stunclient", func(t *testing.T) {
		out := runTool(t, 20*time.Second, "turnutils_stunclient", "-p", udpPort, host)
		if !strings.Contains(out, "UDP reflexive addr: 127.0.0.1") {
			t.Errorf("no reflexive address in:\n%s", out)
		}
	})
	tests := []struct {
		name  string
		flags []string
		port  string
	}{
		{"uclient udp channels", nil, udpPort},
		{"uclient udp send indications", []string{"-s"}, udpPort},
		{"uclient tcp", []string{"-t"}, tcpPort},
		{"uclient tls", []string{"-t", "-S"}, tlsPort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := restCredentials(t, "interop")
			args := append([]string{"-p", tt.port, "-u", c.Username, "-w", c.Password, "-y", "-n", "20", "-m", "2", "-l", "100"}, tt.flags...)
			out := runTool(t, 60*time.Second, "turnutils_uclient", append(args, host)...)
			if !strings.Contains(out, "Total lost packets 0 (0.000000%)") {
				t.Errorf("packets lost or not relayed:\n%s", tail(out, 15))
			}
		})
	}
	if st := ts.Stats(); st.AllocationsTotal < 8 || st.ToPeerPackets < 8*20 {
		t.Errorf("stats after interop: %+v", st)
	}
}

func splitHostPort(t *testing.T, hp string) (string, string) {
	t.Helper()
	i := strings.LastIndexByte(hp, ':')
	return hp[:i], hp[i+1:]
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
