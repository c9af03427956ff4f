package turn

import (
	"net"
	"net/netip"
	"sync/atomic"
)

// net.UDPConn.ReadFrom allocates a *net.UDPAddr (and its IP slice) for every datagram. The
// sockets handed to pion read with ReadFromUDPAddrPort instead and return a *net.UDPAddr
// remembered per source: a relay socket mostly hears one peer, a listener socket the same
// few clients again and again. The remembered addresses are never modified after they are
// published, so handing the same pointer to pion (which keeps some, in its 5-tuples) is as
// safe as handing it fresh ones.

type addrEntry struct {
	ap netip.AddrPort
	ua *net.UDPAddr
}

// addrCache is a direct-mapped cache of *net.UDPAddr by source address. A collision only
// costs an allocation; memory stays bounded. Safe for concurrent use.
type addrCache struct {
	slots []atomic.Pointer[addrEntry]
}

func newAddrCache(size int) *addrCache {
	return &addrCache{slots: make([]atomic.Pointer[addrEntry], size)}
}

func (c *addrCache) get(ap netip.AddrPort) *net.UDPAddr {
	slot := &c.slots[addrHash(ap)%uint64(len(c.slots))]
	if e := slot.Load(); e != nil && e.ap == ap {
		return e.ua
	}
	e := &addrEntry{ap: ap, ua: net.UDPAddrFromAddrPort(ap)}
	slot.Store(e)
	return e.ua
}

func addrHash(ap netip.AddrPort) uint64 {
	b := ap.Addr().As16()
	h := uint64(ap.Port())
	for _, x := range b[8:] {
		h = h*131 + uint64(x)
	}
	return h ^ h>>17
}

// readFromCached reads one datagram from uc like ReadFrom, with the source from cache.
func readFromCached(uc *net.UDPConn, cache *addrCache, p []byte) (int, net.Addr, error) {
	n, ap, err := uc.ReadFromUDPAddrPort(p)
	if err != nil {
		return n, nil, err
	}
	return n, cache.get(ap), nil
}
