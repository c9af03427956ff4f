//go:build !linux

package turn

func batchFills(*guardedPacketConn) (int, bool) { return 0, false }
