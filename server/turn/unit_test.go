package turn

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestRESTPasswordKnownAnswers checks the HMAC against answers computed outside Go:
// printf %s USERNAME | openssl dgst -sha1 -hmac SECRET -binary | base64
func TestRESTPasswordKnownAnswers(t *testing.T) {
	tests := []struct{ secret, username, want string }{
		{"secret", "1700003600:alice", "LLPLO4qjdVL2qZhwr3eImhn7J20="},
		{"s3cret-current", "1700003600:alice", "r81IbIdZmK1K+WFTq4GN1AZmtnc="},
		{"s3cret-previous", "1700003600:bob", "mkNMCO9aKdIyO3X4xjUnaOvt9zA="},
	}
	for _, tt := range tests {
		if got := restPassword(tt.secret, tt.username); got != tt.want {
			t.Errorf("password of %q under %q = %q, want %q", tt.username, tt.secret, got, tt.want)
		}
	}
}

func TestMintAndParseUsername(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	u, p := Mint("secret", "alice", time.Hour, now)
	if u != "1700003600:alice" {
		t.Fatalf("username %q", u)
	}
	// printf %s 1700003600:alice | openssl dgst -sha1 -hmac secret -binary | base64
	if p != "LLPLO4qjdVL2qZhwr3eImhn7J20=" {
		t.Fatalf("password %q, want openssl's LLPLO4qjdVL2qZhwr3eImhn7J20=", p)
	}
	tests := []struct {
		in      string
		expiry  int64
		user    string
		wantErr error
	}{
		{"1700003600:alice", 1700003600, "alice", nil},
		{"1700003600", 1700003600, "", nil},
		{"1700003600:a:b", 1700003600, "a:b", nil},
		{"0:x", 0, "x", nil},
		{"", 0, "", ErrMalformedUsername},
		{"alice", 0, "", ErrMalformedUsername},
		{strings.Repeat("1", 600), 0, "", ErrMalformedUsername},
		{"soon:alice", 0, "", ErrBadTimestamp},
		{":alice", 0, "", ErrBadTimestamp},
		{"-5:alice", 0, "", ErrBadTimestamp},
		{"99999999999999999999:alice", 0, "", ErrBadTimestamp},
		{"1e9:alice", 0, "", ErrBadTimestamp},
	}
	for _, tt := range tests {
		exp, user, err := ParseUsername(tt.in)
		if !errors.Is(err, tt.wantErr) || (err == nil && (exp.Unix() != tt.expiry || user != tt.user)) {
			t.Errorf("ParseUsername(%.30q) = %v, %q, %v; want %d, %q, %v", tt.in, exp.Unix(), user, err, tt.expiry, tt.user, tt.wantErr)
		}
	}
}

