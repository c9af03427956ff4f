//go:build js && wasm

package main

import "syscall/js"

// When the browser moves a call to another path by itself (its ICE agent switches to another
// candidate pair: a TURN server died and a pair through another one still answers, often with
// no "disconnected" or "failed" on the way, so the call's state machine never hears of it), the
// video frames sent into the dead path are gone and the other side's decoder waits for a key
// frame: remote video stayed frozen 2–4 s after packets flowed again, until a key-frame request
// of the receiver's own got through. So on a path change this side makes its encoder start
// over with a key frame. In TestBrowserCallSurvivesInstanceKills (e2e/browser) remote video
// stopped 4.2–8.6 s after a TURN server's SIGKILL without this, 2.9–6.0 s (median 4 s) with it;
// Chromium switches pairs 3.5–4 s after the kill.

// msgPathChanged is logged on every switch (the browser tests look for it).
const msgPathChanged = "the connection moved to another path; sending a key frame"

// watchPath listens for changes of the selected candidate pair of p's connection, once it
// is connected (its transport exists only after negotiation, and the first selection is no
// change). Browsers without RTCIceTransport events go on without it.
func (r *room) watchPath(p *peerConn) {
	if p.ice.Truthy() {
		return
	}
	senders, err := try(p.pc, "getSenders")
	if err != nil {
		return
	}
	for i := 0; i < senders.Length(); i++ {
		if tr := senders.Index(i).Get("transport"); tr.Truthy() && tr.Get("iceTransport").Truthy() {
			p.ice = tr.Get("iceTransport")
			break
		}
	}
	if !p.ice.Truthy() {
		return
	}
	p.offs.add(r.u.on(p.ice, "selectedcandidatepairchange", func(js.Value) { r.onPathChange(p) }))
}

func (r *room) onPathChange(p *peerConn) {
	if p != r.peer {
		return
	}
	local, remote := "", ""
	if pair, err := try(p.ice, "getSelectedCandidatePair"); err == nil && pair.Truthy() {
		local, remote = pair.Get("local").Get("type").String(), pair.Get("remote").Get("type").String()
	}
	r.log.Info(msgPathChanged, "local", local, "remote", remote)
	r.sendKeyFrame(p)
}

// sendKeyFrame turns the video encoding off and on again: a browser restarts an encoding
// with a key frame, and the page has no other way to ask for one (RTCRtpSender has no
// generateKeyFrame outside encoded transforms). Switches that come while one is under way
// are folded into one more round after it.
func (r *room) sendKeyFrame(p *peerConn) {
	if p.keyFrameBusy {
		p.keyFrameAgain = true
		return
	}
	s := p.senders["video"]
	if !s.Truthy() || !s.Get("track").Truthy() {
		return // nothing sent: nothing to repair
	}
	p.keyFrameBusy = true
	go func() {
		err := restartEncodings(s)
		r.u.post(func() {
			p.keyFrameBusy = false
			if err != nil {
				r.log.Warn("no key frame after the path change", "err", err)
			}
			if p.keyFrameAgain && p == r.peer {
				p.keyFrameAgain = false
				r.sendKeyFrame(p)
			}
		})
	}()
}

// restartEncodings deactivates the sender's active encodings and activates them again,
// each step awaited (setParameters needs fresh getParameters). It runs on a goroutine of
// its own: it awaits promises. Encodings already inactive are left as they are.
func restartEncodings(s js.Value) error {
	var restart []int
	for _, active := range []bool{false, true} {
		params, err := try(s, "getParameters")
		if err != nil {
			return err
		}
		encs := params.Get("encodings")
		if !active {
			for i := 0; i < encs.Length(); i++ {
				if encs.Index(i).Get("active").Truthy() {
					restart = append(restart, i)
				}
			}
		}
		if len(restart) == 0 {
			return nil
		}
		for _, i := range restart {
			if i < encs.Length() {
				encs.Index(i).Set("active", active)
			}
		}
		promise, err := try(s, "setParameters", params)
		if err != nil {
			return err
		}
		if _, err := await(promise); err != nil {
			return err
		}
	}
	return nil
}
