//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/onertc/onertc/client/jsjson"
)

// localMedia is the camera and microphone stream; a missing track is js.Undefined (receive
// only for that kind).
type localMedia struct {
	stream js.Value
	audio  js.Value
	video  js.Value
}

func (m *localMedia) track(kind string) js.Value {
	if kind == "audio" {
		return m.audio
	}
	return m.video
}

func (m *localMedia) stop() {
	for _, t := range []js.Value{m.audio, m.video} {
		if t.Truthy() {
			t.Call("stop")
		}
	}
	*m = localMedia{stream: js.Undefined(), audio: js.Undefined(), video: js.Undefined()}
}

// constraints are the media_constraints of the page's parameters (?audio=, ?video=, ?hd=).
func (r *room) constraints() (audio, video any) {
	audio, video = true, true
	if r.cfg.Params == nil || r.cfg.Params.MediaConstraints == "" {
		return audio, video
	}
	c, err := jsjson.Parse(r.cfg.Params.MediaConstraints)
	if err != nil || c.Type() != js.TypeObject {
		return audio, video
	}
	return constraint(c.Get("audio")), constraint(c.Get("video"))
}

// constraint turns a JSON constraint (true, false or an object) into a Go bool or a JS
// value; absent or null is true.
func constraint(v js.Value) any {
	switch v.Type() {
	case js.TypeUndefined, js.TypeNull:
		return true
	case js.TypeBoolean:
		return v.Bool()
	}
	return v
}

func wanted(c any) bool {
	b, isBool := c.(bool)
	return !isBool || b
}

// acquireMedia asks for the camera and microphone, falling back to what exists; whatever
// it gets (possibly nothing: receive only), it then calls done on the UI goroutine. The
// devices chosen on the page come first (a rejoin takes the ones the call had), the
// browser's defaults when they are gone.
func (r *room) acquireMedia(done func()) {
	audio, video := r.constraints()
	if !secureContext() || !wanted(audio) && !wanted(video) {
		r.setMedia(js.Undefined(), nil)
		done()
		return
	}
	// A fresh copy to add the chosen devices to: constraints parses the page's anew.
	chosenAudio, chosenVideo := r.constraints()
	chosenAudio, chosenVideo = withDevice(chosenAudio, r.chosen["audio"]), withDevice(chosenVideo, r.chosen["video"])
	anyChosen := r.chosen["audio"] != "" || r.chosen["video"] != ""
	go func() {
		if anyChosen {
			stream, err := getUserMedia(chosenAudio, chosenVideo)
			if err == nil {
				r.u.post(func() { r.tookMedia(stream, nil, done) })
				return
			}
			r.log.Info("the chosen devices are not available; taking the defaults", "err", err)
		}
		stream, err := getUserMedia(audio, video)
		if err != nil && errName(err) != "NotAllowedError" && wanted(audio) && wanted(video) {
			// One of the two is missing or busy: take the other one alone.
			if s, err2 := getUserMedia(audio, false); err2 == nil {
				stream, err = s, nil
			} else if s, err3 := getUserMedia(false, video); err3 == nil {
				stream, err = s, nil
			}
		}
		r.u.post(func() { r.tookMedia(stream, err, done) })
	}()
}

func (r *room) tookMedia(stream js.Value, err error, done func()) {
	r.setMedia(stream, err)
	done()
	go r.listDevices()
}

// withDevice is constraint c asking for exactly the device id ("": c as it is).
func withDevice(c any, id string) any {
	if id == "" || !wanted(c) {
		return c
	}
	if v, ok := c.(js.Value); ok {
		v.Set("deviceId", map[string]any{"exact": id})
		return v
	}
	return map[string]any{"deviceId": map[string]any{"exact": id}}
}

func getUserMedia(audio, video any) (js.Value, error) {
	md := js.Global().Get("navigator").Get("mediaDevices")
	p, err := try(md, "getUserMedia", map[string]any{"audio": audio, "video": video})
	if err != nil {
		return js.Undefined(), err
	}
	return await(p)
}

