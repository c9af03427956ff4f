//go:build js && wasm

package main

import (
	"strconv"

	"github.com/onertc/onertc/client"
	"github.com/onertc/onertc/internal/wrap"
)

// snapshot is what the info box shows, read from one RTCStatsReport.
type snapshot struct {
	at                 float64 // ms, the report's timestamp
	state              string
	local, remote      string // candidate type (and relay protocol) and address
	rttMS              float64
	bytesIn, bytesOut  float64
	width, height      int
	fps                float64
	framesDecoded      float64
	videoCodec         string
	audioCodec         string
	sendWidth, sendHgt int
	sendFPS            float64
	lost, received     float64
}

// candidate is what the info box says of one ICE candidate of the selected pair.
type candidate struct {
	typ, protocol string
	relayProtocol string // how this side reaches its TURN server, for a relay candidate
	address       string
	port          int
}

// candidateText is "relay udp, TURN over tcp · 203.0.113.7:50000": the TURN leg matters
// when a network lets only TCP or TLS out.
func candidateText(c candidate) string {
	desc := c.typ + " " + c.protocol
	if c.typ == "relay" && c.relayProtocol != "" {
		desc += ", TURN over " + c.relayProtocol
	}
	if c.address != "" {
		desc += " · " + c.address
		if c.port > 0 {
			desc += ":" + strconv.Itoa(c.port)
		}
	}
	return desc
}

// statsRows are the info box's lines (term, value) for s; bitrates are the byte deltas
// since prev, the snapshot a second before (nil for the first).
func statsRows(s, prev *snapshot, v *client.Verification) [][2]string {
	rows := [][2]string{{"Connection", orDash(s.state)}, {"Local", orDash(s.local)}, {"Remote", orDash(s.remote)}}
	if s.rttMS >= 0 {
		rows = append(rows, [2]string{"Round trip", wrap.Fixed(s.rttMS, 0) + " ms"})
	}
	in, out := "—", "—"
	if prev != nil {
		in, out = bitrate(s.bytesIn, prev.bytesIn, s.at-prev.at), bitrate(s.bytesOut, prev.bytesOut, s.at-prev.at)
	}
	rows = append(rows, [2]string{"Receiving", in}, [2]string{"Sending", out})
	if s.width > 0 {
		video := pictureText(s.width, s.height, s.fps)
		if s.videoCodec != "" {
			video += ", " + s.videoCodec
		}
		rows = append(rows, [2]string{"Video in", video})
	}
	if s.sendWidth > 0 {
		rows = append(rows, [2]string{"Video out", pictureText(s.sendWidth, s.sendHgt, s.sendFPS)})
	}
	if s.audioCodec != "" {
		rows = append(rows, [2]string{"Audio in", s.audioCodec})
	}
	// packetsLost is signed: duplicates can outnumber losses, and "-0.3 % loss" means none.
	lost := max(s.lost, 0)
	if total := lost + s.received; total > 0 {
		rows = append(rows, [2]string{"Packet loss", wrap.Fixed(100*lost/total, 2) + " % (" + wrap.Fixed(lost, 0) + " of " + wrap.Fixed(total, 0) + ")"})
	}
	return append(rows, verificationRows(v)...)
}

// bitrate is bytes sent or received over ms milliseconds, in kbit/s (bits per ms). A
// counter that went back (a stream gone between two reports) has no rate.
func bitrate(now, before, ms float64) string {
	if ms <= 0 || now < before {
		return "—"
	}
	return wrap.Fixed((now-before)*8/ms, 0) + " kbit/s"
}

// pictureText is a video's size and frame rate, "640×480, 30 fps".
func pictureText(width, height int, fps float64) string {
	return sizeText(width, height) + ", " + wrap.Fixed(fps, 0) + " fps"
}

// sizeText is "640×480".
func sizeText(width, height int) string { return strconv.Itoa(width) + "×" + strconv.Itoa(height) }

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
