//go:build js && wasm

package main

import (
	"strconv"
	"strings"
	"syscall/js"
	"time"
)

// trackSample is one inbound stream of a getStats report, by the browser's track id.
type trackSample struct {
	track         string
	bytes         float64
	width, height int
	fps           float64
}

// startGroupStats polls the down connection's getStats once a second while the group view
// lives: per participant, what arrives of its media.
func (r *room) startGroupStats() {
	g := r.group
	if g == nil || g.down == nil {
		return
	}
	pc := g.down.pc
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for range tick.C {
			alive := make(chan bool, 1)
			r.u.post(func() { alive <- r.group == g })
			if !<-alive {
				return
			}
			report, snap, ok := pcStats(pc)
			if !ok {
				continue
			}
			tracks := readTrackStats(report)
			r.u.post(func() {
				if r.group == g {
					r.showGroupStats(snap, tracks)
				}
			})
		}
	}()
}

func readTrackStats(report js.Value) []trackSample {
	var out []trackSample
	all := js.Global().Get("Array").Call("from", report.Call("values"))
	for i := 0; i < all.Length(); i++ {
		s := all.Index(i)
		if str(s.Get("type")) != "inbound-rtp" {
			continue
		}
		out = append(out, trackSample{track: str(s.Get("trackIdentifier")), bytes: num(s.Get("bytesReceived")),
			width: int(num(s.Get("frameWidth"))), height: int(num(s.Get("frameHeight"))), fps: num(s.Get("framesPerSecond"))})
	}
	return out
}

// showGroupStats sums each participant's streams and fills the info box.
func (r *room) showGroupStats(snap *snapshot, tracks []trackSample) {
	g := r.group
	now := map[string]*recvSample{}
	for _, t := range tracks {
		p, ok := g.owner[t.track]
		if !ok {
			continue
		}
		s := now[p]
		if s == nil {
			s = &recvSample{at: snap.at}
			now[p] = s
		}
		s.bytes += t.bytes
		if t.width > 0 && s.width == 0 { // the camera, not the screen share
			s.width, s.height, s.fps = t.width, t.height, t.fps
		}
	}
	var ms []memberStats
	for _, m := range g.members {
		if m.ID == g.self {
			continue
		}
		name := m.Name
		if name == "" {
			name = m.ID
		}
		ms = append(ms, memberStats{name: name, now: now[m.ID], prev: g.stats[m.ID], layer: g.layers[m.ID]})
	}
	g.stats = now
	if !r.infoOn {
		return
	}
	fillStats(groupStatsRows(snap.state, snap.local, snap.remote, snap.rttMS, ms))
}

// viaText is how a participant's media reaches this side, for its line in the info box:
// the type of the local candidate of the connection to the server (every participant's
// media comes through it) and its round trip, e.g. "relay, 42 ms"; "—" for what is not
// known yet.
func viaText(local string, rttMS float64) string {
	typ, _, _ := strings.Cut(local, " ")
	typ = strings.TrimSuffix(typ, ",")
	if typ == "" {
		typ = "—"
	}
	if rttMS < 0 {
		return typ + ", — ms"
	}
	return typ + ", " + strconv.Itoa(int(rttMS+0.5)) + " ms"
}
