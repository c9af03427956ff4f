package fleettest

import (
	"fmt"
	"testing"

	"github.com/onertc/onertc/internal/testkit/redistest"
)

// relaySpan is how many relay ports each instance of a MediaFleet has.
const relaySpan = 300

// MediaFleet is Backends instances, each with its own TURN server on one shared secret, on
// one redis-server behind the README's HAProxy. Instance i relays on ports RelayBase+i*300 and
// up, so a relay candidate's port names the instance holding the allocation.
type MediaFleet struct {
	Instances []*Instance
	LB        *Instance // HAProxy: the address clients use
	RelayBase int
	dead      []bool // by instance: killed by Kill
}

// StartMedia starts a MediaFleet relaying on ports relayBase to relayBase+899, each instance
// with the flags extra too. Packages whose tests run at the same time need ranges of their own.
func StartMedia(t testing.TB, relayBase int, extra ...string) *MediaFleet {
	t.Helper()
	HAProxy.Require(t) // before the build and the servers, which take seconds
	rs := redistest.Start(t)
	bin := Build(t)
	f := &MediaFleet{RelayBase: relayBase, dead: make([]bool, Backends)}
	for i := range Backends {
		lo := relayBase + i*relaySpan
		flags := append([]string{"--turn-disable=false", "--turn", FreePort(t),
			"--public-ip", "127.0.0.1", "--turn-allow-loopback", "--turn-secret", "fleet-secret",
			"--relay-ports", fmt.Sprintf("%d-%d", lo, lo+relaySpan-1), "--turn-self-test", "0",
			"--limit-turn", "0", "--limit-ws", "0"}, extra...)
		f.Instances = append(f.Instances, Start(t, bin, rs.URL(), flags...))
	}
	f.LB = HAProxy.Start(t, f.Instances)
	return f
}

// RelayHolder is the index of the instance whose TURN server allocated relay port port.
func (f *MediaFleet) RelayHolder(port int) (int, error) {
	i := (port - f.RelayBase) / relaySpan
	if port < f.RelayBase || i >= len(f.Instances) {
		return 0, fmt.Errorf("port %d is no instance's relay port (%d-%d)", port, f.RelayBase, f.RelayBase+len(f.Instances)*relaySpan-1)
	}
	return i, nil
}

// Kill SIGKILLs instance i; it no longer counts as alive.
func (f *MediaFleet) Kill(t testing.TB, i int) {
	t.Helper()
	f.Instances[i].Kill(t)
	f.dead[i] = true
}

// Alive reports whether instance i was not killed.
func (f *MediaFleet) Alive(i int) bool { return !f.dead[i] }

// OpenSockets is the count of relay sockets open on the live instances, and the last live
// instance holding one (-1 when none does).
func (f *MediaFleet) OpenSockets(t testing.TB) (open, holder int) {
	t.Helper()
	holder = -1
	for i, in := range f.Instances {
		if f.dead[i] {
			continue
		}
		if n := in.OpenSockets(t); n > 0 {
			open, holder = open+n, i
		}
	}
	return open, holder
}
