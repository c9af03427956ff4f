//go:build !js

package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testsync"
	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/redistest"
)

// The load-balancer examples of README.md's "Several instances" are what these tests run:
// each is read out of the README, its listen address and its three backend addresses
// replaced by the test's, so the README cannot show a configuration that was not tested.
const (
	readmePath    = "../../../README.md"
	readmeSection = "\n## Several instances\n"
)

// readmeBackends are the example's instance addresses, replaced in order by the test's.
var readmeBackends = []string{"10.0.0.11:8080", "10.0.0.12:8080", "10.0.0.13:8080"}

// balancer is one load balancer run from its README example by the Debian package's binary.
type balancer struct {
	name     string // the Debian package that installs it
	bin      string // Debian puts both in /usr/sbin, off a user's PATH
	fence    string // the README code block's language
	listen   string // the example's listen directive
	listenAt string // the test's, a format taking the address
	// command writes what else the example needs into dir and returns the arguments.
	command func(t *testing.T, dir, configPath string) []string
}

var haproxy = balancer{
	name: "haproxy", bin: "/usr/sbin/haproxy", fence: "haproxy",
	listen: "bind :80", listenAt: "bind %s",
	// -db: stay in the foreground. The example needs nothing else to run unprivileged.
	command: func(_ *testing.T, _, configPath string) []string { return []string{"-db", "-f", configPath} },
}

var nginx = balancer{
	name: "nginx", bin: "/usr/sbin/nginx", fence: "nginx",
	listen: "listen 80;", listenAt: "listen %s;",
	command: func(t *testing.T, dir, configPath string) []string {
		// The README's example is an http-context file (as in /etc/nginx/conf.d/); the main
		// file around it keeps everything nginx writes in dir, so no root is needed. One
		// process (master_process off) so that killing it leaves no worker behind.
		main := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
lock_file %[1]s/nginx.lock;
error_log %[1]s/error.log info;
events { worker_connections 1024; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[2]s;
}
`, dir, configPath)
		mainPath := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(mainPath, []byte(main), 0o600); err != nil {
			t.Fatal(err)
		}
		// -e: errors before the configuration is read go to stderr, not /var/log/nginx.
		return []string{"-p", dir, "-c", mainPath, "-e", "stderr"}
	},
}

// readmeExample returns the README's "Several instances" code block fenced as lang.
func readmeExample(t *testing.T, lang string) string {
	t.Helper()
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatalf("read the README: %v", err)
	}
	_, section, ok := strings.Cut(string(readme), readmeSection)
	if !ok {
		t.Fatalf("README.md has no section %q", strings.TrimSpace(readmeSection))
	}
	section, _, _ = strings.Cut(section, "\n## ")
	_, block, ok := strings.Cut(section, "\n```"+lang+"\n")
	if !ok {
		t.Fatalf("README.md's %q section has no ```%s block", strings.TrimSpace(readmeSection), lang)
	}
	block, _, ok = strings.Cut(block, "\n```\n")
	if !ok {
		t.Fatalf("README.md's ```%s block is not closed", lang)
	}
	return block + "\n"
}

// substitute replaces each old string of pairs (old, new, old, new…), which must occur in
// example exactly once: an example that changed shape fails here, never runs half-replaced.
func substitute(t *testing.T, example string, pairs ...string) string {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		if n := strings.Count(example, pairs[i]); n != 1 {
			t.Fatalf("the README example holds %q %d times, want once:\n%s", pairs[i], n, example)
		}
		example = strings.Replace(example, pairs[i], pairs[i+1], 1)
	}
	return example
}

// require fails the test, naming the package to install, when the balancer is missing.
func (b balancer) require(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(b.bin); err != nil {
		t.Fatalf("%s not found (%v): install the Debian package %s (make deps)", b.bin, err, b.name)
	}
}

