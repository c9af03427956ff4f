//go:build linux

package turn

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Datagram batches for the listener and relay sockets. Reads use recvmmsg: one system call
// fetches up to batchSize queued datagrams (when the queue holds one, it returns one: nothing
// waits for a batch to fill). Writes to clients use sendmmsg. Each slot keeps slotHead bytes
// free before the datagram so a TURN header (ChannelData, Data indication) can be put in
// front of a payload where it lies, and a few after it for padding.
const (
	batchSize = 32
	batchSlot = 2048
	slotHead  = 64
	slotTail  = 4
	slotData  = batchSlot - slotHead - slotTail // > pion's 1600-byte buffers, so pion still sees what it truncates
)

// sockaddr holds an IPv4 or IPv6 socket address as the kernel reads and writes it.
type sockaddr = unix.RawSockaddrInet6

func sockaddrToAddrPort(sa *sockaddr) netip.AddrPort {
	pb := (*[2]byte)(unsafe.Pointer(&sa.Port)) // network byte order in both families
	port := uint16(pb[0])<<8 | uint16(pb[1])
	if sa.Family == unix.AF_INET {
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(s4.Addr), port)
	}
	return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), port)
}

// putSockaddr writes ap into sa for a socket of the given family and returns its length.
func putSockaddr(sa *sockaddr, ap netip.AddrPort, v6 bool) uint32 {
	port := ap.Port()
	if !v6 {
		putSockaddr4((*unix.RawSockaddrInet4)(unsafe.Pointer(sa)), ap)
		return unix.SizeofSockaddrInet4
	}
	sa.Family = unix.AF_INET6
	pb := (*[2]byte)(unsafe.Pointer(&sa.Port))
	pb[0], pb[1] = byte(port>>8), byte(port)
	sa.Flowinfo, sa.Scope_id = 0, 0
	sa.Addr = ap.Addr().As16()
	return unix.SizeofSockaddrInet6
}

func putSockaddr4(s4 *unix.RawSockaddrInet4, ap netip.AddrPort) {
	port := ap.Port()
	s4.Family = unix.AF_INET
	pb := (*[2]byte)(unsafe.Pointer(&s4.Port))
	pb[0], pb[1] = byte(port>>8), byte(port)
	s4.Addr = ap.Addr().Unmap().As4()
	s4.Zero = [8]uint8{}
}

// mmsgSet is the buffers of one recvmmsg or sendmmsg call.
type mmsgSet struct {
	msgs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []sockaddr
}

func newMmsgSet(n int) mmsgSet {
	m := mmsgSet{msgs: make([]unix.Mmsghdr, n), iovs: make([]unix.Iovec, n), names: make([]sockaddr, n)}
	for i := range m.msgs {
		m.msgs[i].Hdr.Iov = &m.iovs[i]
		m.msgs[i].Hdr.SetIovlen(1)
		m.msgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&m.names[i]))
	}
	return m
}

// recvmmsg reads up to count datagrams into messages from, from+1, … (slot i of bufs at
// i*batchSlot+slotHead) without blocking; it returns 0 when the socket has none (EAGAIN).
func (m *mmsgSet) recvmmsg(fd uintptr, bufs []byte, from, count int) (int, error) {
	for i := from; i < from+count; i++ {
		m.iovs[i].Base = &bufs[i*batchSlot+slotHead]
		m.iovs[i].SetLen(slotData)
		m.msgs[i].Hdr.Namelen = uint32(unsafe.Sizeof(sockaddr{}))
		m.msgs[i].Hdr.Flags = 0
		m.msgs[i].Len = 0
	}
	for {
		// Raw: the call never blocks (MSG_DONTWAIT), and the scheduler's bookkeeping around a
		// system call (which wakes the runtime's monitor thread when the process was idle)
		// was a tenth of the CPU at low packet rates.
		r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&m.msgs[from])), uintptr(count), unix.MSG_DONTWAIT, 0, 0)
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

// batchReader reads a listener socket in batches. Where the data plane serves the socket,
// relay takes each batch's data messages as soon as it is read, inside the RawConn.Read
// that waits for the socket: that call forgets the socket's readiness only when it starts,
// so a datagram that arrives while a batch is relayed wakes the next wait at once, and a
// batch that emptied the socket (fewer datagrams than asked for) and held nothing for pion
// waits without reading again first. At low rates, where each datagram is a batch of its
// own, that read found nothing: one system call in four per datagram. Only what relay
// leaves (STUN for pion) is handed out by take.
type batchReader struct {
	mu     sync.Mutex
	rc     syscall.RawConn
	fillFn func(fd uintptr) bool // bound once: a closure made per call would be allocated per call
	got    int
	serr   error
	laddr  net.Addr
	v6     bool
	m      mmsgSet
	bufs   []byte
	n      int // datagrams in the batch
	next   int // next one to hand out
	fills  int // recvmmsg calls that returned datagrams (for tests)
	// relay reports whether it handled the datagram in slot (at slotHead, n bytes); flush
	// sends what it queued, before the slots are read into again. Both nil without a plane.
	relay   func(slot []byte, n int, src netip.AddrPort) bool
	flush   func()
	relayed [batchSize]bool // datagrams of the batch relay handled
}

