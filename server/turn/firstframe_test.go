package turn

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// TestFirstFrameTimeout: a TCP or TLS connection that sends nothing is closed once
// FirstFrameTimeout passes (for TLS, the handshake never starts); one that allocated stays
// open while it idles past it.
func TestFirstFrameTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	ts := startServer(t, func(c *Config) { c.FirstFrameTimeout = timeout })
	for _, tc := range []struct{ name, addr string }{{"tcp", ts.tcp}, {"tls", ts.tls}} {
		t.Run(tc.name+" silent", func(t *testing.T) {
			c, err := net.Dial("tcp4", tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			_ = c.SetReadDeadline(start.Add(10 * time.Second))
			_, err = c.Read(make([]byte, 1))
			if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("silent %s connection still open after %v (%v)", tc.name, time.Since(start), err)
			}
		})
		t.Run(tc.name+" allocated then idle", func(t *testing.T) {
			user, pass := Mint(testSecret, "idle", time.Hour, time.Now())
			cl, _, _ := ts.pionClient(t, tc.name, user, pass)
			idle := time.NewTimer(3 * timeout) // the point of the test: outlast the first-frame deadline
			<-idle.C
			to, err := net.ResolveTCPAddr("tcp4", tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cl.SendBindingRequestTo(to); err != nil {
				t.Fatalf("%s connection that sent its first message was closed while idle: %v", tc.name, err)
			}
		})
	}
}
