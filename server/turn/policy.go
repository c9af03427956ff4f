package turn

import (
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
)

// Special-purpose ranges refused as peers by default (IANA IPv4/IPv6 special-purpose
// registries, minus the globally reachable entries). Loopback is handled apart because
// AllowLoopback lifts it. NAT64 (64:ff9b::/96) and 6to4 (2002::/16) are not listed: their
// embedded IPv4 address is judged instead.
var specialPrefixes = mustPrefixes(
	"0.0.0.0/8",       // "this network", includes 0.0.0.0
	"10.0.0.0/8",      // RFC 1918
	"100.64.0.0/10",   // CGNAT, RFC 6598
	"169.254.0.0/16",  // link-local, cloud metadata 169.254.169.254
	"172.16.0.0/12",   // RFC 1918
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // TEST-NET-1
	"192.88.99.0/24",  // 6to4 relay anycast
	"192.168.0.0/16",  // RFC 1918
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // TEST-NET-2
	"203.0.113.0/24",  // TEST-NET-3
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, includes broadcast
	"::/96",           // unspecified and deprecated IPv4-compatible (::1 is loopback, below)
	"64:ff9b:1::/48",  // local-use NAT64
	"100::/64",        // discard
	"2001::/32",       // Teredo: the IPv4 it reaches is hidden
	"2001:2::/48",     // benchmarking
	"2001:10::/28",    // ORCHID
	"2001:20::/28",    // ORCHIDv2
	"2001:db8::/32",   // documentation
	"3fff::/20",       // documentation (RFC 9637)
	"fc00::/7",        // ULA
	"fe80::/10",       // link-local
	"fec0::/10",       // deprecated site-local
	"ff00::/8",        // multicast
)

var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4      = netip.MustParsePrefix("2002::/16")
)

func mustPrefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

// peerPolicy decides which peer transport addresses an allocation may relay to.
type peerPolicy struct {
	allow, deny   []netip.Prefix
	allowLoopback bool
	allowAddrs    []netip.AddrPort // exact transport addresses lifted (the SFU)
	relayIPs      []netip.Addr     // our advertised relay addresses: reachable on live relay ports
	// relayPorts are the ports of this server's live relay sockets. The relay port range is
	// not enough: it overlaps the kernel's ephemeral ports, so any other process of the
	// host may hold a port of it, on the relay address too.
	relayPorts portSet
	hostIPs    []netip.Addr // addresses of this host: never reachable on ownPorts
	ownPorts   []uint16
	relayMin   uint16
	relayMax   uint16
}

func newPeerPolicy(cfg *Config) *peerPolicy {
	p := &peerPolicy{
		allow:         cfg.AllowPeers,
		deny:          cfg.DenyPeers,
		allowLoopback: cfg.AllowLoopback,
		relayMin:      cfg.RelayPortMin,
		relayMax:      cfg.RelayPortMax,
	}
	if a, ok := netip.AddrFromSlice(cfg.PublicIP); ok {
		p.relayIPs = append(p.relayIPs, a.Unmap())
	}
	if a, err := netip.ParseAddr(cfg.RelayAddress); err == nil && !a.IsUnspecified() {
		p.relayIPs = append(p.relayIPs, a.Unmap())
	}
	p.hostIPs = append(p.hostIPs, p.relayIPs...)
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok {
					p.hostIPs = append(p.hostIPs, ip.Unmap())
				}
			}
		}
	}
	for _, port := range cfg.OwnPorts {
		p.ownPorts = append(p.ownPorts, uint16(port))
	}
	for _, a := range cfg.AllowPeerAddrs {
		p.allowAddrs = append(p.allowAddrs, netip.AddrPortFrom(a.Addr().Unmap(), a.Port()))
	}
	return p
}

// verdict is the peer policy's decision on one destination.
type verdict uint8

const (
	refused verdict = iota
	admitted
	// admittedWhileRelay: a port of our relay address that the rules refuse but that an
	// allocation of this server holds right now. The answer changes when the allocation
	// ends, so it is never cached.
	admittedWhileRelay
)

// allowed reports whether relaying to peer is permitted.
func (p *peerPolicy) allowed(peer netip.AddrPort) bool {
	return p.admits(p.judge(peer), peer.Port())
}

// admits applies v to a datagram for port now.
func (p *peerPolicy) admits(v verdict, port uint16) bool {
	return v == admitted || v == admittedWhileRelay && p.relayPorts.has(port)
}

// judge decides on relaying to peer.
func (p *peerPolicy) judge(peer netip.AddrPort) verdict {
	ip := peer.Addr().Unmap().WithZone("")
	if !ip.IsValid() {
		return refused
	}
	// Judge the address and, for NAT64 and 6to4, the IPv4 address it reaches.
	cands := [2]netip.Addr{ip}
	n := 1
	if v4, ok := embeddedIPv4(ip); ok {
		cands[1] = v4
		n = 2
	}
	for _, c := range cands[:n] {
		if contains(p.deny, c) {
			return refused
		}
	}
	port := peer.Port()
	for _, c := range cands[:n] {
		if p.isHost(c) && slices.Contains(p.ownPorts, port) {
			return refused // TURN-in-TURN or TURN-to-HTTP loop
		}
	}
	if slices.Contains(p.allowAddrs, netip.AddrPortFrom(ip, port)) {
		return admitted
	}
	if p.byRules(cands[:n]) {
		return admitted
	}
	if slices.Contains(p.relayIPs, ip) && port >= p.relayMin && port <= p.relayMax {
		return admittedWhileRelay // perhaps another allocation on this server
	}
	return refused
}

// byRules applies the allow list, loopback and the special-purpose ranges to cands.
func (p *peerPolicy) byRules(cands []netip.Addr) bool {
	for _, c := range cands {
		if contains(p.allow, c) {
			continue
		}
		if c.IsLoopback() {
			if !p.allowLoopback {
				return false
			}
			continue
		}
		if contains(specialPrefixes, c) {
			return false
		}
	}
	return true
}

// allowedIP is the port-less decision pion's PermissionHandler asks for (permissions are
// per IP address); data is checked again per destination port on the relay socket.
func (p *peerPolicy) allowedIP(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	a = a.Unmap()
	for _, aa := range p.allowAddrs {
		// The permission admits the address; its datagrams are judged per port.
		if aa.Addr() == a && !contains(p.deny, a) {
			return true
		}
	}
	// Any port that may be admitted admits the address: the port is judged per datagram.
	return p.judge(netip.AddrPortFrom(a, p.relayMin)) != refused
}

func (p *peerPolicy) isHost(a netip.Addr) bool {
	return a.IsLoopback() || a.IsUnspecified() || slices.Contains(p.hostIPs, a)
}

func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() {
		return netip.Addr{}, false
	}
	b := a.As16()
	switch {
	case nat64Prefix.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixTo4.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

func contains(list []netip.Prefix, a netip.Addr) bool {
	for _, p := range list {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// portSet is a set of ports, read without a lock on every relayed datagram.
type portSet struct{ words [1 << 16 / 64]atomic.Uint64 }

func (s *portSet) add(port uint16) { s.words[port/64].Or(1 << (port % 64)) }

func (s *portSet) remove(port uint16) { s.words[port/64].And(^uint64(1 << (port % 64))) }

func (s *portSet) has(port uint16) bool { return s.words[port/64].Load()&(1<<(port%64)) != 0 }
