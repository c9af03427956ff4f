//go:build !js

package main

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/internal/testkit/fleettest"
	"github.com/onertc/onertc/internal/testkit/redistest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
)

// peer is a relay socket read all the time, as a real client's is, so that the server's
// pings are answered and what it wrote is confirmed.
type peer struct {
	ws     *websocket.Conn
	frames chan protocol.RelayFrame
	err    error // why reading ended; set before frames is closed
}

// register opens a relay socket on in and registers clientID in roomID on it.
func register(t *testing.T, in *fleettest.Instance, roomID, clientID string) *peer {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial("ws://"+in.Addr+"/ws", nil)
	if err != nil {
		if resp != nil {
			err = fmt.Errorf("%w: status %d", err, resp.StatusCode)
		}
		t.Fatalf("register %s in %s through %s: %v", clientID, roomID, in.Addr, err)
	}
	t.Cleanup(func() { ws.Close() })
	if err := ws.WriteJSON(protocol.RelayRequest{Cmd: protocol.CmdRegister, RoomID: roomID, ClientID: clientID}); err != nil {
		t.Fatal(err)
	}
	p := &peer{ws: ws, frames: make(chan protocol.RelayFrame, 100)}
	go func() {
		defer close(p.frames)
		for {
			var f protocol.RelayFrame
			if err := ws.ReadJSON(&f); err != nil {
				p.err = err
				return
			}
			p.frames <- f
		}
	}()
	return p
}

func (p *peer) send(t *testing.T, msg string) {
	t.Helper()
	if err := p.ws.WriteJSON(protocol.RelayRequest{Cmd: protocol.CmdSend, Msg: msg}); err != nil {
		t.Fatal(err)
	}
}

func (p *peer) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case f := <-p.frames:
		if f.Msg != want || f.Error != "" {
			t.Fatalf("frame %+v; want %q", f, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no %q within 5 s", want)
	}
}

// Three processes on one redis-server; the one holding A's socket is SIGKILLed mid-call.
// A re-registers on another instance and gets what B sent meanwhile; the room stays full
// for strangers; a client whose socket died with the killed instance and never comes back
// is reaped by the others, so its room does not stay full. Then the instance holding B's
// socket gets SIGTERM: it closes the socket with 1001 at once and exits 0, and B goes on
// from another instance with nothing lost.
func TestInstanceKilledOrDrained(t *testing.T) {
	rs := redistest.Start(t)
	bin := fleettest.Build(t)
	p1, p2, p3 := fleettest.Start(t, bin, rs.URL()), fleettest.Start(t, bin, rs.URL()), fleettest.Start(t, bin, rs.URL())

	a := p1.Join(t, "call").Params.ClientID
	b := p2.Join(t, "call").Params.ClientID
	wsA, wsB := register(t, p1, "call", a), register(t, p3, "call", b)
	wsA.send(t, "offer")
	wsB.expect(t, "offer")
	wsB.send(t, "answer")
	wsA.expect(t, "answer")

	// A ghost-to-be: D's socket is on p1 too, and D never comes back. E stays; D's
	// message reaching E proves D registered on p1 before the kill.
	d := p2.Join(t, "ghost").Params.ClientID
	e := p3.Join(t, "ghost").Params.ClientID
	wsD, wsE := register(t, p1, "ghost", d), register(t, p3, "ghost", e)
	wsD.send(t, "D here")
	wsE.expect(t, "D here")

	// Every message written on p1's sockets is confirmed (A's client read it and answered
	// the ping after it): A's next socket must get exactly what came later.
	testsync.Eventually(t, 10*time.Second, "p1 to relay a message", func() bool { return p1.Relayed(t) >= 1 })
	if err := p1.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p1.Cmd.Wait()
	wsB.send(t, "while A is away")
	if jr := p2.Join(t, "call"); jr.Result != protocol.ResultFull {
		t.Fatalf("stranger's join during the outage = %s, want FULL", jr.Result)
	}
	wsA2 := register(t, p2, "call", a)
	wsA2.expect(t, "while A is away")
	wsA2.send(t, "back")
	wsB.expect(t, "back")

	// p1's heartbeat stops; after the instance timeout and D's grace, D is gone.
	deadline := time.Now().Add(20 * time.Second)
	for {
		jr := p2.Join(t, "ghost")
		if jr.Result == protocol.ResultSuccess {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dead instance's client still holds its room: join = %s", jr.Result)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// SIGTERM of p3, which holds B's socket: it closes with 1001 at once, B re-registers
	// on p2 and gets what A sent meanwhile.
	if err := p3.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case f, ok := <-wsB.frames:
		if ok {
			t.Fatalf("B got %+v while its instance drained, want the socket closed", f)
		}
		if !websocket.IsCloseError(wsB.err, websocket.CloseGoingAway) {
			t.Fatalf("B's socket ended with %v, want close 1001 going away", wsB.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("draining instance did not close B's socket")
	}
	if err := p3.Cmd.Wait(); err != nil {
		t.Fatalf("drained instance exited with %v, want 0", err)
	}
	wsA2.send(t, "during the drain")
	wsB2 := register(t, p2, "call", b)
	wsB2.expect(t, "during the drain")
	wsB2.send(t, "moved")
	wsA2.expect(t, "moved")

}

// An instance that stops running for longer than the others wait for its heartbeats (a
// stopped process, a frozen VM, a starved machine) but keeps its sockets is judged dead and
// its clients taken offline; when it runs again it takes them back: its socket gets what was
// sent meanwhile, in order, and nobody has to reconnect.
func TestPausedInstanceKeepsItsCalls(t *testing.T) {
	bin := fleettest.Build(t)
	redisURL := "redis://" + redistest.Start(t).Addr
	in0 := fleettest.Start(t, bin, redisURL, "--relay-grace", "60s")
	in1 := fleettest.Start(t, bin, redisURL, "--relay-grace", "60s")
	a := in0.Join(t, "pause")
	b := in1.Join(t, "pause")
	pa := register(t, in0, "pause", a.Params.ClientID)
	pb := register(t, in1, "pause", b.Params.ClientID)
	pa.send(t, "hello")
	pb.expect(t, "hello")

	if err := in1.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			in1.Cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	fleettest.WaitLine(t, in0.Log, "instance silent")
	for i := range 5 {
		pa.send(t, fmt.Sprintf("m%d", i))
	}
	if err := in1.Cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	fleettest.WaitLine(t, in1.Log, "taking its clients back")
	for i := range 5 {
		pb.expect(t, fmt.Sprintf("m%d", i))
	}
	pb.send(t, "back")
	pa.expect(t, "back")
	// Still a full room of two, on both instances.
	for _, in := range []*fleettest.Instance{in0, in1} {
		if jr := in.Join(t, "pause"); jr.Result != protocol.ResultFull {
			t.Fatalf("a third /join through %s = %s, want FULL", in.Addr, jr.Result)
		}
	}
	select {
	case f, ok := <-pb.frames:
		t.Fatalf("B got %+v (open %v, %v), want nothing more", f, ok, pb.err)
	case f, ok := <-pa.frames:
		t.Fatalf("A got %+v (open %v, %v), want nothing more", f, ok, pa.err)
	case <-time.After(time.Second):
	}
}
