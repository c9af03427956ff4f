//go:build js && wasm

package main

import (
	"errors"
	"strconv"
	"strings"
	"syscall/js"
	"time"

	"github.com/onertc/onertc/client"
	"github.com/onertc/onertc/protocol"
)

// groupSession is what the room view needs of a group call's session (client.GroupSession
// is one): telling the server the sizes at which tiles show each camera, this side's
// microphone and camera state, and chat lines.
type groupSession interface {
	SetView(participant string, width, height int)
	SetState(muted, cameraOff bool)
	SendChat(text string)
}

// groupView is the room page in a group call: the grid of the others, each a tile. Its
// fields are owned by the UI goroutine. The call's session reports participants, tracks,
// speaker and layers (onGroupEvent); the down connection's ontrack brings the media.
type groupView struct {
	session groupSession // nil until the session starts
	shown   bool         // the grid replaced the 1:1 view (the group's media is up)
	// moving: a 1:1 call goes on while the group starts; its view stays until every other
	// participant's video plays in the (hidden) grid, so the picture never stops.
	moving   bool
	playing  bool // the group's media plays: the GroupCall was told (MediaArrived)
	watching bool // watchGroupMedia runs

	self    string
	members []member
	tracks  map[string]mediaTrack // by participant + "/" + track id
	speaker string
	layers  map[string]layerInfo

	up, down *peerConn              // the publishing and the receiving connection
	screenTr js.Value               // the up transceiver of the screen share, once made
	streams  map[string]js.Value    // MediaStream by tile key
	owner    map[string]string      // browser track id → participant (for getStats)
	elems    map[string]*tileElem   // by tile key
	views    map[string][2]int      // the last view sent, by participant
	stats    map[string]*recvSample // the last sample, by participant
	offs     offs
}

// tileElem is one tile on the page.
type tileElem struct {
	root, video, name, badges js.Value
	screen                    bool
}

func newGroupView() *groupView {
	return &groupView{screenTr: js.Undefined(), tracks: map[string]mediaTrack{}, layers: map[string]layerInfo{},
		streams: map[string]js.Value{}, owner: map[string]string{}, elems: map[string]*tileElem{},
		views: map[string][2]int{}, stats: map[string]*recvSample{}}
}

// startGroup runs when the room is (or becomes) a group: the session is about to start.
func (r *room) startGroup() {
	if r.group != nil {
		return
	}
	r.group = newGroupView()
	r.group.moving = r.peer != nil
	r.group.offs.add(r.u.on(js.Global(), "resize", func(js.Value) { r.layoutGrid() }))
	if r.state != stateInCall {
		r.setState(stateConnecting)
	}
	if r.peer != nil {
		r.status("Someone else joined: moving to a group call…", false)
	} else {
		r.status("Joining the group call…", false)
	}
}

// showGroup switches the page to the grid: the group's media is up, and the 1:1
// connection (if any) is about to close.
func (r *room) showGroup() {
	g := r.group
	if g == nil || g.shown {
		return
	}
	g.shown = true
	r.dropPeer()
	r.root.Get("dataset").Set("mode", "group")
	r.showPrivacy(true)
	r.setState(stateInCall)
	r.status("", false)
	r.chatNote("This is a group call now: messages go to everyone in it.")
	enableChat(true)
	r.renderGroup()
}

// stopGroup forgets the group view (the call ended).
func (r *room) stopGroup() {
	g := r.group
	if g == nil {
		return
	}
	g.offs.run()
	for _, p := range []*peerConn{g.up, g.down} {
		if p != nil {
			p.offs.run()
		}
	}
	grid := byID("grid")
	for _, e := range g.elems {
		e.video.Set("srcObject", js.Null())
	}
	grid.Call("replaceChildren")
	enableChat(false)
	r.group = nil
	r.root.Get("dataset").Delete("mode")
	r.showPrivacy(false)
}

// showPrivacy says who can see the media: the two ends, or the server too.
func (r *room) showPrivacy(group bool) {
	el := byID("privacy")
	setText(el, privacyText(group))
	el.Get("classList").Call("toggle", "server", group)
}

