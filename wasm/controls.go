//go:build js && wasm

package main

import (
	"errors"
	"strconv"
	"syscall/js"
)

// bindControls wires the buttons, the keyboard shortcuts and the page's unload. These
// listeners live as long as the page, so they are never removed.
func (r *room) bindControls() {
	click := func(id string, f func()) { r.u.on(byID(id), "click", func(js.Value) { f() }) }
	click("join-button", r.join)
	click("hangup", r.hangup)
	click("rejoin-button", r.rejoin)
	click("mute-audio", r.toggleAudio)
	click("mute-video", r.toggleVideo)
	click("screen-share", r.toggleScreen)
	click("chat-button", r.toggleChat)
	click("info-button", r.toggleInfo)
	click("fullscreen-button", r.toggleFullscreen)
	click("copy-link", r.copyLink)
	if byID("copy-invite").Truthy() { // only in password mode
		click("copy-invite", r.copyInvite)
	}
	if js.Global().Get("navigator").Get("share").Type() == js.TypeFunction {
		setHidden(byID("share-link"), false)
		click("share-link", r.shareLink)
	}
	r.u.on(byID("camera-select"), "change", func(ev js.Value) {
		r.switchDevice("video", ev.Get("target").Get("value").String())
	})
	r.u.on(byID("mic-select"), "change", func(ev js.Value) {
		r.switchDevice("audio", ev.Get("target").Get("value").String())
	})
	listen(byID("chat-form"), "submit", func(ev js.Value) {
		ev.Call("preventDefault")
		r.u.post(r.sendChat)
	})
	listen(doc(), "keydown", r.onKey)
	// For the benchmark and the browser's performance panel: when remote video starts.
	listen(byID("remote-video"), "playing", func(js.Value) {
		js.Global().Get("performance").Call("mark", "onertc-remote-playing")
	})
	// pagehide, not beforeunload: it also fires on mobile when a tab is discarded.
	r.u.on(js.Global(), "pagehide", func(js.Value) { r.leaveOnUnload() })
}

// onKey runs inside the keydown event (preventDefault must), and only posts the action.
func (r *room) onKey(ev js.Value) {
	k := keyPress{key: str(ev.Get("key")),
		modified:  ev.Get("ctrlKey").Truthy() || ev.Get("metaKey").Truthy() || ev.Get("altKey").Truthy(),
		composing: ev.Get("isComposing").Truthy()}
	if t := ev.Get("target"); t.Truthy() {
		k.targetTag = str(t.Get("tagName"))
	}
	var action func()
	switch shortcutFor(k) {
	case shortcutMic:
		action = r.toggleAudio
	case shortcutCamera:
		action = r.toggleVideo
	case shortcutFull:
		action = r.toggleFullscreen
	case shortcutInfo:
		action = r.toggleInfo
	case shortcutHangup:
		action = r.hangup
	}
	if action == nil {
		return
	}
	ev.Call("preventDefault")
	r.u.post(action)
}

// toggleFullscreen puts the room (videos and controls) in full screen, or leaves it.
func (r *room) toggleFullscreen() {
	d := doc()
	if d.Get("fullscreenElement").Truthy() {
		if p, err := try(d, "exitFullscreen"); err == nil {
			ignoreRejection(p)
		}
		return
	}
	if r.root.Get("requestFullscreen").Type() != js.TypeFunction {
		return // iOS Safari: no element full screen
	}
	if p, err := try(r.root, "requestFullscreen"); err == nil {
		ignoreRejection(p)
	}
}

func (r *room) link() string { return byID("room-link").Get("value").String() }

// copyLink copies the room link; without the async clipboard API it selects the text so
// that the user can copy it.
func (r *room) copyLink() {
	label := byID("copy-link").Call("querySelector", "span")
	cb := js.Global().Get("navigator").Get("clipboard")
	if !cb.Truthy() {
		byID("room-link").Call("select")
		setText(label, "Press Ctrl+C")
		return
	}
	p, err := try(cb, "writeText", r.link())
	if err != nil {
		byID("room-link").Call("select")
		return
	}
	go func() {
		_, err := await(p)
		r.u.post(func() {
			if err != nil {
				byID("room-link").Call("select")
				setText(label, "Press Ctrl+C")
				return
			}
			setText(label, "Copied")
		})
	}()
}

// copyInvite asks the server for an invite link to this room (POST /invite/ROOM, which
// only someone signed in with the password gets) and copies it; when the clipboard says
// no, the link replaces the room link in the box, selected, to copy by hand.
func (r *room) copyInvite() {
	label := byID("copy-invite").Call("querySelector", "span")
	setText(label, "Making the link…")
	go func() {
		link, err := fetchInvite(r.id)
		if err != nil {
			r.log.Warn("invite link", "err", err)
			r.u.post(func() { setText(label, err.Error()) })
			return
		}
		copied := false
		if cb := js.Global().Get("navigator").Get("clipboard"); cb.Truthy() {
			if p, err := try(cb, "writeText", link); err == nil {
				_, err = await(p)
				copied = err == nil
			}
		}
		r.u.post(func() {
			if copied {
				setText(label, "Invite link copied")
				return
			}
			byID("room-link").Set("value", link)
			byID("room-link").Call("select")
			setText(label, "Press Ctrl+C")
		})
	}()
}

// fetchInvite is POST /invite/ROOM's link. Call it from a goroutine of its own.
func fetchInvite(room string) (string, error) {
	p, err := try(js.Global(), "fetch", invitePath(room), map[string]any{"method": "POST", "credentials": "same-origin"})
	if err != nil {
		return "", errors.New("cannot reach the server")
	}
	resp, err := await(p)
	if err != nil {
		return "", errors.New("cannot reach the server")
	}
	if st := resp.Get("status").Int(); st == 401 {
		return "", errors.New("only those with the password can invite")
	} else if st != 200 {
		return "", errors.New("the server answered " + strconv.Itoa(st))
	}
	body, err := await(resp.Call("json"))
	if err != nil || body.Get("url").Type() != js.TypeString {
		return "", errors.New("the server's answer has no link")
	}
	return body.Get("url").String(), nil
}

func (r *room) shareLink() {
	p, err := try(js.Global().Get("navigator"), "share", map[string]any{
		"title": "Video call", "text": "Join my video call", "url": r.link()})
	if err == nil {
		ignoreRejection(p)
	}
}
