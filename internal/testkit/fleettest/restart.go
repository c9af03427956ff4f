package fleettest

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/testsync"
)

// Terminate sends SIGTERM, as systemd's stop does; the channel it returns gets the exit
// error (nil for status 0) once the process has exited.
func (in *Instance) Terminate(t testing.TB) <-chan error {
	t.Helper()
	if err := in.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM %s: %v", in.Addr, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- in.Cmd.Wait() }()
	return exited
}

// Stop is a way of stopping an instance, as the failover tests do it.
type Stop struct {
	Name string // the subtest's name: SIGKILL, SIGTERM
	How  string // in the tests' sample lines: sigkill, sigterm
	// Stop stops the instance and returns what waits for its process to be gone (a drained
	// instance must exit cleanly within a minute).
	Stop func(t *testing.T, in *Instance) (exited func())
}

// Stops are SIGKILL (a crash: the process is gone at once) and SIGTERM (a drain).
var Stops = []Stop{
	{"SIGKILL", "sigkill", func(t *testing.T, in *Instance) func() {
		in.Kill(t)
		return func() {}
	}},
	{"SIGTERM", "sigterm", func(t *testing.T, in *Instance) func() {
		exited := in.Terminate(t)
		return func() {
			t.Helper()
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("the drained instance exited with %v", err)
				}
			case <-time.After(time.Minute):
				t.Fatal("the drained instance did not exit within a minute")
			}
		}
	}},
}

// Restart runs the instance's command again, on the same addresses, once the old process
// has exited; it returns when the new one serves. The cleanup Start registered kills it at
// the end of the test, in Start's place among the cleanups.
func (in *Instance) Restart(t testing.TB) {
	t.Helper()
	*in = *run(t, in.Addr, in.bin, in.args)
}

// WaitBalanced returns once lb sends requests to in again (lb's health check has seen it
// ready): requests to lb's /healthz go round robin, and in counts those it answered.
func (in *Instance) WaitBalanced(t testing.TB, lb *Instance) {
	t.Helper()
	testsync.Eventually(t, 15*time.Second, "the balancer sending requests to "+in.Addr, func() bool {
		if resp, err := http.Get("http://" + lb.Addr + "/healthz"); err == nil {
			resp.Body.Close()
		}
		return in.answered(t, "GET /healthz")
	})
}

// answered reports whether the instance answered a request of route with 200, from its
// /metrics (a labelled counter appears once it counted one).
func (in *Instance) answered(t testing.TB, route string) bool {
	t.Helper()
	return in.scanMetrics(t, func(line string) bool {
		return strings.HasPrefix(line, `onertc_http_requests_total{code="200",route="`+route+`"}`)
	})
}
