package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestLoopDirect runs steps of -peers direct through the event loop on real loopback
// sockets: the whole schedule is accounted for (sent or skipped), everything sent arrives,
// in both directions, with its one-way time recorded under its step.
func TestLoopDirect(t *testing.T) {
	tests := []struct {
		peers int
		rate  float64
		d     time.Duration
	}{
		{peers: 2, rate: 1000, d: 200 * time.Millisecond},
		{peers: 64, rate: 4000, d: 300 * time.Millisecond},
	}
	for i, tt := range tests {
		step := i + 1
		l, err := newLoop()
		if err != nil {
			t.Fatalf("newLoop: %v", err)
		}
		lat := new([maxSteps]latHist)
		peers, err := setup(&common{}, l, tt.peers, "direct", lat)
		if err != nil {
			_ = teardown(l, peers)
			t.Fatalf("setup: %v", err)
		}
		out, err := l.offer(newStepRun(peers, step, tt.rate, tt.d, 200, true))
		if err != nil {
			_ = teardown(l, peers)
			t.Fatalf("offer: %v", err)
		}
		want := uint64(tt.rate * tt.d.Seconds())
		if out.sent+out.skipped != want || out.werrs != 0 {
			t.Errorf("%d peers at %v pkt/s for %v: sent %d + skipped %d (write errors %d), want %d in all", tt.peers, tt.rate, tt.d, out.sent, out.skipped, out.werrs, want)
		}
		if out.active != tt.d {
			t.Errorf("active %v, want the schedule's %v", out.active, tt.d)
		}
		// Loopback does not lose datagrams into a 1 MiB buffer; they may still be on the way.
		var got, toExt uint64
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			got = 0
			for _, p := range peers {
				got += p.recv[step].Load()
			}
			if got >= out.sent {
				break
			}
		}
		if got != out.sent {
			t.Errorf("received %d of %d sent", got, out.sent)
		}
		if n := lat[step].n.Load(); n != got {
			t.Errorf("%d one-way times recorded for %d packets", n, got)
		}
		if _, ok := lat[step].percentile(0.5); !ok {
			t.Errorf("no one-way time for step %d", step)
		}
		// Both directions: some packets went client → ext, the others ext → client.
		for _, p := range peers {
			if p.ext == nil || p.uc == nil {
				t.Fatalf("direct peer without its two sockets: %+v", p)
			}
		}
		toExt = peerSocketsReceived(t, peers)
		if toExt == 0 || toExt == got {
			t.Errorf("the external sockets received %d of %d: want some, not all (both directions)", toExt, got)
		}
		if err := teardown(l, peers); err != nil {
			t.Errorf("teardown: %v", err)
		}
	}
}

// peerSocketsReceived is how many datagrams the external sockets received.
func peerSocketsReceived(t *testing.T, peers []*peer) uint64 {
	t.Helper()
	var n uint64
	for _, p := range peers {
		n += p.extRecv.Load()
	}
	return n
}

func TestUDPSockReadByLoopOnly(t *testing.T) {
	s, err := newUDPSock()
	if err != nil {
		t.Fatalf("newUDPSock: %v", err)
	}
	defer s.Close()
	if _, _, err := s.ReadFrom(make([]byte, 10)); err == nil {
		t.Errorf("ReadFrom succeeded: the loop must be the only reader")
	}
	if err := s.send([]byte("x")); err == nil {
		t.Errorf("send on an unconnected socket succeeded")
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestRunDelay(t *testing.T) {
	tests := []struct {
		text string
		want int64
		err  bool
	}{
		{"5513046 4467954 2\n", 4467954, false},
		{"0 0 0\n", 0, false},
		{"5513046\n", 0, true},
		{"5513046 x 2\n", 0, true},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "schedstat")
		if err := os.WriteFile(path, []byte(tt.text), 0o644); err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Open(path, unix.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // read again from the start, as each tick does
			got, err := runDelay(fd, make([]byte, 128))
			if (err != nil) != tt.err || got != tt.want {
				t.Errorf("runDelay(%q) = %d, %v; want %d, error %v", tt.text, got, err, tt.want, tt.err)
			}
		}
		_ = unix.Close(fd)
	}
}
