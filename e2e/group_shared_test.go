//go:build !js

package e2e

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/redistest"
	"github.com/onertc/onertc/internal/testkit/servertest"
	"github.com/onertc/onertc/internal/testkit/testsync"
)

// TestGroupOnSeveralInstances: three instances sharing a real redis-server, four bots each
// joining (and so signaling) through another instance than the one before: a and b start
// a 1:1 call across two instances, c's join on the third turns the room into a group, d
// joins on the first. The group's SFU is on one instance only, which carries all four;
// every bot receives the three others' audio and video through it, whichever instance its
// group socket reached (a socket that reached another one was passed on to the SFU's).
func TestGroupOnSeveralInstances(t *testing.T) {
	rs := redistest.Start(t)
	var urls [3]string
	var lns [3]net.Listener
	for i := range lns {
		var err error
		if lns[i], err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		urls[i] = "http://" + lns[i].Addr().String()
	}
	for i := range urls {
		cfg := testConfig()
		cfg.Redis = rs.URL()
		cfg.TURN.Disabled = true // the bots reach the SFUs on loopback
		// Each bot's page is on the instance it joined through, while the group socket
		// the room sends it to may be on another: the instances are each other's origins,
		// as on a deployment whose instances have names of their own.
		cfg.AllowedOrigins = urls[:]
		servertest.StartT(t, cfg, servertest.Options{Log: testLogger().With("instance", i), Group: true, HTTP: lns[i]})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const room = "group-shared"
	a := startGroupBot(t, ctx, urls[0], room, "a", false)
	testsync.Eventually(t, 10*time.Second, "a joined", func() bool { return a.gb.GroupCall().Call().ClientID() != "" })
	b := startGroupBot(t, ctx, urls[1], room, "b", false)
	testsync.Eventually(t, 20*time.Second, "a and b connected 1:1", func() bool { return connected(a) && connected(b) })
	c := startGroupBot(t, ctx, urls[2], room, "c", false)
	d := startGroupBot(t, ctx, urls[0], room, "d", false)
	four := []*groupBot{a, b, c, d}
	ids := waitIDs(t, four...)
	waitReceivesFrom(t, 40*time.Second, ids, four, four)

	// The bots' group URLs name two instances at least (the join that made the group
	// named its own for a and b, c's and d's name their own), so one socket at least came
	// to an instance whose SFU does not carry the group and was passed on.
	var carriers []int
	passedOn := 0.0
	for i, u := range urls {
		m := metrics(t, u+"/metrics")
		sockets := m["onertc_group_sockets_passed_on_total"]
		passedOn += sockets
		switch n := m["onertc_sfu_participants"]; n {
		case 0:
		case 4:
			carriers = append(carriers, i)
		default:
			t.Errorf("instance %d's SFU carries %v participants: want all four on one SFU", i, n)
		}
		t.Logf("instance %d: SFU participants %v, group sockets passed on %v", i, m["onertc_sfu_participants"], sockets)
	}
	if len(carriers) != 1 {
		t.Fatalf("instances whose SFU carries the group: %v, want exactly one", carriers)
	}
	if passedOn == 0 {
		t.Fatal("no group socket was passed on to the SFU's instance")
	}
}