func TestPeerPolicy(t *testing.T) {
	base := Config{
		PublicIP: net.IPv4(203, 0, 113, 7), RelayAddress: "0.0.0.0",
		RelayPortMin: 49152, RelayPortMax: 65535, OwnPorts: []int{3478, 8080},
	}
	tests := []struct {
		name string
		edit func(*Config)
		peer string
		want bool
	}{
		{"public", nil, "8.8.8.8:53", true},
		{"public v6", nil, "[2606:4700::1111]:443", true},
		{"loopback", nil, "127.0.0.1:5000", false},
		{"loopback 127/8", nil, "127.9.9.9:5000", false},
		{"loopback v6", nil, "[::1]:5000", false},
		{"mapped loopback", nil, "[::ffff:127.0.0.1]:5000", false},
		{"unspecified", nil, "0.0.0.0:5000", false},
		{"unspecified v6", nil, "[::]:5000", false},
		{"rfc1918 10", nil, "10.1.2.3:5000", false},
		{"rfc1918 172", nil, "172.31.0.1:5000", false},
		{"rfc1918 192", nil, "192.168.1.1:5000", false},
		{"mapped rfc1918", nil, "[::ffff:10.0.0.1]:5000", false},
		{"cgnat", nil, "100.64.0.1:5000", false},
		{"cgnat top", nil, "100.127.255.254:5000", false},
		{"not cgnat", nil, "100.128.0.1:5000", true},
		{"metadata", nil, "169.254.169.254:80", false},
		{"link-local v6", nil, "[fe80::1%eth0]:5000", false},
		{"ula", nil, "[fd12:3456::1]:5000", false},
		{"multicast", nil, "239.1.1.1:5000", false},
		{"multicast v6", nil, "[ff05::2]:5000", false},
		{"broadcast", nil, "255.255.255.255:5000", false},
		{"test-net-1", nil, "192.0.2.1:5000", false},
		{"test-net-2", nil, "198.51.100.1:5000", false},
		{"benchmark", nil, "198.18.0.1:5000", false},
		{"doc v6", nil, "[2001:db8::1]:5000", false},
		{"teredo", nil, "[2001:0:4136:e378::1]:5000", false},
		{"nat64 private", nil, "[64:ff9b::10.0.0.1]:5000", false},
		{"nat64 metadata", nil, "[64:ff9b::169.254.169.254]:80", false},
		{"nat64 public", nil, "[64:ff9b::8.8.8.8]:53", true},
		{"6to4 loopback", nil, "[2002:7f00:1::1]:5000", false},
		{"6to4 public", nil, "[2002:808:808::1]:5000", true},
		// An allocation holds relay port 50000 (below); 50001 is free or another process's.
		{"own relay address, an allocation's port", nil, "203.0.113.7:50000", true},
		{"own relay address, a relay port no allocation holds", nil, "203.0.113.7:50001", false},
		{"own relay address, other port", nil, "203.0.113.7:22", false}, // TEST-NET-3 stays special
		{"loopback relay address, an allocation's port", func(c *Config) { c.RelayAddress = "127.0.0.1" }, "127.0.0.1:50000", true},
		{"loopback relay address, a relay port no allocation holds", func(c *Config) { c.RelayAddress = "127.0.0.1" }, "127.0.0.1:50001", false},
		{"public relay address, a relay port no allocation holds", func(c *Config) { c.PublicIP = net.IPv4(8, 8, 8, 8) }, "8.8.8.8:50001", true},
		{"own listener port", func(c *Config) { c.PublicIP = net.IPv4(8, 8, 8, 8) }, "8.8.8.8:3478", false},
		{"own HTTP port", func(c *Config) { c.PublicIP = net.IPv4(8, 8, 8, 8) }, "8.8.8.8:8080", false},
		{"own address, other port", func(c *Config) { c.PublicIP = net.IPv4(8, 8, 8, 8) }, "8.8.8.8:9999", true},
		{"allow loopback", func(c *Config) { c.AllowLoopback = true }, "127.0.0.1:5000", true},
		{"allow loopback, own port", func(c *Config) { c.AllowLoopback = true }, "127.0.0.1:3478", false},
		{"allow loopback, mapped own port", func(c *Config) { c.AllowLoopback = true }, "[::ffff:127.0.0.1]:8080", false},
		{"allow cidr", func(c *Config) { c.AllowPeers = mustCIDRs("10.0.0.0/8") }, "10.1.2.3:5000", true},
		{"allow cidr via nat64", func(c *Config) { c.AllowPeers = mustCIDRs("10.0.0.0/8") }, "[64:ff9b::10.1.2.3]:5000", true},
		{"allow cidr, other range", func(c *Config) { c.AllowPeers = mustCIDRs("10.0.0.0/8") }, "192.168.0.1:5000", false},
		{"deny cidr", func(c *Config) { c.DenyPeers = mustCIDRs("8.8.8.0/24") }, "8.8.8.8:53", false},
		{"deny beats allow", func(c *Config) { c.AllowPeers = mustCIDRs("8.8.8.0/24"); c.DenyPeers = mustCIDRs("8.8.8.8") }, "8.8.8.8:53", false},
		{"deny via nat64", func(c *Config) { c.DenyPeers = mustCIDRs("8.8.8.0/24") }, "[64:ff9b::8.8.8.8]:53", false},
		{"deny mapped entry", func(c *Config) { c.DenyPeers = mustCIDRs("::ffff:8.8.8.0/120") }, "8.8.8.8:53", false},
		// The server's own SFU, which relay-only group participants reach through TURN.
		{"allowed address (SFU on loopback)", allowSFU, "127.0.0.1:3479", true},
		{"allowed address, mapped", allowSFU, "[::ffff:127.0.0.1]:3479", true},
		{"allowed address, other port", allowSFU, "127.0.0.1:3480", false},
		{"allowed address's port, other address", allowSFU, "127.0.0.2:3479", false},
		{"allowed private address", allowSFU, "10.0.0.5:3479", true},
		{"allowed private address, other port", allowSFU, "10.0.0.5:22", false},
		{"deny beats an allowed address", func(c *Config) { allowSFU(c); c.DenyPeers = mustCIDRs("10.0.0.0/8") }, "10.0.0.5:3479", false},
		{"own listener port never, even allowed", func(c *Config) {
			c.AllowPeerAddrs = []netip.AddrPort{netip.MustParseAddrPort("203.0.113.7:3478")}
		}, "203.0.113.7:3478", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			p := newPeerPolicy(&cfg)
			p.relayPorts.add(50000)
			ap, err := netip.ParseAddrPort(tt.peer)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.allowed(ap); got != tt.want {
				t.Errorf("allowed(%s) = %v, want %v", tt.peer, got, tt.want)
			}
		})
	}
}

