//go:build js && wasm

package main

import (
	"context"
	"syscall/js"

	"github.com/onertc/onertc/client"
	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/web/page"
)

// Views of the room page, the values of #room[data-state]; app.css shows and hides by them.
const (
	statePrejoin    = "prejoin"    // camera preview, "Ready to join?"
	stateJoining    = "joining"    // join clicked, not yet in the room
	stateWaiting    = "waiting"    // alone in the room: share the link
	stateConnecting = "connecting" // someone is there, media not flowing yet
	stateInCall     = "incall"
	stateEnded      = "ended" // we hung up
	stateFull       = "full"
	stateError      = "error"
)

// room is the room page's app. Its fields are owned by the UI goroutine.
type room struct {
	u    *ui
	log  consoleLogger
	cfg  page.Config
	id   string
	root js.Value

	media      localMedia
	mediaReady bool
	audioOff   bool
	videoOff   bool
	screen     js.Value          // the screen-capture track while sharing, else undefined
	screenOff  func()            // removes the screen track's "ended" listener
	chosen     map[string]string // the device id chosen on the page by kind ("audio", "video"), for a rejoin

	call      *client.GroupCall // a 1:1 call that becomes a group call when a third joins
	group     *groupView        // the group call's view, nil in a 1:1 call
	callGen   int
	cancel    context.CancelFunc
	joined    bool
	hungUp    bool
	rejoining bool
	peer      *peerConn
	state     string
	verified  *client.Verification // of the current connection, nil without one

	stats   statsState
	infoOn  bool
	chatOn  bool
	unread  bool
	chatLog js.Value
}

func startRoom(u *ui, cfg page.Config, log consoleLogger) {
	r := &room{u: u, log: log, cfg: cfg, id: cfg.Room, root: byID("room"), screen: js.Undefined(),
		chosen: map[string]string{}, chatLog: byID("chat-log")}
	r.bindControls()
	fillName()
	r.showPrivacy(false)
	r.setState(statePrejoin)
	r.status("", false)
	if !secureContext() {
		r.status(msgInsecure, true)
	}
	r.acquireMedia(func() {
		button := byID("join-button")
		button.Set("disabled", false)
		setText(button, "Join")
		button.Call("focus")
	})
}

// setState switches the view.
func (r *room) setState(s string) {
	r.state = s
	r.root.Get("dataset").Set("state", s)
	placeDevices(s)
}

// placeDevices puts the camera and microphone choice where view s shows it: on the "Ready
// to join?" card before the call, in the info box from joining on (the card is hidden then,
// and a call's device change must stay within reach).
func placeDevices(s string) {
	d := byID("devices")
	if !d.Truthy() {
		return
	}
	if s == statePrejoin || s == stateJoining {
		if card := byID("prejoin"); !d.Get("parentNode").Equal(card) {
			card.Call("insertBefore", d, byID("join-button"))
		}
		return
	}
	if slot := byID("devices-in-call"); !d.Get("parentNode").Equal(slot) {
		slot.Call("appendChild", d)
	}
}

// status shows a line in #status-div ("" hides it); isErr colours it as a problem.
func (r *room) status(text string, isErr bool) {
	el := byID("status-div")
	setText(el, text)
	el.Get("classList").Call("toggle", "error", isErr)
}

func (r *room) inCall() bool {
	return r.call != nil && !r.hungUp
}

