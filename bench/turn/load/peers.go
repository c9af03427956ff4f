package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	pionturn "github.com/pion/turn/v2"
)

// peer is one allocation of the load: its client socket, pion client and relayed conn, the
// partner's relayed address it sends to, and what it received per step.
type peer struct {
	conn  net.PacketConn
	uc    *udpSock         // conn over UDP (nil over TCP or TLS): read by the event loop
	cl    *pionturn.Client // nil with -peers direct: conn sends straight to ext, no server
	relay net.PacketConn
	to    net.Addr
	// ext is the peer's own plain UDP socket with -peers external (to is its address): half
	// the packets go client → ext through the relay, half ext → client, sent to back (the
	// relayed address; conn's own with -peers direct).
	ext     *udpSock
	extRecv atomic.Uint64 // datagrams ext received, all steps (both directions are used)
	back    net.Addr
	channel atomic.Uint32 // channel number seen on received ChannelData (0 until bound)
	recv    [maxSteps]atomic.Uint64
	lat     *[maxSteps]latHist // shared by all peers of the run
}

// setup allocates n relays, 32 at a time, and pairs them: 0↔1, 2↔3, … With external each
// gets a plain UDP peer socket instead; with direct (the load's own floor) no allocation at
// all: each client socket sends straight to its peer socket, through the same loop. Every
// UDP socket is read by l.
func setup(c *common, l *loop, n int, mode string, lat *[maxSteps]latHist) ([]*peer, error) {
	peers := make([]*peer, n)
	if mode == "direct" {
		for i := range peers {
			conn, err := newUDPSock()
			if err != nil {
				return peers, fmt.Errorf("direct client socket: %w", err)
			}
			peers[i] = &peer{conn: conn, uc: conn, lat: lat}
		}
	} else if err := allocate(c, l, peers, lat); err != nil {
		return peers, err
	}
	if mode == "external" || mode == "direct" {
		for _, p := range peers {
			ext, err := newUDPSock()
			if err != nil {
				return peers, fmt.Errorf("external peer socket: %w", err)
			}
			p.ext, p.to, p.back = ext, ext.LocalAddr(), p.conn.LocalAddr()
			if p.relay != nil {
				p.back = p.relay.LocalAddr()
			}
			if err := ext.connect(p.back); err != nil {
				return peers, fmt.Errorf("external peer socket: %w", err)
			}
			if err := l.add(ext, p, rxExt); err != nil {
				return peers, err
			}
			if p.cl == nil {
				if err := p.uc.connect(p.to); err != nil {
					return peers, fmt.Errorf("direct client socket: %w", err)
				}
				if err := l.add(p.uc, p, rxDirect); err != nil {
					return peers, err
				}
			}
		}
		return peers, nil
	}
	for i := 0; i < n; i += 2 {
		peers[i].to = peers[i+1].relay.LocalAddr()
		peers[i+1].to = peers[i].relay.LocalAddr()
	}
	return peers, nil
}

// allocate fills peers with allocations on the server, 32 at a time.
func allocate(c *common, l *loop, peers []*peer, lat *[maxSteps]latHist) error {
	user, pass := c.credentials()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, 32)
	for i := range peers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p, err := newPeer(c, l, user, pass, lat)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("allocation %d: %w", i, err)
				}
				return
			}
			peers[i] = p
		}()
	}
	wg.Wait()
	return firstErr
}

func newPeer(c *common, l *loop, user, pass string, lat *[maxSteps]latHist) (*peer, error) {
	conn, err := c.dial()
	if err != nil {
		return nil, err
	}
	cfg := c.clientConfig(user, pass)
	cfg.Conn = conn
	cl, err := pionturn.NewClient(cfg)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	p := &peer{conn: conn, cl: cl, lat: lat}
	if uc, ok := conn.(*udpSock); ok {
		p.uc = uc
		// Registered before Allocate: the loop hands pion its answers. A socket the loop
		// knows is closed only after the loop stops (teardown).
		if err := l.add(uc, p, rxClient); err != nil {
			cl.Close()
			return nil, err
		}
	} else {
		go p.readLoop()
	}
	relay, err := cl.Allocate()
	if err != nil {
		cl.Close()
		if p.uc == nil {
			_ = conn.Close()
		}
		return nil, err
	}
	p.relay = relay
	go p.drainRelay()
	return p, nil
}

// got counts a payload received now in the step stamped in it, and its one-way time.
func (p *peer) got(payload []byte) { p.gotAt(payload, monoNow()) }

// gotAt is got for a payload read at monoNow now.
func (p *peer) gotAt(payload []byte, now int64) {
	at, ok := stampOf(payload)
	if !ok || int(payload[0]) >= maxSteps {
		return
	}
	s := payload[0]
	p.recv[s].Add(1)
	if s != warmupStep { // warm-up packets carry no stamp
		p.lat[s].record(time.Duration(now - at))
	}
}

// readLoop replaces pion's Client.Listen over TCP and TLS (UDP sockets are read by the
// event loop, loop.go): ChannelData is counted here, by the step id in its first payload
// byte, without pion's copy and channel hand-off; STUN goes to pion.
func (p *peer) readLoop() {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := p.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		b := buf[:n]
		switch {
		case n >= 4 && b[0]&0xC0 == 0x40:
			if l := int(binary.BigEndian.Uint16(b[2:4])); l > 0 && 4+l <= n {
				p.channel.Store(uint32(binary.BigEndian.Uint16(b[0:2])))
				p.got(b[4 : 4+l])
			}
		default:
			_, _ = p.cl.HandleInbound(b, from)
		}
	}
}

// drainRelay counts what pion delivers on the relayed conn: Data indications, before the
// channel is bound.
func (p *peer) drainRelay() {
	buf := make([]byte, 64<<10)
	for {
		n, _, err := p.relay.ReadFrom(buf)
		if err != nil {
			return
		}
		p.got(buf[:n])
	}
}

// warmup sends through every pair until both directions deliver over a bound channel
// (pion's WriteTo creates the permission, then binds a channel in the background).
func warmup(peers []*peer, size int) error {
	if peers[0].cl == nil { // -peers direct: no server, nothing to bind
		return nil
	}
	pkt := make([]byte, size)
	pkt[0] = warmupStep
	deadline := time.Now().Add(15 * time.Second)
	for {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		for _, p := range peers { // everyone sends: a peer learns its channel from its partner's packets
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				_, _ = p.relay.WriteTo(pkt, p.to)
			}()
		}
		wg.Wait()
		time.Sleep(100 * time.Millisecond)
		ready := 0
		for _, p := range peers {
			if p.channel.Load() != 0 {
				ready++
			}
		}
		if ready == len(peers) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("warm-up: only %d of %d allocations receive ChannelData", ready, len(peers))
		}
	}
}

// teardown deallocates (pion does not wait for the answers), stops the event loop (if
// any), then closes every socket.
func teardown(l *loop, peers []*peer) error {
	for _, p := range peers {
		if p != nil && p.relay != nil {
			_ = p.relay.Close()
		}
	}
	var err error
	if l != nil {
		err = l.close()
	}
	for _, p := range peers {
		if p == nil {
			continue
		}
		if p.ext != nil {
			_ = p.ext.Close()
		}
		if p.cl != nil {
			p.cl.Close()
		}
		_ = p.conn.Close()
	}
	return err
}
