package sfu

// batchingSupported: x/net's WriteBatch is sendmmsg on Linux.
const batchingSupported = true
