//go:build !js

package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/redistest"
)

// instance is one `onertc serve --redis` process.
type instance struct {
	addr string
	cmd  *exec.Cmd
}

// startInstance starts one instance without TURN; extra flags come last and win.
func startInstance(t *testing.T, bin, redisURL string, extra ...string) *instance {
	t.Helper()
	addr := freePort(t)
	args := append([]string{"serve", "--http", addr, "--turn-disable", "--redis", redisURL,
		"--relay-grace", "2s", "--log-format", "json", "--limit-join", "0"}, extra...)
	cmd := exec.Command(bin, args...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody reads after "serving"
			}
		}
	}()
	waitFor(t, lines, `"msg":"serving"`)
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return &instance{addr: addr, cmd: cmd}
}

func (in *instance) join(t *testing.T, roomID string) protocol.JoinResponse {
	t.Helper()
	resp, err := http.Post("http://"+in.addr+"/join/"+roomID, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var jr protocol.JoinResponse
	if err := json.NewDecoder(resp.Body).Decode(&jr); err != nil {
		t.Fatalf("join %s: %v", roomID, err)
	}
	return jr
}

// peer is a relay socket read all the time, as a real client's is, so that the server's
// pings are answered and what it wrote is confirmed.
type peer struct {
	ws     *websocket.Conn
	frames chan protocol.RelayFrame
	err    error // why reading ended; set before frames is closed
}

func (in *instance) register(t *testing.T, roomID, clientID string) *peer {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+in.addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
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

// relayed is the instance's count of messages its sockets confirmed.
func (in *instance) relayed(t *testing.T) int {
	t.Helper()
	resp, err := http.Get("http://" + in.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "onertc_relay_messages_relayed_total "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	t.Fatal("no onertc_relay_messages_relayed_total in /metrics")
	return 0
}

// Three processes on one redis-server; the one holding A's socket is SIGKILLed mid-call.
// A re-registers on another instance and gets what B sent meanwhile; the room stays full
// for strangers; a client whose socket died with the killed instance and never comes back
// is reaped by the others, so its room does not stay full. Then the instance holding B's
// socket gets SIGTERM: it closes the socket with 1001 at once and exits 0, and B goes on
// from another instance with nothing lost.
func TestInstanceKilledOrDrained(t *testing.T) {
	rs := redistest.Start(t)
	bin := buildBinary(t)
	p1, p2, p3 := startInstance(t, bin, rs.URL()), startInstance(t, bin, rs.URL()), startInstance(t, bin, rs.URL())

	a := p1.join(t, "call").Params.ClientID
	b := p2.join(t, "call").Params.ClientID
	wsA, wsB := p1.register(t, "call", a), p3.register(t, "call", b)
	wsA.send(t, "offer")
	wsB.expect(t, "offer")
	wsB.send(t, "answer")
	wsA.expect(t, "answer")

	// A ghost-to-be: D's socket is on p1 too, and D never comes back. E stays; D's
	// message reaching E proves D registered on p1 before the kill.
	d := p2.join(t, "ghost").Params.ClientID
	e := p3.join(t, "ghost").Params.ClientID
	wsD, wsE := p1.register(t, "ghost", d), p3.register(t, "ghost", e)
	wsD.send(t, "D here")
	wsE.expect(t, "D here")

	// Every message written on p1's sockets is confirmed (A's client read it and answered
	// the ping after it): A's next socket must get exactly what came later.
	for p1.relayed(t) < 1 {
		time.Sleep(20 * time.Millisecond)
	}
	if err := p1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p1.cmd.Wait()
	wsB.send(t, "while A is away")
	if jr := p2.join(t, "call"); jr.Result != protocol.ResultFull {
		t.Fatalf("stranger's join during the outage = %s, want FULL", jr.Result)
	}
	wsA2 := p2.register(t, "call", a)
	wsA2.expect(t, "while A is away")
	wsA2.send(t, "back")
	wsB.expect(t, "back")

	// p1's heartbeat stops; after the instance timeout and D's grace, D is gone.
	deadline := time.Now().Add(20 * time.Second)
	for {
		jr := p2.join(t, "ghost")
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
	if err := p3.cmd.Process.Signal(syscall.SIGTERM); err != nil {
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
	if err := p3.cmd.Wait(); err != nil {
		t.Fatalf("drained instance exited with %v, want 0", err)
	}
	wsA2.send(t, "during the drain")
	wsB2 := p2.register(t, "call", b)
	wsB2.expect(t, "during the drain")
	wsB2.send(t, "moved")
	wsA2.expect(t, "moved")

}

// startHAProxy runs Debian's HAProxy in front of the instances as the README shows it: round
// robin, no stickiness, /readyz as health check, a long tunnel timeout for WebSockets.
func startHAProxy(t *testing.T, backends ...*instance) *instance {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		bin = "/usr/sbin/haproxy" // not on a user's PATH on Debian
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("haproxy not found: install haproxy (make deps)")
	}
	addr := freePort(t)
	cfg := "global\n  log stderr format raw local0 err\n" +
		"defaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  timeout server 30s\n  timeout tunnel 1h\n" +
		"  retries 3\n  option redispatch\n" +
		"frontend fe\n  bind " + addr + "\n  default_backend onertc\n" +
		"backend onertc\n  balance roundrobin\n  option httpchk GET /readyz\n  default-server inter 200ms fall 1 rise 1\n"
	for i, b := range backends {
		cfg += "  server s" + strconv.Itoa(i) + " " + b.addr + " check\n"
	}
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lb := &instance{addr: addr, cmd: cmd}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return lb
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("haproxy did not serve /readyz within 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// openSockets is the instance's count of open relay sockets (Collider's /status).
func (in *instance) openSockets(t *testing.T) int {
	t.Helper()
	resp, err := http.Get("http://" + in.addr + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ OpenWS int }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.OpenWS
}

// A call through HAProxy (round robin, no stickiness) over three instances: the instance
// holding A's socket is SIGKILLed; A reconnects through HAProxy, lands on a live instance
// and gets what B sent meanwhile; a third joiner gets FULL; after both hang up the room is
// free.
func TestCallThroughHAProxySurvivesSIGKILL(t *testing.T) {
	rs := redistest.Start(t)
	bin := buildBinary(t)
	ps := []*instance{startInstance(t, bin, rs.URL()), startInstance(t, bin, rs.URL()), startInstance(t, bin, rs.URL())}
	lb := startHAProxy(t, ps...)

	// Which instance holds a socket is read from the instances' /status as each registers.
	sockets := func() []int {
		var n []int
		for _, p := range ps {
			n = append(n, p.openSockets(t))
		}
		return n
	}
	landed := func(before []int) int {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			for i, n := range sockets() {
				if n > before[i] {
					return i
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("no instance took the socket")
		return 0
	}
	a := lb.join(t, "lb").Params.ClientID
	b := lb.join(t, "lb").Params.ClientID
	before := sockets()
	wsA := lb.register(t, "lb", a)
	onA := landed(before)
	before = sockets()
	wsB := lb.register(t, "lb", b)
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
	for holder.relayed(t) < want {
		time.Sleep(20 * time.Millisecond)
	}
	if err := holder.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	holder.cmd.Wait()
	started := time.Now()
	// The sockets on the killed instance are gone; those clients reconnect through
	// HAProxy, as onertc's clients do.
	reconnect := func(p *peer, id string) *peer {
		for f := range p.frames {
			t.Fatalf("unexpected frame %+v before the reconnect", f)
		}
		return lb.register(t, "lb", id)
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
	if jr := lb.join(t, "lb"); jr.Result != protocol.ResultFull {
		t.Fatalf("third joiner = %s, want FULL", jr.Result)
	}
	for _, id := range []string{a, b} {
		resp, err := http.Post("http://"+lb.addr+"/leave/lb/"+id, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if jr := lb.join(t, "lb"); jr.Result != protocol.ResultSuccess || jr.Params.IsInitiator != "true" {
		t.Fatalf("join after hang-up = %s initiator %s, want a free room", jr.Result, jr.Params.IsInitiator)
	}
}
