package client

import "sync"

// peerCallbacks holds the two callbacks a Peer reports through; the pion and browser
// peers embed it, so OnLocalCandidate and OnStateChange are written once.
type peerCallbacks struct {
	cbMu    sync.Mutex
	onCand  func(Candidate)
	onState func(PeerState)
}

// OnLocalCandidate implements Peer.
func (c *peerCallbacks) OnLocalCandidate(f func(Candidate)) {
	c.cbMu.Lock()
	c.onCand = f
	c.cbMu.Unlock()
}

// OnStateChange implements Peer.
func (c *peerCallbacks) OnStateChange(f func(PeerState)) {
	c.cbMu.Lock()
	c.onState = f
	c.cbMu.Unlock()
}

func (c *peerCallbacks) candidateFunc() func(Candidate) {
	c.cbMu.Lock()
	defer c.cbMu.Unlock()
	return c.onCand
}

func (c *peerCallbacks) stateFunc() func(PeerState) {
	c.cbMu.Lock()
	defer c.cbMu.Unlock()
	return c.onState
}