// setupGroupUp is the up connection's PeerFactory hook: local tracks, the camera in three
// simulcast layers (the server forwards to each the one that fits its tile and bandwidth).
func (r *room) setupGroupUp(bp *client.BrowserPeer) error {
	done := make(chan error, 1)
	r.u.post(func() { done <- r.attachGroupUp(bp.Value()) })
	return <-done
}

func (r *room) attachGroupUp(pc js.Value) error {
	if r.group == nil {
		return errors.New("group view gone")
	}
	p := &peerConn{pc: pc, senders: map[string]js.Value{}, remote: js.Undefined()}
	stream := r.media.stream
	if !stream.Truthy() {
		stream = js.Global().Get("MediaStream").New()
	}
	if a := r.media.audio; a.Truthy() {
		t, err := try(pc, "addTransceiver", a, map[string]any{"direction": "sendonly", "streams": []any{stream}})
		if err != nil {
			return err
		}
		p.senders["audio"] = t.Get("sender")
	}
	// A screen shared in the 1:1 call goes beside the camera from now on.
	video := r.media.video
	if video.Truthy() {
		t, err := try(pc, "addTransceiver", video, map[string]any{"direction": "sendonly", "streams": []any{stream},
			"sendEncodings": []any{
				map[string]any{"rid": "q", "scaleResolutionDownBy": 4, "maxBitrate": 150_000},
				map[string]any{"rid": "h", "scaleResolutionDownBy": 2, "maxBitrate": 500_000},
				map[string]any{"rid": "f", "maxBitrate": 1_500_000},
			}})
		if err != nil {
			return err
		}
		p.senders["video"] = t.Get("sender")
	}
	if r.screen.Truthy() {
		if err := r.addScreenSection(pc, r.screen); err != nil {
			return err
		}
	}
	r.group.up = p
	js.Global().Set("onertcUpPC", pc)
	return nil
}

// setupGroupDown is the down connection's hook: its tracks go to the tiles.
func (r *room) setupGroupDown(bp *client.BrowserPeer) error {
	done := make(chan error, 1)
	r.u.post(func() {
		if r.group == nil {
			done <- errors.New("group view gone")
			return
		}
		p := &peerConn{pc: bp.Value(), senders: map[string]js.Value{}, remote: js.Undefined()}
		p.offs.add(r.u.on(p.pc, "track", func(ev js.Value) { r.onGroupTrack(p, ev) }))
		r.group.down = p
		// The browser tests reach the group's connection here, as onertcPC in a 1:1 call.
		js.Global().Set("onertcDownPC", p.pc)
		done <- nil
	})
	return <-done
}

// onGroupTrack files a forwarded track under its tile: the stream id is the publisher's
// participant id, the track id says camera, microphone or screen.
func (r *room) onGroupTrack(p *peerConn, ev js.Value) {
	g := r.group
	if g == nil || g.down != p {
		return
	}
	track := ev.Get("track")
	participant := ""
	if ss := ev.Get("streams"); ss.Truthy() && ss.Length() > 0 {
		participant = ss.Index(0).Get("id").String()
	}
	if participant == "" {
		r.log.Warn("forwarded track without a stream id", "track", str(track.Get("id")))
		return
	}
	g.owner[str(track.Get("id"))] = participant
	key := participant
	if strings.HasPrefix(str(track.Get("id")), "screen-") {
		key = participant + "/screen"
	}
	s, ok := g.streams[key]
	if !ok {
		s = js.Global().Get("MediaStream").New()
		g.streams[key] = s
	}
	// A renegotiation may bring a new track of the same kind: keep one of each.
	kind := str(track.Get("kind"))
	old := s.Call("getTracks")
	for i := 0; i < old.Length(); i++ {
		if t := old.Index(i); str(t.Get("kind")) == kind && !t.Equal(track) {
			s.Call("removeTrack", t)
		}
	}
	s.Call("addTrack", track)
	r.renderGroup()
}

