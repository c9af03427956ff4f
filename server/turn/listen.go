package turn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// socketBuffer is the receive and send buffer of each UDP listener socket: the kernel's
// default (~208 KiB) drops bursts that pion's single reader per socket cannot drain in time.
const socketBuffer = 4 << 20

// ListenUDP opens n UDP sockets on addr sharing its port with SO_REUSEPORT (where the
// platform has it; one socket otherwise), each with 4 MiB buffers, so the kernel spreads
// clients over n pion read goroutines. With port 0 the sockets share the first one's port.
//
// For "udp" on all interfaces (no host, 0.0.0.0 or ::), it opens n sockets on 0.0.0.0 and n
// on [::] with IPV6_V6ONLY (Go sets it for udp6) on the same port, instead of dual-stack
// sockets: IPv4 clients then arrive on IPv4 sockets, which are read in batches (recvmmsg),
// while a dual-stack socket reports IPv4-mapped addresses and is read one datagram at a time.
// A host without IPv6 gets the IPv4 sockets only.
func ListenUDP(network, addr string, n int) ([]net.PacketConn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	if ip := net.ParseIP(host); network != "udp" || (host != "" && (ip == nil || !ip.IsUnspecified())) {
		return listenUDPFamily(network, addr, n)
	}
	v4, err := listenUDPFamily("udp4", net.JoinHostPort("0.0.0.0", port), n)
	if err != nil {
		return nil, err
	}
	_, port, _ = net.SplitHostPort(v4[0].LocalAddr().String()) // port 0: the one v4 got
	v6, err := listenUDPFamily("udp6", net.JoinHostPort("::", port), n)
	switch {
	case err == nil:
		return append(v4, v6...), nil
	case errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EPROTONOSUPPORT):
		return v4, nil // no IPv6 on this host
	default:
		for _, c := range v4 {
			_ = c.Close()
		}
		return nil, err
	}
}

// listenUDPFamily is ListenUDP for one socket family (or one address).
func listenUDPFamily(network, addr string, n int) ([]net.PacketConn, error) {
	if n < 1 {
		n = 1
	}
	if !reusePortSupported {
		n = 1
	}
	lc := net.ListenConfig{Control: reusePortControl}
	var conns []net.PacketConn
	fail := func(err error) ([]net.PacketConn, error) {
		for _, c := range conns {
			_ = c.Close()
		}
		return nil, err
	}
	for i := 0; i < n; i++ {
		pc, err := lc.ListenPacket(context.Background(), network, addr)
		if err != nil {
			return fail(fmt.Errorf("listening on %s %s (socket %d of %d): %w", network, addr, i+1, n, err))
		}
		conns = append(conns, pc)
		if uc, ok := pc.(*net.UDPConn); ok {
			// Best effort: the kernel caps these at net.core.[rw]mem_max.
			_ = uc.SetReadBuffer(socketBuffer)
			_ = uc.SetWriteBuffer(socketBuffer)
		}
		if i == 0 {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return fail(fmt.Errorf("listening on %s: %w", addr, err))
			}
			ua, ok := pc.LocalAddr().(*net.UDPAddr)
			if !ok {
				return fail(errors.New("listening on " + addr + ": not a UDP socket"))
			}
			addr = net.JoinHostPort(host, strconv.Itoa(ua.Port))
		}
	}
	return conns, nil
}
