package sdnotify

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listen is a systemd stand-in: a unixgram socket that returns each datagram it receives.
func listen(t *testing.T, path string) func() string {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return func() string {
		t.Helper()
		buf := make([]byte, 4096)
		if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(buf[:n])
	}
}

func TestNotifications(t *testing.T) {
	for _, tt := range []struct {
		name string
		path func(t *testing.T) string
	}{
		{"socket file", func(t *testing.T) string { return filepath.Join(t.TempDir(), "notify") }},
		// systemd's own socket is abstract: @ stands for the leading NUL.
		{"abstract socket", func(t *testing.T) string { return "@onertc-sdnotify-test-" + filepath.Base(t.TempDir()) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path(t)
			recv := listen(t, path)
			t.Setenv(EnvSocket, path)
			n := FromEnv()
			for _, step := range []struct {
				send func() error
				want string
			}{
				{n.Ready, "READY=1"},
				{func() error { return n.Stopping(47*time.Second + 500*time.Millisecond) }, "STOPPING=1\nEXTEND_TIMEOUT_USEC=47500000"},
				{func() error { return n.MainPID(4242) }, "MAINPID=4242\nREADY=1"},
			} {
				if err := step.send(); err != nil {
					t.Fatal(err)
				}
				if got := recv(); got != step.want {
					t.Fatalf("datagram %q, want %q", got, step.want)
				}
			}
		})
	}
}

// Outside systemd nothing is sent and nothing fails; a bad message or a socket that is gone
// is an error, not silence.
func TestNoSocketAndErrors(t *testing.T) {
	t.Setenv(EnvSocket, "")
	if n := FromEnv(); n != nil {
		t.Fatalf("FromEnv without %s = %v, want nil", EnvSocket, n)
	}
	var none *Notifier
	if err := none.Ready(); err != nil {
		t.Fatalf("nil Notifier: %v", err)
	}
	n := New(filepath.Join(t.TempDir(), "nobody-listens"))
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"socket gone", n.Ready(), "nobody-listens"},
		{"two lines in one state", n.Send("STATUS=a\nb"), "not one KEY=value line"},
		{"no key", n.Send("READY"), "not one KEY=value line"},
		{"no time to stop", n.Stopping(0), "positive"},
	} {
		if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, tt.err, tt.want)
		}
	}
}