// onGroupEvent takes one event of the session.
func (r *room) onGroupEvent(gen int, ev client.GroupEvent) {
	g := r.group
	if gen != r.callGen || g == nil {
		return
	}
	if g.session == nil && r.call != nil {
		if s := r.call.Session(); s != nil {
			g.session = s
		}
	}
	switch ev.Kind {
	case client.GroupEventWelcome:
		g.self = ev.Self
		g.members = members(ev.Participants)
		r.sendMediaState()
	case client.GroupEventParticipants:
		g.members = members(ev.Participants)
	case client.GroupEventTrack:
		k := ev.Track.Participant + "/" + ev.Track.ID
		if ev.Added {
			g.tracks[k] = mediaTrack{Participant: ev.Track.Participant, ID: ev.Track.ID}
		} else {
			delete(g.tracks, k)
		}
	case client.GroupEventSpeaker:
		g.speaker = ev.Participant
	case client.GroupEventLayer:
		g.layers[ev.Participant] = layerInfo{rid: ev.Layer, width: ev.Width, height: ev.Height}
		return
	case client.GroupEventChat:
		r.chatReceived(ev.Name, ev.Text)
		return
	case client.GroupEventState:
		if ev.PC == protocol.PCDown {
			switch ev.State {
			case client.PeerStateConnected:
				if !g.moving {
					r.showGroup()
				}
				r.watchGroupMedia(g)
				r.startGroupStats()
			case client.PeerStateDisconnected, client.PeerStateFailed:
				if g.shown {
					r.status("The connection to the server is interrupted. Reconnecting…", true)
				}
			}
		}
		return
	case client.GroupEventSocketLost:
		r.status("Lost the connection to the server. Reconnecting…", true)
		return
	case client.GroupEventError:
		r.log.Warn("group call", "err", ev.Err)
		return
	default:
		return
	}
	if g.shown {
		r.status("", false)
	}
	r.renderGroup()
}

func members(ps []protocol.GroupParticipant) []member {
	out := make([]member, len(ps))
	for i, p := range ps {
		out[i] = member{ID: p.ID, Name: p.Name, Muted: p.Muted, CameraOff: p.CameraOff}
	}
	return out
}

func (g *groupView) trackList() []mediaTrack {
	out := make([]mediaTrack, 0, len(g.tracks))
	for _, t := range g.tracks {
		out = append(out, t)
	}
	return out
}

// groupMediaWait is how long a moving call's view waits for the group's media before the
// grid replaces it anyway: the GroupCall's wait for it, plus a little. Until then the 1:1
// call goes on (the other side leaves it only once its own group media plays), so an
// earlier switch would only swap a moving picture for an empty tile.
const groupMediaWait = client.DefaultMediaWait + 500*time.Millisecond

// groupMediaPoll is how often a moving call's view looks at the hidden grid's pictures.
const groupMediaPoll = 50 * time.Millisecond

// groupMediaFrames is how many frames each other participant's hidden tile must have shown
// before the grid replaces the 1:1 view. The first frame alone says little: on a loaded
// machine the next came up to 1.6 s after it, and switching on the first froze the
// picture that long.
const groupMediaFrames = 5

// watchGroupMedia runs checkGroupMedia every groupMediaPoll until the group's media plays;
// a moving call's view that has not shown the grid by groupMediaWait shows it then.
func (r *room) watchGroupMedia(g *groupView) {
	if g.watching || g.playing {
		return
	}
	g.watching = true
	gen := r.callGen
	start := time.Now()
	go func() {
		for over := false; !over; {
			time.Sleep(groupMediaPoll)
			done := make(chan bool, 1)
			r.u.post(func() {
				if r.callGen == gen && r.group == g {
					r.checkGroupMedia()
					if !g.shown && time.Since(start) >= groupMediaWait {
						r.log.Warn("the group's media did not play everywhere in time; showing the grid")
						r.showGroup()
					}
				}
				done <- r.callGen != gen || r.group != g || g.playing || (g.shown && time.Since(start) >= groupMediaWait)
			})
			over = <-done
		}
	}()
}

// checkGroupMedia tells the call, once, that the group's media plays: groupMediaFrames
// frames in the tile of every other participant whose camera is on. A moving call waits
// for two others at least (the other side of the 1:1 call and the newcomer, whichever the
// list has first), then shows the grid; its 1:1 call ends once the other side says the same.
func (r *room) checkGroupMedia() {
	g := r.group
	if g == nil || g.playing || g.session == nil {
		return
	}
	others := 0
	for _, m := range g.members {
		if m.ID == g.self {
			continue
		}
		others++
		if m.CameraOff {
			continue
		}
		e, ok := g.elems[m.ID]
		if !ok || e.video.Call("getVideoPlaybackQuality").Get("totalVideoFrames").Int() < groupMediaFrames {
			return
		}
	}
	if others == 0 || (g.moving && others < 2) {
		return
	}
	g.playing = true
	if r.call != nil {
		r.call.MediaArrived()
	}
	r.showGroup()
}

