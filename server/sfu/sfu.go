package sfu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v2"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/logging"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v3"

	"github.com/onertc/onertc/internal/pionlog"
	"github.com/onertc/onertc/protocol"
)

// SFU forwards the media of group rooms. One SFU serves every room of a server.
type SFU struct {
	cfg      Config
	log      *slog.Logger
	upAPI    *webrtc.API // for what participants publish
	downAPI  *webrtc.API // for what the SFU forwards to them
	udpMux   ice.UDPMux
	out      *sendBatch // the UDP socket under udpMux: batches each packet's fan-out
	tcpMux   ice.TCPMux
	upgrader websocket.Upgrader

	mu     sync.Mutex
	rooms  map[string]*room
	total  int
	closed bool
	wg     sync.WaitGroup // ServeParticipant calls and room loops

	ctx       context.Context // cancelled by Close
	cancel    context.CancelFunc
	closing   chan struct{} // closed when Close begins: no participant waits for a resume
	closeOnce sync.Once

	counters counters
	pubSeq   atomic.Uint64 // names publications uniquely
}

type counters struct {
	forwardedPackets, forwardedBytes atomic.Uint64
	nacks, retransmits, plis         atomic.Uint64
	layerSwitches, errorFrames       atomic.Uint64
}

// Stats is a snapshot of the SFU's gauges and counters (counters only grow).
type Stats struct {
	Rooms        int
	Participants int
	// ForwardedPackets and ForwardedBytes count RTP sent to subscribers (retransmissions
	// included).
	ForwardedPackets uint64
	ForwardedBytes   uint64
	// NACKs counts NACK packets received from subscribers, Retransmits the packets resent
	// from the cache for them.
	NACKs       uint64
	Retransmits uint64
	// PLIs counts key frame requests sent to publishers.
	PLIs uint64
	// LayerSwitches counts a subscriber's video moving to another simulcast layer.
	LayerSwitches uint64
	// ErrorFrames counts error frames sent to clients.
	ErrorFrames uint64
	// PerRoom lists every room, by id.
	PerRoom []RoomStats
}

// RoomStats describes one room.
type RoomStats struct {
	ID           string
	Participants int
	// Subscriptions counts forwarded tracks: one per subscriber and published track.
	Subscriptions int
}

// New builds an SFU on the sockets of cfg. The SFU owns them from now on.
func New(cfg Config) (*SFU, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &SFU{cfg: cfg, log: cfg.Logger.With("component", "sfu"), rooms: make(map[string]*room), closing: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	logs := pionLogs(s.log)
	s.out = newSendBatch(cfg.UDPConn)
	s.udpMux = ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: s.out, Logger: logs.NewLogger("udpmux")})
	if cfg.TCPListener != nil {
		s.tcpMux = ice.NewTCPMuxDefault(ice.TCPMuxParams{Listener: cfg.TCPListener, ReadBufferSize: 32, Logger: logs.NewLogger("tcpmux")})
	}
	var err error
	if s.upAPI, err = s.newAPI(true); err != nil {
		return nil, errors.Join(err, s.closeMuxes())
	}
	if s.downAPI, err = s.newAPI(false); err != nil {
		return nil, errors.Join(err, s.closeMuxes())
	}
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		CheckOrigin:     cfg.CheckOrigin,
	}
	return s, nil
}

// Codec parameters. Opus and VP8 are what every browser sends; VP8 is the codec whose
// simulcast layers the SFU can switch between.
const (
	ptOpus = 111
	ptVP8  = 96
	// audioLevelURI is RFC 6464's header extension.
	audioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
)

