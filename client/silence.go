package client

import (
	"context"
	"time"
)

// silenceTicks is how many probes the watch makes per SilenceTimeout.
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
// steady flow that stopped for SilenceTimeout (and, ahead of that, for half of it: the
// restart's ICE servers are fetched then, see onQuiet), and the flow coming back. A flow
// is steady once packets have kept arriving for half of SilenceTimeout with no pause of
// three quarters of it: a path that carries only a packet now and then (chat, RTCP of a
// call that sends no media) is not watched. A steady flow stays steady until its silence is
// reported: a few packets after it stopped (a busy tab's last ones, counted late) start the
// silence over rather than unwatch a path that died (in e2e/browser at load 20-27 they did,
// and the tabs' video stayed frozen 7-12 s, until Chromium's own "disconnected" and the
// disconnected grace). Chromium refreshes its statistics every 50-60 ms, and a busy tab
// answers getStats up to 250 ms late (seen in e2e/browser on 2 cores), so a probe or a few
// that saw nothing new are no pause.
func (m *machine) watchSilence(ctx context.Context, probe PathProbe, gen int) {
	timeout := m.c.cfg.SilenceTimeout
	tick := time.NewTicker(timeout / silenceTicks)
	defer tick.Stop()
	var last uint64
	// lastGrew is when the count last grew, flowingSince when the current steady flow began;
	// quietFrom is when the silence being timed began: the last growth, or the end of a
	// stall of this goroutine, which is no evidence of silence (and no evidence of flow
	// either, so it leaves lastGrew alone: a sparse flow must not look steady after one).
	var lastGrew, quietFrom, flowingSince, prev time.Time
	steady := false   // the flow is steady (watched) and its silence not yet reported
	reported := false // silence was reported and the flow has not come back
	quiet := false    // the current pause of a steady flow was reported as half a silence
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
		stalled := !prev.IsZero() && now.Sub(prev) > timeout/2
		prev = now
		if stalled && !lastGrew.IsZero() && n == last {
			// This goroutine (and likely the ones reading packets) did not run for a while:
			// the process was starved of CPU, and what arrived meanwhile may still be unread.
			// The silence counts from now. (100 bots in one process on 2 cores: half of
			// them saw a false silence without this.)
			quietFrom = now
			continue
		}
		if n > last {
			if !steady && (lastGrew.IsZero() || now.Sub(lastGrew) > timeout*3/4) {
				flowingSince = now
			}
			last, lastGrew, quietFrom, quiet = n, now, now, false
			steady = steady || now.Sub(flowingSince) >= timeout/2
			if reported {
				reported = false
				m.peerEvent(peerEvent{gen: gen, flowing: true})
			}
			continue
		}
		if steady && !quiet && now.Sub(quietFrom) >= timeout/2 {
			quiet = true
			m.peerEvent(peerEvent{gen: gen, quiet: true})
		}
		if steady && now.Sub(quietFrom) >= timeout {
			// Steady again only once the flow is back and steady: a path that came back
			// sparse is not restarted once more.
			reported, steady = true, false
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
