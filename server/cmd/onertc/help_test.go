//go:build !js

package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/fleettest"
	"github.com/onertc/onertc/protocol"
)

var update = flag.Bool("update", false, "rewrite README.md's serve --help block from the code")

// runCLI runs the binary's command line in the test process. Commands that would serve are
// stopped by the deadline, so a test that wrongly gets that far fails instead of hanging.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code = run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// Every command answers --help and -h on stdout with exit 0; `onertc help COMMAND` prints
// that command's help.
func TestEveryCommandAnswersHelp(t *testing.T) {
	want := map[string]string{
		"serve":   "usage: onertc serve",
		"bot":     "usage: onertc bot",
		"check":   "usage: onertc check",
		"version": "usage: onertc version",
		"help":    "usage: onertc [command]",
	}
	type helpCase struct {
		args []string
		want string
	}
	tests := []helpCase{
		{[]string{"--help"}, want["help"]},
		{[]string{"-h"}, want["help"]},
		{[]string{"help"}, want["help"]},
	}
	for cmd, text := range want {
		tests = append(tests, helpCase{[]string{cmd, "--help"}, text}, helpCase{[]string{cmd, "-h"}, text},
			helpCase{[]string{"help", cmd}, text})
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != 0 || !strings.HasPrefix(stdout, tt.want) || stderr != "" {
				t.Fatalf("exit %d, stdout %.80q, stderr %q; want 0 and %q on stdout only", code, stdout, stderr, tt.want)
			}
		})
	}
	// Serve's help names every flag's variable.
	_, stdout, _ := runCLI(t, "help", "serve")
	for _, v := range []string{"-turn-secret-file", "[$ONERTC_TURN_SECRET_FILE]", "-redis-cluster", "[$ONERTC_TRUST_PROXY]"} {
		if !strings.Contains(stdout, v) {
			t.Errorf("onertc help serve lacks %q", v)
		}
	}
}

// Usage errors (what the operator typed or set) exit 2 with a message on stderr; nothing
// is started.
func TestUsageErrorsExit2(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	serveArgs := []string{"serve", "--http", "127.0.0.1:0", "--turn-disable", "--sfu-addr", "127.0.0.1:0", "--drain-timeout", "0s"}
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		stderr string
	}{
		{"serve with an argument", append(serveArgs, "foo"), nil, `serve takes no arguments, got "foo"`},
		{"serve with an unknown flag", append(serveArgs, "--no-such-flag"), nil, "-no-such-flag"},
		{"serve with a bad flag value", append(serveArgs, "--relay-grace", "soon"), nil, "-relay-grace"},
		{"serve with a bad variable", serveArgs, map[string]string{"ONERTC_RELAY_GRACE": "soon"}, `$ONERTC_RELAY_GRACE="soon"`},
		{"serve with a bad list variable", serveArgs, map[string]string{"ONERTC_TRUST_PROXY": "10.0.0.0/33"}, `--trust-proxy "10.0.0.0/33"`},
		{"serve with a setting that cannot work", append(serveArgs, "--relay-grace", "0s"), nil, "relay grace 0s: must be positive"},
		{"serve with a bad log level", append(serveArgs, "--log-level", "loud"), nil, `log level "loud"`},
		{"serve with a secret twice", append(serveArgs, "--turn-secret", "s", "--turn-secret-file", secret), nil, "both set"},
		{"serve with a flag and a variable for one secret", append(serveArgs, "--metrics-auth-file", secret), map[string]string{"ONERTC_METRICS_AUTH": "a:b"}, "both set"},
		{"unknown command", []string{"frobnicate"}, nil, `unknown command "frobnicate"`},
		{"help for an unknown command", []string{"help", "frobnicate"}, nil, `unknown command "frobnicate"`},
		{"help with two commands", []string{"help", "serve", "bot"}, nil, `unexpected argument "bot"`},
		{"version with an argument", []string{"version", "extra"}, nil, `unexpected argument "extra"`},
		{"version with a flag", []string{"version", "--json"}, nil, "-json"},
		{"check without a URL", []string{"check"}, nil, "the server URL is missing"},
		{"check with two URLs", []string{"check", "http://a", "http://b"}, nil, `unexpected argument "http://b"`},
		{"check with a URL that is not one", []string{"check", "ftp://a"}, nil, `server URL "ftp://a"`},
		{"check with an unknown flag", []string{"check", "--fast", "http://a"}, nil, "-fast"},
		{"bot with an argument", []string{"bot", "--room", "r", "extra"}, nil, `unexpected argument "extra"`},
		{"bot with an unknown flag", []string{"bot", "--no-such-flag"}, nil, "-no-such-flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, exitUsage, tt.stderr)
			}
			if strings.Contains(stdout, "usage:") {
				t.Errorf("a usage error printed help on stdout: %q", stdout)
			}
		})
	}
}

