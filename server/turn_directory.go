package server

import (
	"context"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/onertc/onertc/server/relaystate"
	"github.com/onertc/onertc/server/turn"
)

// maxPeerTURN is how many other instances' TURN servers a credential response lists after
// this instance's own. One is enough for a second relay path when an instance dies; a second
// covers the instance that dies next while the first is being replaced. Each listed server
// costs every client an allocation, so the list stays short.
const maxPeerTURN = 2

// turnDirectoryEvery is how often an instance advertises its TURN URIs and reads the others'.
// A dead instance drops out of the list after the state's instance timeout at the latest.
const turnDirectoryEvery = time.Second

// runTURNDirectory keeps this instance's TURN URIs advertised in the relay's state and the
// live other instances' URIs at hand for credential responses, until ctx ends. A state of
// this process's alone (memory mode) has no other instances: the list stays empty.
func (s *Server) runTURNDirectory(ctx context.Context, sh relaystate.State) {
	t := s.turn
	tick := time.NewTicker(turnDirectoryEvery)
	defer tick.Stop()
	failing := false
	for {
		rctx, cancel := context.WithTimeout(ctx, turnDirectoryEvery)
		err := sh.AdvertiseTURN(rctx, t.ownURIs())
		var peers [][]string
		if err == nil {
			peers, err = sh.PeerTURN(rctx)
		}
		cancel()
		switch {
		case err == nil:
			t.peers.Store(&peers)
			failing = false
		case ctx.Err() == nil && !failing:
			// The last list stays: the instances it names were alive a moment ago, and
			// their TURN servers do not depend on the state.
			s.log.Warn("TURN directory not refreshed", "err", err)
			failing = true
		}
		select {
		case <-ctx.Done():
			// After this loop's last advertisement, so none can follow the withdrawal.
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), turnDirectoryEvery)
			if err := sh.WithdrawTURN(wctx); err != nil {
				s.log.Warn("TURN URIs not withdrawn; the other instances stop listing them once this one is reaped", "err", err)
			}
			cancel()
			return
		case <-tick.C:
		}
	}
}

// ownURIs are the TURN URIs of this instance's own server.
func (t *turnState) ownURIs() []string {
	return turn.URIs(t.host, int(t.udpPort.Load()), int(t.tcpPort.Load()), int(t.httpsPort.Load()), int(t.tlsPort.Load()))
}

// uris are the TURN URIs handed out: this instance's own first, then those of up to
// maxPeerTURN other live instances (Redis mode), taken from a random place in the list so
// that the load of second paths spreads over all instances.
func (t *turnState) uris() []string {
	out := t.ownURIs()
	p := t.peers.Load()
	if p == nil || len(*p) == 0 {
		return out
	}
	peers := *p
	start := rand.IntN(len(peers))
	for i := 0; i < len(peers) && i < maxPeerTURN; i++ {
		for _, u := range peers[(start+i)%len(peers)] {
			// Redis is trusted, but a URI a browser cannot parse would fail the whole
			// RTCPeerConnection: hand out only TURN URIs.
			if strings.HasPrefix(u, "turn:") || strings.HasPrefix(u, "turns:") {
				out = append(out, u)
			}
		}
	}
	return out
}