func allowSFU(c *Config) {
	c.AllowPeerAddrs = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:3479"), netip.MustParseAddrPort("10.0.0.5:3479")}
}

func mustCIDRs(s ...string) []netip.Prefix {
	p, err := ParseCIDRs(s)
	if err != nil {
		panic(err)
	}
	return p
}

func TestParseCIDRs(t *testing.T) {
	tests := []struct {
		in      []string
		want    string
		wantErr bool
	}{
		{[]string{"10.0.0.0/8", " fd00::/8 ", "1.2.3.4", "::1"}, "[10.0.0.0/8 fd00::/8 1.2.3.4/32 ::1/128]", false},
		{[]string{"10.1.2.3/8"}, "[10.0.0.0/8]", false},
		{[]string{"::ffff:10.0.0.0/104"}, "[10.0.0.0/8]", false},
		{[]string{"10.0.0.0/33"}, "", true},
		{[]string{"banana"}, "", true},
		{[]string{""}, "", true},
		{[]string{"fe80::1%eth0"}, "", true},
	}
	for _, tt := range tests {
		got, err := ParseCIDRs(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && fmtPrefixes(got) != tt.want) {
			t.Errorf("ParseCIDRs(%q) = %v, %v; want %s, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrBadCIDR) {
			t.Errorf("error %v does not wrap ErrBadCIDR", err)
		}
	}
}

func fmtPrefixes(p []netip.Prefix) string {
	s := make([]string, len(p))
	for i, x := range p {
		s[i] = x.String()
	}
	return "[" + strings.Join(s, " ") + "]"
}

func TestConfigValidate(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	good := func() Config {
		return Config{Realm: "r", Secret: "s", PublicIP: net.IPv4(1, 2, 3, 4), PacketConns: []net.PacketConn{pc}}
	}
	tests := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"defaults", func(*Config) {}, true},
		{"no realm", func(c *Config) { c.Realm = "" }, false},
		{"no secret", func(c *Config) { c.Secret = "" }, false},
		{"no public ip", func(c *Config) { c.PublicIP = nil }, false},
		{"v6 public ip", func(c *Config) { c.PublicIP = net.ParseIP("2001:db8::1") }, false},
		{"bad relay address", func(c *Config) { c.RelayAddress = "example.com" }, false},
		{"inverted ports", func(c *Config) { c.RelayPortMin, c.RelayPortMax = 60000, 50000 }, false},
		{"negative quota", func(c *Config) { c.UserQuota = -1 }, false},
		{"short lifetime", func(c *Config) { c.MaxAllocationLifetime = time.Second }, false},
		{"no sockets", func(c *Config) { c.PacketConns = nil }, false},
		{"bad own port", func(c *Config) { c.OwnPorts = []int{70000} }, false},
	}
	for _, tt := range tests {
		c := good()
		tt.edit(&c)
		err := c.Validate()
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
			t.Errorf("%s: Validate() = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if tt.ok && (c.RelayPortMin != DefaultRelayPortMin || c.RelayAddress != DefaultRelayAddress || c.Logger == nil) {
			t.Errorf("%s: defaults not applied: %+v", tt.name, c)
		}
	}
}

func TestListenUDP(t *testing.T) {
	conns, err := ListenUDP("udp4", "127.0.0.1:0", 3)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	if len(conns) != 3 {
		t.Fatalf("%d sockets, want 3", len(conns))
	}
	for _, c := range conns[1:] {
		if c.LocalAddr().String() != conns[0].LocalAddr().String() {
			t.Errorf("socket on %v, want %v", c.LocalAddr(), conns[0].LocalAddr())
		}
	}
	if _, err := ListenUDP("udp4", "256.0.0.1:0", 2); err == nil {
		t.Error("ListenUDP on a bad address succeeded")
	}
}

func TestPionLoggerRateLimit(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	f := loggerFactory{log: slog.New(slog.NewTextHandler(&buf, nil))}
	l := f.NewLogger("turn").(*pionLogger)
	l.now = func() time.Time { return clock }
	for i := 0; i < 1000; i++ {
		l.Errorf("Failed to handle datagram %d", i)
		l.Debugf("per packet %d", i) // below Info: dropped without formatting
	}
	clock = clock.Add(logWindow)
	l.Errorf("later")
	out := buf.String()
	if n := strings.Count(out, "Failed to handle datagram"); n != logBurst {
		t.Errorf("%d error lines, want %d", n, logBurst)
	}
	if !strings.Contains(out, "count=990") || !strings.Contains(out, "later") || strings.Contains(out, "per packet") {
		t.Errorf("unexpected log:\n%s", out)
	}
	if !strings.Contains(out, "level=WARN") || strings.Contains(out, "level=ERROR") {
		t.Errorf("pion errors should be demoted to warnings:\n%s", out)
	}
}