// join starts a call in the room: the same client.Call the bots run.
func (r *room) join() {
	if r.call != nil || !r.mediaReady {
		return
	}
	js.Global().Get("performance").Call("mark", "onertc-join")
	if err := rememberRoom(r.id); err != nil {
		r.log.Debug("recent rooms not saved", "err", err) // storage off: the call goes on
	}
	r.setState(stateJoining)
	r.status("Joining…", false)
	r.joined, r.hungUp = false, false
	r.callGen++
	gen := r.callGen
	call, err := client.NewGroupCall(client.GroupCallConfig{
		Call: client.Config{
			Room:      r.id,
			Transport: client.NewBrowserTransport(""),
			// The page's query carries the call's options (?it=relay, ?tt=, ?wshpp=, …); the
			// server answers with them in the join parameters, as it did for AppRTC's page.
			JoinQuery: js.Global().Get("location").Get("search").String(),
			NewPeer:   client.BrowserFactory(r.setupPeer),
			Logger:    r.log,
			OnEvent:   func(ev client.Event) { r.u.post(func() { r.onEvent(gen, ev) }) },
		},
		Group: client.GroupConfig{
			Name:    r.chosenName(),
			NewUp:   client.BrowserFactory(r.setupGroupUp),
			NewDown: client.BrowserFactory(r.setupGroupDown),
			Logger:  r.log,
			OnEvent: func(ev client.GroupEvent) { r.u.post(func() { r.onGroupEvent(gen, ev) }) },

			// A screen share goes beside the camera as a section of its own (wasm/group_screen.go).
			ScreenMid: r.groupScreenMid,
		},
		// The page says when the group's media plays (checkGroupMedia): the 1:1 call then
		// ends once the other side's plays too.
		WaitMedia: true,
	})
	if err != nil {
		r.fail("Cannot start the call: " + err.Error())
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.call, r.cancel = call, cancel
	go func() {
		err := call.Run(ctx)
		r.u.post(func() { r.ended(gen, err) })
	}()
}

// hangup leaves the call; ended shows the result when Run has left the room.
func (r *room) hangup() {
	if !r.inCall() {
		return
	}
	r.hungUp = true
	r.status("Leaving…", false)
	r.call.Hangup()
}

func (r *room) onEvent(gen int, ev client.Event) {
	if gen != r.callGen {
		return
	}
	if ev.Kind == client.EventGroup {
		r.startGroup()
		return
	}
	if r.group != nil && ev.Kind != client.EventJoined {
		// The 1:1 call is on its way out (it leaves once the group's media is up): its bye
		// and states say nothing about the group call.
		if r.group.shown || ev.Kind == client.EventBye {
			return
		}
	}
	switch ev.Kind {
	case client.EventJoined:
		r.joined = true
		if ev.Params != nil && ev.Params.RoomLink != "" {
			byID("room-link").Set("value", shareLink(ev.Params.RoomLink))
		}
		if ev.Params != nil && ev.Params.RoomMode == protocol.RoomModeGroup {
			r.status("Joining the group call…", false)
		} else if ev.Initiator {
			r.waiting("Waiting for someone to join", "Send them this link:")
		} else {
			r.setState(stateConnecting)
			r.status("Connecting…", false)
		}
	case client.EventReceived:
		if (ev.Signal == protocol.TypeOffer || ev.Signal == protocol.TypeAnswer) && r.state == stateWaiting {
			r.setState(stateConnecting)
			r.status("Someone joined. Connecting…", false)
		}
	case client.EventState:
		r.onPeerState(ev.State)
	case client.EventVerification:
		r.showVerification(ev.Verification)
	case client.EventBye:
		r.dropPeer()
		r.waiting("The other side hung up", "Waiting for someone to join. Send them this link:")
		r.chatNote("The other side left.")
	case client.EventRelayLost:
		r.status("Lost the connection to the server. Reconnecting…", true)
	case client.EventRelayRestore:
		r.status("", false)
	}
}

func (r *room) onPeerState(s client.PeerState) {
	switch s {
	case client.PeerStateConnecting:
		if r.state != stateInCall {
			r.setState(stateConnecting)
			r.status("Connecting…", false)
		}
	case client.PeerStateConnected:
		r.setState(stateInCall)
		r.status("", false)
		r.startStats()
		if r.peer != nil {
			r.watchPath(r.peer)
		}
	case client.PeerStateDisconnected:
		r.status("The connection is interrupted. Reconnecting…", true)
	case client.PeerStateFailed:
		r.status(msgICEFailed, true)
	}
}

// waiting shows the share-the-link view.
func (r *room) waiting(title, detail string) {
	r.setState(stateWaiting)
	setText(byID("sharing-title"), title)
	setText(byID("sharing-detail"), detail)
	r.status("", false)
	setHidden(byID("remote-muted"), true)
}

// ended runs when Run has returned: the call left the room.
func (r *room) ended(gen int, err error) {
	if gen != r.callGen {
		return
	}
	r.dropPeer()
	r.stopGroup()
	r.cancel()
	r.call = nil
	r.stopScreen()
	r.media.stop()
	r.mediaReady = false
	v := endedView(err, r.joined, r.id)
	r.setState(v.state)
	r.status("", false)
	setText(byID("ended-title"), v.title)
	setText(byID("ended-detail"), v.detail)
	setText(byID("rejoin-button"), v.button)
	byID("rejoin-button").Call("focus")
}

// rejoin starts over in the same room, camera included.
func (r *room) rejoin() {
	if r.call != nil || r.rejoining {
		return
	}
	r.rejoining = true
	r.setState(stateJoining)
	r.status("Starting the camera…", false)
	r.acquireMedia(func() {
		r.rejoining = false
		r.join()
	})
}

func (r *room) fail(text string) {
	r.setState(stateError)
	setText(byID("ended-title"), "Something went wrong")
	setText(byID("ended-detail"), text)
}

// leaveOnUnload tells the server at once that a closing tab left, with a beacon: Chrome
// blocks the XHRs AppRTC sent in beforeunload, and the WebSocket alone leaves a ghost for the
// relay's grace period.
func (r *room) leaveOnUnload() {
	if r.call == nil {
		return
	}
	if id := r.call.Call().ClientID(); id != "" {
		js.Global().Get("navigator").Call("sendBeacon", leavePath(r.id, id))
	}
	r.call.Hangup()
}

func secureContext() bool {
	g := js.Global()
	return g.Get("isSecureContext").Truthy() && g.Get("navigator").Get("mediaDevices").Truthy()
}

const (
	msgInsecure = "This page is not secure (http://), so the browser will not give it the camera or microphone. " +
		"Browsers allow them only on https:// or http://localhost. You can still join to see and hear the other side."
	msgDenied = "Camera and microphone are blocked for this site. Allow them in the address bar and rejoin, " +
		"or join without them: you will still see and hear the other side."
	msgNoDevice  = "No camera or microphone found (or another app is using them). You can join to see and hear the other side."
	msgICEFailed = "The connection failed: no TURN relay was reachable. The network may block UDP, or the server's " +
		"TURN port (3478) is closed. Retrying…"
)
