package bot

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v3"

	"github.com/onertc/onertc/internal/testkit/testsync"
)

// TestReadTrackSkipsAMalformedPacket: a packet whose header announces padding it does not
// carry (what an SFU forwarding padding-only probes without their padding sent) is skipped;
// the packets after it are still read. pion's ReadRTP fails on it, and a reader that ended
// there silenced the whole track.
func TestReadTrackSkipsAMalformedPacket(t *testing.T) {
	send, recv := peerPair(t)
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "sender")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := send.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	var good, last atomic.Int64
	recv.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		go readTrack(tr, func(p *rtp.Packet) {
			good.Add(1)
			last.Store(int64(p.SequenceNumber))
		})
	})
	negotiate(t, send, recv)
	seq := uint16(0)
	write := func(pkt rtp.Packet) {
		seq++
		pkt.Version, pkt.SequenceNumber, pkt.Timestamp = 2, seq, uint32(seq)*960
		if err := track.WriteRTP(&pkt); err != nil {
			t.Fatal(err)
		}
	}
	// Until the connection is up the writes go nowhere: send until the reader counts.
	testsync.Eventually(t, 10*time.Second, "the first packets read", func() bool {
		write(rtp.Packet{Payload: []byte{1, 2, 3}})
		time.Sleep(20 * time.Millisecond)
		return good.Load() > 0
	})
	write(rtp.Packet{Header: rtp.Header{Padding: true}}) // padding bit, no padding
	bad := seq
	for i := 0; i < 20; i++ {
		write(rtp.Packet{Payload: []byte{4, 5, 6}})
		time.Sleep(5 * time.Millisecond)
	}
	testsync.Eventually(t, 10*time.Second, "packets after the malformed one read", func() bool {
		return uint16(last.Load())-bad >= 15 && uint16(last.Load())-bad < 1000
	})
}
