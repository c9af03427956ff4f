package turn

import (
	"crypto/rand"
	"encoding/binary"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// The data plane. pion/turn keeps the control plane (Allocate, Refresh, CreatePermission,
// ChannelBind, their authentication and lifetimes); the per-packet work, which pion does
// with a goroutine per relay socket, a global allocation lock, several allocations per
// datagram and a system call per datagram each way, is done here for allocations made over
// UDP:
//
//   - client → peer: the listener socket's reader (pion's read goroutine, inside our
//     ReadFrom) takes ChannelData and Send indications out of each recvmmsg batch and writes
//     them to the relay socket itself; only STUN requests reach pion.
//   - peer → client: one goroutine for all relay sockets (an epoll set, itself in Go's
//     poller) reads each ready socket with recvmmsg and sends ChannelData or Data
//     indications to the clients with sendmmsg, batched per listener socket.
//   - between two allocations of this server (both callers relay-only on one TURN server,
//     the common case), a datagram from one relay to the other's public address is handed
//     across in memory: what the kernel would deliver, without two system calls.
//
// The state it needs is mirrored from the control traffic the guard already sees: an
// allocation's client, relay and listener when its Allocate succeeds, a permission or
// channel when pion answers a CreatePermission or ChannelBind with success (the request's
// peers and channel are noted on the way in), with pion's lifetimes (5 and 10 minutes).
// Anything the mirror does not know (an unknown client or channel) is passed to pion, which
// still holds the authoritative state.

const (
	permissionLifetime = 5 * time.Minute  // pion's, fixed
	channelLifetime    = 10 * time.Minute // pion's default ChannelBindTimeout
	planeShards        = 64
	maxPendingOps      = 8 // CreatePermission/ChannelBind requests awaiting pion's answer, per allocation
)

// plane is the server's data plane; nil where the platform lacks recvmmsg/epoll.
type plane struct {
	s        *Server
	shards   [planeShards]clientShard
	ports    []atomic.Pointer[fastAlloc] // by relay port: every live fast relay socket
	publicIP netip.Addr
	relayIP  netip.Addr   // the relay sockets' address when it is not a wildcard
	clock    atomic.Int64 // the server clock in unix seconds, advanced by the janitor
	loops    []*relayLoop
	// handled counts the datagrams the plane relayed itself (tests tell it from pion's path)
	handled struct{ toPeer, fromPeer, across atomic.Uint64 }
}

type clientKey struct{ local, client netip.AddrPort }

type clientShard struct {
	mu sync.RWMutex
	m  map[clientKey]*fastAlloc
}

// fastAlloc is the data plane's view of one allocation on a UDP listener.
type fastAlloc struct {
	relay *relayConn
	port  uint16
	lis   *guardedPacketConn
	// keyp is set once, when the Allocate succeeds (nil before: no client to send to).
	keyp  atomic.Pointer[clientKey]
	table atomic.Pointer[peerTable]
	dead  atomic.Bool

	mu  sync.Mutex // guards ops and writes of table
	ops []pendingOp
	// lastSend is the last Send-indication destination the peer policy admitted for good
	// (the policy is per IP and port; a client sends to the same peer again and again).
	lastSend atomic.Pointer[netip.AddrPort]
}

type pendingOp struct {
	tx      [12]byte
	channel uint16 // 0 for CreatePermission
	peers   []netip.AddrPort
}

// peerTable is an allocation's permissions and channels: immutable, replaced whole.
type peerTable struct {
	chans []chanEntry
	perms []permEntry
}

type chanEntry struct {
	num     uint16
	peer    netip.AddrPort
	until   int64   // unix seconds
	verdict verdict // of the peer policy (which also looks at the port)
}

type permEntry struct {
	ip    netip.Addr
	until int64
}

var emptyTable = &peerTable{}

func newPlane(s *Server) *plane {
	p := &plane{s: s, ports: make([]atomic.Pointer[fastAlloc], 1<<16)}
	p.publicIP, _ = netip.AddrFromSlice(s.cfg.PublicIP.To4())
	if ip, err := netip.ParseAddr(s.cfg.RelayAddress); err == nil && !ip.Unmap().IsUnspecified() {
		p.relayIP = ip.Unmap()
	}
	for i := range p.shards {
		p.shards[i].m = make(map[clientKey]*fastAlloc)
	}
	p.tick(s.now())
	return p
}

func (p *plane) tick(now time.Time) { p.clock.Store(now.Unix()) }

// loopFor is the relay loop that reads the relay socket on port.
func (p *plane) loopFor(port int) *relayLoop { return p.loops[port%len(p.loops)] }

// closeLoops ends the relay loops and waits for them.
func (p *plane) closeLoops() {
	for _, l := range p.loops {
		l.close()
	}
}

func (p *plane) shard(k clientKey) *clientShard {
	b := k.client.Addr().As16()
	h := uint32(k.client.Port())*2654435761 ^ binary.LittleEndian.Uint32(b[12:16])
	return &p.shards[(h^h>>16)%planeShards]
}

func (p *plane) lookup(k clientKey) *fastAlloc {
	sh := p.shard(k)
	sh.mu.RLock()
	a := sh.m[k]
	sh.mu.RUnlock()
	return a
}

// lookupAddrs is lookup for the net.Addr pair the guard works with (control path).
func (p *plane) lookupAddrs(client, local net.Addr) *fastAlloc {
	c, ok1 := client.(*net.UDPAddr)
	l, ok2 := local.(*net.UDPAddr)
	if !ok1 || !ok2 {
		return nil
	}
	return p.lookup(clientKey{local: l.AddrPort(), client: c.AddrPort()})
}

// newAlloc records a fast relay socket pion has just been given.
func (p *plane) newAlloc(c *relayConn, lis *guardedPacketConn) *fastAlloc {
	a := &fastAlloc{relay: c, port: uint16(c.port), lis: lis}
	a.table.Store(emptyTable)
	p.ports[a.port].Store(a)
	return a
}

// bound publishes a after pion's Allocate success for client on lis.
func (p *plane) bound(a *fastAlloc, client net.Addr) {
	ua, ok := client.(*net.UDPAddr)
	if !ok || a.dead.Load() {
		return
	}
	k := &clientKey{local: a.lis.localAP, client: ua.AddrPort()}
	a.keyp.Store(k)
	sh := p.shard(*k)
	sh.mu.Lock()
	sh.m[*k] = a
	sh.mu.Unlock()
}

// local returns the allocation whose relayed address peer is, if it is one of this
// server's (a datagram to it never needs to leave the process).
func (p *plane) local(peer netip.AddrPort) *fastAlloc {
	if ip := peer.Addr(); ip != p.publicIP && ip != p.relayIP {
		return nil
	}
	a := p.ports[peer.Port()].Load()
	if a == nil || a.dead.Load() {
		return nil
	}
	return a
}

// remove forgets a when its relay socket closes.
func (p *plane) remove(a *fastAlloc) {
	a.dead.Store(true)
	p.ports[a.port].CompareAndSwap(a, nil)
	if k := a.keyp.Load(); k != nil {
		sh := p.shard(*k)
		sh.mu.Lock()
		if sh.m[*k] == a {
			delete(sh.m, *k)
		}
		sh.mu.Unlock()
	}
}

// noteRequest remembers a CreatePermission (channel 0) or ChannelBind request that the
// guard passes to pion, until pion answers it.
func (a *fastAlloc) noteRequest(tx [12]byte, channel uint16, peers []netip.AddrPort) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.ops {
		if a.ops[i].tx == tx {
			return // a retransmission
		}
	}
	if len(a.ops) >= maxPendingOps {
		a.ops = append(a.ops[:0], a.ops[1:]...)
	}
	a.ops = append(a.ops, pendingOp{tx: tx, channel: channel, peers: peers})
}

