package turn

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// TestIPv6Clients: clients nobody on this team wrote (coTurn's) reach TURN over IPv6, UDP
// and TCP on [::1], and relay through the IPv4 relay sockets pion v2 allocates. (pion's own
// client resolves servers as IPv4 only, so it cannot be used here.)
func TestIPv6Clients(t *testing.T) {
	t.Parallel()
	pcs, err := ListenUDP("udp6", "[::1]:0", 2)
	if err != nil {
		t.Fatalf("IPv6 loopback UDP: %v", err)
	}
	tl, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{
		Realm: testRealm, Secret: testSecret, PublicIP: net.IPv4(127, 0, 0, 1), RelayAddress: "127.0.0.1",
		RelayPortMin: testRelayMin, RelayPortMax: testRelayMax,
		PacketConns: pcs, Listeners: []net.Listener{tl}, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	_, udpPort := splitHostPort(t, pcs[0].LocalAddr().String())
	_, tcpPort := splitHostPort(t, tl.Addr().String())

	out := runTool(t, 20*time.Second, "turnutils_stunclient", "-p", udpPort, "::1")
	if !strings.Contains(out, "reflexive addr: ::1") {
		t.Errorf("no IPv6 reflexive address in:\n%s", out)
	}
	for _, tt := range []struct {
		name  string
		flags []string
		port  string
	}{{"udp", nil, udpPort}, {"tcp", []string{"-t"}, tcpPort}} {
		t.Run(tt.name, func(t *testing.T) {
			user, pass := Mint(testSecret, "v6", time.Hour, time.Now())
			args := append([]string{"-p", tt.port, "-u", user, "-w", pass, "-y", "-n", "20", "-m", "2", "-l", "100"}, tt.flags...)
			out := runTool(t, 60*time.Second, "turnutils_uclient", append(args, "::1")...)
			if !strings.Contains(out, "Total lost packets 0 (0.000000%)") {
				t.Errorf("packets lost or not relayed over IPv6 %s:\n%s", tt.name, tail(out, 15))
			}
		})
	}
	if st := s.Stats(); st.AllocationsTotal < 4 || st.ToPeerPackets < 4*20 {
		t.Errorf("stats after IPv6 clients: %+v", st)
	}
}
