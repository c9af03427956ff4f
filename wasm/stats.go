//go:build js && wasm

package main

import (
	"syscall/js"
	"time"
)

// statsState is the info box's memory between two getStats: bitrates are byte deltas.
type statsState struct {
	gen     int // bumped when the peer goes, which stops the poller of the old one
	running bool
	prev    *snapshot
}

func (s *statsState) reset() {
	s.gen++
	s.running = false
	s.prev = nil
}

// startStats polls getStats once a second while the current peer lives.
func (r *room) startStats() {
	if r.stats.running || r.peer == nil {
		return
	}
	r.stats.running = true
	gen := r.stats.gen
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for range tick.C {
			pcc := make(chan js.Value, 1)
			r.u.post(func() {
				if r.stats.gen != gen || r.peer == nil {
					pcc <- js.Undefined()
					return
				}
				pcc <- r.peer.pc
			})
			pc := <-pcc
			if !pc.Truthy() {
				return
			}
			_, snap, ok := pcStats(pc)
			if !ok {
				continue
			}
			r.u.post(func() {
				if r.stats.gen == gen {
					r.showStats(snap)
				}
			})
		}
	}()
}

func num(v js.Value) float64 {
	if v.Type() == js.TypeNumber {
		return v.Float()
	}
	return 0
}

func str(v js.Value) string {
	if v.Type() == js.TypeString {
		return v.String()
	}
	return ""
}

// pcStats reads pc's getStats report and the snapshot of it the info box shows; false when
// the browser gave none (the connection is closing).
func pcStats(pc js.Value) (js.Value, *snapshot, bool) {
	p, err := try(pc, "getStats")
	if err != nil {
		return js.Undefined(), nil, false
	}
	report, err := await(p)
	if err != nil {
		return js.Undefined(), nil, false
	}
	snap := readStats(report)
	snap.state = pc.Get("connectionState").String()
	return report, snap, true
}

func readStats(report js.Value) *snapshot {
	byID := map[string]js.Value{}
	all := js.Global().Get("Array").Call("from", report.Call("values"))
	for i := 0; i < all.Length(); i++ {
		s := all.Index(i)
		byID[str(s.Get("id"))] = s
	}
	snap := &snapshot{rttMS: -1}
	var pair js.Value
	codec := func(id js.Value) string {
		if c, ok := byID[str(id)]; ok {
			return str(c.Get("mimeType"))
		}
		return ""
	}
	for _, s := range byID {
		snap.at = max(snap.at, num(s.Get("timestamp")))
		switch str(s.Get("type")) {
		case "transport":
			if p, ok := byID[str(s.Get("selectedCandidatePairId"))]; ok {
				pair = p
			}
		case "inbound-rtp":
			snap.bytesIn += num(s.Get("bytesReceived"))
			snap.lost += num(s.Get("packetsLost"))
			snap.received += num(s.Get("packetsReceived"))
			if str(s.Get("kind")) == "video" {
				snap.width, snap.height = int(num(s.Get("frameWidth"))), int(num(s.Get("frameHeight")))
				snap.fps = num(s.Get("framesPerSecond"))
				snap.framesDecoded = num(s.Get("framesDecoded"))
				snap.videoCodec = codec(s.Get("codecId"))
			} else {
				snap.audioCodec = codec(s.Get("codecId"))
			}
		case "outbound-rtp":
			snap.bytesOut += num(s.Get("bytesSent"))
			if str(s.Get("kind")) == "video" {
				snap.sendWidth, snap.sendHgt = int(num(s.Get("frameWidth"))), int(num(s.Get("frameHeight")))
				snap.sendFPS = num(s.Get("framesPerSecond"))
			}
		}
	}
	if !pair.Truthy() { // browsers without transport stats: the nominated, succeeded pair
		for _, s := range byID {
			if str(s.Get("type")) == "candidate-pair" && s.Get("nominated").Truthy() && str(s.Get("state")) == "succeeded" {
				pair = s
			}
		}
	}
	if pair.Truthy() {
		if v := pair.Get("currentRoundTripTime"); v.Type() == js.TypeNumber {
			snap.rttMS = v.Float() * 1000
		}
		snap.local = describeCandidate(byID[str(pair.Get("localCandidateId"))])
		snap.remote = describeCandidate(byID[str(pair.Get("remoteCandidateId"))])
	}
	return snap
}

// describeCandidate reads an RTCIceCandidateStats (undefined when the report lacks it).
func describeCandidate(c js.Value) string {
	if !c.Truthy() {
		return ""
	}
	addr := str(c.Get("address"))
	if addr == "" { // the field's older name, which some browsers still use
		addr = str(c.Get("ip"))
	}
	return candidateText(candidate{typ: str(c.Get("candidateType")), protocol: str(c.Get("protocol")),
		relayProtocol: str(c.Get("relayProtocol")), address: addr, port: int(num(c.Get("port")))})
}

func (r *room) showStats(s *snapshot) {
	prev := r.stats.prev
	r.stats.prev = s
	if !r.infoOn {
		return
	}
	fillStats(statsRows(s, prev, r.verified))
}

// fillStats shows rows (term, value) in the info box.
func fillStats(rows [][2]string) {
	dl := byID("stats")
	dl.Call("replaceChildren")
	for _, row := range rows {
		dt, dd := doc().Call("createElement", "dt"), doc().Call("createElement", "dd")
		dt.Set("textContent", row[0])
		dd.Set("textContent", row[1])
		dl.Call("append", dt, dd)
	}
}

func (r *room) toggleInfo() {
	r.infoOn = !r.infoOn
	setHidden(byID("info-div"), !r.infoOn)
	setPressed(byID("info-button"), r.infoOn)
	if r.infoOn {
		if r.chatOn {
			r.toggleChat()
		}
		if r.group != nil && r.group.shown {
			fillStats([][2]string{{"Group call", "Statistics come every second"}})
		} else if r.stats.prev != nil {
			r.showStats(r.stats.prev)
		} else {
			byID("stats").Call("replaceChildren")
			dt := doc().Call("createElement", "dt")
			dt.Set("textContent", "Not connected yet")
			byID("stats").Call("append", dt)
		}
	}
}