// newAPI builds the pion API of one side. Up: the SFU receives, so it registers what
// browsers publish with (simulcast extensions, audio level), asks for lost packets
// (NACK generator), sends receiver reports and transport-wide feedback so the publisher's
// own congestion control works. RTX is not negotiated on this side: pion v3 races reading
// a simulcast layer against setting up its repair stream (docs/facts.md), and without RTX
// a publisher resends lost packets on the media SSRC, which the NACK generator handles. Down: the SFU sends, answers NACKs itself from its cache
// (no RTX: pion v3 cannot send it) and learns each subscriber's downlink from REMB.
func (s *SFU) newAPI(up bool) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	videoFB := []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType:        ptOpus,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("register opus: %w", err)
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFB},
		PayloadType:        ptVP8,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("register vp8: %w", err)
	}
	ir := &interceptor.Registry{}
	se := webrtc.SettingEngine{LoggerFactory: pionLogs(s.log)}
	se.SetICEUDPMux(s.udpMux)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if s.tcpMux != nil {
		se.SetICETCPMux(s.tcpMux)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(networks)
	se.DisableActiveTCP(true)
	se.SetIncludeLoopbackCandidate(s.cfg.IncludeLoopback)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// The SFU offers the down PeerConnection, so its agent is the controlling one there, and
	// pion's controlling agent waits 1 s before nominating a peer-reflexive pair: the usual
	// one when a client's checks beat its trickled candidate (a group socket passed on by
	// another instance is a hop slower than ICE on the media port). That second was the
	// ~1.1 s mode of the drained group's video gap (e2e TestGroupSurvivesItsSFUInstanceKilled).
	// A peer-reflexive remote is as direct as a host one: nothing better to wait for.
	se.SetPrflxAcceptanceMinWait(0)
	if len(s.cfg.PublicIPs) > 0 {
		se.SetNAT1To1IPs(s.cfg.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	if up {
		exts := []struct {
			uri  string
			kind webrtc.RTPCodecType
		}{
			{sdp.SDESMidURI, webrtc.RTPCodecTypeVideo},
			{sdp.SDESMidURI, webrtc.RTPCodecTypeAudio},
			{sdp.SDESRTPStreamIDURI, webrtc.RTPCodecTypeVideo},
			{audioLevelURI, webrtc.RTPCodecTypeAudio},
		}
		for _, e := range exts {
			if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, e.kind); err != nil {
				return nil, fmt.Errorf("register header extension %s: %w", e.uri, err)
			}
		}
		gen, err := nack.NewGeneratorInterceptor()
		if err != nil {
			return nil, fmt.Errorf("nack generator: %w", err)
		}
		ir.Add(gen)
		rr, err := report.NewReceiverInterceptor()
		if err != nil {
			return nil, fmt.Errorf("receiver reports: %w", err)
		}
		ir.Add(rr)
		if err := webrtc.ConfigureTWCCSender(m, ir); err != nil {
			return nil, fmt.Errorf("transport-wide feedback: %w", err)
		}
		// Retransmissions and simulcast reorder more than the default window allows.
		se.SetSRTPReplayProtectionWindow(512)
	} else {
		sr, err := report.NewSenderInterceptor()
		if err != nil {
			return nil, fmt.Errorf("sender reports: %w", err)
		}
		ir.Add(sr)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

func (s *SFU) closeMuxes() error {
	var errs []error
	if err := s.udpMux.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close UDP mux: %w", err))
	}
	if s.tcpMux != nil {
		if err := s.tcpMux.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close TCP mux: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ServeParticipant upgrades r to the group-protocol WebSocket of participant id (display
// name name) in room roomID, and serves it until the participant leaves, its socket dies or
// the SFU closes. The caller has admitted the request: roomID and id must be valid ids
// (protocol.ValidID). A second socket with the same id takes the place of the first, which
// is closed (a reconnecting participant resumes its place).
func (s *SFU) ServeParticipant(w http.ResponseWriter, r *http.Request, roomID, id, name string) {
	if !protocol.ValidID(roomID) || !protocol.ValidID(id) {
		http.Error(w, "invalid room or participant id", http.StatusBadRequest)
		return
	}
	if !protocol.ValidName(name) {
		name = id
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.log.Info("group socket upgrade failed", "room", roomID, "client", id, "err", err)
		return
	}
	p := newParticipant(s, roomID, id, name, r.RemoteAddr)
	p.serve(newSock(ws, s.cfg.SendQueue, p.log))
}

// join adds p to its room, replacing a participant of the same id. It returns the room and
// the participants p must subscribe to; or, when resume is asked and the room holds a
// participant of that id, that participant (and changes nothing).
func (s *SFU) join(p *participant, resume bool) (*room, []*participant, *participant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, nil, ErrClosed
	}
	rm := s.rooms[p.roomID]
	var old *participant
	if rm != nil {
		old = rm.participants[p.id]
	}
	if old != nil && resume {
		return rm, nil, old, nil
	}
	if old == nil {
		if rm != nil && len(rm.participants) >= s.cfg.MaxPerRoom {
			return nil, nil, nil, ErrRoomFull
		}
		if s.total >= s.cfg.MaxTotal {
			return nil, nil, nil, ErrServerFull
		}
	}
	if rm == nil {
		rm = newRoom(s, p.roomID)
		s.rooms[p.roomID] = rm
		s.wg.Add(1)
		go rm.loop()
	}
	if old != nil {
		old.replaced.Store(true)
		// Its socket is closed here, its media when its serve goroutine finishes; until
		// then its publications still reach the others, so the newcomer's arrive on top.
		old.closeWith(protocol.GroupMessage{Type: protocol.GroupBye, Code: protocol.GroupErrDuplicate, Message: "replaced by a new connection of the same participant"})
	} else {
		s.total++
	}
	rm.participants[p.id] = p
	rm.order = append(rm.order, p)
	others := make([]*participant, 0, len(rm.participants))
	for _, q := range rm.order {
		if q != p && q != old {
			others = append(others, q)
		}
	}
	if old != nil {
		rm.dropOrder(old)
	}
	p.room = rm
	return rm, others, nil, nil
}

// leave removes p from its room unless another socket of the same id took its place; the
// room ends with its last participant. It reports whether p was removed.
func (s *SFU) leave(p *participant) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rm := p.room
	if rm == nil || rm.participants[p.id] != p {
		return false
	}
	delete(rm.participants, p.id)
	rm.dropOrder(p)
	s.total--
	if len(rm.participants) == 0 {
		delete(s.rooms, rm.id)
		close(rm.done)
	}
	return true
}

// members returns a room's participants in join order.
func (s *SFU) members(rm *room) []*participant {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*participant(nil), rm.order...)
}

// Close ends every room: each participant gets a bye and its socket and connections are
// closed. It waits for every goroutine of the SFU until ctx ends, and closes the sockets
// New was given.
func (s *SFU) Close(ctx context.Context) error {
	s.closeOnce.Do(func() { close(s.closing) })
	s.mu.Lock()
	s.closed = true
	var all []*participant
	for _, rm := range s.rooms {
		all = append(all, rm.order...)
	}
	s.mu.Unlock()
	for _, p := range all {
		p.closeWith(protocol.GroupMessage{Type: protocol.GroupBye, Code: protocol.GroupErrClosing, Message: "the server is shutting down"})
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("sfu close: %w", ctx.Err())
	}
	s.cancel()
	return errors.Join(err, s.closeMuxes())
}

// Stats returns the SFU's current gauges and counters.
func (s *SFU) Stats() Stats {
	st := Stats{
		ForwardedPackets: s.counters.forwardedPackets.Load(),
		ForwardedBytes:   s.counters.forwardedBytes.Load(),
		NACKs:            s.counters.nacks.Load(),
		Retransmits:      s.counters.retransmits.Load(),
		PLIs:             s.counters.plis.Load(),
		LayerSwitches:    s.counters.layerSwitches.Load(),
		ErrorFrames:      s.counters.errorFrames.Load(),
	}
	s.mu.Lock()
	rooms := make([]*room, 0, len(s.rooms))
	for _, rm := range s.rooms {
		rooms = append(rooms, rm)
		st.Participants += len(rm.participants)
	}
	st.Rooms = len(rooms)
	s.mu.Unlock()
	for _, rm := range rooms {
		rs := RoomStats{ID: rm.id}
		for _, p := range s.members(rm) {
			rs.Participants++
			rs.Subscriptions += p.subscriptions()
		}
		st.PerRoom = append(st.PerRoom, rs)
	}
	sort.Slice(st.PerRoom, func(i, j int) bool { return st.PerRoom[i].ID < st.PerRoom[j].ID })
	return st
}

// pionLogs sends pion's logs to the SFU's logger. Its warnings and errors are about one
// connection and do not stop the SFU: info and warn.
func pionLogs(log *slog.Logger) logging.LoggerFactory {
	return pionlog.Factory(log, pionlog.Levels{Warn: slog.LevelInfo, Error: slog.LevelWarn})
}