// start runs the balancer's README example in front of backends (as many as the example
// has) and returns it once it serves the instances' /readyz.
func (b balancer) start(t *testing.T, backends []*instance) *instance {
	t.Helper()
	b.require(t)
	if len(backends) != len(readmeBackends) {
		t.Fatalf("the README example has %d backends, the test %d", len(readmeBackends), len(backends))
	}
	addr := freePort(t)
	pairs := []string{b.listen, fmt.Sprintf(b.listenAt, addr)}
	for i, in := range backends {
		pairs = append(pairs, readmeBackends[i], in.addr)
	}
	dir := t.TempDir()
	configPath := filepath.Join(dir, "example.conf")
	config := substitute(t, readmeExample(t, b.fence), pairs...)
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(b.bin, b.command(t, dir, configPath)...)
	var stderr testsync.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", b.name, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	logs := func() string {
		out := stderr.String()
		if errorLog, err := os.ReadFile(filepath.Join(dir, "error.log")); err == nil {
			out += string(errorLog)
		}
		return out
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s's configuration:\n%s\n%s's log:\n%s", b.name, config, b.name, logs())
		}
	})
	testsync.Eventually(t, 10*time.Second, b.name+" serving the instances' /readyz", func() bool {
		select {
		case <-exited:
			t.Fatalf("%s exited at start: %v\n%s", b.name, cmd.ProcessState, logs())
		default:
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return &instance{addr: addr, cmd: cmd}
}

// openSockets is the instance's count of open relay sockets (Collider's /status).
func (in *instance) openSockets(t *testing.T) int {
	t.Helper()
	resp, err := http.Get("http://" + in.addr + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ OpenWS int }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.OpenWS
}

// joinLimitFlags give each client address 5 joins per instance, then one per 100 s: few
// enough to spend in a test, and no token comes back while it runs. Only the balancer, on
// 127.0.0.1, is trusted: the test's clients on 127.0.0.2 and 127.0.0.3 are users.
var joinLimitFlags = []string{"--trust-proxy", "127.0.0.1/32", "--limit-join", "0.01", "--limit-burst", "500"}

// clientFrom is an HTTP client whose connections come from the loopback address src, as
// a user at that address would.
func clientFrom(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
	}
}

func joinStatus(t *testing.T, c *http.Client, lb *instance, roomID string) int {
	t.Helper()
	resp, err := c.Post("http://"+lb.addr+"/join/"+roomID, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// limitsSeeClients checks that the instances behind lb key the per-IP join limit by the
// client's address the balancer put in X-Forwarded-For: one client joins until every
// instance refuses it, and another client still gets in. Keyed by the balancer's own
// address, the second client would be refused too.
func limitsSeeClients(t *testing.T, lb *instance, instances int) {
	t.Helper()
	first, second := clientFrom("127.0.0.2"), clientFrom("127.0.0.3")
	refused := 0 // in a row: round robin has then asked every instance
	for joins := 0; refused < instances; joins++ {
		if joins == 50 {
			t.Fatalf("no per-IP join limit after %d joins from 127.0.0.2 through %s", joins, lb.addr)
		}
		switch code := joinStatus(t, first, lb, "limits"); code {
		case http.StatusOK:
			refused = 0
		case http.StatusTooManyRequests:
			refused++
		default:
			t.Fatalf("join from 127.0.0.2: status %d", code)
		}
	}
	if code := joinStatus(t, second, lb, "limits"); code != http.StatusOK {
		t.Fatalf("join from 127.0.0.3 after 127.0.0.2 spent its limit: status %d, want 200 "+
			"(the instances count clients by the balancer's address: X-Forwarded-For lost or not trusted)", code)
	}
}

// callSurvivesSIGKILL runs a call through lb (round robin, no stickiness) over three
// instances: the instance holding A's socket is SIGKILLed; A reconnects through the
// balancer, lands on a live instance and gets what B sent meanwhile; a third joiner gets
// FULL; after both hang up the room is free. First, the per-IP limits must see each
// client's own address through the balancer.
func callSurvivesSIGKILL(t *testing.T, lb balancer) {
	lb.require(t) // before the build and the servers, which take seconds
	rs := redistest.Start(t)
	bin := buildBinary(t)
	ps := make([]*instance, len(readmeBackends))
	for i := range ps {
		ps[i] = startInstance(t, bin, rs.URL(), joinLimitFlags...)
	}
	front := lb.start(t, ps)
	limitsSeeClients(t, front, len(ps))

	// Which instance holds a socket is read from the instances' /status as each registers.
	sockets := func() []int {
		var n []int
		for _, p := range ps {
			n = append(n, p.openSockets(t))
		}
		return n
	}
	landed := func(before []int) int {
		on := -1
		testsync.Eventually(t, 10*time.Second, "an instance to take the socket", func() bool {
			for i, n := range sockets() {
				if n > before[i] {
					on = i
					return true
				}
			}
			return false
		})
		return on
	}
	a := front.join(t, "lb").Params.ClientID
	b := front.join(t, "lb").Params.ClientID
	before := sockets()
	wsA := front.register(t, "lb", a)
	onA := landed(before)
	before = sockets()
	wsB := front.register(t, "lb", b)
	onB := landed(before)
	wsA.send(t, "offer")
	wsB.expect(t, "offer")
	wsB.send(t, "answer")
	wsA.expect(t, "answer")
	holder := ps[onA]
	want := 1 // what the holder's sockets got is confirmed before the kill
	if onB == onA {
		want = 2
	}
	testsync.Eventually(t, 10*time.Second, "the holder's messages confirmed", func() bool { return holder.relayed(t) >= want })
	if err := holder.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	holder.cmd.Wait()
	started := time.Now()
	// The sockets on the killed instance are gone; those clients reconnect through the
	// balancer, as onertc's clients do.
	reconnect := func(p *peer, id string) *peer {
		for f := range p.frames {
			t.Fatalf("unexpected frame %+v before the reconnect", f)
		}
		return front.register(t, "lb", id)
	}
	wsA = reconnect(wsA, a)
	if onB == onA {
		wsB = reconnect(wsB, b)
	}
	wsB.send(t, "after the kill")
	wsA.expect(t, "after the kill")
	wsA.send(t, "still here")
	wsB.expect(t, "still here")
	t.Logf("signaling recovered %v after the SIGKILL", time.Since(started))
	if jr := front.join(t, "lb"); jr.Result != protocol.ResultFull {
		t.Fatalf("third joiner = %s, want FULL", jr.Result)
	}
	for _, id := range []string{a, b} {
		resp, err := http.Post("http://"+front.addr+"/leave/lb/"+id, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if jr := front.join(t, "lb"); jr.Result != protocol.ResultSuccess || jr.Params.IsInitiator != "true" {
		t.Fatalf("join after hang-up = %s initiator %s, want a free room", jr.Result, jr.Params.IsInitiator)
	}
}

func TestCallThroughHAProxySurvivesSIGKILL(t *testing.T) { callSurvivesSIGKILL(t, haproxy) }

func TestCallThroughNginxSurvivesSIGKILL(t *testing.T) { callSurvivesSIGKILL(t, nginx) }