// answered applies the request tx when pion's answer to it leaves: ok for a success.
func (a *fastAlloc) answered(tx [12]byte, ok bool, now int64, policy *peerPolicy) {
	a.mu.Lock()
	defer a.mu.Unlock()
	i := 0
	for ; i < len(a.ops) && a.ops[i].tx != tx; i++ {
	}
	if i == len(a.ops) {
		return
	}
	op := a.ops[i]
	a.ops = append(a.ops[:i], a.ops[i+1:]...)
	if !ok {
		return
	}
	old := a.table.Load()
	t := &peerTable{
		chans: make([]chanEntry, 0, len(old.chans)+1),
		perms: make([]permEntry, 0, len(old.perms)+len(op.peers)),
	}
	for _, c := range old.chans {
		if c.until >= now && (op.channel == 0 || (c.num != op.channel && c.peer != op.peers[0])) {
			t.chans = append(t.chans, c)
		}
	}
	for _, pe := range old.perms {
		if pe.until < now || (op.channel == 0 && containsIP(op.peers, pe.ip)) {
			continue
		}
		t.perms = append(t.perms, pe)
	}
	if op.channel != 0 {
		peer := op.peers[0]
		t.chans = append(t.chans, chanEntry{num: op.channel, peer: peer,
			until: now + int64(channelLifetime/time.Second), verdict: policy.judge(peer)})
	} else {
		for _, peer := range op.peers {
			if !containsIPPerm(t.perms, peer.Addr()) {
				t.perms = append(t.perms, permEntry{ip: peer.Addr(), until: now + int64(permissionLifetime/time.Second)})
			}
		}
	}
	a.table.Store(t)
}

