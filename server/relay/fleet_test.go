package relay

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
)

// fleet is the relays of several instances on one shared state (Redis), or the one relay
// of a state of this process's alone (memory): the same behaviour is asked of either, a
// client's sockets landing on whichever instance.
type fleet struct {
	rigs []*rig
	n    int
}

func newFleet(t *testing.T, kind stateKind, instances int, cfg Config) *fleet {
	t.Helper()
	if cfg.Grace == 0 {
		cfg.Grace = 5 * time.Second
	}
	states, rooms := kind.new(cfg.Grace, instances)
	f := &fleet{}
	for _, st := range states {
		f.rigs = append(f.rigs, serveRig(t, st, rooms, cfg))
	}
	return f
}

// next is the fleet's instances in turn.
func (f *fleet) next() *rig {
	f.n++
	return f.rigs[f.n%len(f.rigs)]
}

// otherThan is an instance other than rg, when there is one.
func (f *fleet) otherThan(rg *rig) *rig {
	for _, o := range f.rigs {
		if o != rg {
			return o
		}
	}
	return rg
}

func (f *fleet) sum(get func(Stats) int64) int64 {
	var n int64
	for _, rg := range f.rigs {
		n += get(rg.relay.Stats())
	}
	return n
}

func (f *fleet) online(t *testing.T, n int64) {
	t.Helper()
	testsync.Eventually(t, frameWait, "sockets online", func() bool { return f.sum(func(s Stats) int64 { return s.Online }) == n })
}

func (f *fleet) pending(roomID, clientID string) int {
	n := 0
	for _, rg := range f.rigs {
		n += rg.relay.Pending(roomID, clientID)
	}
	return n
}

func (rg *rig) do(t *testing.T, method, path, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, rg.http+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// TestRelayFleet: strangers are refused, a second socket of a client takes over, messages
// wait in order for a client that has not registered yet or whose socket dropped, and POST
// and DELETE on /collider act for a client, whichever instance holds the sockets.
func TestRelayFleet(t *testing.T) {
	kinds := stateKinds(t)
	for _, tt := range []struct {
		name string
		run  func(t *testing.T, f *fleet)
	}{
		{"strangers refused, duplicates take over", func(t *testing.T, f *fleet) {
			f.next().join(t, "cap", "A")
			f.next().join(t, "cap", "B")
			aRig := f.next()
			a, b := aRig.register(t, "cap", "A"), f.next().register(t, "cap", "B")
			f.online(t, 2)
			// A third party never got past /join (FULL), so the relay does not know it.
			third := f.next().register(t, "cap", "C")
			third.expectError(t, protocol.ErrTextUnknownClient)
			third.expectEnd(t, 1000)
			// A second register of A is a reconnect: the new socket takes over.
			a2 := f.otherThan(aRig).register(t, "cap", "A")
			a.expectError(t, protocol.ErrTextDuplicateClient)
			a.expectEnd(t, 1000)
			a2.send(t, "hello")
			b.expect(t, "hello")
			b.send(t, "back")
			a2.expect(t, "back")
			a2.quiet(t) // no echo
			f.online(t, 2)
			if n, err := f.rigs[0].rooms.Occupancy(context.Background(), "cap"); err != nil || n != 2 {
				t.Fatalf("occupancy = %d, %v; want 2", n, err)
			}
		}},
		{"queued until register and across a reconnect", func(t *testing.T, f *fleet) {
			f.next().join(t, "q", "A")
			f.next().join(t, "q", "B")
			a := f.next().register(t, "q", "A")
			f.online(t, 1)
			a.send(t, "1")
			a.send(t, "2")
			testsync.Eventually(t, frameWait, "two queued for B", func() bool { return f.sum(func(s Stats) int64 { return s.Queued }) == 2 })
			if code, body, _ := f.next().do(t, http.MethodPost, "/collider/q/A", "3"); code != http.StatusOK || body != "OK\n" {
				t.Fatalf("POST /collider while B is not registered = %d %q", code, body)
			}
			bRig := f.next()
			b := bRig.register(t, "q", "B")
			b.expect(t, "1", "2", "3")
			testsync.Eventually(t, frameWait, "B's messages confirmed", func() bool { return f.pending("q", "B") == 0 })
			b.ws.Close()
			f.online(t, 1)
			a.send(t, "4")
			a.send(t, "5")
			b2 := f.otherThan(bRig).register(t, "q", "B")
			b2.expect(t, "4", "5")
			b2.quiet(t)
		}},
		{"POST and DELETE on /collider", func(t *testing.T, f *fleet) {
			f.next().join(t, "h", "A")
			f.next().join(t, "h", "B")
			b := f.next().register(t, "h", "B")
			f.online(t, 1)
			if code, body, _ := f.next().do(t, http.MethodPost, "/collider/h/A", "via http"); code != http.StatusOK || body != "OK\n" {
				t.Fatalf("POST = %d %q", code, body)
			}
			b.expect(t, "via http")
			aRig := f.next()
			a := aRig.register(t, "h", "A")
			a.send(t, "bye-soon")
			b.expect(t, "bye-soon")
			// DELETE overtakes A's bye: the bye is still delivered.
			a.send(t, `{"type":"bye"}`)
			code, body, h := f.otherThan(aRig).do(t, http.MethodDelete, "/collider/h/A", "")
			if code != http.StatusOK || body != "OK\n" || h.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("DELETE = %d %q cors=%q", code, body, h.Get("Access-Control-Allow-Origin"))
			}
			b.expect(t, `{"type":"bye"}`)
			a.expectEnd(t, 1000)
			// The deleted A cannot come back, by socket or by POST: it must join again.
			stale := f.next().register(t, "h", "A")
			stale.expectError(t, protocol.ErrTextUnknownClient)
			if code, body, _ := f.next().do(t, http.MethodPost, "/collider/h/A", "from the grave"); code != http.StatusInternalServerError || !strings.Contains(body, protocol.ErrTextUnknownClient) {
				t.Fatalf("POST after DELETE = %d %q, want 500 %q", code, body, protocol.ErrTextUnknownClient)
			}
			b.quiet(t)
			for _, m := range []string{http.MethodOptions, http.MethodGet} {
				if code, _, h := f.next().do(t, m, "/collider/h/B", ""); code != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "*" {
					t.Errorf("%s /collider = %d", m, code)
				}
			}
			for _, c := range []struct {
				path, body string
				want       int
			}{
				{"/collider/h/B", strings.Repeat("x", protocol.MaxMessageBytes+1), http.StatusRequestEntityTooLarge},
				{"/collider/h/B", "", http.StatusInternalServerError},
				{"/collider/h/C", "third", http.StatusInternalServerError},
				{"/collider/h/a%2Fb", "bad id", http.StatusNotFound},
			} {
				if code, _, _ := f.next().do(t, http.MethodPost, c.path, c.body); code != c.want {
					t.Errorf("POST %s (%d bytes) = %d, want %d", c.path, len(c.body), code, c.want)
				}
			}
		}},
	} {
		for _, kind := range kinds {
			t.Run(kind.name+"/"+tt.name, func(t *testing.T) {
				tt.run(t, newFleet(t, kind, 3, Config{}))
			})
		}
	}
}
