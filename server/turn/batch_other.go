//go:build !linux

package turn

import (
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"syscall"
)

// Elsewhere than on Linux, listener sockets are read one datagram at a time and pion does
// the per-packet work: there is no data plane.

const (
	batchSlot = 2048
	slotHead  = 64
)

type batchReader struct {
	mu    sync.Mutex
	v6    bool
	fills int
}

func newBatchReader(*net.UDPConn) *batchReader { return nil }

func (*batchReader) take() ([]byte, int, netip.AddrPort, bool) {
	return nil, 0, netip.AddrPort{}, false
}
func (*batchReader) fill() error { return net.ErrClosed }

type listenerState struct{ rng *mrand.ChaCha8 }

func (*guardedPacketConn) attachPlane() {}

func newPlaneIfSupported(*Server) (*plane, error) { return nil, nil }

type relayLoop struct{}

func (*relayLoop) add(*relayConn) error { return nil }
func (*relayLoop) del(*relayConn)       {}
func (*relayLoop) close()               {}

func relaySyscallConn(uc *net.UDPConn) (syscall.RawConn, error) { return uc.SyscallConn() }
