package turn

import (
	"encoding/binary"
	"net"
	"net/netip"
	"time"

	"github.com/pion/stun"
)

// The guard sees every TURN message before pion does (inbound) and every response pion
// sends (outbound). Inbound it authenticates requests itself, so that it can answer with
// coTurn's codes where pion's differ (401 for a bad credential, 403 for a refused peer,
// 486 over quota, 441 for a foreign username), honour an expired credential on a live
// allocation, and count refusals. Outbound it learns which allocations pion created.

var (
	typeAllocateOK  = stun.NewType(stun.MethodAllocate, stun.ClassSuccessResponse).Value()
	typeAllocateErr = stun.NewType(stun.MethodAllocate, stun.ClassErrorResponse).Value()
	typeRefreshOK   = stun.NewType(stun.MethodRefresh, stun.ClassSuccessResponse).Value()
	typePermOK      = stun.NewType(stun.MethodCreatePermission, stun.ClassSuccessResponse).Value()
	typePermErr     = stun.NewType(stun.MethodCreatePermission, stun.ClassErrorResponse).Value()
	typeBindOK      = stun.NewType(stun.MethodChannelBind, stun.ClassSuccessResponse).Value()
	typeBindErr     = stun.NewType(stun.MethodChannelBind, stun.ClassErrorResponse).Value()
)

// replier sends a response straight back to the client on the socket the request came from.
type replier interface {
	WriteTo(p []byte, addr net.Addr) (int, error)
}

// addrKey identifies a client transport address, as pion's AuthHandler sees it.
func addrKey(a net.Addr) string { return a.Network() + "|" + a.String() }

// tupleKey identifies a 5-tuple: client address, server address, transport.
func tupleKey(src, local net.Addr) string { return addrKey(src) + "|" + local.String() }

// mayBeRequest is the fast path: ChannelData and anything too short is pion's business.
func mayBeRequest(b []byte) bool {
	return len(b) >= 20 && b[0]&0xC0 == 0 && b[0]&0x01 == 0 && b[1]&0x10 == 0
}

// mayBeResponse picks out STUN success and error responses (class bit C1 set).
func mayBeResponse(b []byte) bool { return len(b) >= 20 && b[0]&0xC0 == 0 && b[0]&0x01 == 1 }

// inbound inspects a message from src that arrived on local. It returns true to hand it to
// pion, false when it has answered (or dropped) the message itself.
func (s *Server) inbound(b []byte, src, local net.Addr, w replier) bool {
	if !mayBeRequest(b) || !stun.IsMessage(b) {
		return true
	}
	m := &stun.Message{Raw: append([]byte(nil), b...)}
	if err := m.Decode(); err != nil || m.Type.Class != stun.ClassRequest || !m.Contains(stun.AttrMessageIntegrity) {
		return true // pion answers: 400, or 401 with a fresh nonce
	}
	var username stun.Username
	var realm stun.Realm
	var nonce stun.Nonce
	if username.GetFrom(m) != nil || realm.GetFrom(m) != nil || nonce.GetFrom(m) != nil {
		return true // pion answers 400
	}
	now := s.now()
	tuple := tupleKey(src, local)
	liveUser, live := s.reg.liveUser(tuple)
	user := username.String()
	// coTurn checks the expiry at Allocate only: a call must survive its credential.
	ignoreExpiry := live && m.Type.Method != stun.MethodAllocate && liveUser == user && !s.noExpiryGrace.Load()
	key, reason := s.auth.check(m, user, realm.String(), now, ignoreExpiry)
	if reason == "" && live && liveUser != user && m.Type.Method != stun.MethodAllocate {
		reason = ReasonWrongUser
	}
	if reason != "" {
		s.stats.authFailed(reason)
		s.log.Debug("TURN credential refused", "reason", reason, "remote", src.String(), "method", m.Type.Method.String())
		code := stun.CodeUnauthorized
		if reason == ReasonWrongUser {
			code = stun.CodeWrongCredentials
		}
		s.reply(w, src, m, code, nil, stun.NewRealm(s.cfg.Realm), nonce)
		return false
	}
	s.reg.putKey(addrKey(src), user, key, now)

	switch m.Type.Method {
	case stun.MethodAllocate:
		if !live && !s.reg.reserve(tuple, user, m.TransactionID, now) {
			s.stats.quotaRefused.Add(1)
			s.log.Info("TURN allocation quota reached", "user", user, "remote", src.String())
			s.reply(w, src, m, stun.CodeAllocQuotaReached, key)
			return false
		}
	case stun.MethodCreatePermission, stun.MethodChannelBind:
		var refused netip.AddrPort
		var peers []netip.AddrPort
		malformed := m.ForEach(stun.AttrXORPeerAddress, func(m *stun.Message) error {
			var a stun.XORMappedAddress
			if err := a.GetFromAs(m, stun.AttrXORPeerAddress); err != nil {
				return err // malformed: pion answers it
			}
			ap := udpAddrPort(a.IP, a.Port)
			if !s.policy.allowed(ap) {
				refused = ap
				return errStop
			}
			peers = append(peers, ap)
			return nil
		}) != nil
		if refused.IsValid() {
			s.stats.permissionDenied.Add(1)
			s.log.Info("TURN peer refused by policy", "peer", refused.String(), "user", user, "remote", src.String())
			s.reply(w, src, m, stun.CodeForbidden, key)
			return false
		}
		if s.plane != nil && !malformed && len(peers) > 0 {
			s.noteForPlane(m, src, local, peers)
		}
	}
	return true
}

