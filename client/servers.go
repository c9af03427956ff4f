package client

import (
	"time"

	"github.com/onertc/onertc/protocol"
)

// An ICE restart gives the peer fresh ICE servers (ICEServerSetter), on both sides. Fetched
// when the restart starts, they held it up by 35-150 ms per side in a busy browser tab (seen
// in e2e/browser's TestBrowserCallSurvivesInstanceKills), a tenth of the media gap; so the
// call fetches them ahead, while connected, and a restart takes the list at hand. A list
// fetched before an instance died may name its TURN server: the peer then gathers nothing
// there and goes on with the others.
const (
	// serversRefreshEvery is how often a connected call fetches its servers ahead.
	serversRefreshEvery = 2 * time.Minute
	// serversMaxAge bounds the age of a list a restart takes without fetching: half the
	// lifetime of TURN credentials in password mode (10 min by default).
	serversMaxAge = 5 * time.Minute
)

// serverCache is the list fetched ahead. It is owned by the call's loop; fetched carries the
// result of the fetch under way.
type serverCache struct {
	list     []protocol.ICEServer
	at       time.Time
	fetching bool
	fetched  chan fetchedServers
}

type fetchedServers struct {
	list []protocol.ICEServer
	ok   bool
}

// age is how old the list is (very old when there is none).
func (c *serverCache) age() time.Duration {
	if c.list == nil {
		return time.Duration(1<<63 - 1)
	}
	return time.Since(c.at)
}

// done records the result of a fetch.
func (c *serverCache) done(r fetchedServers) {
	c.fetching = false
	if r.ok {
		c.list, c.at = r.list, time.Now()
	}
}

// prefetchServers starts fetching the servers aside, unless a fetch is under way or there is
// nothing to fetch.
func (m *machine) prefetchServers() {
	if m.servers.fetching || m.params.ICEServerURL == "" {
		return
	}
	m.servers.fetching = true
	go func() {
		list, ok := m.fetchServers(m.ctx)
		select {
		case m.servers.fetched <- fetchedServers{list: list, ok: ok}:
		case <-m.done:
		}
	}()
}

// restartServers are the servers an ICE restart gives the peer: the list fetched ahead
// while it is young enough, else a fresh one fetched now.
func (m *machine) restartServers() []protocol.ICEServer {
	if m.servers.age() < serversMaxAge {
		return m.servers.list
	}
	list, ok := m.fetchServers(m.ctx)
	if ok {
		m.servers.list, m.servers.at = list, time.Now()
	}
	return list
}
