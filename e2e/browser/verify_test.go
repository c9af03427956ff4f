//go:build !js

package browser

import (
	"context"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/onertc/onertc/bot"
	"github.com/onertc/onertc/client"
)

// codeShape is what the call view shows: three groups of four digits.
var codeShape = regexp.MustCompile(`^[0-9]{4} [0-9]{4} [0-9]{4}$`)

// pageCertificates reads the tab's DTLS certificates straight from its RTCPeerConnection's
// getStats, apart from the app: what the shown code must come from.
func (tb *tab) pageCertificates() (local, remote client.Fingerprint) {
	tb.t.Helper()
	var got struct{ LocalAlg, Local, RemoteAlg, Remote string }
	tb.eval(`(async () => {
		const stats = [...(await window.onertcPC.getStats()).values()];
		const byID = Object.fromEntries(stats.map(s => [s.id, s]));
		const tr = stats.find(s => s.type === "transport" && s.dtlsState === "connected");
		const l = byID[tr.localCertificateId], r = byID[tr.remoteCertificateId];
		return {LocalAlg: l.fingerprintAlgorithm, Local: l.fingerprint, RemoteAlg: r.fingerprintAlgorithm, Remote: r.fingerprint};
	})()`, &got)
	var err error
	if local, err = client.ParseFingerprint(got.LocalAlg, got.Local); err != nil {
		tb.t.Fatalf("%s: local certificate in getStats: %v", tb.name, err)
	}
	if remote, err = client.ParseFingerprint(got.RemoteAlg, got.Remote); err != nil {
		tb.t.Fatalf("%s: remote certificate in getStats: %v", tb.name, err)
	}
	return local, remote
}

// shownCode waits until the call view shows a code and returns it, checked against the
// page's own certificates.
func (tb *tab) shownCode() string {
	tb.t.Helper()
	tb.waitFor("verification code shown", `document.getElementById("room").dataset.state === "incall" &&
		getComputedStyle(document.getElementById("verify")).display !== "none" &&
		document.getElementById("verify-code").textContent !== ""`, 15*time.Second)
	code := tb.text("#verify-code")
	if !codeShape.MatchString(code) {
		tb.t.Fatalf("%s shows code %q, want three groups of four digits", tb.name, code)
	}
	if hint := tb.text("#verify .hint"); hint != "Read this to each other: if it differs, someone is in the middle." {
		tb.t.Errorf("%s: explanation %q", tb.name, hint)
	}
	local, remote := tb.pageCertificates()
	if want, err := client.VerificationCode(local, remote); err != nil || code != want {
		tb.t.Fatalf("%s shows %q; its DTLS certificates give %q (%v)", tb.name, code, want, err)
	}
	return code
}

// infoCertificates opens the info box and returns its two certificate lines.
func (tb *tab) infoCertificates() (code, yours, theirs string) {
	tb.t.Helper()
	tb.click("#info-button")
	tb.waitFor("certificates in the info box", `[...document.querySelectorAll("#stats dt")].some(dt => dt.textContent === "Their certificate")`, 5*time.Second)
	var rows map[string]string
	tb.eval(`Object.fromEntries([...document.querySelectorAll("#stats dt")].map(dt => [dt.textContent, dt.nextElementSibling.textContent]))`, &rows)
	tb.click("#info-button")
	return rows["Verification code"], rows["Your certificate"], rows["Their certificate"]
}

