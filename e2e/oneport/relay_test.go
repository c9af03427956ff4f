//go:build !js

package oneport

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCoturnClientsRelayThroughTheHTTPSPort: coTurn's turnutils_uclient relays over TURN
// over TLS and over plain TCP on the HTTPS port with credentials from /turn, losing
// nothing, while curl and Go's HTTP/2 client load pages on the same port before, during
// and after.
func TestCoturnClientsRelayThroughTheHTTPSPort(t *testing.T) {
	uclient, err := exec.LookPath("turnutils_uclient")
	if err != nil {
		t.Fatal("turnutils_uclient not found: run `make deps` (installs Debian's coturn)")
	}
	r, port := startShared(t)
	hc := h2Client(t, "")
	ctx := context.Background()

	creds := credentials(t, hc, r.URL)
	turnPort := strings.TrimPrefix(r.Config.TURN.Addr, "127.0.0.1:")
	want := []string{
		"turn:127.0.0.1:" + turnPort + "?transport=udp",
		"turn:127.0.0.1:" + turnPort + "?transport=tcp",
		"turns:127.0.0.1:" + port + "?transport=tcp",
	}
	// servertest also opens a TURN-only TLS port; it comes after the HTTPS port.
	if len(creds.URIs) != 4 || !slices.Equal(creds.URIs[:3], want) || !strings.HasPrefix(creds.URIs[3], "turns:") {
		t.Fatalf("/turn uris %q; want %q then the TURN-only TLS port", creds.URIs, want)
	}

	pages := func() error {
		if err := getH2(hc, r.URL+"/"); err != nil {
			return err
		}
		if err := curl(ctx, r.URL+"/healthz", false); err != nil {
			return err
		}
		return curl(ctx, r.URL+"/", true)
	}
	if err := pages(); err != nil {
		t.Fatalf("before: %v", err)
	}
	for _, tc := range []struct {
		name, route string
		flags       []string
	}{
		{"TLS", "turn_tls", []string{"-t", "-S"}},
		{"TCP", "turn_tcp", []string{"-t"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := portMetric(t, hc, r.URL, tc.route)
			// Pages load over and over on the same port while the relay runs.
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var loaded int
			var pageErr error
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := pages(); err != nil {
						pageErr = err
						return
					}
					loaded++
				}
			}()
			args := append([]string{"-p", port, "-u", creds.Username, "-w", creds.Password,
				"-y", "-n", "50", "-m", "4", "-l", "170"}, tc.flags...)
			cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
			out, err := exec.CommandContext(cctx, uclient, append(args, "127.0.0.1")...).CombinedOutput()
			cancel()
			close(stop)
			wg.Wait()
			if err != nil {
				t.Fatalf("turnutils_uclient %s: %v\n%s", strings.Join(args, " "), err, tail(string(out), 20))
			}
			if !strings.Contains(string(out), "Total lost packets 0 (0.000000%)") {
				t.Errorf("packets lost or not relayed:\n%s", tail(string(out), 15))
			}
			if pageErr != nil || loaded == 0 {
				t.Errorf("pages during the relay: %d loaded, then %v", loaded, pageErr)
			}
			// The relay went through the HTTPS port, not some other one.
			if after := portMetric(t, hc, r.URL, tc.route); after < before+4 {
				t.Errorf("%s connections on the HTTPS port: %v before, %v after; want 4 more (one per uclient session)", tc.route, before, after)
			}
		})
	}
	if err := pages(); err != nil {
		t.Fatalf("after: %v", err)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
