//go:build !linux

package turn

import "net"

// batchReader reads datagrams in batches where the platform has recvmmsg (Linux); elsewhere
// listener sockets use the standard path.
type batchReader struct{}

func newBatchReader(*net.UDPConn) *batchReader { return nil }

func (*batchReader) readFrom([]byte, *addrCache) (int, net.Addr, bool, error) {
	return 0, nil, false, nil
}
