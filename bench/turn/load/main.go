// Command load drives a TURN server on 127.0.0.1 with pion/turn's client, for
// bench/turn/run.sh. Three subcommands:
//
//	load alloc  -server S -pid PID ...   allocations/s: N workers Allocate then close, for a while
//	load relay  -server S -pid PID ...   relay saturation: allocation pairs at rising offered rates
//	load report -in FILE                 the markdown tables of the results appended to FILE
//
// alloc and relay append one JSON line per result to -out; they sample the server's CPU and
// RSS from /proc/PID and the kernel's UDP receive-buffer drops while they run.
package main

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/pion/logging"
	pionturn "github.com/pion/turn/v2"

	"github.com/onertc/onertc/server/turn"
)

// common are the flags every load subcommand shares.
type common struct {
	server string // label: coturn, onertc
	addr   string // TURN server host:port
	secret string
	realm  string
	pid    int // server process, for CPU and RSS
	out    string
	// transport is udp, tcp, or tls: TURN over TLS with no ALPN, as browsers connect on turns:
	// (to the HTTPS port shared with TURN, that is the path through its first-byte peek).
	transport string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.server, "server", "", "label of the server under test (coturn, onertc)")
	fs.StringVar(&c.addr, "addr", "127.0.0.1:3478", "TURN server address (UDP)")
	fs.StringVar(&c.secret, "secret", "", "use-auth-secret shared secret")
	fs.StringVar(&c.realm, "realm", "bench", "realm")
	fs.IntVar(&c.pid, "pid", 0, "server process id (CPU and RSS from /proc)")
	fs.StringVar(&c.out, "out", "", "append JSON results to this file (default stdout)")
	fs.StringVar(&c.transport, "transport", "udp", "udp, tcp, or tls (TURN over TLS without ALPN, as browsers send; the certificate is not checked); the relayed side is UDP in all three")
}

// credentials mints REST credentials valid for an hour, as coTurn's use-auth-secret wants.
func (c *common) credentials() (user, pass string) {
	return turn.Mint(c.secret, "load", time.Hour, time.Now())
}

// dial opens the client socket of one allocation: a UDP socket, or a TCP or TLS connection
// framed by streamConn.
func (c *common) dial() (net.PacketConn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	switch c.transport {
	case "udp": // read by the event loop (loop.add), not through ReadFrom
		ua, err := net.ResolveUDPAddr("udp4", c.addr)
		if err != nil {
			return nil, fmt.Errorf("TURN server %s: %w", c.addr, err)
		}
		s, err := newUDPSock()
		if err != nil {
			return nil, err
		}
		if err := s.connect(ua); err != nil {
			_ = s.Close()
			return nil, err
		}
		return s, nil
	case "tcp":
		tc, err := d.Dial("tcp4", c.addr)
		if err != nil {
			return nil, fmt.Errorf("TURN over TCP to %s: %w", c.addr, err)
		}
		return newStreamConn(tc), nil
	case "tls":
		tc, err := tls.DialWithDialer(d, "tcp4", c.addr, &tls.Config{InsecureSkipVerify: true}) // a benchmark of the relay, not of the CA
		if err != nil {
			return nil, fmt.Errorf("TURN over TLS to %s: %w", c.addr, err)
		}
		return newStreamConn(tc), nil
	}
	return nil, fmt.Errorf("-transport %q: want udp, tcp or tls", c.transport)
}

// clientConfig is the pion client configuration for the server under test; the caller adds
// the socket.
func (c *common) clientConfig(user, pass string) *pionturn.ClientConfig {
	return &pionturn.ClientConfig{
		TURNServerAddr: c.addr,
		Username:       user,
		Password:       pass,
		Realm:          c.realm,
		LoggerFactory:  quietLogs,
	}
}

var quietLogs = func() logging.LoggerFactory {
	f := logging.NewDefaultLoggerFactory()
	f.DefaultLogLevel = logging.LogLevelDisabled
	return f
}()

// emit appends one result as a JSON line.
func (c *common) emit(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if c.out == "" {
		_, err = os.Stdout.Write(b)
		return err
	}
	f, err := os.OpenFile(c.out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: load alloc|relay|https|httpsreport|report|matrix [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "alloc":
		err = runAlloc(os.Args[2:])
	case "relay":
		err = runRelay(os.Args[2:])
	case "https":
		err = runHTTPS(os.Args[2:])
	case "httpsreport":
		err = runHTTPSReport(os.Args[2:])
	case "matrix":
		err = runMatrix(os.Args[2:])
	case "report":
		err = runReport(os.Args[2:])
	default:
		err = errors.New("unknown subcommand " + os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}
