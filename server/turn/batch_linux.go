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

// pion reads each listener socket with one ReadFrom per datagram. Under load the socket's
// queue is deep (that is where the kernel drops), so the listener sockets are read with
// recvmmsg instead: one system call fetches up to batchSize queued datagrams, and the
// following ReadFrom calls are served from the batch. When the queue holds one datagram,
// recvmmsg returns one: nothing waits for a batch to fill.
const (
	batchSize = 32
	batchSlot = 2048 // > pion's 1600-byte read buffer, so pion still sees what it truncates
)

type batchReader struct {
	mu    sync.Mutex
	rc    syscall.RawConn
	laddr net.Addr
	msgs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet4
	bufs  []byte
	n     int // datagrams in the batch
	next  int // next one to hand out
	fills int // recvmmsg calls that returned datagrams (for tests)
}

// newBatchReader returns a batch reader for an IPv4 UDP socket, nil for anything else
// (IPv6 and dual-stack sockets keep the standard path).
func newBatchReader(uc *net.UDPConn) *batchReader {
	ua, ok := uc.LocalAddr().(*net.UDPAddr)
	if !ok || ua.IP.To4() == nil {
		return nil
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil
	}
	b := &batchReader{
		rc: rc, laddr: ua,
		msgs:  make([]unix.Mmsghdr, batchSize),
		iovs:  make([]unix.Iovec, batchSize),
		names: make([]unix.RawSockaddrInet4, batchSize),
		bufs:  make([]byte, batchSize*batchSlot),
	}
	for i := range b.msgs {
		b.iovs[i].Base = &b.bufs[i*batchSlot]
		b.iovs[i].SetLen(batchSlot)
		b.msgs[i].Hdr.Iov = &b.iovs[i]
		b.msgs[i].Hdr.SetIovlen(1)
		b.msgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	}
	return b
}

// readFrom is ReadFrom for the socket: the next datagram of the batch, refilled when empty.
// ok is false when p is larger than a batch slot and the caller must read directly.
func (b *batchReader) readFrom(p []byte, cache *addrCache) (n int, addr net.Addr, ok bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.next >= b.n {
		if len(p) > batchSlot {
			return 0, nil, false, nil
		}
		if err := b.fill(); err != nil {
			return 0, nil, true, err
		}
	}
	m := &b.msgs[b.next]
	i := b.next
	b.next++
	n = copy(p, b.bufs[i*batchSlot:i*batchSlot+int(min(m.Len, batchSlot))])
	sa := &b.names[i]
	pb := (*[2]byte)(unsafe.Pointer(&sa.Port)) // network byte order
	port := uint16(pb[0])<<8 | uint16(pb[1])
	return n, cache.get(netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), port)), true, nil
}

func (b *batchReader) fill() error {
	for i := range b.msgs {
		b.msgs[i].Hdr.Namelen = unix.SizeofSockaddrInet4
		b.msgs[i].Hdr.Flags = 0
		b.msgs[i].Len = 0
	}
	var got int
	var serr error
	err := b.rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.msgs[0])),
				uintptr(len(b.msgs)), unix.MSG_DONTWAIT, 0, 0)
			switch e {
			case 0:
				got = int(r)
				return true
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false // wait until readable
			}
			serr = e
			return true
		}
	})
	if err != nil {
		return err
	}
	if serr != nil {
		return &net.OpError{Op: "read", Net: "udp", Addr: b.laddr, Err: os.NewSyscallError("recvmmsg", serr)}
	}
	if got <= 0 {
		return &net.OpError{Op: "read", Net: "udp", Addr: b.laddr, Err: errors.New("recvmmsg returned no datagram")}
	}
	b.n, b.next = got, 0
	b.fills++
	return nil
}
