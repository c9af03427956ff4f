//go:build linux

package turn

import (
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newPlaneIfSupported starts the data plane: on Linux, always. It runs a relay loop per CPU
// Go may use (relay sockets are spread over them by port), as the listener sockets are one
// per CPU: the way back from the peers then scales with the cores like the way out.
func newPlaneIfSupported(s *Server) (*plane, error) {
	p := newPlane(s)
	for range max(1, runtime.GOMAXPROCS(0)) {
		l, err := newRelayLoop(p)
		if err != nil {
			p.closeLoops()
			return nil, err
		}
		p.loops = append(p.loops, l)
		go l.run()
	}
	return p, nil
}

// relayLoop reads the fast relay sockets given to it. The sockets are in an epoll set of its own, and
// that set's descriptor is in Go's poller: one goroutine wakes when any relay socket has
// datagrams, reads each ready socket with recvmmsg and sends what it read to the clients
// with sendmmsg, per listener socket, before it waits again. The set is level-triggered, so
// a socket it did not empty in one round is ready again in the next.
//
// The rounds run inside one RawConn.Read, which forgets the descriptor's readiness only
// when it starts: a datagram that arrives during a round wakes the next wait at once. So
// a round that emptied every socket it read waits without polling the set again first (at
// low rates, where each datagram is a round of its own, that poll found nothing: one system
// call in five per datagram); only a round that may have left datagrams behind polls again.
type relayLoop struct {
	p      *plane
	file   *os.File // the epoll descriptor; closing it ends run
	rc     syscall.RawConn
	events []unix.EpollEvent
	m      mmsgSet
	bufs   []byte
	used   int // slots holding datagrams not yet sent
	out    outSet
	rng    *mrand.ChaCha8
	done   chan struct{}
	// more is set by a round that may have left datagrams in a socket (a full read, or as
	// many ready sockets as events): the next round polls at once instead of waiting
	more bool
	// counted per round, added to the server's counters at its end
	pkts, bytes uint64
	// the callbacks of RawConn.Read, bound once (a closure made per call is allocated per
	// call), with their arguments and results here
	waitFn, readFn func(fd uintptr) bool
	werr           syscall.Errno
	got            int
	rerr           error
}

func newRelayLoop(p *plane) (*relayLoop, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("TURN relay epoll: %w", os.NewSyscallError("epoll_create1", err))
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("TURN relay epoll: %w", err)
	}
	f := os.NewFile(uintptr(fd), "turn-relay-epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("TURN relay epoll: %w", err)
	}
	l := &relayLoop{
		p: p, file: f, rc: rc,
		events: make([]unix.EpollEvent, 128),
		m:      newMmsgSet(batchSize),
		bufs:   make([]byte, batchSize*batchSlot),
		rng:    newTxSource(),
		done:   make(chan struct{}),
	}
	l.waitFn = func(fd uintptr) bool {
		for {
			// epoll_pwait with a zero timeout never blocks: raw, like recvmmsg.
			r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), 0, 0, 0)
			switch {
			case e == unix.EINTR:
				continue
			case e != 0:
				l.werr = e
				return true
			case r == 0:
				return false // wait in Go's poller
			}
			l.round(int(r))
			if !l.more {
				return false // see relayLoop: no poll before waiting
			}
		}
	}
	l.readFn = func(fd uintptr) bool {
		l.got, l.rerr = l.m.recvmmsg(fd, l.bufs, l.used, batchSize-l.used)
		return true
	}
	return l, nil
}

// ctl adds or removes a relay socket; the event carries its port.
func (l *relayLoop) ctl(c *relayConn, op int) error {
	var cerr error
	err := c.rc.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(c.port)}
		err := l.rc.Control(func(ep uintptr) { cerr = unix.EpollCtl(int(ep), op, int(fd), &ev) })
		if cerr == nil {
			cerr = err
		}
	})
	if err != nil {
		return err
	}
	return cerr
}

func (l *relayLoop) add(c *relayConn) error { return l.ctl(c, unix.EPOLL_CTL_ADD) }
func (l *relayLoop) del(c *relayConn)       { _ = l.ctl(c, unix.EPOLL_CTL_DEL) }

