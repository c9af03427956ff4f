package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

const (
	maxSteps   = 32
	warmupStep = 0 // step id of warm-up packets
)

// relayResult is one offered-rate step of a relay run.
type relayResult struct {
	Kind           string  `json:"kind"` // "relay"
	Server         string  `json:"server"`
	Allocations    int     `json:"allocations"`
	Raw            bool    `json:"raw"`                 // ChannelData written by the load client, not pion's WriteTo
	Peers          string  `json:"peers,omitempty"`     // "" or "pairs": allocations relay to each other; "external": to plain UDP sockets; "direct": no server (the load's floor)
	Transport      string  `json:"transport,omitempty"` // client to server: "" (udp), tcp or tls
	Fixed          bool    `json:"fixed,omitempty"`     // a -rates step (not part of the ramp)
	Run            int     `json:"run,omitempty"`       // -run label, for the medians of scripts/bench-turn
	Step           int     `json:"step"`
	Offered        float64 `json:"offered_pps"` // target, all allocations together
	Seconds        float64 `json:"seconds"`     // of the offered schedule: the step's sending time without the load's stalls
	Sent           uint64  `json:"sent"`
	Skipped        uint64  `json:"skipped,omitempty"`      // fell more than 5 ms behind the schedule while the load was busy: not sent
	LoadStallSec   float64 `json:"load_stall_s,omitempty"` // the load's send loop off its CPU, the schedule paused (pace.go)
	SentPerSec     float64 `json:"sent_pps"`
	Delivered      uint64  `json:"delivered"`
	DeliveredPS    float64 `json:"delivered_pps"`
	Mbps           float64 `json:"mbps"` // delivered payload
	LossPct        float64 `json:"loss_pct"`
	WriteErrors    uint64  `json:"write_errors"`
	ServerCPUSec   float64 `json:"server_cpu_s"`   // over the step and its drain
	ServerCPUPct   float64 `json:"server_cpu_pct"` // of one core, over the step and its drain
	ClientCPUPct   float64 `json:"client_cpu_pct"`
	ServerRSS      int     `json:"server_rss_kib"`
	RSSPerAlloc    float64 `json:"rss_per_alloc_kib"` // (RSS after setup - before) / allocations
	SetupSeconds   float64 `json:"setup_s"`
	HostCPUPct     float64 `json:"host_cpu_pct"`      // all cores busy, 100 per core
	SoftirqPct     float64 `json:"softirq_pct"`       // part of it in softirq
	RcvbufDrops    uint64  `json:"rcvbuf_drops"`      // whole host, /proc/net/snmp
	ListenerDrops  uint64  `json:"listener_drops"`    // /proc/net/udp, server listener port
	RelaySockDrops uint64  `json:"relay_sock_drops"`  // /proc/net/udp, relay port range
	ClientSockDrop uint64  `json:"client_sock_drops"` // /proc/net/udp, other ports
	// One-way time of the step's packets through the server, send stamp to receipt.
	LatSamples uint64  `json:"lat_samples"`
	LatP50us   float64 `json:"lat_p50_us,omitempty"`
	LatP99us   float64 `json:"lat_p99_us,omitempty"`
}

