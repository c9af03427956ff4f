package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rxKind is what a socket of the event loop is to its peer.
type rxKind uint8

const (
	rxClient rxKind = iota // the allocation's socket to the TURN server: ChannelData and STUN
	rxDirect               // -peers direct: the client socket, payloads straight from ext
	rxExt                  // the external peer's socket: payloads through the relay
)

type rxSock struct {
	s    *udpSock
	p    *peer
	kind rxKind
}

const (
	rxBatch = 32   // datagrams per recvmmsg
	rxSlot  = 2048 // bytes per datagram: 200-byte payloads and pion's STUN answers
	rxReady = 128  // ready sockets per epoll_wait
	// rxPerTick is how many ready sockets are read between two send ticks while a step runs.
	rxPerTick = 16
)

// loop is the load's one event loop: it reads every UDP socket of the run, in batches, from
// one epoll set, and sends the offered packets of the running step by a timer per batch
// (pacer). One goroutine, locked to its thread so that the kernel's run delay of that
// thread tells stalls from the loop's own work.
type loop struct {
	epfd  int
	mu    sync.RWMutex // guards socks, added to during setup while the loop runs
	socks []rxSock
	steps chan *stepRun
	quit  chan struct{}
	done  chan struct{}
	err   error // the loop's fatal error, once done is closed
}

func newLoop() (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	l := &loop{epfd: epfd, steps: make(chan *stepRun), quit: make(chan struct{}), done: make(chan struct{})}
	go l.run()
	return l, nil
}

// add has the loop read s (level-triggered: a socket left with datagrams is reported again).
func (l *loop) add(s *udpSock, p *peer, kind rxKind) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(len(l.socks))}
	l.socks = append(l.socks, rxSock{s: s, p: p, kind: kind})
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
		l.socks = l.socks[:len(l.socks)-1]
		return fmt.Errorf("epoll_ctl add: %w", err)
	}
	return nil
}

// close stops the loop and waits for it; the sockets may be closed after.
func (l *loop) close() error {
	close(l.quit)
	<-l.done
	return unix.Close(l.epfd)
}

// offer runs one step's schedule on the loop and waits for it to end.
func (l *loop) offer(sr *stepRun) (stepSent, error) {
	sr.end = make(chan struct{})
	select {
	case l.steps <- sr:
	case <-l.done:
		return stepSent{}, fmt.Errorf("event loop ended: %w", l.err)
	}
	select {
	case <-sr.end:
		return sr.out, nil
	case <-l.done:
		return stepSent{}, fmt.Errorf("event loop ended: %w", l.err)
	}
}

// stepRun is one step's offered schedule: rate pkt/s over the peers, round robin, for d.
type stepRun struct {
	peers  []*peer
	frames [][]byte // per peer: a ChannelData header (channel set when raw) and the payload
	server net.Addr
	step   int
	rate   float64
	d      time.Duration
	raw    bool
	pace   *pacer
	start  int64
	end    chan struct{}
	out    stepSent
}

// stepSent is what a step sent: its packets, write errors, skipped packets (the load
// behind its schedule), the schedule's time (stalls excluded) and the stalls.
type stepSent struct {
	sent, werrs, skipped uint64
	active, stalled      time.Duration
}

// runDelay reads the calling thread's run delay (ns runnable but not running) from fd, its
// /proc/thread-self/schedstat: "cpu-time run-delay timeslices".
func runDelay(fd int, buf []byte) (int64, error) {
	n, err := unix.Pread(fd, buf, 0)
	if err != nil {
		return 0, fmt.Errorf("read schedstat: %w", err)
	}
	f := bytes.Fields(buf[:n])
	if len(f) < 2 {
		return 0, fmt.Errorf("schedstat %q: want three numbers", buf[:n])
	}
	v, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("schedstat %q: %w", buf[:n], err)
	}
	return v, nil
}