// close ends run and waits for it.
func (l *relayLoop) close() {
	_ = l.file.Close()
	<-l.done
}

// run returns when the epoll descriptor is closed (or fails); its rounds run in waitFn.
func (l *relayLoop) run() {
	defer close(l.done)
	if err := l.rc.Read(l.waitFn); err != nil {
		return // closed
	}
	l.p.s.log.Error("TURN relay loop stopped", "err", os.NewSyscallError("epoll_wait", l.werr))
}

// round reads the n ready sockets of the last poll and sends what they held.
func (l *relayLoop) round(n int) {
	l.more = n == len(l.events)
	now := l.p.clock.Load()
	for _, ev := range l.events[:n] {
		if a := l.p.ports[uint16(ev.Fd)].Load(); a != nil {
			l.drain(a, now)
		}
	}
	l.flush()
}

// drain reads what a's relay socket holds (up to the free slots) and queues it for a's client.
func (l *relayLoop) drain(a *fastAlloc, now int64) {
	if l.used == batchSize {
		l.flush()
	}
	want := batchSize - l.used
	if err := a.relay.rc.Read(l.readFn); err != nil || l.rerr != nil {
		// Closed meanwhile, or an error (reading it cleared it): what the socket still
		// holds is read by the next poll, which no new datagram may trigger.
		l.more = l.more || err == nil
		return
	}
	got := l.got
	if got == want {
		l.more = true // the socket may hold more
	}
	k := a.keyp.Load()
	for i := l.used; i < l.used+got; i++ {
		slot := l.bufs[i*batchSlot : (i+1)*batchSlot : (i+1)*batchSlot]
		n := int(min(l.m.msgs[i].Len, slotData))
		l.pkts++
		l.bytes += uint64(n)
		if k == nil {
			continue // no Allocate success seen yet: no permission either
		}
		peer := sockaddrToAddrPort(&l.m.names[i])
		if msg := a.peerToClient(slot, slotHead, n, netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port()), now, l.rng); msg != nil {
			if l.out.get(a.lis).add(msg, k.client) {
				sent, _ := l.out.flush()
				l.p.handled.fromPeer.Add(uint64(sent))
			}
		}
	}
	l.used += got
}

func (l *relayLoop) flush() {
	sent, _ := l.out.flush()
	l.p.handled.fromPeer.Add(uint64(sent))
	l.used = 0
	if l.pkts > 0 {
		l.p.s.stats.fromPeerPackets.Add(l.pkts)
		l.p.s.stats.fromPeerBytes.Add(l.bytes)
		l.pkts, l.bytes = 0, 0
	}
}

// listenerState is what a listener socket's reader keeps for the data plane.
type listenerState struct {
	out outSet
	rng *mrand.ChaCha8
	// counted per batch, added to the server's counters when the batch is used up
	toPkts, toBytes, fromPkts, fromBytes, denied, across uint64
	// sendFn sends sendBuf to sendSA on a relay socket (RawConn.Write's callback, bound once)
	sendFn  func(fd uintptr) bool
	sendBuf []byte
	sendSA  unix.RawSockaddrInet4
	sendErr syscall.Errno
}

func (fs *listenerState) init() {
	fs.rng = newTxSource()
	fs.sendFn = func(fd uintptr) bool {
		for {
			// Raw for the reason recvmmsg is; MSG_DONTWAIT, a full buffer is waited for.
			_, _, e := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(unsafe.SliceData(fs.sendBuf))), uintptr(len(fs.sendBuf)),
				unix.MSG_DONTWAIT, uintptr(unsafe.Pointer(&fs.sendSA)), unix.SizeofSockaddrInet4)
			if e == unix.EINTR {
				continue
			}
			fs.sendErr = e
			return e != unix.EAGAIN
		}
	}
}

// attachPlane has the socket's batches relayed by the data plane as they are read.
func (c *guardedPacketConn) attachPlane() {
	c.fs.init()
	c.batch.relay, c.batch.flush = c.fromClient, c.flushFast
}

