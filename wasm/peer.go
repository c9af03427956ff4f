//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/onertc/onertc/client"
)

// peerConn is the app's side of one RTCPeerConnection the call made: local tracks, the
// remote stream, the chat data channel. The call makes a new one after every bye.
type peerConn struct {
	pc      js.Value
	dc      js.Value
	senders map[string]js.Value // by kind
	remote  js.Value            // MediaStream shown in #remote-video
	offs    offs
	ice     js.Value // the RTCIceTransport watched for path changes (path.go), once connected

	keyFrameBusy, keyFrameAgain bool // sendKeyFrame under way; another switch came meanwhile
}

// setupPeer is the PeerFactory hook: it runs on the call's goroutine before the call uses
// the peer, and hands the work to the UI goroutine, which owns the local media.
func (r *room) setupPeer(bp *client.BrowserPeer) error {
	done := make(chan error, 1)
	r.u.post(func() { done <- r.attach(bp.Value()) })
	return <-done
}

func (r *room) attach(pc js.Value) error {
	r.dropPeer()
	p := &peerConn{pc: pc, senders: map[string]js.Value{}, remote: js.Global().Get("MediaStream").New()}
	for _, kind := range []string{"audio", "video"} {
		track := r.media.track(kind)
		if kind == "video" && r.screen.Truthy() {
			track = r.screen
		}
		if track.Truthy() {
			s, err := try(pc, "addTrack", track, r.media.stream)
			if err != nil {
				return err
			}
			p.senders[kind] = s
			continue
		}
		// Nothing to send: still ask to receive (the offerer's m-lines decide the call).
		t, err := try(pc, "addTransceiver", kind, map[string]any{"direction": "recvonly"})
		if err != nil {
			return err
		}
		p.senders[kind] = t.Get("sender")
	}
	preferCodecs(pc, "video", queryParam("vsc"))
	preferCodecs(pc, "audio", queryParam("asc"))
	// A negotiated channel with a fixed id exists on both sides without waiting for the
	// other to announce it, whichever side offers.
	dc, err := try(pc, "createDataChannel", "chat", map[string]any{"negotiated": true, "id": 0})
	if err != nil {
		return err
	}
	p.dc = dc
	p.offs.add(r.u.on(pc, "track", func(ev js.Value) { r.onTrack(p, ev) }))
	p.offs.add(r.u.on(dc, "open", func(js.Value) { r.onChannelOpen(p) }))
	p.offs.add(r.u.on(dc, "close", func(js.Value) { r.onChannelClose(p) }))
	p.offs.add(r.u.on(dc, "message", func(ev js.Value) { r.onChannelMessage(p, ev) }))
	r.peer = p
	// A debugging hook, as AppRTC had appController: the console (and the browser tests)
	// reach the connection and its getStats here.
	js.Global().Set("onertcPC", pc)
	return nil
}

// dropPeer forgets the current connection (the call closes it).
func (r *room) dropPeer() {
	if r.peer == nil {
		return
	}
	r.peer.offs.run()
	r.peer = nil
	r.stats.reset()
	r.showVerification(nil)
	remote := byID("remote-video")
	remote.Set("srcObject", js.Null())
	r.onChannelClose(nil)
}

func (r *room) onTrack(p *peerConn, ev js.Value) {
	if p != r.peer {
		return
	}
	stream := js.Undefined()
	if ss := ev.Get("streams"); ss.Truthy() && ss.Length() > 0 {
		stream = ss.Index(0)
	}
	if !stream.Truthy() {
		p.remote.Call("addTrack", ev.Get("track"))
		stream = p.remote
	}
	remote := byID("remote-video")
	if !remote.Get("srcObject").Equal(stream) {
		remote.Set("srcObject", stream)
		ignoreRejection(remote.Call("play"))
	}
}

// replaceTrack sends next (or nothing, when undefined) instead of the current track of kind.
func (p *peerConn) replaceTrack(kind string, next js.Value) {
	s, ok := p.senders[kind]
	if !ok || !s.Truthy() {
		return
	}
	if !next.Truthy() {
		next = js.Null()
	}
	if pr, err := try(s, "replaceTrack", next); err == nil {
		ignoreRejection(pr)
	}
}

// preferCodecs puts the codec named by ?vsc= / ?asc= (e.g. VP9, H264, opus) first for kind,
// as AppRTC's parameters did, with setCodecPreferences instead of editing the SDP.
func preferCodecs(pc js.Value, kind, name string) {
	if name == "" {
		return
	}
	caps := js.Global().Get("RTCRtpReceiver")
	if !caps.Truthy() || caps.Get("getCapabilities").Type() != js.TypeFunction {
		return
	}
	c := caps.Call("getCapabilities", kind)
	if !c.Truthy() {
		return
	}
	codecs := c.Get("codecs")
	mimeTypes := make([]string, codecs.Length())
	for i := range mimeTypes {
		mimeTypes[i] = str(codecs.Index(i).Get("mimeType"))
	}
	order := codecOrder(mimeTypes, kind, name)
	if order == nil {
		return // the browser lacks it: keep its own order
	}
	ordered := make([]any, len(order))
	for i, j := range order {
		ordered[i] = codecs.Index(j)
	}
	ts := pc.Call("getTransceivers")
	for i := 0; i < ts.Length(); i++ {
		t := ts.Index(i)
		if t.Get("receiver").Get("track").Get("kind").String() == kind &&
			t.Get("setCodecPreferences").Type() == js.TypeFunction {
			_, _ = try(t, "setCodecPreferences", ordered)
		}
	}
}
