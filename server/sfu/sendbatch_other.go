//go:build !linux

package sfu

// batchingSupported: elsewhere x/net's WriteBatch writes one datagram at a time, no better
// than pion's own writes.
const batchingSupported = false
