package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// udpSock is a UDP socket of the load outside Go's poller: a non-blocking descriptor that
// the event loop reads (epoll and recvmmsg, many sockets per wake-up), connected to the one
// address it talks to (the TURN server, a relayed address, or the other socket of a
// direct pair) and written with write(2). A goroutine and a Go read per socket cost the
// load ~12 µs of CPU per datagram (bench/turn/HISTORY.md). It is the net.PacketConn pion's
// client writes its STUN requests to; it is never read through ReadFrom.
type udpSock struct {
	fd     int
	local  *net.UDPAddr
	closed atomic.Bool
}

var errReadByLoop = errors.New("udpSock: read by the event loop, not ReadFrom")

// newUDPSock binds a non-blocking UDP socket on 127.0.0.1 with a 1 MiB receive buffer.
func newUDPSock() (*udpSock, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("udp socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("udp socket: SO_RCVBUF: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("udp socket: bind: %w", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("udp socket: getsockname: %w", err)
	}
	s4 := sa.(*unix.SockaddrInet4)
	return &udpSock{fd: fd, local: &net.UDPAddr{IP: net.IP(s4.Addr[:]).To16(), Port: s4.Port}}, nil
}

// connect fixes the address the socket sends to and receives from (IPv4 only).
func (s *udpSock) connect(to net.Addr) error {
	ua, err := net.ResolveUDPAddr("udp4", to.String())
	if err != nil {
		return fmt.Errorf("connect to %v: %w", to, err)
	}
	sa := &unix.SockaddrInet4{Port: ua.Port}
	ip4 := ua.IP.To4()
	if ip4 == nil {
		return fmt.Errorf("connect to %v: not IPv4", to)
	}
	copy(sa.Addr[:], ip4)
	if err := unix.Connect(s.fd, sa); err != nil {
		return fmt.Errorf("connect to %v: %w", to, err)
	}
	return nil
}

// send writes one datagram to the connected address. Raw: write(2) on a non-blocking UDP
// socket does not block, and the scheduler's bookkeeping around a system call is a cost
// per packet here.
func (s *udpSock) send(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	for {
		_, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(s.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return os.NewSyscallError("write", e)
	}
}

// WriteTo sends to the connected address: pion's client writes only to its TURN server,
// the address this socket is connected to.
func (s *udpSock) WriteTo(b []byte, _ net.Addr) (int, error) {
	if err := s.send(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (s *udpSock) ReadFrom([]byte) (int, net.Addr, error) { return 0, nil, errReadByLoop }
func (s *udpSock) LocalAddr() net.Addr                    { return s.local }
func (s *udpSock) SetDeadline(time.Time) error            { return nil }
func (s *udpSock) SetReadDeadline(time.Time) error        { return nil }
func (s *udpSock) SetWriteDeadline(time.Time) error       { return nil }

// Close closes the descriptor once; the event loop must be stopped first (loop.close), or
// it could read a descriptor number reused by another socket.
func (s *udpSock) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return unix.Close(s.fd)
}
