//go:build !js

package bot

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	dir := t.TempDir()
	pwFile, emptyFile := filepath.Join(dir, "pw"), filepath.Join(dir, "empty")
	if err := os.WriteFile(pwFile, []byte("s3cret pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(emptyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr error
		check   func(config) bool
	}{
		{"defaults", []string{"--room", "r1"}, nil, func(c config) bool {
			return c.opts.Server == "http://127.0.0.1:8080" && c.opts.Media == MediaAV && c.count == 1 &&
				c.opts.Duration == 30*time.Second && !c.opts.RelayOnly
		}},
		{"all", []string{"--server", "https://x:1", "--room", "r", "--relay-only", "--media", "data",
			"--duration", "5s", "--count", "4", "--timeout", "3s"}, nil, func(c config) bool {
			return c.opts.RelayOnly && c.opts.Media == MediaData && c.count == 4 && c.opts.Timeout == 3*time.Second
		}},
		{"no room", nil, ErrBadOptions, nil},
		{"bad room", []string{"--room", "a/b"}, ErrBadOptions, nil},
		{"bad media", []string{"--room", "r", "--media", "video"}, ErrBadOptions, nil},
		{"bad count", []string{"--room", "r", "--count", "0"}, ErrBadOptions, nil},
		{"extra arg", []string{"--room", "r", "extra"}, ErrBadOptions, nil},
		{"help", []string{"--help"}, flag.ErrHelp, nil},
		{"password file", []string{"--room", "r", "--password-file", pwFile}, nil, func(c config) bool {
			return c.opts.Password == "s3cret pass"
		}},
		{"empty password file", []string{"--room", "r", "--password-file", emptyFile}, ErrBadOptions, nil},
		{"missing password file", []string{"--room", "r", "--password-file", emptyFile + ".none"}, ErrBadOptions, nil},
		{"invite sets server and room", []string{"--invite", "https://call.example:8443/r/room-1?invite=v1.i.1.room-1.x"}, nil, func(c config) bool {
			return c.opts.Server == "https://call.example:8443" && c.opts.Room == "room-1" && c.opts.Invite != ""
		}},
		{"invite and room", []string{"--invite", "https://h/r/room-1?invite=t", "--room", "room-1"}, ErrBadOptions, nil},
		{"invite without token", []string{"--invite", "https://h/r/room-1"}, ErrBadOptions, nil},
		{"invite not a room", []string{"--invite", "https://h/?invite=t"}, ErrBadOptions, nil},
		{"invite and password", []string{"--invite", "https://h/r/room-1?invite=t", "--password-file", pwFile}, ErrBadOptions, nil},
		{"invite and count", []string{"--invite", "https://h/r/room-1?invite=t", "--count", "2"}, ErrBadOptions, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseFlags(tt.args, io.Discard)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.check != nil && !tt.check(c) {
				t.Fatalf("parsed %+v", c)
			}
		})
	}
}

func TestCommandExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"usage error", []string{"--room", "a b"}, 2},
		{"help", []string{"-h"}, 0},
		// Nothing listens on port 1: the join fails and the bot reports a failed call.
		{"unreachable server", []string{"--server", "http://127.0.0.1:1", "--room", "r", "--timeout", "2s"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if got := Command(context.Background(), tt.args, &out, &errOut); got != tt.want {
				t.Fatalf("exit %d, want %d; stderr %s", got, tt.want, errOut.String())
			}
			if tt.want == 1 && !bytes.Contains(out.Bytes(), []byte(`"event":"closed"`)) {
				t.Fatalf("no closed record: %s", out.String())
			}
		})
	}
}

// TestClipsLoop checks the embedded clips parse, start with a VP8 keyframe and loop.
func TestClipsLoop(t *testing.T) {
	vs, err := newIVFSource()
	if err != nil {
		t.Fatal(err)
	}
	if vs.frame != time.Second/15 {
		t.Fatalf("video frame duration %v", vs.frame)
	}
	const loops = 2
	keyframes := 0
	for i := range 60 * loops {
		s, err := vs.next()
		if err != nil {
			t.Fatalf("video frame %d: %v", i, err)
		}
		if isVP8KeyFrame(s.Data) {
			keyframes++
		}
		if i == 0 && !isVP8KeyFrame(s.Data) {
			t.Fatal("video clip does not start with a keyframe")
		}
	}
	if keyframes < 2*loops {
		t.Fatalf("%d keyframes in %d loops", keyframes, loops)
	}
	as, err := newOggSource()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 * loops {
		s, err := as.next()
		if err != nil {
			t.Fatalf("audio page %d: %v", i, err)
		}
		if len(s.Data) == 0 || isOggHeaderPage(s.Data) {
			t.Fatalf("audio page %d is not an Opus packet", i)
		}
	}
	if size := len(videoIVF) + len(audioOgg); size > 300<<10 {
		t.Fatalf("clips are %d bytes, budget 300 KiB", size)
	}
}

func TestNewRejectsBadMedia(t *testing.T) {
	if _, err := New(Options{Server: "http://127.0.0.1:1", Room: "r", Media: "3d"}); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("err = %v", err)
	}
	if _, err := New(Options{Server: "ftp://x", Room: "r"}); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("err = %v", err)
	}
}