// setMedia takes a new local stream (or its failure) into the page and the preview.
func (r *room) setMedia(stream js.Value, err error) {
	r.media.stop()
	r.mediaReady = true
	if err != nil {
		r.log.Warn("no local media", "err", err)
		switch errName(err) {
		case "NotAllowedError", "SecurityError":
			r.status(msgDenied, true)
		default:
			r.status(msgNoDevice, true)
		}
	}
	if !stream.Truthy() {
		r.media = localMedia{stream: js.Undefined(), audio: js.Undefined(), video: js.Undefined()}
		setPressed(byID("mute-audio"), true)
		setPressed(byID("mute-video"), true)
		r.markNoCamera()
		return
	}
	r.media = localMedia{stream: stream, audio: firstTrack(stream, "getAudioTracks"), video: firstTrack(stream, "getVideoTracks")}
	r.applyMute()
	for _, id := range []string{"local-video", "mini-video"} {
		v := byID(id)
		v.Set("srcObject", stream)
		ignoreRejection(v.Call("play"))
	}
}

func firstTrack(stream js.Value, method string) js.Value {
	ts := stream.Call(method)
	if ts.Length() == 0 {
		return js.Undefined()
	}
	return ts.Index(0)
}

// applyMute sets the tracks' enabled flags from the buttons' state: a disabled track sends
// silence or black frames, so nothing needs renegotiating.
func (r *room) applyMute() {
	if r.media.audio.Truthy() {
		r.media.audio.Set("enabled", !r.audioOff)
	}
	if r.media.video.Truthy() {
		r.media.video.Set("enabled", !r.videoOff)
	}
	r.markNoCamera()
	setPressed(byID("mute-audio"), r.audioOff || !r.media.audio.Truthy())
	setPressed(byID("mute-video"), r.videoOff || !r.media.video.Truthy())
	byID("mute-audio").Set("title", map[bool]string{false: "Mute microphone (m)", true: "Unmute microphone (m)"}[r.audioOff])
	byID("mute-video").Set("title", map[bool]string{false: "Turn camera off (c)", true: "Turn camera on (c)"}[r.videoOff])
	r.sendMediaState()
}

// markNoCamera tells the CSS that there is no camera picture (receive only): no empty
// picture-in-picture box.
func (r *room) markNoCamera() {
	r.root.Get("classList").Call("toggle", "no-camera", !r.media.video.Truthy())
}

func (r *room) toggleAudio() {
	if !r.media.audio.Truthy() {
		r.status("No microphone: nothing to unmute.", true)
		return
	}
	r.audioOff = !r.audioOff
	r.applyMute()
}

func (r *room) toggleVideo() {
	if !r.media.video.Truthy() {
		r.status("No camera: nothing to turn on.", true)
		return
	}
	r.videoOff = !r.videoOff
	r.applyMute()
}

// listDevices fills the camera and microphone choices (labels are only known once the
// user has granted access).
func (r *room) listDevices() {
	md := js.Global().Get("navigator").Get("mediaDevices")
	p, err := try(md, "enumerateDevices")
	if err != nil {
		return
	}
	list, err := await(p)
	if err != nil {
		return
	}
	var devs []device
	for i := 0; i < list.Length(); i++ {
		d := list.Index(i)
		devs = append(devs, device{d.Get("deviceId").String(), d.Get("label").String(), d.Get("kind").String()})
	}
	r.u.post(func() {
		for _, sel := range []struct{ id, kind, name string }{
			{"camera-select", "videoinput", "Camera"}, {"mic-select", "audioinput", "Microphone"},
		} {
			el := byID(sel.id)
			current := r.media.track(map[string]string{"videoinput": "video", "audioinput": "audio"}[sel.kind])
			currentID := ""
			if current.Truthy() {
				currentID = current.Call("getSettings").Get("deviceId").String()
			}
			el.Set("innerHTML", "")
			choices := deviceChoices(devs, sel.kind, sel.name, currentID)
			for _, c := range choices {
				opt := js.Global().Get("Option").New(c.label, c.value)
				opt.Set("selected", c.selected)
				el.Call("appendChild", opt)
			}
			if len(choices) == 0 {
				el.Call("appendChild", js.Global().Get("Option").New("None found", ""))
			}
			el.Set("disabled", len(choices) == 0)
		}
	})
}