// noteForPlane tells the data plane about a CreatePermission or ChannelBind pion is about to
// handle, so that pion's success answer can install it there too.
func (s *Server) noteForPlane(m *stun.Message, src, local net.Addr, peers []netip.AddrPort) {
	a := s.plane.lookupAddrs(src, local)
	if a == nil {
		return
	}
	var channel uint16
	if m.Type.Method == stun.MethodChannelBind {
		v, err := m.Get(stun.AttrChannelNumber)
		if err != nil || len(v) < 2 {
			return
		}
		if channel = binary.BigEndian.Uint16(v); channel < channelMin || channel > channelMax {
			return
		}
		peers = peers[:1] // pion binds the first
	}
	a.noteRequest(m.TransactionID, channel, peers)
}

type stopError struct{}

func (stopError) Error() string { return "stop" }

var errStop error = stopError{}

func udpAddrPort(ip net.IP, port int) netip.AddrPort {
	a, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(a.Unmap(), uint16(port))
}

// reply sends an error response to m, with MESSAGE-INTEGRITY when key is set.
func (s *Server) reply(w replier, dst net.Addr, m *stun.Message, code stun.ErrorCode, key []byte, extra ...stun.Setter) {
	setters := []stun.Setter{
		stun.NewTransactionIDSetter(m.TransactionID),
		stun.NewType(m.Type.Method, stun.ClassErrorResponse),
		code,
	}
	setters = append(setters, extra...)
	if key != nil {
		setters = append(setters, stun.MessageIntegrity(key))
	}
	setters = append(setters, stun.Fingerprint)
	resp, err := stun.Build(setters...)
	if err != nil {
		s.log.Warn("TURN: building error response", "err", err)
		return
	}
	if _, err := w.WriteTo(resp.Raw, dst); err != nil {
		s.log.Debug("TURN: sending error response", "err", err, "remote", dst.String())
	}
}

// outbound inspects a message pion sends to dst from local; it may return a rewritten copy.
func (s *Server) outbound(b []byte, dst, local net.Addr) []byte {
	if !mayBeResponse(b) {
		return b
	}
	switch binary.BigEndian.Uint16(b[0:2]) {
	case typeAllocateErr:
		s.reg.refused(tupleKey(dst, local))
	case typeAllocateOK:
		m := &stun.Message{Raw: append([]byte(nil), b...)}
		if m.Decode() != nil {
			return b
		}
		var relayed stun.XORMappedAddress
		if relayed.GetFromAs(m, stun.AttrXORRelayedAddress) != nil {
			return b
		}
		granted, out := s.capLifetime(m, dst, b)
		if c := s.reg.allocated(tupleKey(dst, local), addrKey(dst), relayed.Port, granted, s.now()); c != nil {
			s.stats.allocationsTotal.Add(1)
			if c.fast != nil {
				s.plane.bound(c.fast, dst)
			}
		}
		return out
	case typePermOK, typePermErr, typeBindOK, typeBindErr:
		if s.plane == nil {
			return b
		}
		if a := s.plane.lookupAddrs(dst, local); a != nil {
			t := binary.BigEndian.Uint16(b[0:2])
			a.answered([12]byte(b[8:20]), t == typePermOK || t == typeBindOK, s.plane.clock.Load(), s.policy)
		}
	case typeRefreshOK:
		m := &stun.Message{Raw: append([]byte(nil), b...)}
		if m.Decode() != nil {
			return b
		}
		granted, out := s.capLifetime(m, dst, b)
		s.reg.refreshed(tupleKey(dst, local), granted, s.now())
		return out
	}
	return b
}

// capLifetime returns the LIFETIME a response grants, shortened to MaxAllocationLifetime by
// rebuilding the response (with MESSAGE-INTEGRITY under the client's key) when it exceeds it.
func (s *Server) capLifetime(m *stun.Message, dst net.Addr, raw []byte) (time.Duration, []byte) {
	v, err := m.Get(stun.AttrLifetime)
	if err != nil || len(v) != 4 {
		return s.cfg.MaxAllocationLifetime, raw
	}
	granted := time.Duration(binary.BigEndian.Uint32(v)) * time.Second
	if granted <= s.cfg.MaxAllocationLifetime {
		return granted, raw
	}
	key, ok := s.reg.key(addrKey(dst), "")
	if !ok {
		return granted, raw
	}
	capped := s.cfg.MaxAllocationLifetime
	out := stun.New()
	out.TransactionID = m.TransactionID
	out.Type = m.Type
	out.WriteHeader()
	for _, a := range m.Attributes {
		switch a.Type {
		case stun.AttrMessageIntegrity, stun.AttrFingerprint:
			continue
		case stun.AttrLifetime:
			out.Add(a.Type, binary.BigEndian.AppendUint32(nil, uint32(capped/time.Second)))
		default:
			out.Add(a.Type, a.Value)
		}
	}
	if err := stun.MessageIntegrity(key).AddTo(out); err != nil {
		return granted, raw
	}
	return capped, out.Raw
}
