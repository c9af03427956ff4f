package demux

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// iceFrame is stunBinding in RFC 4571 framing, as an ICE-TCP agent sends it.
func iceFrame(stun []byte) []byte {
	return append([]byte{byte(len(stun) >> 8), byte(len(stun))}, stun...)
}

func TestICETCPFrame(t *testing.T) {
	withAttr := append(append([]byte(nil), stunBinding...), 0x00, 0x06, 0x00, 0x04, 'a', 'b', 'c', 'd')
	withAttr[3] = 8 // STUN length: the 8-byte attribute
	allocate := append([]byte(nil), stunBinding...)
	allocate[1] = 0x03
	tests := []struct {
		name string
		msg  []byte
		want int // 0: not ICE-TCP
	}{
		{"framed binding", iceFrame(stunBinding), 22},
		{"framed binding with an attribute", iceFrame(withAttr), 30},
		{"bare TURN binding", stunBinding, 0},
		{"bare TURN allocate", allocate, 0},
		{"framed, length disagrees", append([]byte{0x00, 0x30}, stunBinding...), 0},
		{"framed allocate", iceFrame(allocate), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size, ok := ICETCPFrame([ICETCPHeader]byte(tt.msg[:ICETCPHeader]))
			if ok != (tt.want > 0) || size != tt.want {
				t.Fatalf("ICETCPFrame = %d, %v; want %d", size, ok, tt.want)
			}
		})
	}
}

// TestICETCPRoute: an ICE-TCP connection reaches ICETCP's listener with its first frame
// intact when enabled, is closed when not, and TURN over TCP still reaches TURN.
func TestICETCPRoute(t *testing.T) {
	for _, on := range []bool{true, false} {
		m, addr := startMux(t, nil)
		if on {
			m.EnableICETCP()
		}
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		frame := append(iceFrame(stunBinding), 0xde, 0xad)
		if _, err := c.Write(frame); err != nil {
			t.Fatal(err)
		}
		if !on {
			_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err == nil {
				t.Fatal("ICE-TCP off: the connection was answered, not closed")
			}
			if m.Stats().Failed != 1 {
				t.Fatalf("ICE-TCP off: stats %+v, want one failed", m.Stats())
			}
			continue
		}
		got := accept(t, m.ICETCP())
		buf := make([]byte, len(frame))
		_ = got.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := io.ReadFull(got, buf); err != nil || !bytes.Equal(buf, frame) {
			t.Fatalf("ICE-TCP listener read %x (%v), want %x", buf, err, frame)
		}
		tc, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer tc.Close()
		if _, err := tc.Write(stunBinding); err != nil {
			t.Fatal(err)
		}
		turn := accept(t, m.TURN())
		buf = make([]byte, len(stunBinding))
		if _, err := io.ReadFull(turn, buf); err != nil || !bytes.Equal(buf, stunBinding) {
			t.Fatalf("TURN listener read %x (%v)", buf, err)
		}
		if st := m.Stats(); st.ICETCP != 1 || st.TURN != 1 {
			t.Fatalf("stats %+v, want one ICE-TCP and one TURN", st)
		}
	}
}
