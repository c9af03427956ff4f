package fleettest

import (
	"syscall"
	"testing"
)

// TestRestartedInstanceLivesThroughLaterCleanups: what a test starts after an instance
// (bots, tabs) is cleaned up while the instance still runs, even when the test restarted the
// instance after starting them.
func TestRestartedInstanceLivesThroughLaterCleanups(t *testing.T) {
	// A stand-in for onertc: says it serves, then waits.
	args := []string{"-c", `echo '{"msg":"serving"}' >&2; exec sleep 60`}
	alive := func(in *Instance) bool { return in.Cmd.Process.Signal(syscall.Signal(0)) == nil }
	var in *Instance
	var aliveAtClientCleanup bool
	t.Run("test", func(t *testing.T) {
		in = start(t, "127.0.0.1:0", "/bin/sh", args)
		// A client started on the instance, before the test restarts it.
		t.Cleanup(func() { aliveAtClientCleanup = alive(in) })
		in.Kill(t)
		in.Restart(t)
	})
	if !aliveAtClientCleanup {
		t.Error("the restarted instance was gone when the cleanup of a client started before the restart ran")
	}
	if alive(in) {
		t.Error("the restarted instance outlived its test")
	}
}
