//go:build !js

package e2e

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/fleettest"
	"github.com/onertc/onertc/internal/testkit/redistest"
	"github.com/onertc/onertc/internal/testkit/servertest"
	"github.com/onertc/onertc/internal/testkit/testsync"
)

// TestGroupOnSeveralInstances: three instances sharing a real redis-server and four bots;
// a and b start a 1:1 call, c's join turns the room into a group, d joins it. The group's
// SFU is on one instance only, which carries all four, and every bot receives the three
// others' audio and video through it, whichever instance its signaling and its group
// socket reached (a socket that reached another one was passed on to the SFU's).
//
// direct: each bot talks to an instance of its own (a, b, c on the three, d on the first),
// so the bots' group URLs name two instances at least and a socket is always passed on.
// haproxy: the bots talk to the README's HAProxy example in front of the three, which
// spreads every request and socket round robin.
func TestGroupOnSeveralInstances(t *testing.T) {
	for _, tt := range []struct {
		name          string
		balanced      bool
		wantPassedOn  bool
		wantJoinedOn2 bool
	}{
		{"direct", false, true, true},
		{"haproxy", true, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
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
			backends := make([]*fleettest.Instance, len(urls))
			for i := range urls {
				cfg := testConfig()
				cfg.Redis = rs.URL()
				cfg.TURN.Disabled = true // the bots reach the SFUs on loopback
				if !tt.balanced {
					// Each bot's page is on the instance it joined through, while the group
					// socket the room sends it to may be on another: the instances are each
					// other's origins, as on a deployment whose instances have names of
					// their own. Behind the balancer there is one origin.
					cfg.AllowedOrigins = urls[:]
				}
				servertest.StartT(t, cfg, servertest.Options{Log: testLogger().With("instance", i), Group: true, HTTP: lns[i]})
				backends[i] = &fleettest.Instance{Addr: lns[i].Addr().String()}
			}
			botURLs := []string{urls[0], urls[1], urls[2], urls[0]}
			if tt.balanced {
				front := "http://" + fleettest.HAProxy.Start(t, backends).Addr
				botURLs = []string{front, front, front, front}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			const room = "group-shared"
			a := startGroupBot(t, ctx, botURLs[0], room, "a", false)
			testsync.Eventually(t, 10*time.Second, "a joined", func() bool { return a.gb.GroupCall().Call().ClientID() != "" })
			b := startGroupBot(t, ctx, botURLs[1], room, "b", false)
			testsync.Eventually(t, 20*time.Second, "a and b connected 1:1", func() bool { return connected(a) && connected(b) })
			c := startGroupBot(t, ctx, botURLs[2], room, "c", false)
			d := startGroupBot(t, ctx, botURLs[3], room, "d", false)
			four := []*groupBot{a, b, c, d}
			ids := waitIDs(t, four...)
			waitReceivesFrom(t, 40*time.Second, ids, four, four)

			var carriers []int
			passedOn, joinedOn := 0.0, 0
			for i, u := range urls {
				m := metrics(t, u+"/metrics")
				passedOn += m["onertc_group_sockets_passed_on_total"]
				if m[`onertc_joins_total{result="SUCCESS"}`] > 0 {
					joinedOn++
				}
				switch n := m["onertc_sfu_participants"]; n {
				case 0:
				case 4:
					carriers = append(carriers, i)
				default:
					t.Errorf("instance %d's SFU carries %v participants: want all four on one SFU", i, n)
				}
				t.Logf("instance %d: joins %v, SFU participants %v, group sockets passed on %v", i,
					m[`onertc_joins_total{result="SUCCESS"}`], m["onertc_sfu_participants"], m["onertc_group_sockets_passed_on_total"])
			}
			if len(carriers) != 1 {
				t.Fatalf("instances whose SFU carries the group: %v, want exactly one", carriers)
			}
			if tt.wantPassedOn && passedOn == 0 {
				t.Error("no group socket was passed on to the SFU's instance")
			}
			if tt.wantJoinedOn2 && joinedOn < 2 {
				t.Errorf("the joins landed on %d instance(s), want 2 at least", joinedOn)
			}
		})
	}
}
