//go:build !js

package check

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onertc/onertc/internal/testkit/servertest"
)

func startServer(t *testing.T, blockUDP, blockTCP bool) string {
	t.Helper()
	cfg := servertest.Config()
	cfg.TURN.RelayPortMin, cfg.TURN.RelayPortMax = 63000, 63999 // apart from the other packages that run alongside
	var o servertest.Options
	if blockUDP {
		o.WrapUDP = servertest.DropUDP
	}
	if blockTCP {
		o.WrapTCP = servertest.RefuseTCP
	}
	return servertest.StartT(t, cfg, o).URL
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name               string
		blockUDP, blockTCP bool
		want               map[string]bool // transport -> ok
		wantExit           int
	}{
		{"all open", false, false, map[string]bool{"udp": true, "tcp": true}, 0},
		{"udp firewalled", true, false, map[string]bool{"udp": false, "tcp": true}, 0},
		{"everything blocked", true, true, map[string]bool{"udp": false, "tcp": false}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := startServer(t, tt.blockUDP, tt.blockTCP)
			var out, errOut bytes.Buffer
			code := Command(context.Background(), []string{"--json", "--timeout", "5s", url}, &out, &errOut)
			if code != tt.wantExit {
				t.Errorf("exit %d, want %d:\n%s", code, tt.wantExit, out.String())
			}
			var rep Report
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatalf("report %q: %v", out.String(), err)
			}
			if rep.Error != "" {
				t.Fatalf("check error: %s", rep.Error)
			}
			for _, res := range rep.Results {
				want, tried := tt.want[res.Transport]
				if !tried {
					if res.Error != "not offered" {
						t.Errorf("%s: %+v, want not offered", res.Transport, res)
					}
					continue
				}
				if res.OK != want {
					t.Errorf("%s ok = %v (%s), want %v", res.Transport, res.OK, res.Error, want)
				}
				if !res.OK && !strings.Contains(res.Fix, "open "+strings.ToUpper(res.Transport)) {
					t.Errorf("%s fix %q does not say which port to open", res.Transport, res.Fix)
				}
				if res.OK && (res.Local != "relay" || res.Remote != "relay") {
					t.Errorf("%s pair %s/%s, want relay/relay", res.Transport, res.Local, res.Remote)
				}
			}
			var table bytes.Buffer
			rep.Print(&table)
			t.Logf("\n%s", table.String())
		})
	}
	t.Run("unreachable server", func(t *testing.T) {
		var out bytes.Buffer
		if code := Command(context.Background(), []string{"http://127.0.0.1:1"}, &out, &out); code != 1 || !strings.Contains(out.String(), "unreachable") {
			t.Fatalf("exit %d: %s", code, out.String())
		}
	})
	t.Run("usage", func(t *testing.T) {
		var out bytes.Buffer
		if code := Command(context.Background(), nil, &out, &out); code != 2 {
			t.Fatalf("exit %d", code)
		}
	})
}

// TestCheckWithAPIKey: a server with --turn-api-key hands check its TURN servers only with
// the key; without it, or with a wrong one, check says which flag to pass.
func TestCheckWithAPIKey(t *testing.T) {
	cfg := servertest.Config()
	cfg.TURN.RelayPortMin, cfg.TURN.RelayPortMax = 63000, 63999
	cfg.TURN.APIKey = "s3cret-key"
	url := servertest.StartT(t, cfg, servertest.Options{}).URL
	keyFile := func(content string) string {
		p := filepath.Join(t.TempDir(), "key")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name     string
		args     []string
		wantExit int
		wantOut  string // in the report or on stderr
	}{
		{"no key", nil, 1, "--turn-api-key-file"},
		{"wrong key", []string{"--turn-api-key-file", keyFile("nope\n")}, 1, "HTTP 403 with the key given"},
		{"right key", []string{"--turn-api-key-file", keyFile("s3cret-key\n")}, 0, `"ok": true`},
		{"empty key file", []string{"--turn-api-key-file", keyFile("\n")}, 1, "want the key alone on one line"},
		{"missing key file", []string{"--turn-api-key-file", filepath.Join(t.TempDir(), "none")}, 1, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append(append([]string{"--json", "--timeout", "5s"}, tc.args...), url)
			code := Command(context.Background(), args, &out, &errOut)
			if code != tc.wantExit {
				t.Errorf("exit %d, want %d:\n%s%s", code, tc.wantExit, out.String(), errOut.String())
			}
			if all := out.String() + errOut.String(); !strings.Contains(all, tc.wantOut) {
				t.Errorf("output lacks %q:\n%s", tc.wantOut, all)
			}
			if strings.Contains(out.String()+errOut.String(), "s3cret-key") {
				t.Errorf("the key was printed:\n%s%s", out.String(), errOut.String())
			}
		})
	}
}

// TestCheckWithPassword: a server in password mode hands check its TURN servers only after
// it signed in with the password; without it, or with a wrong one, check says what to pass.
func TestCheckWithPassword(t *testing.T) {
	cfg := servertest.Config()
	cfg.TURN.RelayPortMin, cfg.TURN.RelayPortMax = 63000, 63999
	cfg.Access.Mode, cfg.Access.Password = "password", "s3cret-pass"
	url := servertest.StartT(t, cfg, servertest.Options{}).URL
	file := func(content string) string {
		p := filepath.Join(t.TempDir(), "pw")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name     string
		args     []string
		wantExit int
		wantOut  string
	}{
		{"no password", nil, 1, "--password-file"},
		{"wrong password", []string{"--password-file", file("nope\n")}, 1, "password refused"},
		{"right password", []string{"--password-file", file("s3cret-pass\n")}, 0, `"ok": true`},
		{"empty file", []string{"--password-file", file("\n")}, 1, "alone on one line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append(append([]string{"--json", "--timeout", "5s"}, tc.args...), url)
			code := Command(context.Background(), args, &out, &errOut)
			if code != tc.wantExit {
				t.Errorf("exit %d, want %d:\n%s%s", code, tc.wantExit, out.String(), errOut.String())
			}
			if all := out.String() + errOut.String(); !strings.Contains(all, tc.wantOut) {
				t.Errorf("output lacks %q:\n%s", tc.wantOut, all)
			}
			if strings.Contains(out.String()+errOut.String(), "s3cret-pass") {
				t.Errorf("the password was printed:\n%s%s", out.String(), errOut.String())
			}
		})
	}
}