// A bad variable does not stand in the way of help.
func TestHelpDespiteABadVariable(t *testing.T) {
	t.Setenv("ONERTC_RELAY_GRACE", "soon")
	t.Setenv("ONERTC_TRUST_PROXY", "not a network")
	for _, args := range [][]string{{"serve", "--help"}, {"help", "serve"}, {"--help"}} {
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 || !strings.Contains(stdout, "-relay-grace") && args[0] != "--help" || stderr != "" {
			t.Errorf("%q: exit %d, stdout %.60q, stderr %q; want help and 0", args, code, stdout, stderr)
		}
	}
}

// Once the settings are accepted, what fails is the server's environment: exit 1.
func TestRuntimeFailuresExit1(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	serveArgs := func(extra ...string) []string {
		return append([]string{"serve", "--turn-disable", "--sfu-addr", "127.0.0.1:0", "--drain-timeout", "0s"}, extra...)
	}
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"listen fails", serveArgs("--http", taken.Addr().String()), "address already in use"},
		{"certificate files missing", serveArgs("--http", "127.0.0.1:0", "--tls-cert", filepath.Join(dir, "no.pem"), "--tls-key", filepath.Join(dir, "no.key")), "no.pem"},
		{"Redis unreachable", serveArgs("--http", "127.0.0.1:0", "--redis", "redis://127.0.0.1:1"), "unreachable"},
		{"secret file missing", serveArgs("--http", "127.0.0.1:0", "--turn-secret-file", filepath.Join(dir, "nothing")), "--turn-secret-file: open " + filepath.Join(dir, "nothing")},
		{"secret file empty", serveArgs("--http", "127.0.0.1:0", "--metrics-auth-file", empty), "--metrics-auth-file " + empty + ": the file is empty"},
		{"password file empty", serveArgs("--http", "127.0.0.1:0", "--access", "password", "--access-password-file", empty), "--access-password-file " + empty + ": the file is empty"},
		{"password file missing", serveArgs("--http", "127.0.0.1:0", "--access", "password", "--access-password-file", filepath.Join(dir, "nothing")), "--access-password-file: open " + filepath.Join(dir, "nothing")},
		{"check of a server that is not there", []string{"check", "--timeout", "2s", "http://127.0.0.1:1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != exitFailure || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d and %q", code, stdout, stderr, exitFailure, tt.stderr)
			}
		})
	}
}

