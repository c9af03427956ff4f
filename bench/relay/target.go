package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/onertc/onertc/bench/proc"
	"github.com/onertc/onertc/protocol"
)

// target is a relay implementation the benchmark can start: onertc's own binary, as users
// run it, or the original AppRTC Collider.
type target struct {
	name string
	bin  string
	// args returns the command line that serves on port.
	args func(port int) []string
	// join makes a client of room known to the server, when the server has a room table
	// of its own, and returns the id to register with; want is the id a server without
	// one is given.
	join func(addr, room, want string) (string, error)
	// redisServer, when set, is the redis-server the target keeps its state in: a fresh one
	// is started for every run, not on the server's CPU but on the load generator's (whose
	// affinity it inherits), as Redis would run on a machine of its own; its CPU counts as
	// the server's.
	redisServer string
	// histogram reads the relay's own delivery-latency histogram (nil: the target has none).
	histogram func(addr string) (histogram, error)
}

func onertcTarget(bin string) target {
	// A build with group rooms opens the SFU's port unless told not to; an older one (a
	// "before" binary of bench/relay/before-after) refuses the flag.
	var noSFU []string
	if out, _ := exec.Command(bin, "serve", "-help").CombinedOutput(); strings.Contains(string(out), "-sfu-addr") {
		noSFU = []string{"-sfu-addr", ""}
	}
	return target{
		name: "onertc",
		bin:  bin,
		args: func(port int) []string {
			// Rate limits and socket caps are lifted: every load client comes from
			// 127.0.0.1 and sends far more than a person does.
			args := []string{"serve", "-http", "127.0.0.1:" + strconv.Itoa(port), "-turn-disable",
				"-relay-rate", "1000000", "-max-sockets", "0", "-max-sockets-per-ip", "0",
				"-limit-join", "0", "-limit-message", "0", "-limit-turn", "0", "-limit-ws", "0",
				"-relay-grace", "1m", "-log-level", "error"}
			return append(args, noSFU...)
		},
		join:      joinOnertc,
		histogram: deliveryHistogram,
	}
}

func colliderTarget(bin string) target {
	return target{
		name: "Collider",
		bin:  bin,
		args: func(port int) []string {
			// Nothing listens on the room server address: the Collider only calls it
			// when a client leaves.
			return []string{"-tls=false", "-port=" + strconv.Itoa(port), "-room-server=http://127.0.0.1:1"}
		},
		join: func(_, _, want string) (string, error) { return want, nil },
	}
}

var httpClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}

func joinOnertc(addr, room, _ string) (string, error) {
	resp, err := httpClient.Post("http://"+addr+"/join/"+room, "text/plain", nil)
	if err != nil {
		return "", fmt.Errorf("join %s: %w", room, err)
	}
	defer resp.Body.Close()
	var j protocol.JoinResponse
	if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
		return "", fmt.Errorf("join %s: %w", room, err)
	}
	if j.Result != protocol.ResultSuccess {
		return "", fmt.Errorf("join %s: %s", room, j.Result)
	}
	return j.Params.ClientID, nil
}

// onertcRedisTarget is onertc with its state in Redis (--redis), as several instances run.
func onertcRedisTarget(bin, redisServer string) target {
	t := onertcTarget(bin)
	t.name, t.redisServer = "onertc on Redis", redisServer
	return t
}

// process is one running server, pinned to a CPU when cpu >= 0, and the redis-server it
// keeps its state in, if any.
type process struct {
	cmd   *exec.Cmd
	redis *exec.Cmd
	addr  string
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// pinned is the command line of bin run on cpu (all CPUs when cpu < 0).
func pinned(cpu int, bin string, args ...string) *exec.Cmd {
	if cpu >= 0 {
		return exec.Command("taskset", append([]string{"-c", strconv.Itoa(cpu), bin}, args...)...)
	}
	return exec.Command(bin, args...)
}

// waitListening waits until addr accepts connections, for 20 s at most.
func waitListening(name, addr string) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not listen on %s: %w", name, addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (t target) start(cpu int, extra ...string) (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("free port: %w", err)
	}
	p := &process{addr: "127.0.0.1:" + strconv.Itoa(port)}
	args := append(t.args(port), extra...)
	if t.redisServer != "" {
		rport, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		raddr := "127.0.0.1:" + strconv.Itoa(rport)
		p.redis = pinned(-1, t.redisServer, "--bind", "127.0.0.1", "--port", strconv.Itoa(rport),
			"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "", "--protected-mode", "no")
		p.redis.Stdout, p.redis.Stderr = io.Discard, io.Discard
		if err := p.redis.Start(); err != nil {
			return nil, fmt.Errorf("start %s: %w", t.redisServer, err)
		}
		if err := waitListening("redis-server", raddr); err != nil {
			p.stop()
			return nil, err
		}
		args = append(args, "-redis", "redis://"+raddr)
	}
	cmd := pinned(cpu, t.bin, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if t.name == "Collider" {
		cmd.Stderr = io.Discard // it logs every register
	}
	if err := cmd.Start(); err != nil {
		p.stop()
		return nil, fmt.Errorf("start %s: %w", t.name, err)
	}
	p.cmd = cmd
	if err := waitListening(t.name, p.addr); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

func (p *process) stop() {
	for _, c := range []*exec.Cmd{p.cmd, p.redis} {
		if c != nil {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
}

// cpuMicros is the server's user+system CPU time so far, its redis-server's included, from
// /proc/PID/stat (clock ticks of 10 ms; taskset execs the server, so the PID is the
// server's).
func (p *process) cpuMicros() (uint64, error) {
	var total uint64
	for _, c := range []*exec.Cmd{p.cmd, p.redis} {
		if c == nil {
			continue
		}
		us, err := proc.CPUMicros(c.Process.Pid)
		if err != nil {
			return 0, err
		}
		total += us
	}
	return total, nil
}

// rssBytes is the server's resident set.
func (p *process) rssBytes() (uint64, error) { return proc.RSSBytes(p.cmd.Process.Pid) }