func (l *loop) run() {
	runtime.LockOSThread()
	defer close(l.done)
	sfd, err := unix.Open("/proc/thread-self/schedstat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		l.err = fmt.Errorf("the loop's run delay: %w", err)
		return
	}
	defer unix.Close(sfd)
	sbuf := make([]byte, 128)
	delay := func() int64 {
		d, err := runDelay(sfd, sbuf)
		if err != nil && l.err == nil {
			l.err = err
		}
		return d
	}
	if delay(); l.err != nil {
		return
	}
	bufs := make([]byte, rxBatch*rxSlot)
	msgs := make([]unix.Mmsghdr, rxBatch)
	iovs := make([]unix.Iovec, rxBatch)
	for i := range msgs {
		iovs[i].Base = &bufs[i*rxSlot]
		iovs[i].SetLen(rxSlot)
		msgs[i].Hdr.Iov = &iovs[i]
		msgs[i].Hdr.SetIovlen(1)
	}
	events := make([]unix.EpollEvent, rxReady)
	var cur *stepRun
	// sendDue sends what fell due of the running step, and ends it when its schedule is over.
	sendDue := func() {
		if cur == nil {
			return
		}
		n, end := cur.pace.tick(monoNow(), delay())
		cur.send(n)
		if end {
			p := cur.pace
			cur.out.skipped, cur.out.stalled = p.skipped, time.Duration(p.stalled)
			cur.out.active = p.active(monoNow())
			close(cur.end)
			cur = nil
		}
	}
	for {
		select {
		case <-l.quit:
			return
		case sr := <-l.steps:
			cur = sr
			cur.start = monoNow()
			cur.pace = newPacer(sr.rate, sr.d, cur.start, delay())
		default:
		}
		wait := 5 * time.Millisecond // idle: how soon a new step or quit is seen
		if sendDue(); cur != nil {
			wait = min(max(cur.pace.next(monoNow()), time.Millisecond), 5*time.Millisecond)
		}
		ms := int((wait + time.Millisecond - 1) / time.Millisecond)
		n, err := unix.EpollWait(l.epfd, events, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			l.err = fmt.Errorf("epoll_wait: %w", err)
			return
		}
		l.mu.RLock()
		socks := l.socks
		l.mu.RUnlock()
		for j, ev := range events[:n] {
			if j > 0 && j%rxPerTick == 0 {
				// A long receive phase would leave the sends of its time to go out in one
				// burst after it (up to burstSpan of schedule at the server's listener).
				sendDue()
			}
			rs := socks[ev.Fd]
			got, err := recvmmsg(rs.s.fd, msgs)
			if err != nil {
				l.err = err
				return
			}
			at := monoNow() // one receive time per batch
			for i := range got {
				rs.deliver(bufs[i*rxSlot:i*rxSlot+int(msgs[i].Len)], at)
			}
		}
	}
}

// recvmmsg reads what the socket has, up to len(msgs) datagrams, without blocking.
func recvmmsg(fd int, msgs []unix.Mmsghdr) (int, error) {
	for i := range msgs {
		msgs[i].Len = 0
		msgs[i].Hdr.Flags = 0
	}
	for {
		// Raw: MSG_DONTWAIT never blocks.
		r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, nil
		}
		return 0, os.NewSyscallError("recvmmsg", e)
	}
}

// deliver is one datagram b, read at monoNow at.
func (rs rxSock) deliver(b []byte, at int64) {
	p := rs.p
	switch rs.kind {
	case rxDirect:
		p.gotAt(b, at)
	case rxExt:
		p.extRecv.Add(1)
		p.gotAt(b, at)
		if len(b) > 0 && b[0] == warmupStep { // so that its client learns the channel of the way back
			_ = p.ext.send(b)
		}
	case rxClient:
		if len(b) >= 4 && b[0]&0xC0 == 0x40 {
			if l := int(binary.BigEndian.Uint16(b[2:4])); l > 0 && 4+l <= len(b) {
				p.channel.Store(uint32(binary.BigEndian.Uint16(b[0:2])))
				p.gotAt(b[4:4+l], at)
			}
			return
		}
		_, _ = p.cl.HandleInbound(b, p.cl.TURNServerAddr()) // pion copies what it keeps
	}
}

// send sends the next n packets of the schedule, round robin over the peers; with external
// peers each peer alternates directions from round to round (client → peer, peer → client).
func (sr *stepRun) send(n uint64) {
	np := uint64(len(sr.peers))
	for range n {
		k := sr.out.sent + sr.pace.skipped
		i := k % np
		p, f := sr.peers[i], sr.frames[i]
		stamp(f[4:], sr.step)
		var err error
		switch {
		case p.ext != nil && (k+k/np)%2 == 1:
			err = p.ext.send(f[4:]) // the way back: peer → relayed address (or, direct, → client)
		case p.cl == nil:
			err = p.uc.send(f[4:]) // -peers direct: no server
		case sr.raw && p.uc != nil:
			err = p.uc.send(f)
		case sr.raw:
			_, err = p.conn.WriteTo(f, sr.server) // TURN over TCP or TLS
		default:
			_, err = p.relay.WriteTo(f[4:], p.to)
		}
		if err != nil {
			sr.out.werrs++
		}
		sr.out.sent++
	}
}
