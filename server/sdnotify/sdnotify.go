// Package sdnotify tells systemd how a Type=notify service is doing: it writes the
// sd_notify(3) messages (READY=1, STOPPING=1, EXTEND_TIMEOUT_USEC=, MAINPID=) as datagrams to
// the unix socket systemd names in $NOTIFY_SOCKET. Outside systemd it does nothing.
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// EnvSocket is the variable in which systemd names its notification socket.
const EnvSocket = "NOTIFY_SOCKET"

// Notifier sends to one notification socket. The nil Notifier sends nothing, so callers need
// not ask whether they run under systemd.
type Notifier struct {
	addr *net.UnixAddr
}

// FromEnv returns the Notifier of $NOTIFY_SOCKET, or nil when it is unset (not run by systemd,
// or a unit that is not Type=notify). An abstract socket ("@name") works as is: Go maps the
// leading @ to the abstract namespace.
func FromEnv() *Notifier {
	path := os.Getenv(EnvSocket)
	if path == "" {
		return nil
	}
	return New(path)
}

// New returns a Notifier for the socket at path.
func New(path string) *Notifier {
	return &Notifier{addr: &net.UnixAddr{Name: path, Net: "unixgram"}}
}

// Send writes one notification of states ("KEY=value" lines) in one datagram.
func (n *Notifier) Send(states ...string) error {
	if n == nil {
		return nil
	}
	for _, s := range states {
		if strings.ContainsRune(s, '\n') || !strings.Contains(s, "=") {
			return fmt.Errorf("sd_notify: %q is not one KEY=value line", s)
		}
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sd_notify to %s: %w", n.addr.Name, err)
	}
	defer conn.Close()
	msg := strings.Join(states, "\n")
	if _, err := conn.Write([]byte(msg)); err != nil {
		return fmt.Errorf("sd_notify to %s: %w", n.addr.Name, err)
	}
	return nil
}

// Ready says the service is serving.
func (n *Notifier) Ready() error { return n.Send("READY=1") }

// Stopping says the service is stopping and may take up to within from now: systemd then
// waits that long before it kills the service, or TimeoutStopSec if that is longer (an
// extension never shortens the timeout).
func (n *Notifier) Stopping(within time.Duration) error {
	if within <= 0 {
		return errors.New("sd_notify: a stop needs a positive time")
	}
	return n.Send("STOPPING=1", fmt.Sprintf("EXTEND_TIMEOUT_USEC=%d", within.Microseconds()))
}

// MainPID tells systemd that pid is now the service's main process (after a hand-over to a
// new process; the unit needs NotifyAccess=all for the new process's messages), and that it
// is ready.
func (n *Notifier) MainPID(pid int) error {
	return n.Send(fmt.Sprintf("MAINPID=%d", pid), "READY=1")
}
