//go:build !js

package browser

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/onertc/onertc/bot"
	"github.com/onertc/onertc/server"
)

// TestPasswordModeBrowserInvitesBot: on a server in password mode the room page asks for
// the password; once it is typed the browser joins, copies an invite link from the room
// view, and a bot holding only that link joins the room and calls the browser.
func TestPasswordModeBrowserInvitesBot(t *testing.T) {
	const password = "browser password"
	ts := startServer(t, func(c *server.Config) {
		c.Access.Mode, c.Access.Password = "password", password
	})
	b := newBrowser(t)
	grant(t, b, ts.url, "clipboard-read", "clipboard-write")
	tb := newTab(t, b, "host")
	room := ts.url + "/r/browser-password-1"
	tb.navigate(room)
	tb.waitFor("the password form", `document.getElementById("password-input") !== null && document.getElementById("join-button") === null`, 10*time.Second)
	tb.do(10*time.Second, sendKeys("#password-input", "wrong\n"))
	tb.waitFor("wrong password said", `(document.getElementById("login-problem")?.textContent ?? "").includes("Wrong password")`, 10*time.Second)
	tb.do(10*time.Second, sendKeys("#password-input", password+"\n"))
	tb.waitFor("the room page", `document.getElementById("join-button") !== null`, 10*time.Second)
	tb.joinRoom(room) // the cookie admits the page now
	tb.waitFor("waiting", `document.getElementById("room").dataset.state === "waiting"`, 15*time.Second)

	tb.front() // the clipboard is only for the focused page
	tb.click("#copy-invite")
	tb.waitFor("invite copied", `document.querySelector("#copy-invite span").textContent === "Invite link copied"`, 10*time.Second)
	var link string
	tb.eval(`navigator.clipboard.readText()`, &link)
	u, err := url.Parse(link)
	if err != nil || u.Path != "/r/browser-password-1" || u.Query().Get("invite") == "" || !strings.HasPrefix(link, ts.url) {
		t.Fatalf("clipboard %q: want an invite link to %s", link, room)
	}

	guest, err := bot.New(bot.Options{Server: ts.url, Room: "browser-password-1", Invite: link,
		IncludeLoopback: true, Timeout: 30 * time.Second, StatsEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := guest.Run(ctx)
		done <- err
	}()
	defer func() {
		cancel()
		<-done
	}()
	tb.waitRemoteVideo(30 * time.Second)
	tb.screenshot("password-call-with-invited-bot")
}