// TestBrowserVerificationCode: two Chromium tabs in a 1:1 call show the same code, the one
// their DTLS certificates give, with both certificates in the info box; a tab and an onertc
// bot show and print the same code.
func TestBrowserVerificationCode(t *testing.T) {
	ts := startServer(t, nil)
	browser := newBrowser(t)

	t.Run("two tabs", func(t *testing.T) {
		a, b := newTab(t, browser, "tab A"), newTab(t, browser, "tab B")
		room := ts.url + "/r/browser-verify-1"
		a.joinRoom(room)
		a.waitFor("A waiting", `document.getElementById("room").dataset.state === "waiting"`, 15*time.Second)
		if a.bool(`getComputedStyle(document.getElementById("verify")).display !== "none"`) {
			t.Error("A alone in the room shows a verification code")
		}
		b.joinRoom(room)
		a.waitRemoteVideo(20 * time.Second)
		b.waitRemoteVideo(20 * time.Second)
		codeA, codeB := a.shownCode(), b.shownCode()
		if codeA != codeB {
			t.Fatalf("tab A shows %q, tab B %q", codeA, codeB)
		}
		a.screenshot("verification-code")
		infoA, yoursA, theirsA := a.infoCertificates()
		infoB, yoursB, theirsB := b.infoCertificates()
		if infoA != codeA || infoB != codeB {
			t.Errorf("info boxes say %q and %q, the views %q", infoA, infoB, codeA)
		}
		if yoursA == "" || yoursA != theirsB || yoursB != theirsA || yoursA == yoursB {
			t.Errorf("certificates not mirrored: A %q / %q, B %q / %q", yoursA, theirsA, yoursB, theirsB)
		}
		// The code belongs to the connection: gone when the other side hangs up.
		b.click("#hangup")
		a.waitFor("A back to waiting", `document.getElementById("room").dataset.state === "waiting"`, 15*time.Second)
		if code := a.text("#verify-code"); code != "" || !a.bool(`document.getElementById("verify").hidden`) {
			t.Errorf("after the other side left, A still shows code %q", code)
		}
	})

	t.Run("phone", func(t *testing.T) {
		phone, desk := newTab(t, browser, "phone"), newTab(t, browser, "desktop")
		phone.do(5*time.Second, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(3), chromedp.EmulatePortrait))
		room := ts.url + "/r/browser-verify-3"
		phone.joinRoom(room)
		phone.waitFor("phone waiting", `document.getElementById("room").dataset.state === "waiting"`, 15*time.Second)
		desk.joinRoom(room)
		phone.waitRemoteVideo(20 * time.Second)
		if p, d := phone.shownCode(), desk.shownCode(); p != d {
			t.Fatalf("phone shows %q, desktop %q", p, d)
		}
		phone.screenshot("phone-verification-code")
		b, ok := phone.box("#verify")
		if !ok || b.X < 0 || b.Y < 0 || b.X+b.W > b.VW+0.5 || b.Y+b.H > b.VH+0.5 {
			t.Errorf("the code at %+v is not inside the phone's screen", b)
		}
		for _, other := range []string{"#mini-video", "#controls", "#status-div"} {
			if overlap(phone, "#verify", other) {
				t.Errorf("the code overlaps %s", other)
			}
		}
	})

	t.Run("tab and bot", func(t *testing.T) {
		tb := newTab(t, browser, "tab")
		tb.joinRoom(ts.url + "/r/browser-verify-2")
		tb.waitFor("waiting", `document.getElementById("room").dataset.state === "waiting"`, 15*time.Second)
		var mu sync.Mutex
		var printed []bot.Record
		b, err := bot.New(bot.Options{Server: ts.url, Room: "browser-verify-2", IncludeLoopback: true,
			Timeout: 30 * time.Second, StatsEvery: -1, OnRecord: func(r bot.Record) {
				if r.Event == "verification" {
					mu.Lock()
					printed = append(printed, r)
					mu.Unlock()
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := b.Run(ctx)
			done <- err
		}()
		defer func() {
			cancel()
			<-done
		}()
		tb.waitRemoteVideo(30 * time.Second)
		shown := tb.shownCode()
		var rec bot.Record
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			n := len(printed)
			if n > 0 {
				rec = printed[n-1]
			}
			mu.Unlock()
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the bot printed no verification code")
			}
			time.Sleep(100 * time.Millisecond)
		}
		if rec.VerificationCode != shown {
			t.Fatalf("the tab shows %q, the bot prints %q", shown, rec.VerificationCode)
		}
		local, remote := tb.pageCertificates()
		if rec.LocalFingerprint != remote.String() || rec.RemoteFingerprint != local.String() {
			t.Errorf("bot's certificates %s / %s, the tab's %s / %s", rec.LocalFingerprint, rec.RemoteFingerprint, local, remote)
		}
	})
}
