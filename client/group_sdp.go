package client

import "strings"

// offerTracks lists the tracks a down offer carries: every media section that is not
// rejected (port 0) nor inactive/recvonly, with its msid. The SFU's stream id is the
// publisher's participant id.
func offerTracks(sdp string) []GroupTrack {
	var out []GroupTrack
	var cur *GroupTrack
	live := false
	flush := func() {
		if cur != nil && live && cur.Participant != "" {
			out = append(out, *cur)
		}
		cur, live = nil, false
	}
	for _, line := range strings.Split(sdp, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.HasPrefix(line, "m="):
			flush()
			f := strings.Fields(strings.TrimPrefix(line, "m="))
			if len(f) < 2 {
				continue
			}
			cur = &GroupTrack{Kind: f[0]}
			live = f[1] != "0" && (f[0] == "audio" || f[0] == "video")
		case cur == nil:
		case line == "a=inactive" || line == "a=recvonly":
			live = false
		case strings.HasPrefix(line, "a=msid:"):
			f := strings.Fields(strings.TrimPrefix(line, "a=msid:"))
			if len(f) == 2 {
				cur.Participant, cur.ID = f[0], f[1]
			}
		}
	}
	flush()
	return out
}

// trackKey identifies a forwarded track across offers.
func trackKey(t GroupTrack) string { return t.Participant + "/" + t.ID }
