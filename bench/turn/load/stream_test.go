package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/pion/stun"
)

// channelData is a ChannelData frame on channel 0x4001 carrying n bytes 1, 2, 3...
func channelData(n int) []byte {
	f := make([]byte, 4+n)
	binary.BigEndian.PutUint16(f[0:2], 0x4001)
	binary.BigEndian.PutUint16(f[2:4], uint16(n))
	for i := range n {
		f[4+i] = byte(i + 1)
	}
	return f
}

// streamFrames are frames as the load writes them and the bytes TURN puts on a stream for
// each: ChannelData zero-padded to a multiple of 4, STUN as it is.
func streamFrames(t *testing.T) (frames, wire [][]byte) {
	t.Helper()
	bind, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if err != nil {
		t.Fatalf("build a STUN binding request: %v", err)
	}
	pad := func(b []byte, zeros int) []byte { return append(bytes.Clone(b), make([]byte, zeros)...) }
	for _, tc := range []struct {
		frame []byte
		zeros int
	}{
		{bind.Raw, 0},
		{channelData(0), 0},
		{channelData(1), 3},
		{channelData(2), 2},
		{channelData(3), 1},
		{channelData(4), 0},
		{channelData(5), 3},
		{channelData(200), 0}, // the load's packets
		{channelData(201), 3},
		{bind.Raw, 0}, // STUN after padded ChannelData
	} {
		frames = append(frames, tc.frame)
		wire = append(wire, pad(tc.frame, tc.zeros))
	}
	return frames, wire
}

// tcpPair is both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Errorf("accept: %v", err)
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	server = <-accepted
	if server == nil {
		t.FailNow()
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	_ = client.SetDeadline(time.Now().Add(10 * time.Second))
	_ = server.SetDeadline(time.Now().Add(10 * time.Second))
	return client, server
}

func TestStreamConnWritesPaddedFrames(t *testing.T) {
	frames, wire := streamFrames(t)
	client, server := tcpPair(t)
	sc := newStreamConn(client)
	for _, f := range frames {
		n, err := sc.WriteTo(f, nil)
		if err != nil || n != len(f) {
			t.Fatalf("WriteTo(%d bytes) = %d, %v", len(f), n, err)
		}
	}
	want := bytes.Join(wire, nil)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(server, got); err != nil {
		t.Fatalf("read %d bytes on the server side: %v", len(want), err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("on the stream:\n got %x\nwant %x", got, want)
	}
}

func TestStreamConnReadsFramesSplitAnywhere(t *testing.T) {
	frames, wire := streamFrames(t)
	for _, chunk := range []int{1, 3, 7, 1 << 16} {
		client, server := tcpPair(t)
		sc := newStreamConn(client)
		go func() {
			// Frames split across writes (and so across reads) at every offset.
			for b := bytes.Join(wire, nil); len(b) > 0; {
				n := min(chunk, len(b))
				if _, err := server.Write(b[:n]); err != nil {
					t.Errorf("server write: %v", err)
					return
				}
				b = b[n:]
			}
		}()
		buf := make([]byte, 64<<10)
		for i, want := range frames {
			n, from, err := sc.ReadFrom(buf)
			if err != nil {
				t.Fatalf("chunks of %d: frame %d: %v", chunk, i, err)
			}
			if !bytes.Equal(buf[:n], want) {
				t.Fatalf("chunks of %d: frame %d:\n got %x\nwant %x", chunk, i, buf[:n], want)
			}
			if from.String() != server.LocalAddr().String() {
				t.Fatalf("from %v, want the server %v", from, server.LocalAddr())
			}
		}
	}
}

func TestFrameLen(t *testing.T) {
	tests := []struct {
		hdr         []byte
		wire, frame int
		err         bool
	}{
		{[]byte{0x00, 0x01, 0x00, 0x08}, 28, 28, false}, // STUN with 8 bytes of attributes
		{[]byte{0x40, 0x00, 0x00, 0x00}, 4, 4, false},
		{[]byte{0x7f, 0xff, 0x00, 0xc9}, 208, 205, false},
		{[]byte{0x80, 0x00, 0x00, 0x04}, 0, 0, true}, // RTP, or garbage
		{[]byte{0xc0, 0x00, 0x00, 0x04}, 0, 0, true},
	}
	for _, tt := range tests {
		wire, frame, err := frameLen(tt.hdr)
		if (err != nil) != tt.err || wire != tt.wire || frame != tt.frame {
			t.Errorf("frameLen(%x) = %d, %d, %v; want %d, %d, error %v", tt.hdr, wire, frame, err, tt.wire, tt.frame, tt.err)
		}
	}
}

func TestStreamConnFrameTooLong(t *testing.T) {
	client, server := tcpPair(t)
	sc := newStreamConn(client)
	if _, err := server.Write(channelData(100)); err != nil {
		t.Fatalf("server write: %v", err)
	}
	if n, _, err := sc.ReadFrom(make([]byte, 50)); err == nil {
		t.Fatalf("ReadFrom a 104-byte frame into 50 bytes = %d, no error", n)
	}
}
