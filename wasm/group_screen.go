//go:build js && wasm

package main

import "syscall/js"

// In a group call a screen share is one more video section of the up connection, beside
// the camera (a 1:1 call replaces the camera with it instead): the server forwards it as a
// "screen-" track, which the others show as a large tile. The section stays once made;
// stopping the share makes it inactive, and the next share sends on it again, so sharing
// on and off never adds sections (the server takes three at most).

// screenBeside reports whether a screen share goes beside the camera: in a group call,
// once the 1:1 connection is gone.
func (r *room) screenBeside() bool {
	return r.peer == nil && r.group != nil && r.group.up != nil
}

// addScreenSection sends track on the up connection's screen section, making it if need be.
func (r *room) addScreenSection(pc, track js.Value) error {
	g := r.group
	if g.screenTr.Truthy() {
		g.screenTr.Set("direction", "sendonly")
		ignoreRejection(g.screenTr.Get("sender").Call("replaceTrack", track))
		return nil
	}
	stream := js.Global().Get("MediaStream").New(js.ValueOf([]any{track}))
	t, err := try(pc, "addTransceiver", track, map[string]any{"direction": "sendonly", "streams": []any{stream}})
	if err != nil {
		return err
	}
	g.screenTr = t
	return nil
}

// shareScreenInGroup publishes track beside the camera and offers the change.
func (r *room) shareScreenInGroup(track js.Value) error {
	if err := r.addScreenSection(r.group.up.pc, track); err != nil {
		return err
	}
	r.renegotiateUp()
	return nil
}

// unshareScreenInGroup stops sending on the screen section and offers the change: the
// server ends the screen's publication, and the others' screen tiles go.
func (r *room) unshareScreenInGroup() {
	g := r.group
	if g == nil || !g.screenTr.Truthy() {
		return
	}
	ignoreRejection(g.screenTr.Get("sender").Call("replaceTrack", js.Null()))
	g.screenTr.Set("direction", "inactive")
	r.renegotiateUp()
}

func (r *room) renegotiateUp() {
	if r.call != nil {
		if s := r.call.Session(); s != nil {
			s.Renegotiate()
		}
	}
}

// groupScreenMid is the session's GroupConfig.ScreenMid: the mid of the section that
// carries a screen share, "" when none does. The session's loop asks; the UI goroutine
// answers.
func (r *room) groupScreenMid() string {
	done := make(chan string, 1)
	r.u.post(func() {
		mid := ""
		if g := r.group; g != nil && g.screenTr.Truthy() && str(g.screenTr.Get("direction")) == "sendonly" {
			mid = str(g.screenTr.Get("mid"))
		}
		done <- mid
	})
	return <-done
}