// A secret file holds the secret on one line; its line ending is not part of it.
func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, want, wantErr string
	}{
		{"newline", "s3cret\n", "s3cret", ""},
		{"CRLF", "s3cret\r\n", "s3cret", ""},
		{"no newline", "s3cret", "s3cret", ""},
		{"spaces are kept", " s3 cret \n", " s3 cret ", ""},
		{"empty", "", "", "the file is empty"},
		{"only a newline", "\n", "", "the file is empty"},
		{"two lines", "one\ntwo\n", "", "found several lines"},
		{"missing", "", "", "no such file"},
	}
	flags := []struct {
		flag string
		get  func(*serveOptions) string
	}{
		{"turn-secret-file", func(o *serveOptions) string { return o.cfg.TURN.Secret }},
		{"turn-old-secret-file", func(o *serveOptions) string { return o.cfg.TURN.OldSecret }},
		{"metrics-auth-file", func(o *serveOptions) string { return o.cfg.MetricsAuth }},
		{"access-password-file", func(o *serveOptions) string { return o.cfg.Access.Password }},
		{"access-key-file", func(o *serveOptions) string { return o.cfg.Access.Key }},
	}
	for _, f := range flags {
		for _, tt := range tests {
			t.Run(f.flag+"/"+tt.name, func(t *testing.T) {
				path := filepath.Join(dir, f.flag+"-"+strings.ReplaceAll(tt.name, " ", "-"))
				if tt.name != "missing" {
					if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				fs, o := newServeFlags()
				// Through the variable, as the systemd unit gives it.
				err := parseWithEnv(fs, nil, func(k string) (string, bool) { return path, k == envName(f.flag) })
				if err != nil {
					t.Fatal(err)
				}
				c, err := o.config()
				if err != nil {
					t.Fatal(err)
				}
				err = o.readSecretFiles(&c)
				o.cfg = c
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "--"+f.flag) {
						t.Fatalf("err %v, want %q naming --%s", err, tt.wantErr, f.flag)
					}
					return
				}
				if err != nil || f.get(o) != tt.want {
					t.Fatalf("read %q, %v; want %q", f.get(o), err, tt.want)
				}
			})
		}
	}
}

// The secrets read from files are the ones the running server uses: /turn's password is
// signed with the file's TURN secret and /metrics wants the file's user:password.
func TestServeUsesSecretFiles(t *testing.T) {
	dir := t.TempDir()
	secretFile, authFile := filepath.Join(dir, "turn-secret"), filepath.Join(dir, "metrics-auth")
	if err := os.WriteFile(secretFile, []byte("from-the-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(authFile, []byte("scraper:pa55\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fleettest.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- serve(ctx, []string{"--http", addr, "--turn", "127.0.0.1:0", "--sfu-addr", "127.0.0.1:0", "--turn-self-test", "0", "--drain-timeout", "0s",
			"--turn-secret-file", secretFile, "--metrics-auth-file", authFile}, &bytes.Buffer{}, &lockedDiscard{})
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d after a clean stop", code)
		}
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not answer: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get("http://" + addr + "/turn?username=alice")
	if err != nil {
		t.Fatal(err)
	}
	var creds protocol.TURNCredentials
	err = json.NewDecoder(resp.Body).Decode(&creds)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha1.New, []byte("from-the-file"))
	mac.Write([]byte(creds.Username))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); creds.Password != want {
		t.Errorf("password %q for %q is not signed with the file's secret (want %q)", creds.Password, creds.Username, want)
	}
	for _, tt := range []struct {
		user, pass string
		want       int
	}{{"", "", http.StatusUnauthorized}, {"scraper", "wrong", http.StatusUnauthorized}, {"scraper", "pa55", http.StatusOK}} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
		if tt.user != "" {
			req.SetBasicAuth(tt.user, tt.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("/metrics as %q:%q = %d, want %d", tt.user, tt.pass, resp.StatusCode, tt.want)
		}
	}
}

// lockedDiscard swallows the server's logs (a bytes.Buffer would race with its goroutines).
type lockedDiscard struct{}

func (lockedDiscard) Write(p []byte) (int, error) { return len(p), nil }

// An ONERTC_* variable that nothing reads is named at start, with the flag it may have meant.
func TestUnknownVariables(t *testing.T) {
	fs, _ := newServeFlags()
	got := unknownVariables(fs, []string{
		"HOME=/root", "ONERTC_HTTP=:80", "ONERTC_BENCH=1", "ONERTC_TRUST_PROXI=10.0.0.0/8",
		"ONERTC_TURNSECRET=x", "ONERTC_SOMETHING_ELSE=1", "onertc_http=lowercase is not ours",
	})
	want := []string{
		"unknown variable ONERTC_SOMETHING_ELSE (no serve flag reads it)",
		"unknown variable ONERTC_TRUST_PROXI; did you mean ONERTC_TRUST_PROXY?",
		"unknown variable ONERTC_TURNSECRET; did you mean ONERTC_TURN_SECRET?",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("warnings\n%q\nwant\n%q", got, want)
	}
	// At serve's start, in its log, even when it then refuses its settings.
	t.Setenv("ONERTC_TRUST_PROXI", "10.0.0.0/8")
	code, _, stderr := runCLI(t, "serve", "--turn-disable", "--relay-grace", "0s")
	if code != exitUsage || !strings.Contains(stderr, "level=WARN msg=\"unknown variable ONERTC_TRUST_PROXI; did you mean ONERTC_TRUST_PROXY?\"") {
		t.Fatalf("exit %d, stderr %q; want the warning", code, stderr)
	}
}

