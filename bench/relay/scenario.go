package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// msgBytes is the size of every relayed message (a typical ICE candidate is 150-250).
const msgBytes = 200

// endpoint is one registered socket of a benchmark room: what it sent, and the checks on
// what it received from its peer (each message carries its sequence number and send time).
type endpoint struct {
	ws   *wsConn
	sent atomic.Int64
	// Written by the endpoint's reader goroutine, read after done is closed.
	received          atomic.Int64
	next              int64 // next sequence number expected from the peer
	dups, gaps, bad   int64 // seq below next (duplicate or reordered), above next (lost), unparsable
	latencies         []time.Duration
	record            atomic.Bool // latencies are kept while set
	done              chan struct{}
	credits           chan struct{} // saturation: sends the peer may still receive
	peerCreditsReturn chan struct{}
}

type benchRoom struct{ a, b *endpoint }

// appendSend appends a send frame of one message carrying seq and the send time, padded
// to msgBytes.
func appendSend(b []byte, seq int64) []byte {
	payload := make([]byte, 0, msgBytes)
	payload = strconv.AppendInt(payload, seq, 10)
	payload = append(payload, '.')
	payload = strconv.AppendInt(payload, time.Now().UnixNano(), 10)
	payload = append(payload, '.')
	for len(payload) < msgBytes {
		payload = append(payload, 'x')
	}
	frame := append([]byte(`{"cmd":"send","msg":"`), payload...)
	return appendFrame(b, opText, append(frame, `"}`...))
}

// parseMsg reads seq and send time from a relay frame {"msg":"seq.ns.xxx","error":""}.
func parseMsg(frame []byte) (seq, ns int64, ok bool) {
	const prefix = `{"msg":"`
	if len(frame) < len(prefix) || string(frame[:len(prefix)]) != prefix {
		return 0, 0, false
	}
	rest := frame[len(prefix):]
	num := func() (int64, bool) {
		var v int64
		i := 0
		for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
			v = v*10 + int64(rest[i]-'0')
		}
		if i == 0 || i >= len(rest) || rest[i] != '.' {
			return 0, false
		}
		rest = rest[i+1:]
		return v, true
	}
	seq, ok1 := num()
	ns, ok2 := num()
	return seq, ns, ok1 && ok2
}

// read receives until the connection ends, checking the order of what arrives.
func (e *endpoint) read() {
	defer close(e.done)
	for {
		frame, err := e.ws.readText()
		if err != nil {
			return
		}
		now := time.Now()
		seq, ns, ok := parseMsg(frame)
		switch {
		case !ok:
			e.bad++
			continue
		case seq < e.next:
			e.dups++
			continue
		case seq > e.next:
			e.gaps += seq - e.next
		}
		e.next = seq + 1
		e.received.Add(1)
		if e.record.Load() {
			e.latencies = append(e.latencies, now.Sub(time.Unix(0, ns)))
		}
		if e.peerCreditsReturn != nil {
			e.peerCreditsReturn <- struct{}{}
		}
	}
}

// openRooms joins and registers n rooms of two sockets each, a few at a time.
func openRooms(t target, addr, prefix string, n int, read bool) ([]benchRoom, error) {
	rooms := make([]benchRoom, n)
	errs := make(chan error, n)
	work := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				id := fmt.Sprintf("%s-%d", prefix, i)
				a, err := openEndpoint(t, addr, id, "A", read)
				if err != nil {
					errs <- err
					continue
				}
				b, err := openEndpoint(t, addr, id, "B", read)
				if err != nil {
					errs <- err
					continue
				}
				rooms[i] = benchRoom{a, b}
			}
		}()
	}
	for i := range rooms {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		closeRooms(rooms)
		return nil, err
	}
	return rooms, nil
}