func containsIP(peers []netip.AddrPort, ip netip.Addr) bool {
	for _, p := range peers {
		if p.Addr() == ip {
			return true
		}
	}
	return false
}

func containsIPPerm(perms []permEntry, ip netip.Addr) bool {
	for _, p := range perms {
		if p.ip == ip {
			return true
		}
	}
	return false
}

func (t *peerTable) byNumber(num uint16, now int64) *chanEntry {
	for i := range t.chans {
		if c := &t.chans[i]; c.num == num && c.until >= now {
			return c
		}
	}
	return nil
}

func (t *peerTable) byPeer(peer netip.AddrPort, now int64) *chanEntry {
	for i := range t.chans {
		if c := &t.chans[i]; c.peer == peer && c.until >= now {
			return c
		}
	}
	return nil
}

func (t *peerTable) permitted(ip netip.Addr, now int64) bool {
	for i := range t.perms {
		if p := &t.perms[i]; p.ip == ip && p.until >= now {
			return true
		}
	}
	return false
}

// sendAllowed applies the peer policy to a Send indication's destination.
func (a *fastAlloc) sendAllowed(peer netip.AddrPort, policy *peerPolicy) bool {
	if last := a.lastSend.Load(); last != nil && *last == peer {
		return true
	}
	v := policy.judge(peer)
	if !policy.admits(v, peer.Port()) {
		return false
	}
	if v == admitted {
		a.lastSend.Store(&peer)
	}
	return true
}

func newTxSource() *mrand.ChaCha8 {
	var seed [32]byte
	_, _ = rand.Read(seed[:])
	return mrand.NewChaCha8(seed)
}

// peerToClient frames a datagram from peer for a's client: buf holds it at buf[head:head+n],
// with head >= dataIndHeadroom and at least 3 spare bytes after it. It returns the message
// to send, or nil when a has no channel to peer nor permission for its address. rng draws
// a Data indication's transaction ID.
func (a *fastAlloc) peerToClient(buf []byte, head, n int, peer netip.AddrPort, now int64, rng *mrand.ChaCha8) []byte {
	t := a.table.Load()
	if c := t.byPeer(peer, now); c != nil {
		putChannelData(buf[head-4:head], c.num, n)
		return buf[head-4 : head+n]
	}
	if !peer.Addr().Is4() || !t.permitted(peer.Addr(), now) {
		return nil
	}
	var id [12]byte
	_, _ = rng.Read(id[:])
	start := head - dataIndHeadroom
	pad := putDataIndication(buf[start:head], peer, n, &id)
	clear(buf[head+n : head+n+pad])
	return buf[start : head+n+pad]
}
