//go:build !js

package browser

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/fleettest"
	"github.com/onertc/onertc/internal/testkit/testsync"
)

// upgradeRelayPorts are this test's TURN relay ports, apart from the fleet's.
const upgradeRelayPorts = "63300-63599"

// upgradeTabGapBound bounds how long remote video may stop in a tab at an upgrade: about
// twice the 9.1-12.0 s of the first runs here (one TURN server, so no other pair to switch
// to: Chromium goes "disconnected", the app restarts ICE 2 s later through the new TURN).
const upgradeTabGapBound = 20 * time.Second

// Two relay-only Chromium tabs in a call on one onertc process in memory mode through an
// upgrade (SIGUSR2, what the unit's reload sends): the new process takes the listeners, the
// old one keeps the call's room and relay sockets and drains. The call's TURN allocations die
// with the old process's TURN socket, so the app restarts ICE through the new process's TURN
// server, its signaling reaching the old room through the new process: remote video plays
// again in both tabs within upgradeTabGapBound (the stop is logged), and chat works both ways.
func TestBrowserCallSurvivesUpgrade(t *testing.T) {
	requireApp(t)
	bin := fleettest.Build(t)
	addr := fleettest.FreePort(t)
	cmd := exec.Command(bin, "serve", "--http", addr, "--turn", fleettest.FreePort(t), "--public-ip", "127.0.0.1",
		"--turn-allow-loopback", "--turn-secret", "upgrade-secret", "--relay-ports", upgradeRelayPorts,
		"--turn-self-test", "0", "--sfu-addr", "127.0.0.1:0", "--limit-join", "0", "--limit-turn", "0", "--limit-ws", "0", "--log-format", "json")
	// A pipe of the test's own: the new process writes to it too, after the old one exited.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	var newPID int
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if newPID != 0 {
			syscall.Kill(newPID, syscall.SIGKILL)
		}
		r.Close()
	})
	fleettest.WaitLine(t, lines, `"msg":"serving"`)

	browser := newBrowser(t)
	a, b := newTab(t, browser, "tab A"), newTab(t, browser, "tab B")
	room := "http://" + addr + "/r/browser-upgrade?it=relay"
	a.joinRoom(room)
	a.waitFor("A waiting", `document.getElementById("room").dataset.state === "waiting"`, 15*time.Second)
	b.joinRoom(room)
	tabs := []*tab{a, b}
	for _, tb := range tabs {
		tb.waitRemoteVideo(30 * time.Second)
		tb.watchVideo()
		if p := tb.pair(); p.LocalType != "relay" || p.RemoteType != "relay" {
			t.Fatalf("%s: selected pair %+v, want relay → relay", tb.name, p)
		}
		tb.click("#chat-button")
	}
	chatBothWays(a, b, "before the upgrade")

	marks := make([]int, len(tabs))
	for i, tb := range tabs {
		tb.resetVideoWatch()
		marks[i] = tb.videoWatch().Grows
	}
	if err := cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	newPID = waitPID(t, lines)
	for i, tb := range tabs {
		testsync.Eventually(t, 30*time.Second, tb.name+"'s remote video after the upgrade", func() bool {
			w := tb.videoWatch()
			return w.Grows > marks[i]+20 && w.Longest > 0
		})
	}
	for _, tb := range tabs {
		w := tb.videoWatch()
		gap := time.Duration(w.Longest * float64(time.Millisecond))
		t.Logf("%s: longest stop of remote video %v after the upgrade, back through %s", tb.name, gap.Round(time.Millisecond), w.mechanism())
		how := "switch"
		if w.NewPCs > 0 || w.Restarts > 0 {
			how = "restart"
		}
		t.Logf("restart-sample browser %s video_gap_ms=%d", how, gap.Milliseconds()) // for scripts/bench-restart
		if gap > upgradeTabGapBound {
			t.Errorf("%s: remote video stopped for %v after the upgrade, bound %v", tb.name, gap, upgradeTabGapBound)
		}
	}
	chatBothWays(a, b, "after the upgrade")
	select {
	case <-exited:
		t.Fatal("the old process exited while it held the call")
	default:
	}
}

var pidField = regexp.MustCompile(`"msg":"upgrade: the new process serves","pid":(\d+)`)

// waitPID waits for the old process's log line naming the new process and returns its pid.
func waitPID(t *testing.T, lines <-chan string) int {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l := <-lines:
			if m := pidField.FindStringSubmatch(l); m != nil {
				pid, _ := strconv.Atoi(m[1])
				return pid
			}
		case <-timeout:
			t.Fatal("no new process serving within 30 s of SIGUSR2")
		}
	}
}
