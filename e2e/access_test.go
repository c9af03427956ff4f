//go:build !js

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"
	"time"

	"github.com/onertc/onertc/bot"
	"github.com/onertc/onertc/client"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server"
)

const e2ePassword = "correct horse battery staple"

// inviteLink signs in with the password as a browser would and asks for an invite to room.
func inviteLink(t *testing.T, s *testServer, room string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := hc.PostForm(s.URL+"/login", url.Values{"password": {e2ePassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK { // the redirect to / followed
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	resp, err = hc.Post(s.URL+"/invite/"+room, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var inv struct{ URL string }
	if err := json.NewDecoder(resp.Body).Decode(&inv); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("invite: %d (%v)", resp.StatusCode, err)
	}
	return inv.URL
}

// TestPasswordModeCall: on a server in password mode, a bot that gave the password and a
// guest bot holding an invite link call each other through TURN, and the call goes on
// well past the life of the short TURN credentials it started with (the TURN server keeps
// refreshing allocations made while their credential was valid), and past the expiry of the
// guest's invite, which then admits no one new. A bot with neither, or with a wrong
// password, is refused.
func TestPasswordModeCall(t *testing.T) {
	const ttl, inviteTTL = 3 * time.Second, 4 * time.Second
	s := startServer(t, func(c *server.Config) {
		c.Access.Mode, c.Access.Password, c.Access.TURNTTL, c.Access.InviteTTL = "password", e2ePassword, ttl, inviteTTL
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, tt := range []struct {
		name string
		opt  botOpt
		want error
	}{
		{"no password", func(*bot.Options) {}, client.ErrHTTPStatus},
		{"wrong password", func(o *bot.Options) { o.Password = "correct horse" }, client.ErrPasswordRefused},
		{"another room's invite", func(o *bot.Options) { o.Invite = inviteLink(t, s, "elsewhere") }, bot.ErrBadOptions},
	} {
		o := bot.Options{Server: s.URL, Room: "pw-refused", Timeout: 5 * time.Second, StatsEvery: -1, Media: bot.MediaData,
			Logger: testLogger().With("bot", tt.name)}
		tt.opt(&o)
		b, err := bot.New(o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Run(ctx); !errors.Is(err, tt.want) {
			t.Errorf("%s: Run = %v, want %v", tt.name, err, tt.want)
		}
	}
	invited := time.Now()
	link := inviteLink(t, s, "pw-call")
	a := startBot(t, ctx, s, "pw-call", "host", relayOnly, func(o *bot.Options) { o.Password = e2ePassword })
	b := startBot(t, ctx, s, "pw-call", "guest", relayOnly, func(o *bot.Options) { o.Invite = link })
	waitConnected(t, 1, 20*time.Second, a, b)
	checkPair(t, a, "relay")
	connected := time.Now()
	// Every credential of this call was minted before it connected, with a life of ttl.
	// Token times are whole seconds: the invite ends within a second after inviteTTL.
	testsync.Eventually(t, ttl+inviteTTL+5*time.Second, "the TURN credentials and the invite expire", func() bool {
		return time.Since(connected) > ttl+time.Second && time.Since(invited) > inviteTTL+time.Second
	})
	waitMediaGrows(t, 5*time.Second, a, b)
	if a.connectedCount() != 1 || b.connectedCount() != 1 {
		t.Fatalf("call reconnected after the credentials expired (host %d, guest %d connections)", a.connectedCount(), b.connectedCount())
	}
	late, err := bot.New(bot.Options{Server: s.URL, Room: "pw-call", Invite: link, Timeout: 5 * time.Second,
		StatsEvery: -1, Media: bot.MediaData, Logger: testLogger().With("bot", "late guest")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := late.Run(ctx); !errors.Is(err, client.ErrInviteRefused) {
		t.Fatalf("a guest with the expired invite: Run = %v, want %v", err, client.ErrInviteRefused)
	}
	// The credentials were the short ones: an admitted client is told their life.
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	if resp, err := hc.PostForm(s.URL+"/login", url.Values{"password": {e2ePassword}}); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	resp, err := hc.Get(s.URL + "/turn?username=check")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cred protocol.TURNCredentials
	if err := json.NewDecoder(resp.Body).Decode(&cred); err != nil || cred.TTL != int(ttl/time.Second) {
		t.Fatalf("/turn: ttl %d (%v), want %d", cred.TTL, err, int(ttl/time.Second))
	}
}
