//go:build !js

package browser

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// groupOfThree opens one tab per name in room (a path with its query) on base, joins them
// one after the other under those names, and waits until each shows the other two with
// video playing: the first two start a 1:1 call, the third makes it a group.
func groupOfThree(t *testing.T, base, room string, names [3]string) []*tab {
	t.Helper()
	browser := newBrowser(t)
	var tabs []*tab
	for i, n := range names {
		tb := newTab(t, browser, n)
		tabs = append(tabs, tb)
		tb.logConsoleOnFailure()
		// Generous deadlines: with two tabs in a call at a load of 25 and more, the third's
		// page load or a click took over 20 s.
		tb.do(60*time.Second, chromedp.Navigate(base+room))
		tb.waitReady()
		tb.eval(fmt.Sprintf(`document.getElementById("name-input").value = %q`, n), nil)
		tb.clickWithin(30*time.Second, "#join-button")
		switch i {
		case 0:
			tb.waitFor("first waiting", `document.getElementById("room").dataset.state === "waiting"`, 15*time.Second)
		case 1:
			tabs[0].waitRemoteVideo(30 * time.Second)
			tb.waitRemoteVideo(30 * time.Second)
		}
	}
	// Generous: at a load of 30 and more on two cores, the move took over 45 s.
	for _, tb := range tabs {
		tb.waitTilesPlaying(2, 90*time.Second)
	}
	return tabs
}

// clickWithin is click with a deadline of d, for a loaded machine.
func (tb *tab) clickWithin(d time.Duration, sel string) {
	tb.t.Helper()
	tb.do(d, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// chatLinesJS lists a tab's chat lines as {From, Text, Class}.
const chatLinesJS = `[...document.querySelectorAll("#chat-log li")].map(li => {
	const from = li.querySelector(".chat-from");
	return {From: from ? from.textContent : "", Text: from ? li.textContent.slice(from.textContent.length) : li.textContent, Class: li.className};
})`

type chatLine struct{ From, Text, Class string }

// TestGroupChatThreeTabs: in a group of three, a line typed in one tab appears in the other
// two under the sender's name, as text (not markup), and not twice in the sender's own.
func TestGroupChatThreeTabs(t *testing.T) {
	base := startGroupServer(t)
	names := [3]string{"Ann", "Bob", "Cy"}
	tabs := groupOfThree(t, base, "/r/browser-group-chat?debug=true", names)
	// The deadlines are generous (a click took over 10 s at a load of 40); they only catch
	// a chat that does not work.
	for _, tb := range tabs {
		tb.clickWithin(30*time.Second, "#chat-button")
		tb.waitFor("chat input on", `!document.getElementById("chat").hidden && !document.getElementById("chat-input").disabled`, 10*time.Second)
	}
	for i, tb := range tabs {
		line := fmt.Sprintf("<b>hello</b> from %s 🎉", names[i])
		tb.do(30*time.Second, sendKeys("#chat-input", line+"\n"))
		for j, other := range tabs {
			if j == i {
				continue
			}
			other.waitFor(names[j]+" sees "+names[i]+"'s line", `[...document.querySelectorAll("#chat-log li.theirs")].some(li =>
				li.querySelector(".chat-from")?.textContent === `+jsString(names[i])+` && li.textContent.endsWith(`+jsString(line)+`))`, 30*time.Second)
		}
	}
	for i, tb := range tabs {
		var lines []chatLine
		tb.eval(chatLinesJS, &lines)
		mine, theirs := 0, map[string]int{}
		for _, l := range lines {
			switch l.Class {
			case "mine":
				mine++
				if l.Text != fmt.Sprintf("<b>hello</b> from %s 🎉", names[i]) {
					t.Errorf("%s: own line %q", tb.name, l.Text)
				}
			case "theirs":
				theirs[l.From]++
				if l.Text != fmt.Sprintf("<b>hello</b> from %s 🎉", l.From) {
					t.Errorf("%s: line from %s reads %q", tb.name, l.From, l.Text)
				}
			}
		}
		if mine != 1 || len(theirs) != 2 || theirs[names[i]] != 0 {
			t.Errorf("%s: %d own lines and others' %v, want 1 and one from each of the other two: %+v", tb.name, mine, theirs, lines)
		}
		if tb.bool(`document.querySelector("#chat-log b") !== null`) {
			t.Errorf("%s: a chat line was rendered as HTML", tb.name)
		}
	}
	tabs[1].screenshot("group-chat")
}