// switchDevice replaces the camera or microphone with the chosen device, in the preview and
// in the call (replaceTrack: no renegotiation).
func (r *room) switchDevice(kind, deviceID string) {
	if deviceID == "" {
		return
	}
	c := map[string]any{"deviceId": map[string]any{"exact": deviceID}}
	if kind == "video" {
		if _, v := r.constraints(); v != true && v != false {
			// Keep ?hd=true's size on the new camera.
			c = map[string]any{"deviceId": map[string]any{"exact": deviceID},
				"width": map[string]any{"ideal": 1280}, "height": map[string]any{"ideal": 720}}
		}
	}
	go func() {
		var s js.Value
		var err error
		if kind == "audio" {
			s, err = getUserMedia(c, false)
		} else {
			s, err = getUserMedia(false, c)
		}
		r.u.post(func() {
			if err != nil {
				r.status("Cannot use that device: "+err.Error(), true)
				return
			}
			method := map[string]string{"audio": "getAudioTracks", "video": "getVideoTracks"}[kind]
			next := firstTrack(s, method)
			r.chosen[kind] = deviceID
			r.replaceLocal(kind, next)
		})
	}()
}

func (r *room) replaceLocal(kind string, next js.Value) {
	old := r.media.track(kind)
	if !r.media.stream.Truthy() {
		r.media.stream = js.Global().Get("MediaStream").New()
		for _, id := range []string{"local-video", "mini-video"} {
			byID(id).Set("srcObject", r.media.stream)
		}
	}
	if old.Truthy() {
		r.media.stream.Call("removeTrack", old)
		old.Call("stop")
	}
	r.media.stream.Call("addTrack", next)
	if kind == "audio" {
		r.media.audio = next
	} else {
		r.media.video = next
	}
	r.applyMute()
	if p := r.sender(); p != nil && !(kind == "video" && r.screen.Truthy() && !r.screenBeside()) {
		p.replaceTrack(kind, next)
	}
}

// toggleScreen starts or stops sharing the screen: in place of the camera in a 1:1 call,
// beside it in a group call.
func (r *room) toggleScreen() {
	if r.screen.Truthy() {
		r.stopScreen()
		return
	}
	if r.sender() == nil {
		return
	}
	md := js.Global().Get("navigator").Get("mediaDevices")
	if !md.Truthy() || md.Get("getDisplayMedia").Type() != js.TypeFunction {
		r.status("This browser cannot share the screen.", true)
		return
	}
	go func() {
		p, err := try(md, "getDisplayMedia", map[string]any{"video": true, "audio": false})
		var s js.Value
		if err == nil {
			s, err = await(p)
		}
		r.u.post(func() {
			if err != nil {
				if errName(err) != "NotAllowedError" { // NotAllowed: the user cancelled the picker
					r.status("Cannot share the screen: "+err.Error(), true)
				}
				return
			}
			track := firstTrack(s, "getVideoTracks")
			p := r.sender()
			if p == nil || !track.Truthy() {
				track.Call("stop")
				return
			}
			if r.screenBeside() {
				if err := r.shareScreenInGroup(track); err != nil {
					track.Call("stop")
					r.status("Cannot share the screen: "+err.Error(), true)
					return
				}
			} else {
				p.replaceTrack("video", track)
			}
			r.screen = track
			mini := byID("mini-video")
			mini.Set("srcObject", s)
			mini.Get("classList").Call("add", "screen")
			setPressed(byID("screen-share"), true)
			// The browser's own "stop sharing" bar ends the track.
			r.screenOff = r.u.on(track, "ended", func(js.Value) {
				if r.screen.Equal(track) {
					r.stopScreen()
				}
			})
		})
	}()
}

func (r *room) stopScreen() {
	if !r.screen.Truthy() {
		return
	}
	r.screen.Call("stop")
	r.screen = js.Undefined()
	if r.screenOff != nil {
		r.screenOff()
		r.screenOff = nil
	}
	if r.screenBeside() {
		r.unshareScreenInGroup()
	} else if p := r.sender(); p != nil {
		p.replaceTrack("video", r.media.video)
	}
	mini := byID("mini-video")
	mini.Set("srcObject", r.media.stream)
	mini.Get("classList").Call("remove", "screen")
	setPressed(byID("screen-share"), false)
}

// sender is the connection that carries this side's media: the 1:1 peer, or in a group
// call the up connection to the server (nil before either exists).
func (r *room) sender() *peerConn {
	if r.peer != nil {
		return r.peer
	}
	if r.group != nil {
		return r.group.up
	}
	return nil
}
