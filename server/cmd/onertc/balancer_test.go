//go:build !js

package main

import (
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/fleettest"
	"github.com/onertc/onertc/internal/testkit/redistest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
)

// joinLimitFlags give each client address 5 joins per instance, then one per 100 s: few
// enough to spend in a test, and no token comes back while it runs. Only the balancer, on
// 127.0.0.1, is trusted: the test's clients on 127.0.0.2 and 127.0.0.3 are users.
var joinLimitFlags = []string{"--trust-proxy", "127.0.0.1/32", "--limit-join", "0.01", "--limit-burst", "500"}

// clientFrom is an HTTP client whose connections come from the loopback address src, as
// a user at that address would.
func clientFrom(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
	}
}

func joinStatus(t *testing.T, c *http.Client, lb *fleettest.Instance, roomID string) int {
	t.Helper()
	resp, err := c.Post("http://"+lb.Addr+"/join/"+roomID, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// limitsSeeClients checks that the instances behind lb key the per-IP join limit by the
// client's address the balancer put in X-Forwarded-For: one client joins until every
// instance refuses it, and another client still gets in. Keyed by the balancer's own
// address, the second client would be refused too.
func limitsSeeClients(t *testing.T, lb *fleettest.Instance, instances int) {
	t.Helper()
	first, second := clientFrom("127.0.0.2"), clientFrom("127.0.0.3")
	refused := 0 // in a row: round robin has then asked every instance
	for joins := 0; refused < instances; joins++ {
		if joins == 50 {
			t.Fatalf("no per-IP join limit after %d joins from 127.0.0.2 through %s", joins, lb.Addr)
		}
		switch code := joinStatus(t, first, lb, "limits"); code {
		case http.StatusOK:
			refused = 0
		case http.StatusTooManyRequests:
			refused++
		default:
			t.Fatalf("join from 127.0.0.2: status %d", code)
		}
	}
	if code := joinStatus(t, second, lb, "limits"); code != http.StatusOK {
		t.Fatalf("join from 127.0.0.3 after 127.0.0.2 spent its limit: status %d, want 200 "+
			"(the instances count clients by the balancer's address: X-Forwarded-For lost or not trusted)", code)
	}
}

// callSurvivesSIGKILL runs a call through lb (round robin, no stickiness) over three
// instances: the instance holding A's socket is SIGKILLed; A reconnects through the
// balancer, lands on a live instance and gets what B sent meanwhile; a third joiner gets
// FULL; after both hang up the room is free. First, the per-IP limits must see each
// client's own address through the balancer.
func callSurvivesSIGKILL(t *testing.T, lb fleettest.Balancer) {
	lb.Require(t) // before the build and the servers, which take seconds
	rs := redistest.Start(t)
	bin := fleettest.Build(t)
	ps := make([]*fleettest.Instance, fleettest.Backends)
	for i := range ps {
		ps[i] = fleettest.Start(t, bin, rs.URL(), joinLimitFlags...)
	}
	front := lb.Start(t, ps)
	limitsSeeClients(t, front, len(ps))

	// Which instance holds a socket is read from the instances' /status as each registers.
	sockets := func() []int {
		var n []int
		for _, p := range ps {
			n = append(n, p.OpenSockets(t))
		}
		return n
	}
	landed := func(before []int) int {
		on := -1
		testsync.Eventually(t, 10*time.Second, "an instance to take the socket", func() bool {
			for i, n := range sockets() {
				if n > before[i] {
					on = i
					return true
				}
			}
			return false
		})
		return on
	}
	a := front.Join(t, "lb").Params.ClientID
	b := front.Join(t, "lb").Params.ClientID
	before := sockets()
	wsA := register(t, front, "lb", a)
	onA := landed(before)
	before = sockets()
	wsB := register(t, front, "lb", b)
	onB := landed(before)
	wsA.send(t, "offer")
	wsB.expect(t, "offer")
	wsB.send(t, "answer")
	wsA.expect(t, "answer")
	holder := ps[onA]
	want := 1 // what the holder's sockets got is confirmed before the kill
	if onB == onA {
		want = 2
	}
	testsync.Eventually(t, 10*time.Second, "the holder's messages confirmed", func() bool { return holder.Relayed(t) >= want })
	if err := holder.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	holder.Cmd.Wait()
	started := time.Now()
	// The sockets on the killed instance are gone; those clients reconnect through the
	// balancer, as onertc's clients do.
	reconnect := func(p *peer, id string) *peer {
		for f := range p.frames {
			t.Fatalf("unexpected frame %+v before the reconnect", f)
		}
		return register(t, front, "lb", id)
	}
	wsA = reconnect(wsA, a)
	if onB == onA {
		wsB = reconnect(wsB, b)
	}
	wsB.send(t, "after the kill")
	wsA.expect(t, "after the kill")
	wsA.send(t, "still here")
	wsB.expect(t, "still here")
	t.Logf("signaling recovered %v after the SIGKILL", time.Since(started))
	if jr := front.Join(t, "lb"); jr.Result != protocol.ResultFull {
		t.Fatalf("third joiner = %s, want FULL", jr.Result)
	}
	for _, id := range []string{a, b} {
		resp, err := http.Post("http://"+front.Addr+"/leave/lb/"+id, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if jr := front.Join(t, "lb"); jr.Result != protocol.ResultSuccess || jr.Params.IsInitiator != "true" {
		t.Fatalf("join after hang-up = %s initiator %s, want a free room", jr.Result, jr.Params.IsInitiator)
	}
}

func TestCallThroughHAProxySurvivesSIGKILL(t *testing.T) { callSurvivesSIGKILL(t, fleettest.HAProxy) }

func TestCallThroughNginxSurvivesSIGKILL(t *testing.T) { callSurvivesSIGKILL(t, fleettest.Nginx) }
