package client

import (
	"context"
	"time"
)

// silenceTicks is how many probes the watch makes per SilenceTimeout. Packets must have
// arrived in each of that many probes in a row before a stop counts as silence, so a path
// that carries only a packet now and then (data, RTCP of a call that sends no media) is not
// watched.
const silenceTicks = 10

// watch starts the silence watch of peer p of generation gen when p is a PathProbe; the
// watch ends when the peer is retired.
func (m *machine) watch(p Peer, gen int) {
	probe, ok := p.(PathProbe)
	if !ok || m.c.cfg.SilenceTimeout <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(m.ctx)
	m.stopWatch = cancel
	go m.watchSilence(ctx, probe, gen)
}

// watchSilence probes the received bytes every SilenceTimeout/silenceTicks and reports a
// steady flow that stopped for SilenceTimeout, and the flow coming back after that.
func (m *machine) watchSilence(ctx context.Context, probe PathProbe, gen int) {
	timeout := m.c.cfg.SilenceTimeout
	tick := time.NewTicker(timeout / silenceTicks)
	defer tick.Stop()
	var last uint64
	var lastGrew time.Time
	streak := 0       // probes in a row that saw the count grow
	steady := false   // the flow was steady: its stop is worth reporting
	reported := false // silence was reported and the flow has not come back
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		n, err := probe.ReceivedBytes(pctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				m.log.Debug("probing received bytes failed", "err", err)
			}
			continue
		}
		now := time.Now()
		if n > last {
			last, lastGrew = n, now
			streak++
			if reported {
				reported = false
				m.peerEvent(peerEvent{gen: gen, flowing: true})
			}
			if streak >= silenceTicks {
				steady = true
			}
			continue
		}
		streak = 0
		if steady && now.Sub(lastGrew) >= timeout {
			steady, reported = false, true
			m.peerEvent(peerEvent{gen: gen, silent: true})
		}
	}
}

// onSilent: the current peer's packets stopped. Whatever state the peer reports, the path is
// gone: the connection is handled as failed now, not after ICE's timeouts.
func (m *machine) onSilent() {
	if m.silent || (m.state != PeerStateConnected && m.state != PeerStateDisconnected) {
		return
	}
	m.silent = true
	m.log.Warn("no packets received; handling the connection as failed", "after", m.c.cfg.SilenceTimeout)
	m.c.emit(Event{Kind: EventSilent})
	m.failed()
}

// onFlowing: packets arrive again after onSilent (an ICE restart or the browser's own move to
// another path brought them back without a new peer).
func (m *machine) onFlowing() {
	if !m.silent {
		return
	}
	m.silent = false
	m.log.Info("packets arrive again")
	m.c.emit(Event{Kind: EventFlowing})
	if m.state == PeerStateConnected {
		m.restarted = false
		m.recoverAt.stop()
	}
}
