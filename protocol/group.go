package protocol

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Group rooms (three people or more) talk to the server's SFU over one WebSocket with the
// JSON frames below (docs/protocol.md, "Group rooms"). Every frame is one GroupMessage whose
// Type says which fields it carries.

// Limits of the group protocol.
const (
	// MaxGroupSize bounds the participants of one group room, whatever the configuration.
	MaxGroupSize = 50
	// MaxGroupFrameBytes bounds one group frame: an offer with three simulcast layers and a
	// screen track stays under 20 KB; the bound is the relay's, for the same reason.
	MaxGroupFrameBytes = MaxFrameBytes
	// MaxNameLen bounds a participant's display name, in bytes.
	MaxNameLen = 64
	// MaxSimulcastLayers bounds the simulcast encodings of one published video track.
	MaxSimulcastLayers = 3
	// MaxChatChars bounds one chat message, in characters: the chat input's maxlength in the
	// browser app, in 1:1 calls (data channel) and group rooms (the group socket) alike.
	MaxChatChars = 2000
)

// Group frame types.
const (
	// Client → server.
	GroupJoin  = "join"  // first frame: take my place in the room
	GroupView  = "view"  // the size at which I show a participant's video (Participant, Width, Height)
	GroupState = "state" // my microphone and camera state (Muted, CameraOff)
	// Both directions.
	GroupChat      = "chat"      // Text; from the server also Participant and Name: who wrote it
	GroupOffer     = "offer"     // PC, SDP: "up" from the client, "down" from the server
	GroupAnswer    = "answer"    // PC, SDP: "up" from the server, "down" from the client
	GroupCandidate = "candidate" // PC, Candidate
	GroupBye       = "bye"       // the sender leaves (server → client: Message says why)
	// Server → client.
	GroupWelcome      = "welcome"      // ID, Participants: you are in
	GroupParticipants = "participants" // Participants: the whole list after a change
	GroupSpeaker      = "speaker"      // Participant: the active speaker ("" for nobody)
	GroupLayer        = "layer"        // Participant, Layer, Width, Height: what you now receive
	GroupError        = "error"        // Code, Message
)

// The two PeerConnections of a participant. "up" carries what the participant publishes
// (the participant offers), "down" what the SFU forwards to it (the SFU offers).
const (
	PCUp   = "up"
	PCDown = "down"
)

// Error codes of group error frames. A frame with one of these codes leaves the socket open
// unless the code is GroupErrFull, GroupErrRate, GroupErrDuplicate or GroupErrClosing (the
// last two come in a bye).
const (
	GroupErrMalformed     = "malformed"       // not JSON, or a field of the wrong type
	GroupErrTooLarge      = "too-large"       // frame over MaxGroupFrameBytes: closed with 1009 (Message Too Big)
	GroupErrUnknownType   = "unknown-type"    // a type this server does not know
	GroupErrBadField      = "bad-field"       // a required field missing or out of range
	GroupErrNotJoined     = "not-joined"      // anything but join before join
	GroupErrSDP           = "sdp"             // SDP that does not parse or cannot be applied
	GroupErrCodec         = "codec"           // an offer without a codec the SFU forwards
	GroupErrTooManyTracks = "too-many-tracks" // more tracks or simulcast layers than allowed
	GroupErrRate          = "rate"            // too many frames (then closed)
	GroupErrFull          = "full"            // the room or the server is full (then closed)
	GroupErrClosing       = "closing"         // the server is shutting down (then closed)
	GroupErrDuplicate     = "replaced"        // a newer socket took this participant's place (then closed)
	GroupErrInternal      = "internal"        // the server failed; the room goes on
)

// GroupParticipant is one entry of a participant list.
type GroupParticipant struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Muted     bool   `json:"muted"`
	CameraOff bool   `json:"cameraOff"`
}

// GroupICECandidate is a trickled ICE candidate, as RTCIceCandidateInit spells it.
type GroupICECandidate struct {
	Candidate     string  `json:"candidate"`
	SDPMid        *string `json:"sdpMid,omitempty"`
	SDPMLineIndex *uint16 `json:"sdpMLineIndex,omitempty"`
}

