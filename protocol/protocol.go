// Package protocol holds the wire types and constants of the AppRTC room-server and Collider
// protocols that onertc speaks (see docs/protocol.md). It has no dependencies beyond the standard
// library so that the server, the native bots and the js/wasm browser client share it.
package protocol

// Limits on what the network may send. They are part of the contract: a peer that exceeds
// them gets a clear error, never a silently truncated message.
const (
	// MaxIDLen bounds room and client ids.
	MaxIDLen = 64
	// MaxMessageBytes bounds one signaling message (an SDP with many codecs and
	// extensions is 5–15 KB; 64 KiB leaves ample headroom).
	MaxMessageBytes = 64 << 10
	// MaxFrameBytes bounds one relay frame: a message plus its JSON envelope and escaping.
	MaxFrameBytes = 2*MaxMessageBytes + 1024
	// MaxQueuedPerSender bounds the relay messages kept for a peer that has no live socket.
	MaxQueuedPerSender = 1024
	// MaxQueuedBytesPerSender bounds the bytes of those queued messages (and of a
	// mailbox): a real call's offer and candidates take 10–30 KB.
	MaxQueuedBytesPerSender = 1 << 20
	// MaxMailbox bounds the room-server mailbox of a client that is alone in its room.
	MaxMailbox = 1024
	// RoomCapacity is the number of clients a room holds.
	RoomCapacity = 2
)

// ValidID reports whether s is an acceptable room or client id: 1–MaxIDLen characters of
// [a-zA-Z0-9_-].
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// Results of /join and /message.
const (
	ResultSuccess       = "SUCCESS"
	ResultFull          = "FULL"
	ResultError         = "ERROR"
	ResultUnknownRoom   = "UNKNOWN_ROOM"
	ResultUnknownClient = "UNKNOWN_CLIENT"
)

// JoinResponse is the body of POST /join/{room}.
type JoinResponse struct {
	Result string     `json:"result"`
	Params RoomParams `json:"params"`
}

// RoomParams are the parameters of one client in one room, as /join answers them: the
// room-independent set of GET /params plus who the client is and what waits for it. The
// room page carries them too, with only the room's fields filled.
type RoomParams struct {
	IsInitiator string   `json:"is_initiator"`
	RoomID      string   `json:"room_id"`
	RoomLink    string   `json:"room_link"`
	ClientID    string   `json:"client_id"`
	Messages    []string `json:"messages"`
	// RoomMode is RoomModeGroup for a join into a group room (onertc's clients only; empty
	// for a 1:1 join), whose client then opens GroupURL instead of the relay.
	RoomMode string `json:"room_mode,omitempty"`
	GroupURL string `json:"group_url,omitempty"`
	Params
}

// RoomModeGroup is RoomParams.RoomMode of a group join.
const RoomModeGroup = "group"

// Params is AppRTC's room-independent parameter set, the body of GET /params. The
// JSON-valued and boolean fields are strings on the wire because AppRTC clients compare them
// as strings.
type Params struct {
	PCConfig               string   `json:"pc_config"`
	PCConstraints          string   `json:"pc_constraints"`
	OfferOptions           string   `json:"offer_options"`
	MediaConstraints       string   `json:"media_constraints"`
	IsLoopback             string   `json:"is_loopback"`
	IncludeLoopbackJS      string   `json:"include_loopback_js"`
	BypassJoinConfirmation string   `json:"bypass_join_confirmation"`
	VersionInfo            string   `json:"version_info"`
	WSSURL                 string   `json:"wss_url"`
	WSSPostURL             string   `json:"wss_post_url"`
	ICEServerURL           string   `json:"ice_server_url"`
	ICEServerTransports    string   `json:"ice_server_transports"`
	ErrorMessages          []string `json:"error_messages"`
	WarningMessages        []string `json:"warning_messages"`
	HeaderMessage          string   `json:"header_message"`
}

// JoinErrorResponse is the body of a refused /join: only the result and an empty
// message list, as AppRTC sends it.
type JoinErrorResponse struct {
	Result string `json:"result"`
	Params struct {
		Messages      []string `json:"messages"`
		ErrorMessages []string `json:"error_messages,omitempty"`
	} `json:"params"`
}

// NewJoinError builds the refusal body for result.
func NewJoinError(result string) JoinErrorResponse {
	r := JoinErrorResponse{Result: result}
	r.Params.Messages = []string{}
	return r
}

// MessageResponse is the body of POST /message/{room}/{client}.
type MessageResponse struct {
	Result string `json:"result"`
}

// Relay commands a client sends on /ws.
const (
	CmdRegister = "register"
	CmdSend     = "send"
)

// RelayRequest is one client → relay frame on /ws.
type RelayRequest struct {
	Cmd      string `json:"cmd"`
	RoomID   string `json:"roomid,omitempty"`
	ClientID string `json:"clientid,omitempty"`
	Msg      string `json:"msg,omitempty"`
}

// RelayFrame is one relay → client frame. Both keys are always present: AppRTC clients read
// `error` to tell a failure from a message.
type RelayFrame struct {
	Msg   string `json:"msg"`
	Error string `json:"error"`
}

