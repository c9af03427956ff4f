package redisconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onertc/onertc/internal/testkit/redistest"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name, in, want string
		secret         string // must not be in the output ("" when there is none)
	}{
		{"no user information", "redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0", ""},
		{"password only", "redis://:hunter2@host:6379", "redis://:xxxxx@host:6379", "hunter2"},
		{"user and password", "rediss://alice:hunter2@host/1", "rediss://alice:xxxxx@host/1", "hunter2"},
		{"bad escape, url.Parse rejects it", "redis://:hun%ter2@host", "redis://:xxxxx@host", "hun%ter2"},
		{"slash in password, url.Parse rejects it", "redis://:pa/ss@host", "redis://:xxxxx@host", "pa/ss"},
		{"hash in password, url.Parse drops the user information", "redis://u:1#x@host", "redis://u:xxxxx@host", "1#x"},
		{"at sign in password", "redis://:p@ss@host:6379", "redis://:xxxxx@host:6379", "p@ss"},
		{"escaped password", "redis://:p%40ss%25@host", "redis://:xxxxx@host", "p%40ss%25"},
		{"user name alone is hidden too", "redis://s3cr3t@host", "redis://xxxxx@host", "s3cr3t"},
		{"opaque URL", "redis:u:hunter2@host", "redis:u:xxxxx@host", "hunter2"},
		{"unix socket", "unix://u:hunter2@/run/redis.sock?db=1", "unix://u:xxxxx@/run/redis.sock?db=1", "hunter2"},
		{"at sign in the query hides the host too", "redis://:hunter2@host/0?client_name=a@b", "redis://:xxxxx@b", "hunter2"},
		{"cluster seeds", "redis://:hunter2@h1:7000?addr=h2:7001", "redis://:xxxxx@h1:7000?addr=h2:7001", "hunter2"},
		{"not a URL", "hunter2", "hunter2", ""},
		{"empty", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Redact(tt.in)
			if got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if tt.secret != "" && strings.Contains(got, tt.secret) {
				t.Errorf("Redact(%q) = %q shows the password", tt.in, got)
			}
		})
	}
}

// FuzzRedact builds a URL around a password and checks that Redact's answer does not
// depend on the password at all (so no part of it can show), whether or not url.Parse
// accepts the URL.
func FuzzRedact(f *testing.F) {
	f.Add(uint8(0), "", "hunter2", "127.0.0.1:6379/0")
	f.Add(uint8(1), "alice", "hun%ter2", "host")
	f.Add(uint8(2), "u", "pa/ss#x?y", "/run/redis.sock?db=1")
	f.Add(uint8(3), "", "p@ss:w@rd", "h1:7000?addr=h2:7001&x=a@b")
	f.Add(uint8(4), "//u", "://x", "host")
	schemes := []string{"redis://", "rediss://", "unix://", "redis:", "x:", ":"}
	f.Fuzz(func(t *testing.T, scheme uint8, user, pass, rest string) {
		user = strings.ReplaceAll(user, ":", "") // the user part ends at the first ':'
		pass = "p" + pass                        // a password has a character at least
		prefix := schemes[int(scheme)%len(schemes)]
		build := func(p string) string { return prefix + user + ":" + p + "@" + rest }
		got, gotOther := Redact(build(pass)), Redact(build("Q"+pass))
		if got != gotOther {
			t.Fatalf("Redact depends on the password:\n%q -> %q\n%q -> %q", build(pass), got, build("Q"+pass), gotOther)
		}
		// A byte only the password has must not show at all.
		for i := 0; i < len(pass); i++ {
			if b := pass[i]; !strings.Contains(prefix+user+rest+redacted+":@", string([]byte{b})) && strings.IndexByte(got, b) >= 0 {
				t.Fatalf("Redact(%q) = %q shows the password's byte %q", build(pass), got, b)
			}
		}
	})
}

// TestOpenErrorsHideThePassword: every way Open fails (a URL that does not parse, a server
// that is not there, a wrong password) names the
// URL without its password, while the password that is right still opens the connection.
func TestOpenErrorsHideThePassword(t *testing.T) {
	srv := redistest.Start(t)
	const right = "right-Pa55word"
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer admin.Close()
	if err := admin.ConfigSet(context.Background(), "requirepass", right).Err(); err != nil {
		t.Fatalf("set requirepass: %v", err)
	}
	closed := closedPort(t)

	tests := []struct {
		name, url, secret string
		cluster           bool
	}{
		{"bad escape", "redis://:hun%ter2@" + srv.Addr, "hun%ter2", false},
		{"bad escape, cluster", "redis://:hun%ter2@" + srv.Addr, "hun%ter2", true},
		{"slash in password", "redis://:se/cret99@" + srv.Addr, "se/cret99", false},
		{"bad scheme", "http://:s3cret-99@" + srv.Addr, "s3cret-99", false},
		{"bad option", "redis://:s3cret-99@" + srv.Addr + "/0?max_retries=many", "s3cret-99", false},
		{"nobody listening", "redis://:s3cret-99@" + closed, "s3cret-99", false},
		{"nobody listening, cluster", "redis://:s3cret-99@" + closed, "s3cret-99", true},
		{"wrong password", "redis://:wrong-Pa55word@" + srv.Addr, "wrong-Pa55word", false},
		{"wrong user and password", "redis://bob:wrong-Pa55word@" + srv.Addr, "wrong-Pa55word", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := Open(ctx, tt.url, tt.cluster, 3*time.Second, nil)
			if err == nil {
				c.Close()
				t.Fatalf("Open(%s) succeeded", tt.name)
			}
			for _, part := range []string{tt.secret, strings.ReplaceAll(tt.secret, "%", "%25")} {
				if strings.Contains(err.Error(), part) {
					t.Fatalf("error shows the password %q: %v", part, err)
				}
			}
			if !strings.Contains(err.Error(), "xxxxx") {
				t.Errorf("error does not name the redacted URL: %v", err)
			}
			t.Logf("%s: %v", tt.name, err)
		})
	}

	c, err := Open(context.Background(), "redis://:"+right+"@"+srv.Addr, false, 3*time.Second, nil)
	if err != nil {
		t.Fatalf("the right password: %v", err)
	}
	defer c.Close()
	if strings.Contains(c.URL, right) {
		t.Errorf("Conn.URL %q shows the password", c.URL)
	}
}

// TestScrubKeepsTheErrorChain: a scrubbed error still is what it wraps.
func TestScrubKeepsTheErrorChain(t *testing.T) {
	raw := "redis://:hunter22@host"
	base := errors.New("ERR AUTH hunter22 refused")
	err := scrub(fmt.Errorf("ping: %w", base), raw)
	if strings.Contains(err.Error(), "hunter22") {
		t.Fatalf("scrub left the password: %v", err)
	}
	if !errors.Is(err, base) {
		t.Fatalf("errors.Is lost the original: %v", err)
	}
	if same := errors.New("no secret here"); scrub(same, raw) != same {
		t.Error("an error without the password was rewrapped")
	}
}

// closedPort is a loopback address nobody listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