func openEndpoint(t target, addr, roomID, want string, read bool) (*endpoint, error) {
	clientID, err := t.join(addr, roomID, want)
	if err != nil {
		return nil, err
	}
	ws, err := dialWS(addr)
	if err != nil {
		return nil, err
	}
	reg := `{"cmd":"register","roomid":"` + roomID + `","clientid":"` + clientID + `"}`
	if err := ws.writeText([]byte(reg)); err != nil {
		ws.Close()
		return nil, fmt.Errorf("register %s/%s: %w", roomID, clientID, err)
	}
	e := &endpoint{ws: ws, done: make(chan struct{})}
	if read {
		go e.read()
	} else {
		close(e.done)
	}
	return e, nil
}

func closeRooms(rooms []benchRoom) {
	for _, r := range rooms {
		for _, e := range []*endpoint{r.a, r.b} {
			if e != nil {
				e.ws.Close()
				<-e.done
			}
		}
	}
}

// pair returns each endpoint with the one that receives what it sends.
func pairs(rooms []benchRoom) [][2]*endpoint {
	out := make([][2]*endpoint, 0, 2*len(rooms))
	for _, r := range rooms {
		out = append(out, [2]*endpoint{r.a, r.b}, [2]*endpoint{r.b, r.a})
	}
	return out
}

// outcome is what one scenario run measured.
type outcome struct {
	delivered            int64
	cpuPerMsg            time.Duration // server CPU per delivered message
	msgsPerSec           float64
	p50, p99             time.Duration
	relayP50, relayP99   string // from the relay's own histogram, when it has one
	lost, dups, bad, gap int64
	rssPerSocket         float64 // KiB
}

// drain waits until every message sent has arrived (or timeout), and counts the checks.
func drain(rooms []benchRoom, out *outcome, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		missing := int64(0)
		for _, p := range pairs(rooms) {
			missing += p[0].sent.Load() - p[1].received.Load()
		}
		if missing <= 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	closeRooms(rooms) // readers end; their fields are now safe to read
	for _, p := range pairs(rooms) {
		sender, receiver := p[0], p[1]
		out.delivered += receiver.received.Load()
		out.lost += sender.sent.Load() - receiver.received.Load()
		out.dups += receiver.dups
		out.bad += receiver.bad
		out.gap += receiver.gaps
	}
}

func (o outcome) checkOrder() error {
	if o.lost != 0 || o.dups != 0 || o.bad != 0 || o.gap != 0 {
		return fmt.Errorf("delivery broken: %d lost, %d duplicated or reordered, %d skipped, %d unreadable frames", o.lost, o.dups, o.gap, o.bad)
	}
	if o.delivered == 0 {
		return fmt.Errorf("no message delivered")
	}
	return nil
}

// paced: in every room each socket sends perSocket messages a second to the other for d.
func paced(t target, p *process, rooms int, perSocket float64, d time.Duration, prof *profiler) (outcome, error) {
	var out outcome
	rs, err := openRooms(t, p.addr, fmt.Sprintf("paced%d", rooms), rooms, true)
	if err != nil {
		return out, err
	}
	time.Sleep(500 * time.Millisecond) // registrations settle; nothing is in flight
	var h0 histogram
	if t.histogram != nil {
		if h0, err = t.histogram(p.addr); err != nil {
			closeRooms(rs)
			return out, err
		}
	}
	cpu0, err := p.cpuMicros()
	if err != nil {
		closeRooms(rs)
		return out, err
	}
	stopProfile := prof.start(p, d)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	interval := time.Duration(float64(time.Second) / perSocket)
	var wg sync.WaitGroup
	ps := pairs(rs)
	for i, pr := range ps {
		pr[1].record.Store(true)
		pr[1].latencies = make([]time.Duration, 0, int(d.Seconds()*perSocket)+8)
		wg.Add(1)
		go func(e *endpoint, phase time.Duration) {
			defer wg.Done()
			select { // spread the sockets over the interval
			case <-time.After(phase):
			case <-ctx.Done():
				return
			}
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				seq := e.sent.Load()
				if err := e.ws.writeFrames(func(b []byte) []byte { return appendSend(b, seq) }); err != nil {
					return
				}
				e.sent.Add(1)
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}(pr[0], time.Duration(i)*interval/time.Duration(len(ps)))
	}
	wg.Wait()
	drain(rs, &out, 10*time.Second)
	cpu1, err := p.cpuMicros()
	if err != nil {
		return out, err
	}
	stopProfile()
	if err := out.checkOrder(); err != nil {
		return out, err
	}
	out.cpuPerMsg = time.Duration(float64(cpu1-cpu0)/float64(out.delivered)*1000) * time.Nanosecond
	var lat []time.Duration
	for _, pr := range ps {
		lat = append(lat, pr[1].latencies...)
	}
	slices.Sort(lat)
	out.p50, out.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	if t.histogram != nil {
		h1, err := t.histogram(p.addr)
		if err != nil {
			return out, err
		}
		if out.relayP50, err = h1.quantile(h0, 0.5); err != nil {
			return out, err
		}
		if out.relayP99, err = h1.quantile(h0, 0.99); err != nil {
			return out, err
		}
	}
	return out, nil
}