// sendToPeer writes payload to an IPv4 peer from a's relay socket.
func (c *guardedPacketConn) sendToPeer(a *fastAlloc, payload []byte, peer netip.AddrPort) bool {
	fs := &c.fs
	fs.sendBuf = payload
	putSockaddr4(&fs.sendSA, peer)
	err := a.relay.rc.Write(fs.sendFn)
	fs.sendBuf = nil
	return err == nil && fs.sendErr == 0
}

// fromClient relays a ChannelData message or Send indication from a client of a fast
// allocation (the datagram lies in slot at slotHead, n bytes). It reports false when the
// message is for pion: not data, or for an allocation or channel the plane does not know.
func (c *guardedPacketConn) fromClient(slot []byte, n int, src netip.AddrPort) bool {
	p := c.s.plane
	d := slot[slotHead : slotHead+n]
	now := p.clock.Load()
	var a *fastAlloc
	var peer netip.AddrPort
	var payload []byte
	switch {
	case isChannelData(d):
		num, pl, ok := parseChannelData(d)
		if !ok {
			return false
		}
		if a = p.lookup(clientKey{local: c.localAP, client: src}); a == nil {
			return false
		}
		ch := a.table.Load().byNumber(num, now)
		if ch == nil {
			return false
		}
		if !p.s.policy.admits(ch.verdict, ch.peer.Port()) {
			c.fs.denied++
			return true
		}
		peer, payload = ch.peer, pl
	case n >= stunHeader && d[0] == 0 && d[1] == byte(typeSendInd):
		pr, pl, ok := parseSendIndication(d)
		if !ok {
			return false
		}
		if a = p.lookup(clientKey{local: c.localAP, client: src}); a == nil || !a.table.Load().permitted(pr.Addr(), now) {
			return false
		}
		if !a.sendAllowed(pr, c.s.policy) {
			c.fs.denied++
			return true
		}
		peer, payload = pr, pl
	default:
		return false
	}
	if !peer.Addr().Is4() {
		return false // relays are udp4: pion answers it
	}
	c.fs.toPkts++
	c.fs.toBytes += uint64(len(payload))
	if b := p.local(peer); b != nil {
		// Another allocation of this server: what its relay socket would receive from ours.
		k := b.keyp.Load()
		if k == nil {
			return true
		}
		c.fs.fromPkts++
		c.fs.fromBytes += uint64(len(payload))
		c.fs.across++
		head := len(slot) - cap(payload) // payload's offset in slot
		from := netip.AddrPortFrom(p.publicIP, a.port)
		if msg := b.peerToClient(slot, head, len(payload), from, now, c.fs.rng); msg != nil {
			if c.fs.out.get(b.lis).add(msg, k.client) {
				c.fs.out.flush()
			}
		}
		return true
	}
	if !c.sendToPeer(a, payload, peer) {
		c.fs.toPkts--
		c.fs.toBytes -= uint64(len(payload))
	}
	return true
}

// flushFast sends what fromClient queued and publishes the batch's counts.
func (c *guardedPacketConn) flushFast() {
	c.fs.out.flush()
	st := &c.s.stats
	if c.fs.toPkts > 0 {
		c.s.plane.handled.toPeer.Add(c.fs.toPkts)
		c.s.plane.handled.across.Add(c.fs.across)
		st.toPeerPackets.Add(c.fs.toPkts)
		st.toPeerBytes.Add(c.fs.toBytes)
	}
	if c.fs.fromPkts > 0 {
		st.fromPeerPackets.Add(c.fs.fromPkts)
		st.fromPeerBytes.Add(c.fs.fromBytes)
	}
	if c.fs.denied > 0 {
		st.dataDenied.Add(c.fs.denied)
	}
	c.fs.toPkts, c.fs.toBytes, c.fs.fromPkts, c.fs.fromBytes, c.fs.denied, c.fs.across = 0, 0, 0, 0, 0, 0
}

// relaySyscallConn is the raw socket the relay loop reads.
func relaySyscallConn(uc *net.UDPConn) (syscall.RawConn, error) { return uc.SyscallConn() }
