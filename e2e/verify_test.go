//go:build !js

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/onertc/onertc/bot"
	"github.com/onertc/onertc/client"
	"github.com/onertc/onertc/internal/testkit/testsync"
)

// verification is the bot's last "verification" record, or false before one.
func (rb *runningBot) verification() (bot.Record, bool) {
	recs := rb.records("verification")
	if len(recs) == 0 {
		return bot.Record{}, false
	}
	return recs[len(recs)-1], true
}

// waitVerifications waits until every bot has printed n verification codes.
func waitVerifications(t *testing.T, n int, bots ...*runningBot) {
	t.Helper()
	for _, rb := range bots {
		testsync.Eventually(t, 10*time.Second, rb.name+" prints its verification code", func() bool {
			return rb.count("verification") >= n
		})
	}
}

// checkSameCode fails unless x and y print the same code from mirrored fingerprints: each
// one's remote certificate is the other's local one.
func checkSameCode(t *testing.T, x, y *runningBot) string {
	t.Helper()
	vx, _ := x.verification()
	vy, _ := y.verification()
	if vx.VerificationCode == "" || vx.VerificationCode != vy.VerificationCode {
		t.Fatalf("codes differ: %s %q, %s %q", x.name, vx.VerificationCode, y.name, vy.VerificationCode)
	}
	if vx.RemoteFingerprint != vy.LocalFingerprint || vy.RemoteFingerprint != vx.LocalFingerprint {
		t.Fatalf("fingerprints not mirrored: %s %s→%s, %s %s→%s", x.name, vx.LocalFingerprint, vx.RemoteFingerprint,
			y.name, vy.LocalFingerprint, vy.RemoteFingerprint)
	}
	return vx.VerificationCode
}

// TestVerificationCodeSameOnBothSides: two bots in a 1:1 call through a real server print
// the same code, from the certificates of their DTLS handshake, on direct and relayed ICE.
// The code follows the connection: an ICE restart keeps the DTLS session and so the code;
// a new peer connection (the other side replaced) has new certificates and a new code.
func TestVerificationCodeSameOnBothSides(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := startServer(t, nil)
			if m.relay {
				needRelay(t, s)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			room := "verify-" + m.name
			a := startBot(t, ctx, s, room, "a", modeOpts(m.relay)...)
			b := startBot(t, ctx, s, room, "b", modeOpts(m.relay)...)
			waitConnected(t, 1, 20*time.Second, a, b)
			waitVerifications(t, 1, a, b)
			first := checkSameCode(t, a, b)
			waitMediaGrows(t, 10*time.Second, a, b)

			a.b.Call().RestartICE()
			waitConnected(t, 2, 20*time.Second, a)
			waitVerifications(t, 2, a)
			if v, _ := a.verification(); v.VerificationCode != first {
				t.Fatalf("after an ICE restart a prints %q, want the same %q", v.VerificationCode, first)
			}

			if err := b.stop(t); err != nil {
				t.Fatalf("b hung up with %v", err)
			}
			c := startBot(t, ctx, s, room, "c", modeOpts(m.relay)...)
			waitConnected(t, 1, 20*time.Second, c)
			waitVerifications(t, 1, c)
			testsync.Eventually(t, 10*time.Second, "a prints the code of its new connection", func() bool {
				v, _ := a.verification()
				return v.VerificationCode != first
			})
			if second := checkSameCode(t, a, c); second == first {
				t.Fatalf("a new connection kept the code %q", first)
			}
		})
	}
}

// TestVerificationCodeExposesManInTheMiddle: a server that terminates DTLS on each side
// (mitm_test.go) carries the call, media included, and the two sides' codes differ. Each
// side's remote certificate is the man in the middle's, though each SDP it was given was
// consistent with it.
func TestVerificationCodeExposesManInTheMiddle(t *testing.T) {
	s := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mid := newMITM(t, s.URL)
	a := startBot(t, ctx, s, "mitm", "a", func(o *bot.Options) { o.Transport = mid.side(sideA) })
	b := startBot(t, ctx, s, "mitm", "b", func(o *bot.Options) { o.Transport = mid.side(sideB) })
	waitConnected(t, 1, 20*time.Second, a, b)
	waitMediaGrows(t, 15*time.Second, a, b)
	waitVerifications(t, 1, a, b)

	va, _ := a.verification()
	vb, _ := b.verification()
	if va.VerificationCode == vb.VerificationCode {
		t.Fatalf("both sides print %q through a man in the middle", va.VerificationCode)
	}
	if va.RemoteFingerprint == vb.LocalFingerprint || vb.RemoteFingerprint == va.LocalFingerprint {
		t.Fatal("a bot saw the other bot's certificate: the call did not go through the man in the middle")
	}
	for _, tc := range []struct {
		name string
		rec  bot.Record
		pc   *client.PionPeer
	}{{"a", va, mid.peers[sideA]}, {"b", vb, mid.peers[sideB]}} {
		local, remote, err := tc.pc.DTLSFingerprints(ctx)
		if err != nil {
			t.Fatalf("man in the middle facing %s: %v", tc.name, err)
		}
		if tc.rec.RemoteFingerprint != local.String() || tc.rec.LocalFingerprint != remote.String() {
			t.Errorf("%s's DTLS peer is not the man in the middle: %s sees %s, the man in the middle has %s",
				tc.name, tc.name, tc.rec.RemoteFingerprint, local)
		}
		// What the man in the middle computes on its leg is what that side reads aloud.
		if v, err := client.NewVerification(local, remote); err != nil || v.Code != tc.rec.VerificationCode {
			t.Errorf("man in the middle's leg to %s: code %q (%v), %s prints %q", tc.name, v.Code, err, tc.name, tc.rec.VerificationCode)
		}
	}
}

// TestBotCommandPrintsVerificationCode: `onertc bot --count 2` (the command's own code, in
// process) prints a verification line for each bot once connected, with the same code.
func TestBotCommandPrintsVerificationCode(t *testing.T) {
	s := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	args := []string{"--server", s.URL, "--room", "verify-cli", "--count", "2", "--loopback", "--duration", "2s", "--stats", "1h"}
	if code := bot.Command(ctx, args, &out, &errOut); code != 0 {
		t.Fatalf("onertc bot exited %d: %s", code, errOut.String())
	}
	var codes [2][]string
	connected := [2]bool{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var rec bot.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if rec.Bot < 0 || rec.Bot > 1 {
			t.Fatalf("line of bot %d", rec.Bot)
		}
		switch rec.Event {
		case "connected":
			connected[rec.Bot] = true
		case "verification":
			if !connected[rec.Bot] {
				t.Errorf("bot %d printed its code before connecting", rec.Bot)
			}
			codes[rec.Bot] = append(codes[rec.Bot], rec.VerificationCode)
		}
	}
	// A bot prints the code again after an ICE restart (a loaded machine may cause one):
	// the DTLS session, and so the code, stays.
	shape := regexp.MustCompile(`^[0-9]{4} [0-9]{4} [0-9]{4}$`)
	if len(codes[0]) == 0 || len(codes[1]) == 0 || !shape.MatchString(codes[0][0]) {
		t.Fatalf("verification lines: bot 0 %q, bot 1 %q\n%s", codes[0], codes[1], out.String())
	}
	for _, c := range append(codes[0], codes[1]...) {
		if c != codes[0][0] {
			t.Fatalf("verification lines: bot 0 %q, bot 1 %q; want one code", codes[0], codes[1])
		}
	}
}