// newBatchReader returns a batch reader for a UDP socket (IPv4, IPv6 or dual-stack).
func newBatchReader(uc *net.UDPConn) *batchReader {
	ua, ok := uc.LocalAddr().(*net.UDPAddr)
	if !ok {
		return nil
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil
	}
	b := &batchReader{
		rc: rc, laddr: ua, v6: ua.IP.To4() == nil,
		m:    newMmsgSet(batchSize),
		bufs: make([]byte, batchSize*batchSlot),
	}
	b.fillFn = func(fd uintptr) bool {
		for {
			b.got, b.serr = b.m.recvmmsg(fd, b.bufs, 0, batchSize)
			if b.serr != nil {
				return true
			}
			if b.got == 0 {
				return false // wait in Go's poller
			}
			b.fills++
			if b.relay == nil || b.relayBatch() {
				return true
			}
			if b.got < batchSize {
				return false // emptied the socket: see batchReader
			}
		}
	}
	return b
}

// relayBatch gives each datagram of the batch just read to relay, then flushes; it reports
// whether any is left for take.
func (b *batchReader) relayBatch() bool {
	left := false
	for i := range b.got {
		slot := b.bufs[i*batchSlot : (i+1)*batchSlot : (i+1)*batchSlot]
		b.relayed[i] = b.relay(slot, int(min(b.m.msgs[i].Len, slotData)), sockaddrToAddrPort(&b.m.names[i]))
		left = left || !b.relayed[i]
	}
	b.flush()
	return left
}

// take returns the next datagram of the batch, with its slot (the datagram at
// slot[slotHead:slotHead+n]) and source; ok is false when the batch is used up.
func (b *batchReader) take() (slot []byte, n int, src netip.AddrPort, ok bool) {
	for b.next < b.n && b.relay != nil && b.relayed[b.next] {
		b.next++
	}
	if b.next >= b.n {
		return nil, 0, netip.AddrPort{}, false
	}
	i := b.next
	b.next++
	slot = b.bufs[i*batchSlot : (i+1)*batchSlot : (i+1)*batchSlot]
	return slot, int(min(b.m.msgs[i].Len, slotData)), sockaddrToAddrPort(&b.m.names[i]), true
}

// fill blocks until the socket has datagrams and reads a batch of them.
func (b *batchReader) fill() error {
	err := b.rc.Read(b.fillFn)
	got, serr := b.got, b.serr
	if err != nil {
		return err
	}
	if serr != nil {
		return &net.OpError{Op: "read", Net: "udp", Addr: b.laddr, Err: serr}
	}
	if got <= 0 {
		return &net.OpError{Op: "read", Net: "udp", Addr: b.laddr, Err: errors.New("recvmmsg returned no datagram")}
	}
	b.n, b.next = got, 0
	return nil
}

// outBatch gathers datagrams for one listener socket and sends them with sendmmsg. The
// datagrams are not copied: they must stay put until flush.
type outBatch struct {
	lis *guardedPacketConn
	m   mmsgSet
	n   int
	// sendFn sends from done on; bound once, with its results in r and e
	sendFn func(fd uintptr) bool
	done   int
	r      int
	e      syscall.Errno
}

func newOutBatch(lis *guardedPacketConn) *outBatch {
	o := &outBatch{lis: lis, m: newMmsgSet(batchSize)}
	o.sendFn = func(fd uintptr) bool {
		for {
			x, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&o.m.msgs[o.done])), uintptr(o.n-o.done), unix.MSG_DONTWAIT, 0, 0)
			if errno == unix.EINTR {
				continue
			}
			o.r, o.e = int(x), errno
			return errno != unix.EAGAIN
		}
	}
	return o
}

// add queues b for dst; it reports whether the batch is now full (flush before adding more).
func (o *outBatch) add(b []byte, dst netip.AddrPort) bool {
	i := o.n
	o.m.iovs[i].Base = &b[0]
	o.m.iovs[i].SetLen(len(b))
	o.m.msgs[i].Hdr.Namelen = putSockaddr(&o.m.names[i], dst, o.lis.batch.v6)
	o.m.msgs[i].Len = 0
	o.n++
	return o.n == len(o.m.msgs)
}

// flush sends what add queued. A datagram the kernel refuses (other than for a full send
// buffer, which is waited for) is dropped, as a failed sendto would drop it.
func (o *outBatch) flush() (sent, dropped int) {
	for o.done = 0; o.done < o.n; {
		err := o.lis.batch.rc.Write(o.sendFn)
		switch {
		case err != nil: // the listener is closed
			dropped += o.n - o.done
			o.done = o.n
		case o.e != 0:
			dropped++
			o.done++
		default:
			sent += o.r
			o.done += o.r
		}
	}
	o.n = 0
	return sent, dropped
}

// outSet is the batches of one sending goroutine, one per listener socket it sends on.
type outSet struct{ batches []*outBatch }

func (s *outSet) get(lis *guardedPacketConn) *outBatch {
	for _, o := range s.batches {
		if o.lis == lis {
			return o
		}
	}
	o := newOutBatch(lis)
	s.batches = append(s.batches, o)
	return o
}

func (s *outSet) flush() (sent, dropped int) {
	for _, o := range s.batches {
		if o.n > 0 {
			a, b := o.flush()
			sent += a
			dropped += b
		}
	}
	return sent, dropped
}
