//go:build js && wasm

package main

import (
	"strings"

	"github.com/onertc/onertc/protocol"
)

// maxChatLen is the longest chat message in characters, as the input's maxlength="2000"
// (which counts UTF-16 units, so a message typed in it always fits).
const maxChatLen = protocol.MaxChatChars

// chatText is a chat message as sent and shown: without surrounding space, cut to
// maxChatLen characters, never inside one ("" is no message). The other side's messages
// get the same treatment: its app may not be this one.
func chatText(s string) string {
	s = strings.TrimSpace(s)
	n := 0
	for i := range s {
		if n == maxChatLen {
			return strings.TrimSpace(s[:i])
		}
		n++
	}
	return s
}

// mutedText is the badge on the other side's video, from its last media message: which of
// its microphone and camera are off; "" when neither is (or it did not say).
func mutedText(audio, video *bool) string {
	audioOff, videoOff := audio != nil && !*audio, video != nil && !*video
	switch {
	case audioOff && videoOff:
		return "Their microphone and camera are off"
	case audioOff:
		return "Their microphone is off"
	case videoOff:
		return "Their camera is off"
	}
	return ""
}
