package turn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
)

// socketBuffer is the receive and send buffer of each UDP listener socket: the kernel's
// default (~208 KiB) drops bursts that pion's single reader per socket cannot drain in time.
const socketBuffer = 4 << 20

// ListenUDP opens n UDP sockets on addr sharing its port with SO_REUSEPORT (where the
// platform has it; one socket otherwise), each with 4 MiB buffers, so the kernel spreads
// clients over n pion read goroutines. With port 0 the sockets share the first one's port.
func ListenUDP(network, addr string, n int) ([]net.PacketConn, error) {
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