// Relay error texts, verbatim from Collider, except ErrTextUnknownClient, which is onertc's:
// Collider registered whoever asked, onertc registers only clients its room table holds.
const (
	ErrTextDuplicateRegister = "Duplicated register request"
	ErrTextInvalidRegister   = "Invalid register request: missing 'clientid' or 'roomid'"
	ErrTextRoomFull          = "Max room capacity reached"
	ErrTextDuplicateClient   = "Duplicated registration"
	ErrTextNotRegistered     = "Client not registered"
	ErrTextMissingMsg        = "Invalid send request: missing 'msg'"
	ErrTextUnexpectedCmd     = "Invalid message: unexpected 'cmd'"
	// ErrTextUnknownClient answers a register or send for a client the room does not hold:
	// one that never joined, or one removed after its grace period. It must join again.
	ErrTextUnknownClient = "Unknown client: join the room again"
	// onertc's own relay errors, of which Collider had no equivalent.
	ErrTextQueueFull   = "Message queue full"
	ErrTextTooLarge    = "Message too large"
	ErrTextClosed      = "Relay shutting down"
	ErrTextUnavailable = "Relay temporarily unavailable, try again"
)

// InviteResponse is POST /invite/ROOM's answer in password mode: a link to the room that
// admits its holder until Expires (RFC 3339).
type InviteResponse struct {
	URL     string `json:"url"`
	Expires string `json:"expires"`
}

// Texts of the 404 that a path with a malformed room or client id gets.
const (
	InvalidRoomText   = "invalid room id: use 1-64 of a-z A-Z 0-9 _ -"
	InvalidClientText = "invalid client id"
)

// Call payload types, carried opaquely by the servers inside messages.
const (
	TypeOffer     = "offer"
	TypeAnswer    = "answer"
	TypeCandidate = "candidate"
	TypeBye       = "bye"
	// TypeGroup is sent by the server, not by a peer: the room became a group room and the
	// receiver moves to the SFU at URL (docs/protocol.md, section 10).
	TypeGroup = "group"
	// TypeGroupReady is sent by a client of a room that became a group to the other client
	// of its 1:1 call: the group's media plays here, so this side's 1:1 call may end. The
	// call ends once both have said it, so neither's video stops in the move.
	TypeGroupReady = "group-ready"
)

// Signal is a call payload: an offer or answer (Type, SDP), a trickled candidate (Type,
// Label = m-line index, ID = sdpMid, Candidate = the "candidate:…" line) or a bye.
type Signal struct {
	Type      string `json:"type"`
	SDP       string `json:"sdp,omitempty"`
	Label     *int   `json:"label,omitempty"`
	ID        string `json:"id,omitempty"`
	Candidate string `json:"candidate,omitempty"`
	// URL is a group message's group socket.
	URL string `json:"url,omitempty"`
}

// DecodeSignal is ParseSignal with the JSON decoder given: the browser app, which decodes with
// client/jsjson and leaves encoding/json out of its build, holds its decoder to ParseSignal's
// rules in its tests with DecodeSignal(raw, json.Unmarshal).
func DecodeSignal(raw string, unmarshal func([]byte, any) error) (Signal, error) {
	var s Signal
	if len(raw) > MaxMessageBytes {
		return s, &SignalError{Reason: "message too large"}
	}
	if err := unmarshal([]byte(raw), &s); err != nil {
		return s, &SignalError{Reason: "malformed JSON", Err: err}
	}
	return s, s.Check()
}

// Check says whether s carries what its type needs (a decoder other than ParseSignal's, such
// as the browser's, checks with it too).
func (s Signal) Check() error {
	switch s.Type {
	case TypeOffer, TypeAnswer:
		if s.SDP == "" {
			return &SignalError{Reason: s.Type + " without sdp"}
		}
	case TypeCandidate:
		if s.Candidate == "" {
			return &SignalError{Reason: "candidate without candidate line"}
		}
	case TypeBye, TypeGroupReady:
	case TypeGroup:
		if s.URL == "" {
			return &SignalError{Reason: "group without url"}
		}
	default:
		return &SignalError{Reason: "unknown type " + truncate(s.Type, 32)}
	}
	return nil
}

// SignalError says why a call payload was rejected.
type SignalError struct {
	Reason string
	Err    error
}

func (e *SignalError) Error() string {
	if e.Err != nil {
		return "bad signal: " + e.Reason + ": " + e.Err.Error()
	}
	return "bad signal: " + e.Reason
}

func (e *SignalError) Unwrap() error { return e.Err }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// ICEServer is one entry of RTCConfiguration.iceServers. URLs is never empty on the wire.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// ICEConfig is the body of POST /v1alpha/iceconfig.
type ICEConfig struct {
	ICEServers []ICEServer `json:"iceServers"`
}

// TURNCredentials is the body of GET /turn (the TURN REST API of draft-uberti-behave-turn-rest).
type TURNCredentials struct {
	Username string   `json:"username"`
	Password string   `json:"password"`
	TTL      int      `json:"ttl"`
	URIs     []string `json:"uris"`
}

// ErrorBody is the JSON error of REST endpoints that are not AppRTC's result-style routes.
type ErrorBody struct {
	Error string `json:"error"`
}
