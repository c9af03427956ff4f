//go:build linux

package turn

func batchFills(g *guardedPacketConn) (int, bool) {
	if g.batch == nil {
		return 0, false
	}
	g.batch.mu.Lock()
	defer g.batch.mu.Unlock()
	return g.batch.fills, true
}