// saturation: in every room each socket keeps window messages in flight to the other; the
// count is of what arrived within d.
func saturation(t target, p *process, rooms, window int, d time.Duration, prof *profiler) (outcome, error) {
	var out outcome
	rs, err := openRooms(t, p.addr, fmt.Sprintf("sat%d", rooms), rooms, false)
	if err != nil {
		return out, err
	}
	ps := pairs(rs)
	for _, pr := range ps {
		pr[0].credits = make(chan struct{}, window)
		for range window {
			pr[0].credits <- struct{}{}
		}
		pr[1].peerCreditsReturn = pr[0].credits
	}
	for _, pr := range ps {
		pr[1].done = make(chan struct{})
		go pr[1].read()
	}
	time.Sleep(500 * time.Millisecond)
	cpu0, err := p.cpuMicros()
	if err != nil {
		closeRooms(rs)
		return out, err
	}
	stopProfile := prof.start(p, d)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, pr := range ps {
		wg.Add(1)
		go func(e *endpoint) {
			defer wg.Done()
			for {
				n := 0
				select {
				case <-e.credits:
					n = 1
				case <-ctx.Done():
					return
				}
			more:
				for n < window {
					select {
					case <-e.credits:
						n++
					default:
						break more
					}
				}
				seq := e.sent.Load()
				err := e.ws.writeFrames(func(b []byte) []byte {
					for i := range int64(n) {
						b = appendSend(b, seq+i)
					}
					return b
				})
				if err != nil {
					return
				}
				e.sent.Add(int64(n))
			}
		}(pr[0])
	}
	count := func() (n int64) {
		for _, pr := range ps {
			n += pr[1].received.Load()
		}
		return n
	}
	start := time.Now()
	n0 := count()
	time.Sleep(d)
	n1 := count()
	elapsed := time.Since(start)
	cancel()
	wg.Wait()
	// Senders blocked on credits have left; what is in flight is received, never refused.
	drain(rs, &out, 10*time.Second)
	cpu1, err := p.cpuMicros()
	if err != nil {
		return out, err
	}
	stopProfile()
	if err := out.checkOrder(); err != nil {
		return out, err
	}
	out.msgsPerSec = float64(n1-n0) / elapsed.Seconds()
	out.cpuPerMsg = time.Duration(float64(cpu1-cpu0)/float64(out.delivered)*1000) * time.Nanosecond
	return out, nil
}

// idleSockets: RSS growth of the server per registered socket that sends nothing.
func idleSockets(t target, p *process, n int) (outcome, error) {
	var out outcome
	time.Sleep(time.Second)
	rss0, err := p.rssBytes()
	if err != nil {
		return out, err
	}
	rs, err := openRooms(t, p.addr, "idle", n/2, false)
	if err != nil {
		return out, err
	}
	defer closeRooms(rs)
	time.Sleep(2 * time.Second) // let the server settle (and its GC run) after the rush
	rss1, err := p.rssBytes()
	if err != nil {
		return out, err
	}
	out.rssPerSocket = float64(int64(rss1)-int64(rss0)) / float64(2*len(rs)) / 1024
	return out, nil
}