func runRelay(args []string) (err error) {
	var c common
	fs := flag.NewFlagSet("relay", flag.ExitOnError)
	c.register(fs)
	n := fs.Int("allocations", 100, "concurrent allocations (pairs relay to each other)")
	size := fs.Int("size", 200, "payload bytes per packet")
	first := fs.Float64("rate", 10000, "first offered rate, pkt/s in total")
	factor := fs.Float64("factor", 1.5, "rate multiplier between steps until one fails")
	maxRate := fs.Float64("max-rate", 400000, "highest offered rate")
	bisect := fs.Int("bisect", 2, "steps bisecting between the last sustained and the first failed rate")
	stepDur := fs.Duration("step", 3*time.Second, "duration of each rate step")
	drain := fs.Duration("drain", 400*time.Millisecond, "pause after each step before counting")
	_ = fs.Int("senders", 1, "ignored: one event loop sends and receives (kept for older scripts)")
	maxLoss := fs.Float64("max-loss", 1, "a step losing more than this % (or sending under 90 % of its rate) fails")
	raw := fs.Bool("raw", true, "once the channel is bound, write ChannelData frames directly instead of through pion's WriteTo (cheaper, so the client saturates later)")
	relayPorts := fs.String("relay-ports", "61000-65535", "server relay port range (to attribute socket drops)")
	peersMode := fs.String("peers", "pairs", "pairs: allocations relay to each other; external: each to a plain UDP socket of the load (half the packets each way); direct: external without a server, the load's own floor (no allocations)")
	ramp := fs.Bool("ramp", true, "after the -rates steps, ramp up from -rate to saturation")
	fixedRates := fs.String("rates", "", "comma-separated offered rates run as fixed steps before the ramp (e.g. 2500,20000,40000)")
	runLabel := fs.Int("run", 0, "run number recorded in the results")
	cpuProfile := fs.String("cpuprofile", "", "write the load's own CPU profile to this file (is the load the limit?)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if *n < 2 || *n%2 != 0 {
		return errors.New("-allocations must be even and at least 2")
	}
	if *peersMode != "pairs" && *peersMode != "external" && *peersMode != "direct" {
		return fmt.Errorf("-peers %q: want pairs, external or direct", *peersMode)
	}
	var fixed []float64
	for _, f := range strings.Split(*fixedRates, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		r, err := strconv.ParseFloat(f, 64)
		if err != nil || r <= 0 {
			return fmt.Errorf("-rates: %q is not a rate", f)
		}
		fixed = append(fixed, r)
	}
	if *size < stampLen {
		return fmt.Errorf("-size must be at least %d (the step id and the send time)", stampLen)
	}
	if *first <= 0 || *factor <= 1 || *bisect < 0 {
		return errors.New("need -rate > 0, -factor > 1, -bisect >= 0")
	}
	dc, err := newDropClassifier(c.addr, *relayPorts)
	if err != nil {
		return err
	}

	before := sample(c.pid, dc)
	t0 := time.Now()
	lat := new([maxSteps]latHist)
	l, err := newLoop()
	if err != nil {
		return err
	}
	peers, err := setup(&c, l, *n, *peersMode, lat)
	defer func() {
		if terr := teardown(l, peers); terr != nil && err == nil {
			err = fmt.Errorf("teardown: %w", terr)
		}
	}()
	if err != nil {
		return err
	}
	if err := warmup(peers, *size); err != nil {
		return err
	}
	setupSec := time.Since(t0).Seconds()
	afterSetup := sample(c.pid, dc)
	perAlloc := float64(afterSetup.rssKiB-before.rssKiB) / float64(*n)

	// Ramp up geometrically until a step fails, then bisect between the last rate sustained
	// and the first that failed.
	var good, bad float64
	bisected := 0
	step := 1
	for ; step <= len(fixed); step++ {
		if _, err := runStep(stepArgs{c: &c, dc: dc, peers: peers, n: *n, raw: *raw, step: step, rate: fixed[step-1],
			d: *stepDur, drain: *drain, size: *size, l: l, perAlloc: perAlloc, setupSec: setupSec,
			peersMode: *peersMode, fixed: true, run: *runLabel, lat: lat}); err != nil {
			return err
		}
	}
	if !*ramp {
		return nil
	}
	for rate := *first; step < maxSteps; step++ {
		r, err := runStep(stepArgs{c: &c, dc: dc, peers: peers, n: *n, raw: *raw, step: step, rate: rate,
			d: *stepDur, drain: *drain, size: *size, l: l, perAlloc: perAlloc, setupSec: setupSec,
			peersMode: *peersMode, run: *runLabel, lat: lat})
		if err != nil {
			return err
		}
		if r.LossPct <= *maxLoss && r.SentPerSec >= 0.9*rate {
			good = rate
		} else {
			bad = rate
		}
		switch {
		case bad == 0 && rate*(*factor) <= *maxRate:
			rate *= *factor
			continue
		case bad == 0 || bisected == *bisect:
			return nil
		}
		bisected++
		rate = (good + bad) / 2
	}
	return nil
}

type stepArgs struct {
	c                  *common
	dc                 dropClassifier
	peers              []*peer
	l                  *loop
	n, step, size      int
	raw, fixed         bool
	rate               float64
	d, drain           time.Duration
	perAlloc, setupSec float64
	peersMode          string
	run                int
	lat                *[maxSteps]latHist
}

