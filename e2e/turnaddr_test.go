//go:build !js

package e2e

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/turntest"
	"github.com/onertc/onertc/server"
)

// TestTURNPublicIPRelayPortsAndMetrics: with a public IP that differs from the address the
// TURN sockets are bound to (--public-ip 127.0.0.2, sockets on 127.0.0.1), the URIs handed
// out and the relayed addresses carry the public IP, relayed ports come from the configured
// range, data flows through a relayed address, and /metrics counts allocations and refusals.
func TestTURNPublicIPRelayPortsAndMetrics(t *testing.T) {
	const lo, hi = 62990, 62999
	s := startServer(t, func(c *server.Config) {
		c.TURN.PublicIP = "127.0.0.2"
		c.TURN.RelayPortMin, c.TURN.RelayPortMax = lo, hi
	})
	needRelay(t, s)
	bound := s.Config.TURN.Addr
	_, boundPort, _ := net.SplitHostPort(bound)
	cred, uriAddr := turnCredential(t, s)
	if uriAddr != "127.0.0.2:"+boundPort {
		t.Fatalf("UDP TURN URI on %s, want the public IP on the bound port 127.0.0.2:%s", uriAddr, boundPort)
	}
	for _, u := range cred.URIs {
		if !strings.Contains(u, "127.0.0.2:") {
			t.Errorf("URI %q does not carry the public IP", u)
		}
	}

	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	pa := peer.LocalAddr().(*net.UDPAddr)
	const clients = 3
	var first *turntest.Client
	var firstRelayed *net.UDPAddr
	for i := 0; i < clients; i++ {
		c := turntest.Dial(t, bound, cred.Username, cred.Password, s.Config.TURN.Realm)
		relayed := c.MustAllocate()
		if !relayed.IP.Equal(net.IPv4(127, 0, 0, 2)) || relayed.Port < lo || relayed.Port > hi {
			t.Fatalf("relayed address %v, want 127.0.0.2 with a port in %d-%d", relayed, lo, hi)
		}
		if first == nil {
			first, firstRelayed = c, relayed
		}
	}
	if rc := first.ChannelBind(0x4000, pa); rc != 0 {
		t.Fatalf("ChannelBind: code %d", rc)
	}
	// The peer reaches the client through the relayed (public) address.
	if _, err := peer.WriteTo([]byte("hello"), firstRelayed); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1600)
	_ = first.Conn().SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := first.Conn().Read(buf)
	if err != nil || n < 9 || string(buf[4:9]) != "hello" {
		t.Fatalf("client read % x, %v; want ChannelData hello", buf[:n], err)
	}
	// A wrong password is refused and counted.
	bad := turntest.Dial(t, bound, cred.Username, "wrong", s.Config.TURN.Realm)
	if _, rc := bad.Allocate(); rc != 401 {
		t.Fatalf("Allocate with a wrong password: code %d, want 401", rc)
	}
	m := metrics(t, s.URL+"/metrics")
	for series, want := range map[string]float64{
		"onertc_turn_allocations":                                clients,
		"onertc_turn_allocations_total":                          clients,
		`onertc_turn_auth_failures_total{reason="bad_password"}`: 1,
	} {
		if m[series] != want {
			t.Errorf("%s = %v, want %v", series, m[series], want)
		}
	}
	if !anyPrefix(m, "onertc_turn_relayed_packets_total", 1) {
		t.Errorf("no relayed packet counted: %v", m)
	}
}

// metrics scrapes a Prometheus text page into series → value.
func metrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// anyPrefix reports whether a series starting with prefix has at least min.
func anyPrefix(m map[string]float64, prefix string, min float64) bool {
	for k, v := range m {
		if strings.HasPrefix(k, prefix) && v >= min {
			return true
		}
	}
	return false
}
