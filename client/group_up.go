package client

import (
	"context"

	"github.com/onertc/onertc/protocol"
)

// Publishing more or less (a screen share started or stopped) is a new offer on the up
// connection. Only one waits for its answer at a time: a change meanwhile is offered after
// it, so the server never answers an offer the client has already replaced.

// Renegotiate offers the up connection again, after the caller changed what it sends (for
// a screen share, GroupConfig.ScreenMid then names its section). Before the first offer
// it does nothing: that offer carries the change.
func (s *GroupSession) Renegotiate() { s.send(groupControl{reoffer: true}) }

func (g *groupLoop) reofferUp() {
	if g.up == nil {
		return
	}
	if g.upOffering {
		g.upAgain = true
		return
	}
	ctx, cancel := context.WithTimeout(g.ctx, opTimeout)
	defer cancel()
	d, err := g.up.peer.CreateOffer(ctx, OfferOptions{})
	if err == nil {
		err = g.up.peer.SetLocalDescription(ctx, d)
	}
	if err != nil {
		g.log.Warn("up offer again failed", "err", err)
		g.emit(GroupEvent{Kind: GroupEventError, Err: err})
		return
	}
	g.upOffering = true
	g.write(protocol.GroupMessage{Type: protocol.GroupOffer, PC: protocol.PCUp, SDP: d.SDP, Screen: g.screenMid()})
	g.log.Info("up offer sent again")
}

// upAnswered: the up offer in flight was answered; offer again if something changed.
func (g *groupLoop) upAnswered() {
	g.upOffering = false
	if g.upAgain {
		g.upAgain = false
		g.reofferUp()
	}
}

// upRefused: an error frame that refuses an offer ends the wait for its answer, so that
// the next change can be offered.
func (g *groupLoop) upRefused(code string) {
	switch code {
	case protocol.GroupErrSDP, protocol.GroupErrCodec, protocol.GroupErrTooManyTracks:
		g.upOffering, g.upAgain = false, false
	}
}

func (g *groupLoop) screenMid() string {
	if g.cfg.ScreenMid == nil {
		return ""
	}
	return g.cfg.ScreenMid()
}
