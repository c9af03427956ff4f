// Package fleettest runs onertc as a fleet for tests in several packages: `onertc serve
// --redis` processes built from this checkout, on one real redis-server, behind a real load
// balancer started from the README's example, so the command's tests (bots) and the browser
// tests (Chromium) kill the same processes behind the same HAProxy.
package fleettest

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onertc/onertc/protocol"
)

// Build compiles the onertc command into the test's temporary directory. The binary embeds
// the browser app that `make wasm` last built into web/static.
func Build(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "onertc")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/onertc/onertc/server/cmd/onertc")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build onertc: %v", err)
	}
	return bin
}

// FreePort returns a loopback address whose TCP port was free a moment ago.
func FreePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// WaitLine reads lines (a process's output) until one contains text; it fails the test when
// the output ends or 30 s pass first.
func WaitLine(t testing.TB, lines <-chan string, text string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("process output ended before %s", text)
			}
			if strings.Contains(l, text) {
				return
			}
		case <-timeout:
			t.Fatalf("no %s within 30s", text)
		}
	}
}

// Instance is one `onertc serve` process, or a load balancer in front of several.
type Instance struct {
	Addr string // host:port of its HTTP listener
	Cmd  *exec.Cmd
	// Log is the process's log, line by line, from after "serving"; lines nobody reads
	// beyond the first thousand are dropped.
	Log <-chan string
	// bin and args started it, so that Restart runs the same command again.
	bin  string
	args []string
}

// Start runs one instance of bin on redisURL, without TURN, its SFU on a loopback port of
// its own; extra flags come after (and override) the defaults set here. It returns once
// the instance serves, and kills it when the test ends.
func Start(t testing.TB, bin, redisURL string, extra ...string) *Instance {
	t.Helper()
	addr := FreePort(t)
	args := append([]string{"serve", "--http", addr, "--turn-disable", "--redis", redisURL,
		"--sfu-addr", "127.0.0.1:0", "--relay-grace", "2s", "--log-format", "json", "--limit-join", "0"}, extra...)
	return start(t, addr, bin, args)
}

// start runs bin with args, an instance serving HTTP on addr, and kills it when the test
// ends.
func start(t testing.TB, addr, bin string, args []string) *Instance {
	t.Helper()
	in := run(t, addr, bin, args)
	// One cleanup per instance, registered before whatever the test starts on it (bots,
	// tabs), kills the process the instance runs then: Restart's process too. A cleanup per
	// process made a restarted one die before the clients a test ends first, which then
	// tried to resume on a fleet that was going away.
	t.Cleanup(func() {
		in.Cmd.Process.Kill()
		in.Cmd.Wait()
	})
	return in
}

// run starts bin with args, an instance serving HTTP on addr, and returns once it serves
// (killing the process if the test fails first).
func run(t testing.TB, addr, bin string, args []string) *Instance {
	t.Helper()
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
			default: // nobody reads
			}
		}
	}()
	serving := false
	defer func() {
		if !serving {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	WaitLine(t, lines, `"msg":"serving"`)
	serving = true
	return &Instance{Addr: addr, Cmd: cmd, Log: lines, bin: bin, args: args}
}

// Kill SIGKILLs the process and waits until it is gone.
func (in *Instance) Kill(t testing.TB) {
	t.Helper()
	if err := in.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s: %v", in.Addr, err)
	}
	in.Cmd.Wait()
}

// Join posts /join/{roomID} and returns the answer, which must be 200 and well formed.
func (in *Instance) Join(t testing.TB, roomID string) protocol.JoinResponse {
	t.Helper()
	resp, err := http.Post("http://"+in.Addr+"/join/"+roomID, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		t.Fatalf("join %s through %s: status %d: %s", roomID, in.Addr, resp.StatusCode, body)
	}
	var jr protocol.JoinResponse
	if err := json.NewDecoder(resp.Body).Decode(&jr); err != nil {
		t.Fatalf("join %s: %v", roomID, err)
	}
	return jr
}

// OpenSockets is the instance's count of open relay sockets (Collider's /status).
func (in *Instance) OpenSockets(t testing.TB) int {
	t.Helper()
	resp, err := http.Get("http://" + in.Addr + "/status")
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

// Relayed is the instance's count of messages its sockets confirmed.
func (in *Instance) Relayed(t testing.TB) int {
	t.Helper()
	resp, err := http.Get("http://" + in.Addr + "/metrics")
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
