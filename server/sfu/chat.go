package sfu

import (
	"strings"

	"github.com/onertc/onertc/protocol"
)

// chat passes a chat message to everyone else in the room, with who wrote it. The parser
// has bounded the text (protocol.MaxChatChars) and the socket's frame limit bounds how
// often; the room keeps no history, so a late joiner sees only what comes after it.
func (p *participant) chat(text string) {
	p.room.broadcast(protocol.GroupMessage{Type: protocol.GroupChat, Participant: p.id, Name: p.name, Text: strings.TrimSpace(text)}, p)
}