// renderGroup brings the tiles on the page in line with the model, then lays them out. A
// moving call's grid is rendered while hidden, so its videos start before it shows.
func (r *room) renderGroup() {
	g := r.group
	if g == nil || (!g.shown && !g.moving) {
		return
	}
	tiles := tilesFor(g.self, g.members, g.trackList(), g.speaker)
	grid := byID("grid")
	keep := map[string]bool{}
	for i, t := range tiles {
		keep[t.Key] = true
		e, ok := g.elems[t.Key]
		if !ok {
			e = newTileElem(t.Screen)
			g.elems[t.Key] = e
		}
		// Appending an element already in the grid moves it: the DOM order is the tiles' order.
		if !grid.Get("children").Index(i).Equal(e.root) {
			grid.Call("appendChild", e.root)
		}
		e.update(t)
		if s, ok := g.streams[t.Key]; ok && !e.video.Get("srcObject").Equal(s) {
			e.video.Set("srcObject", s)
			ignoreRejection(e.video.Call("play"))
		}
	}
	for k, e := range g.elems {
		if !keep[k] {
			e.video.Set("srcObject", js.Null())
			e.root.Call("remove")
			delete(g.elems, k)
		}
	}
	grid.Get("dataset").Set("tiles", strconv.Itoa(len(tiles)))
	r.layoutGrid()
}

func newTileElem(screen bool) *tileElem {
	d := doc()
	e := &tileElem{root: d.Call("createElement", "div"), video: d.Call("createElement", "video"),
		name: d.Call("createElement", "span"), badges: d.Call("createElement", "span"), screen: screen}
	e.root.Set("className", "tile")
	e.video.Set("autoplay", true)
	e.video.Set("playsInline", true)
	e.name.Set("className", "tile-name")
	e.badges.Set("className", "tile-badges")
	e.root.Call("append", e.video, e.name, e.badges)
	return e
}

// update shows t's name and badges; the classes carry the rest (app.css).
func (e *tileElem) update(t tile) {
	cl := e.root.Get("classList")
	cl.Call("toggle", "screen", t.Screen)
	cl.Call("toggle", "speaking", t.Speaking)
	cl.Call("toggle", "camera-off", t.CameraOff)
	e.root.Get("dataset").Set("participant", t.Participant)
	setText(e.name, t.Name)
	var badges []string
	if t.Muted {
		badges = append(badges, "Muted")
	}
	if t.CameraOff && !t.Screen {
		badges = append(badges, "Camera off")
	}
	setText(e.badges, strings.Join(badges, " · "))
	e.root.Set("title", t.Name)
}

// layoutGrid places the tiles for the grid's current size and tells the server the size of
// every camera tile (in device pixels), so it forwards a layer that fits.
func (r *room) layoutGrid() {
	g := r.group
	if g == nil || !g.shown {
		return
	}
	grid := byID("grid")
	w, h := grid.Get("clientWidth").Int(), grid.Get("clientHeight").Int()
	tiles := tilesFor(g.self, g.members, g.trackList(), g.speaker)
	rects := gridLayout(len(tiles), w, h, hasLargeTile(tiles))
	dpr := num(js.Global().Get("devicePixelRatio"))
	if dpr <= 0 {
		dpr = 1
	}
	for i, t := range tiles {
		e, ok := g.elems[t.Key]
		if !ok || i >= len(rects) {
			continue
		}
		rc := rects[i]
		st := e.root.Get("style")
		st.Set("left", strconv.Itoa(rc.X)+"px")
		st.Set("top", strconv.Itoa(rc.Y)+"px")
		st.Set("width", strconv.Itoa(rc.W)+"px")
		st.Set("height", strconv.Itoa(rc.H)+"px")
		if t.Screen || g.session == nil {
			continue
		}
		v := [2]int{int(float64(rc.W) * dpr), int(float64(rc.H) * dpr)}
		if g.views[t.Participant] != v {
			g.views[t.Participant] = v
			g.session.SetView(t.Participant, v[0], v[1])
		}
	}
}
