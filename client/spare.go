package client

import (
	"context"
	"time"

	"github.com/onertc/onertc/protocol"
)

// spareFor is how long ICE servers fetched ahead stay good for a restart. The instances'
// TURN directory drops a dead instance within 5 s, so a list this young is as good as one
// fetched at the moment of the restart, and its credentials last far longer.
const spareFor = 5 * time.Second

// spareServers are ICE servers fetched ahead of a restart, and when.
type spareServers struct {
	servers []protocol.ICEServer
	at      time.Time
}

// onQuiet: the current peer's packets paused for half of SilenceTimeout, the first half of
// a silence. The ICE servers a restart needs are fetched now, aside, so that the restart
// that follows a silence does not wait for them: through a load balancer that has not yet
// seen the instance die, that fetch took 15-450 ms (e2e/browser, load 15-27), on both
// sides of the call, before the offer and again before the answer.
func (m *machine) onQuiet() {
	if m.params.ICEServerURL == "" || m.fetchingSpare || time.Since(m.spare.at) < spareFor/2 {
		return
	}
	m.fetchingSpare = true
	go func() {
		servers := m.iceServers()
		select {
		case m.spareEv <- spareServers{servers: servers, at: time.Now()}:
		case <-m.done:
		}
	}()
}

// onSpare keeps servers fetched ahead.
func (m *machine) onSpare(s spareServers) {
	m.fetchingSpare = false
	m.spare = s
}

// restartServers are the ICE servers for a restart or a fresh peer: those fetched ahead if
// they are young enough (each list is used once), fresh ones otherwise.
func (m *machine) restartServers() []protocol.ICEServer {
	if s := m.spare; s.servers != nil && time.Since(s.at) < spareFor {
		m.spare.servers = nil
		m.log.Debug("ICE servers fetched ahead used", "age", time.Since(s.at))
		return s.servers
	}
	return m.iceServers()
}

// iceServers are pc_config's servers plus fresh ones from ice_server_url, as AppRTC merges
// them. A failed fetch is logged; the call goes on with what it has. It touches no state of
// the loop's (params are set at join), so it may run aside.
func (m *machine) iceServers() []protocol.ICEServer {
	servers := pcConfigServers(m.params.PCConfig)
	if m.params.ICEServerURL == "" {
		return servers
	}
	ctx, cancel := context.WithTimeout(m.ctx, 5*time.Second)
	defer cancel()
	fetched, err := m.c.cfg.Transport.ICEServers(ctx, m.params.ICEServerURL)
	if err != nil {
		m.log.Warn("fetching ICE servers failed", "err", err)
		return servers
	}
	for _, s := range fetched {
		if len(s.URLs) > 0 {
			servers = append(servers, s)
		}
	}
	return servers
}
