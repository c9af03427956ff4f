//go:build js && wasm

package main

import (
	"strings"

	"github.com/onertc/onertc/internal/wrap"
	"github.com/onertc/onertc/protocol"
)

// What the room view says about who can see the media: a 1:1 call's DTLS-SRTP runs between
// the two browsers; in a group call it ends at the server's SFU, which could record it.
const (
	privacyDirect = "Peer-to-peer: only the two of you can see the media."
	privacyServer = "This call goes through the server, which can see and hear it."
)

func privacyText(group bool) string {
	if group {
		return privacyServer
	}
	return privacyDirect
}

// nameKey is the localStorage key of the display name, entered once per browser.
const nameKey = "onertc.name"

// displayName is the name to use: the one typed (or remembered), trimmed, when the server
// would take it, else the generated fallback.
func displayName(typed, fallback string) string {
	n := strings.TrimSpace(typed)
	if protocol.ValidName(n) {
		return n
	}
	return fallback
}

// guestName is a generated name from a random room-style word ("k7qz-m3xa-p9dw").
func guestName(random string) string {
	word, _, _ := strings.Cut(random, "-")
	if word == "" {
		return "Guest"
	}
	return "Guest " + word
}

// recvSample is one participant's received video at one getStats, summed over its tracks.
type recvSample struct {
	at            float64 // ms, the report's timestamp
	bytes         float64
	width, height int
	fps           float64
}

// layerInfo is the simulcast layer the server last said it forwards of a participant.
type layerInfo struct {
	rid           string
	width, height int
}

// memberStats is what the info box knows of one participant.
type memberStats struct {
	name      string
	now, prev *recvSample // prev: a second before (nil for the first)
	layer     layerInfo
}

// groupStatsRows are the info box's lines in a group call: the connection to the server
// (every participant's media comes through it, so its path and round trip are each one's),
// then one line per participant with bitrate, picture, simulcast layer, and the candidate
// type and round trip its media arrives by.
func groupStatsRows(state, local, remote string, rttMS float64, members []memberStats) [][2]string {
	path := orDash(local)
	if rttMS >= 0 {
		path += ", " + wrap.Fixed(rttMS, 0) + " ms round trip"
	}
	rows := [][2]string{{"Connection", orDash(state)}, {"Via the server", path}, {"Server", orDash(remote)}}
	for _, m := range members {
		rows = append(rows, [2]string{m.name, memberLine(m) + " · " + viaText(local, rttMS)})
	}
	return rows
}

// memberLine is "812 kbit/s · 640×480, 30 fps · layer f (640×480)".
func memberLine(m memberStats) string {
	rate, picture := "—", "no video"
	if m.now != nil {
		if m.prev != nil {
			rate = bitrate(m.now.bytes, m.prev.bytes, m.now.at-m.prev.at)
		}
		if m.now.width > 0 {
			picture = pictureText(m.now.width, m.now.height, m.now.fps)
		}
	}
	layer := "layer —"
	if m.layer.rid != "" {
		layer = "layer " + m.layer.rid
		if m.layer.width > 0 {
			layer += " (" + sizeText(m.layer.width, m.layer.height) + ")"
		}
	}
	return rate + " · " + picture + " · " + layer
}

// shareLink is the room link to show and copy: the join's room_link without the group=1
// this app adds to its join query (the server builds the link from that query, and a
// person opening the link needs none of it).
func shareLink(link string) string {
	base, query, ok := strings.Cut(link, "?")
	if !ok {
		return link
	}
	query, frag, hasFrag := strings.Cut(query, "#")
	var kept []string
	for _, p := range strings.Split(query, "&") {
		if p == "" || p == "group" || strings.HasPrefix(p, "group=") {
			continue
		}
		kept = append(kept, p)
	}
	out := base
	if len(kept) > 0 {
		out += "?" + strings.Join(kept, "&")
	}
	if hasFrag {
		out += "#" + frag
	}
	return out
}
