package fleettest

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/testsync"
)

// The load-balancer examples of README.md's "Several instances" are what the tests run:
// each is read out of the README, its listen address and its three backend addresses
// replaced by the test's, so the README cannot show a configuration that was not tested.
const readmeSection = "\n## Several instances\n"

// readmeBackends are the example's instance addresses, replaced in order by the test's.
var readmeBackends = [Backends]string{"10.0.0.11:8080", "10.0.0.12:8080", "10.0.0.13:8080"}

// Backends is how many instances the README's examples balance.
const Backends = 3

// Balancer is one load balancer run from its README example by the Debian package's binary.
type Balancer struct {
	Name     string // the Debian package that installs it
	bin      string // Debian puts both in /usr/sbin, off a user's PATH
	fence    string // the README code block's language
	listen   string // the example's listen directive
	listenAt string // the test's, a format taking the address
	// command writes what else the example needs into dir and returns the arguments.
	command func(t testing.TB, dir, configPath string) []string
}

// HAProxy runs the README's HAProxy example.
var HAProxy = Balancer{
	Name: "haproxy", bin: "/usr/sbin/haproxy", fence: "haproxy",
	listen: "bind :80", listenAt: "bind %s",
	// -db: stay in the foreground. The example needs nothing else to run unprivileged.
	command: func(_ testing.TB, _, configPath string) []string { return []string{"-db", "-f", configPath} },
}

// Nginx runs the README's nginx example.
var Nginx = Balancer{
	Name: "nginx", bin: "/usr/sbin/nginx", fence: "nginx",
	listen: "listen 80;", listenAt: "listen %s;",
	command: func(t testing.TB, dir, configPath string) []string {
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

// readmePath finds README.md at the module's root, above the test's working directory
// (its package's directory), whichever package runs the test.
func readmePath() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "README.md"), nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = up
	}
}

// readmeExample returns the README's "Several instances" code block fenced as lang.
func readmeExample(t testing.TB, lang string) string {
	t.Helper()
	path, err := readmePath()
	if err != nil {
		t.Fatalf("find the README: %v", err)
	}
	readme, err := os.ReadFile(path)
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
func substitute(t testing.TB, example string, pairs ...string) string {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		if n := strings.Count(example, pairs[i]); n != 1 {
			t.Fatalf("the README example holds %q %d times, want once:\n%s", pairs[i], n, example)
		}
		example = strings.Replace(example, pairs[i], pairs[i+1], 1)
	}
	return example
}

// Require fails the test, naming the package to install, when the balancer is missing.
func (b Balancer) Require(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(b.bin); err != nil {
		t.Fatalf("%s not found (%v): install the Debian package %s (make deps)", b.bin, err, b.Name)
	}
}

// Start runs the balancer's README example in front of backends (as many as the example
// has) and returns it once it serves the instances' /readyz.
func (b Balancer) Start(t testing.TB, backends []*Instance) *Instance {
	t.Helper()
	b.Require(t)
	if len(backends) != len(readmeBackends) {
		t.Fatalf("the README example has %d backends, the test %d", len(readmeBackends), len(backends))
	}
	addr := FreePort(t)
	pairs := []string{b.listen, fmt.Sprintf(b.listenAt, addr)}
	for i, in := range backends {
		pairs = append(pairs, readmeBackends[i], in.Addr)
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
		t.Fatalf("start %s: %v", b.Name, err)
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
			t.Logf("%s's configuration:\n%s\n%s's log:\n%s", b.Name, config, b.Name, logs())
		}
	})
	testsync.Eventually(t, 10*time.Second, b.Name+" serving the instances' /readyz", func() bool {
		select {
		case <-exited:
			t.Fatalf("%s exited at start: %v\n%s", b.Name, cmd.ProcessState, logs())
		default:
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return &Instance{Addr: addr, Cmd: cmd}
}

// StartFleet starts Backends instances of bin on redisURL behind b (its README example)
// and returns them and the balancer.
func (b Balancer) StartFleet(t testing.TB, bin, redisURL string) ([]*Instance, *Instance) {
	t.Helper()
	var inst []*Instance
	for range Backends {
		inst = append(inst, Start(t, bin, redisURL))
	}
	return inst, b.Start(t, inst)
}