// GroupMessage is one frame of the group protocol, in either direction.
type GroupMessage struct {
	Type         string             `json:"type"`
	PC           string             `json:"pc,omitempty"`
	SDP          string             `json:"sdp,omitempty"`
	Candidate    *GroupICECandidate `json:"candidate,omitempty"`
	ID           string             `json:"id,omitempty"`
	Participants []GroupParticipant `json:"participants,omitempty"`
	Participant  string             `json:"participant,omitempty"`
	Layer        string             `json:"layer,omitempty"`
	Width        int                `json:"width,omitempty"`
	Height       int                `json:"height,omitempty"`
	Muted        *bool              `json:"muted,omitempty"`
	CameraOff    *bool              `json:"cameraOff,omitempty"`
	// Resume, in a join, asks to take over the place (and the PeerConnections) of this
	// participant's previous socket; in the welcome, it says that this happened.
	Resume bool `json:"resume,omitempty"`
	// Screen, in an up offer, is the mid of the media section that carries a screen
	// share: the SFU forwards that track with an id starting "screen-" instead of "video-".
	Screen string `json:"screen,omitempty"`
	// Name and Text are a chat message's sender (from the server) and text.
	Name    string `json:"name,omitempty"`
	Text    string `json:"text,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// GroupFrameError is why ParseGroupMessage refused a frame; Code is the error frame's code.
type GroupFrameError struct {
	Code   string
	Reason string
}

func (e *GroupFrameError) Error() string { return "group frame: " + e.Code + ": " + e.Reason }

// maxViewSide bounds the tile size a client may report (pixels).
const maxViewSide = 16384

// checkGroupMessage is ParseGroupMessage's check of a decoded client → server frame: that it
// carries what its type needs. Server → client types are refused: a client has no business
// sending them. It returns m as it came.
func checkGroupMessage(m GroupMessage) (GroupMessage, error) {
	pcOK := m.PC == PCUp || m.PC == PCDown
	switch m.Type {
	case GroupJoin, GroupBye:
	case GroupOffer:
		if m.PC != PCUp {
			return m, &GroupFrameError{Code: GroupErrBadField, Reason: `offer needs pc "up" (the server offers the "down" connection)`}
		}
		if strings.TrimSpace(m.SDP) == "" {
			return m, &GroupFrameError{Code: GroupErrBadField, Reason: "offer without sdp"}
		}
		if len(m.Screen) > MaxIDLen {
			return m, &GroupFrameError{Code: GroupErrBadField, Reason: "screen mid too long"}
		}
	case GroupAnswer:
		if m.PC != PCDown {
			return m, &GroupFrameError{Code: GroupErrBadField, Reason: `answer needs pc "down" (the server answers the "up" connection)`}
		}
		if strings.TrimSpace(m.SDP) == "" {
			return m, &GroupFrameError{Code: GroupErrBadField, Reason: "answer without sdp"}
		}
	case GroupCandidate:
		if !pcOK {
			return m, &GroupFrameError{Code: GroupErrBadField, Reason: `candidate needs pc "up" or "down"`}
		}
		if m.Candidate == nil {
			return m, &GroupFrameError{Code: GroupErrBadField, Reason: "candidate without candidate"}
		}
	case GroupView:
		if !ValidID(m.Participant) {
			return m, &GroupFrameError{Code: GroupErrBadField, Reason: "view needs a participant id"}
		}
		if m.Width < 0 || m.Height < 0 || m.Width > maxViewSide || m.Height > maxViewSide {
			return m, &GroupFrameError{Code: GroupErrBadField, Reason: "view size out of range"}
		}
	case GroupState:
		if m.Muted == nil && m.CameraOff == nil {
			return m, &GroupFrameError{Code: GroupErrBadField, Reason: "state without muted or cameraOff"}
		}
	case GroupChat:
		if reason := checkChat(m.Text); reason != "" {
			return m, &GroupFrameError{Code: GroupErrBadField, Reason: reason}
		}
	case "":
		return m, &GroupFrameError{Code: GroupErrMalformed, Reason: "frame without type"}
	default:
		return m, &GroupFrameError{Code: GroupErrUnknownType, Reason: "unknown type " + truncate(m.Type, 32)}
	}
	return m, nil
}

// checkChat says what is wrong with a chat message's text ("" when nothing is): blank, over
// MaxChatChars characters, or not valid UTF-8.
func checkChat(text string) string {
	switch {
	case strings.TrimSpace(text) == "":
		return "chat without text"
	case !utf8.ValidString(text):
		return "chat text is not valid UTF-8"
	case utf8.RuneCountInString(text) > MaxChatChars:
		return "chat text over " + strconv.Itoa(MaxChatChars) + " characters"
	}
	return ""
}

// ValidName reports whether s is an acceptable display name: 1–MaxNameLen bytes of valid
// UTF-8 without control characters.
func ValidName(s string) bool {
	if s == "" || len(s) > MaxNameLen {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}
