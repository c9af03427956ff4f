package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/onertc/onertc/bench/proc"
)

// target is a server the benchmark starts afresh for every run: how to start it, the
// protocol its clients speak, and its own count of forwarded packets when it has one.
type target struct {
	name  string
	bin   string
	proto Protocol
	// args is the command line that serves HTTP on httpPort and media on udpPort, with any
	// state in dir (a fresh directory per run, removed when the server stops).
	args func(dir string, httpPort, udpPort int) []string
	// setup prepares dir before the server starts (nil: nothing to prepare).
	setup func(dir string) error
	// forwarded reads the server's own count of packets sent to subscribers (nil: the
	// server exposes none).
	forwarded func(ctx context.Context, addr string) (uint64, error)
}

// onertcTarget runs bin's serve command; extra flags go after the benchmark's own, so they
// can add to them (-pprof, to profile the server under load) or override one.
func onertcTarget(bin string, extra []string) target {
	return target{
		name:  "onertc",
		bin:   bin,
		proto: onertcProtocol{},
		args: func(_ string, httpPort, udpPort int) []string {
			// Rate limits lifted: every load participant comes from 127.0.0.1.
			args := []string{"serve", "-http", "127.0.0.1:" + strconv.Itoa(httpPort), "-turn-disable",
				"-sfu-addr", "127.0.0.1:" + strconv.Itoa(udpPort), "-public-ip", "127.0.0.1", "-room-size", "8",
				"-limit-join", "0", "-limit-message", "0", "-limit-turn", "0", "-limit-ws", "0",
				"-max-sockets-per-ip", "0", "-log-level", "error"}
			return append(args, extra...)
		},
		forwarded: metricCounter("onertc_sfu_forwarded_packets_total"),
	}
}

// metricCounter reads one counter from the server's /metrics.
func metricCounter(name string) func(ctx context.Context, addr string) (uint64, error) {
	return func(ctx context.Context, addr string) (uint64, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
		if err != nil {
			return 0, err
		}
		resp, err := benchHTTP.Do(req)
		if err != nil {
			return 0, fmt.Errorf("/metrics: %w", err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				return uint64(f), err
			}
		}
		if err := sc.Err(); err != nil {
			return 0, fmt.Errorf("/metrics: %w", err)
		}
		return 0, fmt.Errorf("/metrics has no %s", name)
	}
}

// galeneTarget is Galène (github.com/jech/galene, built with its own build script, see
// RESULTS.md) on plain HTTP, its WebRTC media on one UDP port (a mux), its TURN server off,
// with one group whose automatic subgroups are the rooms, any username admitted with the
// right to publish.
func galeneTarget(bin string) target {
	return target{
		name:  "Galène",
		bin:   bin,
		proto: galeneProtocol{},
		setup: func(dir string) error {
			for _, d := range []string{"groups", "data", "static", "recordings"} {
				if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
					return err
				}
			}
			group := `{"wildcard-user": {"password": {"type": "wildcard"}, "permissions": "present"}, "auto-subgroups": true}`
			return os.WriteFile(filepath.Join(dir, "groups", galeneGroup+".json"), []byte(group), 0o644)
		},
		args: func(dir string, httpPort, udpPort int) []string {
			return []string{"-insecure", "-http", "127.0.0.1:" + strconv.Itoa(httpPort), "-turn", "",
				"-udp-range", strconv.Itoa(udpPort), "-groups", filepath.Join(dir, "groups"),
				"-data", filepath.Join(dir, "data"), "-static", filepath.Join(dir, "static"),
				"-recordings", filepath.Join(dir, "recordings")}
		},
	}
}

// process is one running server.
type process struct {
	cmd    *exec.Cmd
	addr   string
	dir    string
	exited chan error // cmd.Wait's result, once the server is gone
}

func freePort(network string) (int, error) {
	if network == "udp" {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// start runs the target on cpu (taskset; -1: not pinned) and waits until it listens.
func (t target) start(cpu int) (*process, error) {
	hp, err := freePort("tcp")
	if err != nil {
		return nil, fmt.Errorf("free port: %w", err)
	}
	up, err := freePort("udp")
	if err != nil {
		return nil, fmt.Errorf("free port: %w", err)
	}
	dir, err := os.MkdirTemp("", "sfubench-")
	if err != nil {
		return nil, err
	}
	if t.setup != nil {
		if err := t.setup(dir); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("%s setup: %w", t.name, err)
		}
	}
	args := t.args(dir, hp, up)
	var cmd *exec.Cmd
	if cpu >= 0 {
		cmd = exec.Command("taskset", append([]string{"-c", strconv.Itoa(cpu), t.bin}, args...)...)
	} else {
		cmd = exec.Command(t.bin, args...)
	}
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	// A benchmark killed midway leaves no server behind (taskset execs it, keeping this).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", t.name, err)
	}
	p := &process{cmd: cmd, addr: "127.0.0.1:" + strconv.Itoa(hp), dir: dir, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			c.Close()
			return p, nil
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s did not listen on %s: %w", t.name, p.addr, err)
		}
		select {
		case err := <-p.exited:
			p.exited <- err
			p.stop()
			return nil, fmt.Errorf("%s exited before listening: %v", t.name, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (p *process) stop() {
	_ = p.cmd.Process.Kill()
	<-p.exited
	if err := os.RemoveAll(p.dir); err != nil {
		log.Printf("removing %s: %v", p.dir, err)
	}
}

// cpuMicros is the server's user+system CPU time so far from /proc/PID/stat (clock ticks
// of 10 ms; taskset execs the server, so the PID is the server's).
func (p *process) cpuMicros() (uint64, error) { return p.cpuMicrosOf(p.cmd.Process.Pid) }

func (p *process) cpuMicrosOf(pid int) (uint64, error) { return proc.CPUMicros(pid) }

// rssBytes is the server's resident set.
func (p *process) rssBytes() (uint64, error) { return proc.RSSBytes(p.cmd.Process.Pid) }

// udpRcvbufErrors is the host's count of UDP datagrams dropped for a full socket receive
// buffer (/proc/net/snmp): the server's and the load generator's sockets alike, and any
// other process's on the machine.
func udpRcvbufErrors() (uint64, error) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, err
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "RcvbufErrors" && i < len(f) {
				return strconv.ParseUint(f[i], 10, 64)
			}
		}
	}
	return 0, errors.New("/proc/net/snmp: no Udp RcvbufErrors")
}