// Every ONERTC_* name in the repository is a serve variable or one of otherVariables, so
// serve never warns about a variable the project itself uses.
func TestEveryProjectVariableIsKnown(t *testing.T) {
	root := moduleRoot(t)
	flags, _ := newServeFlags()
	known := map[string]bool{"ONERTC_": true} // the prefix itself, in prose
	flags.VisitAll(func(f *flag.Flag) { known[envName(f.Name)] = true })
	for _, n := range otherVariables {
		known[n] = true
	}
	name := regexp.MustCompile(`ONERTC_[A-Z0-9_]*`)
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "bin" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		// This package's tests spell unknown names on purpose.
		if filepath.Dir(path) == filepath.Join(root, "server", "cmd", "onertc") && strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > 2<<20 {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "did you mean") { // an example of the warning
				continue
			}
			for _, n := range name.FindAllString(line, -1) {
				if !known[n] && !seen[n] {
					seen[n] = true
					rel, _ := filepath.Rel(root, path)
					t.Errorf("%s names %s, which is neither a serve variable nor in otherVariables (flags.go): serve would warn about it", rel, n)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(known) < 50 {
		t.Fatalf("only %d names known: the flag set looks empty", len(known))
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: %v", dir, err)
	}
	return dir
}

const (
	helpBegin = "<!-- serve-help: generated by `go test ./server/cmd/onertc -run TestREADMEHelp -update` -->"
	helpEnd   = "<!-- end serve-help -->"
)

// README.md carries `onertc serve --help` as the code prints it.
func TestREADMEHelp(t *testing.T) {
	path := filepath.Join(moduleRoot(t), "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	begin, end := strings.Index(readme, helpBegin), strings.Index(readme, helpEnd)
	if begin < 0 || end < begin {
		t.Fatalf("README.md lacks the markers %q and %q around the serve --help block", helpBegin, helpEnd)
	}
	var help bytes.Buffer
	printServeHelp(&help)
	block := "\n\n```\n" + help.String() + "```\n\n"
	if got := readme[begin+len(helpBegin) : end]; got != block {
		if *update {
			if err := os.WriteFile(path, []byte(readme[:begin+len(helpBegin)]+block+readme[end:]), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Log("README.md's serve --help block rewritten")
			return
		}
		t.Fatalf("README.md's serve --help block is stale; regenerate it with\n\tgo test ./server/cmd/onertc -run TestREADMEHelp -update\nfirst difference near: %q", firstDifference(got, block))
	}
}

func firstDifference(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(0, i-40)
	return b[lo:min(len(b), i+40)]
}

// /etc/default/onertc, as the Debian package installs it, names every serve variable,
// commented out, and no other.
func TestDefaultFileListsEveryVariable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(moduleRoot(t), "packaging", "deb", "default"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	setting := regexp.MustCompile(`^#(ONERTC_[A-Z0-9_]+)=`)
	for i, line := range strings.Split(string(b), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			t.Errorf("line %d is not commented out: %q", i+1, line)
		}
		if m := setting.FindStringSubmatch(line); m != nil {
			listed[m[1]] = true
		}
	}
	fs, _ := newServeFlags()
	vars := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		vars[envName(f.Name)] = true
		if !listed[envName(f.Name)] {
			t.Errorf("packaging/deb/default has no #%s= line (--%s)", envName(f.Name), f.Name)
		}
	})
	for v := range listed {
		if !vars[v] {
			t.Errorf("packaging/deb/default names %s, which no serve flag reads", v)
		}
	}
}