// runStep offers a.rate for a.d, waits a.drain and records the step.
func runStep(a stepArgs) (relayResult, error) {
	c, dc, peers, step, rate, raw := a.c, a.dc, a.peers, a.step, a.rate, a.raw
	n, perAlloc, setupSec := a.n, a.perAlloc, a.setupSec
	{
		s0 := sample(c.pid, dc)
		start := time.Now()
		out, err := a.l.offer(newStepRun(peers, step, rate, a.d, a.size, raw))
		if err != nil {
			return relayResult{}, err
		}
		sent, werrs, sendSec := out.sent, out.werrs, out.active.Seconds()
		time.Sleep(a.drain)
		wall := time.Since(start).Seconds()
		s1 := sample(c.pid, dc)
		var got uint64
		for _, p := range peers {
			got += p.recv[step].Load()
		}
		r := relayResult{
			Kind: "relay", Server: c.server, Allocations: n, Raw: raw, Step: step, Offered: rate,
			Peers: a.peersMode, Fixed: a.fixed, Run: a.run, Transport: c.transport,
			Seconds: sendSec, Sent: sent, SentPerSec: float64(sent) / sendSec,
			Delivered: got, DeliveredPS: float64(got) / sendSec,
			Mbps:        float64(got) * float64(a.size) * 8 / sendSec / 1e6,
			WriteErrors: werrs, Skipped: out.skipped, LoadStallSec: out.stalled.Seconds(),
			ServerCPUSec: s1.cpuSec - s0.cpuSec,
			ServerCPUPct: 100 * (s1.cpuSec - s0.cpuSec) / wall,
			ClientCPUPct: 100 * (s1.selfCPUSec - s0.selfCPUSec) / wall,
			ServerRSS:    s1.rssKiB, RSSPerAlloc: perAlloc, SetupSeconds: setupSec,
			RcvbufDrops:    s1.rcvbufErrs - s0.rcvbufErrs,
			HostCPUPct:     100 * (s1.host.busy - s0.host.busy) / wall,
			SoftirqPct:     100 * (s1.host.softirq - s0.host.softirq) / wall,
			ListenerDrops:  s1.drops.listener - s0.drops.listener,
			RelaySockDrops: s1.drops.relay - s0.drops.relay,
			ClientSockDrop: s1.drops.other - s0.drops.other,
		}
		if sent > 0 {
			r.LossPct = 100 * (1 - float64(got)/float64(sent))
		}
		h := &a.lat[step]
		r.LatSamples = h.n.Load()
		if p50, ok := h.percentile(0.50); ok {
			p99, _ := h.percentile(0.99)
			r.LatP50us, r.LatP99us = float64(p50)/1e3, float64(p99)/1e3
		}
		return r, c.emit(r)
	}
}

func newDropClassifier(addr, relayPorts string) (dropClassifier, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return dropClassifier{}, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return dropClassifier{}, err
	}
	a, b, ok := strings.Cut(relayPorts, "-")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil {
		return dropClassifier{}, fmt.Errorf("bad -relay-ports %q", relayPorts)
	}
	return dropClassifier{listenPort: port, relayMin: lo, relayMax: hi}, nil
}

// newStepRun is the schedule of one step: rate pkt/s in total for d, round robin over the
// allocations, each packet stamped as it is sent. Paced by the event loop (loop.go, pace.go).
func newStepRun(peers []*peer, step int, rate float64, d time.Duration, size int, raw bool) *stepRun {
	sr := &stepRun{peers: peers, step: step, rate: rate, d: d, raw: raw, frames: make([][]byte, len(peers))}
	for i, p := range peers {
		f := make([]byte, 4+size)
		binary.BigEndian.PutUint16(f[2:4], uint16(size))
		if raw {
			// The server delivers the partner's packets on the channel this peer bound for
			// the partner (its only peer): the one to send on too.
			binary.BigEndian.PutUint16(f[0:2], uint16(p.channel.Load()))
		}
		sr.frames[i] = f
	}
	if peers[0].cl != nil {
		sr.server = peers[0].cl.TURNServerAddr()
	}
	return sr
}
