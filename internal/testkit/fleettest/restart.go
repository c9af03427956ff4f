package fleettest

import (
	"bufio"
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

// Restart runs the instance's command again, on the same addresses, once the old process
// has exited; it returns when the new one serves.
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
	resp, err := http.Get("http://" + in.Addr + "/metrics")
	if err != nil {
		t.Fatalf("metrics of %s: %v", in.Addr, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), `onertc_http_requests_total{code="200",route="`+route+`"}`) {
			return true
		}
	}
	return false
}
