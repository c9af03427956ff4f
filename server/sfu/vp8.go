package sfu

import "encoding/binary"

// vp8Info is what the SFU needs from a VP8 RTP payload (RFC 7741): where a frame starts,
// whether it is a key frame (and its size), and the picture ids it rewrites so that a
// subscriber sees one continuous stream across simulcast layers.
type vp8Info struct {
	start    bool // first packet of a frame (S=1, partition 0)
	keyframe bool // start of a key frame
	width    int  // key frames only
	height   int
	// pidOff is the offset of the picture id in the payload (-1: none), pid15 whether it
	// has 15 bits (else 7); tl0Off the offset of TL0PICIDX (-1: none).
	pidOff int
	pid15  bool
	pid    uint16
	tl0Off int
	tl0    uint8
}

// parseVP8 reads the payload descriptor and, on a frame's first packet, the payload header.
// It reports false for a payload too short for what its descriptor announces.
func parseVP8(p []byte) (vp8Info, bool) {
	info := vp8Info{pidOff: -1, tl0Off: -1}
	if len(p) < 1 {
		return info, false
	}
	i := 1
	x := p[0]&0x80 != 0
	info.start = p[0]&0x10 != 0 && p[0]&0x0f == 0
	if x {
		if len(p) < 2 {
			return info, false
		}
		ext := p[1]
		i = 2
		if ext&0x80 != 0 { // I: picture id
			if len(p) < i+1 {
				return info, false
			}
			info.pidOff = i
			if p[i]&0x80 != 0 {
				if len(p) < i+2 {
					return info, false
				}
				info.pid15 = true
				info.pid = binary.BigEndian.Uint16(p[i:]) & 0x7fff
				i += 2
			} else {
				info.pid = uint16(p[i] & 0x7f)
				i++
			}
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			if len(p) < i+1 {
				return info, false
			}
			info.tl0Off = i
			info.tl0 = p[i]
			i++
		}
		if ext&0x30 != 0 { // T or K: TID/Y/KEYIDX
			i++
		}
	}
	if len(p) <= i {
		return info, false
	}
	if info.start && p[i]&0x01 == 0 {
		info.keyframe = true
		// Frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height.
		if len(p) >= i+10 && p[i+3] == 0x9d && p[i+4] == 0x01 && p[i+5] == 0x2a {
			info.width = int(binary.LittleEndian.Uint16(p[i+6:]) & 0x3fff)
			info.height = int(binary.LittleEndian.Uint16(p[i+8:]) & 0x3fff)
		}
	}
	return info, true
}

// setVP8IDs writes a picture id and TL0PICIDX into a payload parsed as info, keeping the
// field widths the publisher chose.
func setVP8IDs(p []byte, info vp8Info, pid uint16, tl0 uint8) {
	if info.pidOff >= 0 {
		if info.pid15 {
			binary.BigEndian.PutUint16(p[info.pidOff:], 0x8000|pid&0x7fff)
		} else {
			p[info.pidOff] = byte(pid & 0x7f)
		}
	}
	if info.tl0Off >= 0 {
		p[info.tl0Off] = tl0
	}
}
