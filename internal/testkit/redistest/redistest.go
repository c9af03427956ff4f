// Package redistest runs a real redis-server (or Valkey, or a Redis Cluster) on free loopback
// ports in a temporary directory for one test, so the Redis-backed room table and relay
// state are tested against the servers they run on in production, restarts and outages
// included.
package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is one redis-server process (or, between Stop and Start, the port it will take
// again).
type Server struct {
	// Addr is 127.0.0.1:port; it stays the same across Stop and Start.
	Addr string
	dir  string
	// bin is the server's program; extra are further arguments (cluster mode).
	bin   string
	extra []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	log    *bytes.Buffer
}

// URL is the redis:// URL of the server.
func (s *Server) URL() string { return "redis://" + s.Addr }

// Start runs a redis-server for t and stops it when t ends. The test fails (it never
// skips) when redis-server is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server not found (%v): install redis-server (make deps)", err)
	}
	return start(t, "redis-server", false)
}

// StartValkey runs a Valkey server instead, the one in PATH or the one make deps unpacks
// into bin/valkey (scripts/need-valkey); the test fails when there is none.
func StartValkey(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("valkey-server")
	if err != nil {
		bin, err = repoValkey()
	}
	if err != nil {
		t.Fatalf("valkey-server not found (%v): run make deps (scripts/need-valkey)", err)
	}
	return start(t, bin, false)
}

// repoValkey is bin/valkey/usr/bin/valkey-server of the module this test runs in.
func repoValkey() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			bin := filepath.Join(dir, "bin", "valkey", "usr", "bin", "valkey-server")
			if _, err := os.Stat(bin); err != nil {
				return "", err
			}
			return bin, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
}

func start(t testing.TB, bin string, cluster bool) *Server {
	t.Helper()
	s := &Server{dir: t.TempDir(), bin: bin}
	if cluster {
		s.extra = []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"}
	}
	var err error
	// A free port can be taken between our probe and redis-server's bind: try again then.
	for range 20 {
		var port int
		if port, err = freePort(cluster); err != nil {
			t.Fatalf("probe a free port: %v", err)
		}
		s.Addr = "127.0.0.1:" + strconv.Itoa(port)
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

// freePort finds a free loopback port; for a cluster node, one whose cluster bus port (the
// port + 10000) is free too.
func freePort(cluster bool) (int, error) {
	for {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !cluster {
			return port, nil
		}
		if port+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(port+10000))
		if err != nil {
			continue
		}
		bus.Close()
		return port, nil
	}
}

// Cluster is a Redis Cluster of real redis-server processes, every slot served, no replicas.
type Cluster struct {
	Nodes []*Server
}

// Addrs are the nodes' addresses, for a cluster client.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Addr)
	}
	return out
}

// StartCluster runs a Redis Cluster of n masters (redis-cli --cluster create) for t and
// stops it when t ends. The test fails when redis-server or redis-cli is missing.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatalf("redis-cli not found (%v): install redis-server (make deps)", err)
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server not found (%v): install redis-server (make deps)", err)
	}
	c := &Cluster{}
	for range n {
		c.Nodes = append(c.Nodes, start(t, "redis-server", true))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v: %s", err, out)
	}
	// Every node must agree the cluster is whole before a client may rely on it.
	deadline := time.Now().Add(20 * time.Second)
	for _, node := range c.Nodes {
		host, port, _ := net.SplitHostPort(node.Addr)
		for {
			out, err := exec.Command("redis-cli", "-h", host, "-p", port, "cluster", "info").Output()
			if err == nil && bytes.Contains(out, []byte("cluster_state:ok")) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster node %s not ready within 20 s: %v %s", node.Addr, err, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return c
}

// Start runs the server again on its port after Stop (an outage ends).
func (s *Server) Start() error { return s.start() }

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return fmt.Errorf("%s on %s is already running", filepath.Base(s.bin), s.Addr)
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	s.log = &bytes.Buffer{}
	args := append([]string{
		"--bind", "127.0.0.1", "--port", port, "--dir", s.dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no",
		"--logfile", "", "--protected-mode", "no"}, s.extra...)
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s on %s: %w", filepath.Base(s.bin), s.Addr, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ping(s.Addr) == nil {
			s.cmd, s.exited = cmd, exited
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s on %s exited at start: %s", filepath.Base(s.bin), s.Addr, strings.TrimSpace(s.log.String()))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("%s on %s did not answer PING within 10 s: %s", filepath.Base(s.bin), s.Addr, s.log.String())
		}
	}
}

// Stop ends the server (SIGKILL: an outage, not a clean shutdown; nothing is persisted
// anyway). Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited // the port is free again once the process is gone
	s.cmd = nil
}

// Pause freezes the server (SIGSTOP): clients time out as in an outage, and its data is
// still there on Resume.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume ends a Pause (SIGCONT).
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(sig)
	}
}

// Pid is the process id of the running server (0 when stopped).
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// ping sends an inline PING and checks for +PONG, without a client library, so this
// package depends on nothing.
func ping(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp4", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 7)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if got := string(buf[:n]); !strings.HasPrefix(got, "+PONG") {
		return fmt.Errorf("PING answered %s", strconv.Quote(got))
	}
	return nil
}
