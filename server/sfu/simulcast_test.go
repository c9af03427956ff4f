package sfu

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtcp"

	"github.com/onertc/onertc/internal/testkit/sfutest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
)

// lastLayers reports whether the last n video packets from id all came from layer.
func lastLayers(c *sfutest.Client, id string, n, layer int) bool {
	var v []sfutest.VideoPacket
	for _, p := range c.Received(id).Video {
		if !p.Padding {
			v = append(v, p)
		}
	}
	if len(v) < n {
		return false
	}
	for _, p := range v[len(v)-n:] {
		if p.Layer != layer {
			return false
		}
	}
	return true
}

// checkContinuous fails the test unless the video log reads as one stream: every sequence
// number one more than the one before, timestamps never going back, the picture id the
// same or the next, and every change of layer starting on a key frame. It returns the
// number of layer changes.
func checkContinuous(t *testing.T, who string, v []sfutest.VideoPacket) int {
	t.Helper()
	switches := 0
	if len(v) == 0 || !v[0].Keyframe {
		t.Fatalf("%s: the stream does not start on a key frame (%d packets)", who, len(v))
	}
	// a is the last packet that carried VP8: probes (padding only) have sequence numbers
	// in the stream but no picture id or layer to compare.
	a := v[0]
	for i := 1; i < len(v); i++ {
		b := v[i]
		if b.Seq != v[i-1].Seq+1 {
			t.Fatalf("%s: packet %d has seq %d after %d", who, i, b.Seq, v[i-1].Seq)
		}
		if b.Padding {
			continue
		}
		if int32(b.TS-a.TS) < 0 {
			t.Fatalf("%s: packet %d timestamp %d goes back from %d", who, i, b.TS, a.TS)
		}
		if d := (b.PictureID - a.PictureID) & 0x7fff; d > 1 {
			t.Fatalf("%s: packet %d picture id %d after %d", who, i, b.PictureID, a.PictureID)
		}
		if b.Layer != a.Layer {
			switches++
			if !b.Keyframe {
				t.Fatalf("%s: packet %d switches from layer %d to %d without a key frame", who, i, a.Layer, b.Layer)
			}
			if b.TS == a.TS {
				t.Fatalf("%s: packet %d of the new layer shares the old frame's timestamp %d", who, i, b.TS)
			}
		}
		a = b
	}
	return switches
}

func TestSimulcastLayerPerSubscriber(t *testing.T) {
	h := newHarness(t, Config{})
	pub := h.join("sim", "pub", sfutest.Options{Layers: sfutest.DefaultLayers})
	low := h.join("sim", "low", sfutest.Options{})
	high := h.join("sim", "high", sfutest.Options{})
	low.SetEstimate(100_000)
	high.SetEstimate(10_000_000)
	h.publish(pub)

	testsync.Eventually(t, 20*time.Second, "low on layer 0 and high on layer 2", func() bool {
		return lastLayers(low, "pub", 60, 0) && lastLayers(high, "pub", 60, 2)
	})
	// The low subscriber's estimate rises: it climbs to the top layer.
	low.SetEstimate(10_000_000)
	testsync.Eventually(t, 20*time.Second, "low climbing to layer 2", func() bool {
		return lastLayers(low, "pub", 60, 2)
	})

	lowLog := low.Received("pub").Video
	if n := checkContinuous(t, "low", lowLog); n < 1 {
		t.Fatalf("low: %d layer changes, want at least 1 (0 then 2)", n)
	}
	checkContinuous(t, "high", high.Received("pub").Video)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, rid := range []string{"q", "f"} {
		if _, err := low.WaitFor(ctx, func(m protocol.GroupMessage) bool {
			return m.Type == protocol.GroupLayer && m.Participant == "pub" && m.Layer == rid && m.Width > 0
		}); err != nil {
			t.Fatalf("low: no layer frame for %q: %v", rid, err)
		}
	}
	if st := h.sfu.Stats(); st.LayerSwitches == 0 || st.PLIs == 0 {
		t.Fatalf("stats %+v: want layer switches and PLIs counted", st)
	}

	// A NACK for a packet sent before the last switch, from the layer-0 epoch, is answered
	// from the cache with the numbers it had: the epoch's last packet, as a loss at the
	// switch would be (the cache keeps seconds, not the whole epoch: packetcache.MinAge).
	var old sfutest.VideoPacket
	for _, p := range lowLog {
		if p.Layer == 0 {
			old = p
		}
	}
	if old.Layer != 0 {
		t.Fatal("low never received layer 0")
	}
	ssrc := low.Received("pub").VideoSSRC
	nacks := h.sfu.Stats().NACKs
	if err := low.WriteDownRTCP(&rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{old.Seq})}); err != nil {
		t.Fatal(err)
	}
	testsync.Eventually(t, 5*time.Second, "the retransmission", func() bool {
		copies := 0
		for _, p := range low.Received("pub").Video {
			if p.Seq == old.Seq && p.TS == old.TS && p.PictureID == old.PictureID && p.Layer == 0 {
				copies++
			}
		}
		return copies == 2
	})
	if st := h.sfu.Stats(); st.NACKs <= nacks || st.Retransmits == 0 {
		t.Fatalf("stats %+v: want the NACK and its retransmission counted", st)
	}
}

func TestNACKOutsideTheCacheIsIgnored(t *testing.T) {
	h := newHarness(t, Config{})
	pub := h.join("nack", "pub", sfutest.Options{Layers: plainVideo})
	sub := h.join("nack", "sub", sfutest.Options{})
	h.publish(pub)
	testsync.Eventually(t, 20*time.Second, "video", func() bool { return len(sub.Received("pub").Video) > 30 })
	r := sub.Received("pub")
	last := r.Video[len(r.Video)-1].Seq
	// Not sent yet, and far in the past: nothing to resend.
	if err := sub.WriteDownRTCP(&rtcp.TransportLayerNack{MediaSSRC: r.VideoSSRC, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{last + 1000, last - 30000})}); err != nil {
		t.Fatal(err)
	}
	// NACKs are counted once answered.
	testsync.Eventually(t, 5*time.Second, "the NACK counted", func() bool { return h.sfu.Stats().NACKs > 0 })
	if st := h.sfu.Stats(); st.Retransmits != 0 {
		t.Fatalf("%d retransmissions for packets never sent or long gone", st.Retransmits)
	}
	checkContinuous(t, "sub", sub.Received("pub").Video)
}

func TestViewSizeAndPublisherCap(t *testing.T) {
	h := newHarness(t, Config{MaxPublisherBitrate: 1_500_000})
	pub := h.join("view", "pub", sfutest.Options{Layers: sfutest.DefaultLayers})
	small := h.join("view", "small", sfutest.Options{})
	big := h.join("view", "big", sfutest.Options{})
	small.SetEstimate(10_000_000)
	big.SetEstimate(10_000_000)
	// A tile of 320x180 needs no more than the lowest layer, whatever the bandwidth.
	if err := small.Send(protocol.GroupMessage{Type: protocol.GroupView, Participant: "pub", Width: 320, Height: 180}); err != nil {
		t.Fatal(err)
	}
	if err := big.Send(protocol.GroupMessage{Type: protocol.GroupView, Participant: "pub", Width: 600, Height: 338}); err != nil {
		t.Fatal(err)
	}
	h.publish(pub)
	testsync.Eventually(t, 20*time.Second, "small tile on layer 0, 600-pixel tile on layer 1", func() bool {
		return lastLayers(small, "pub", 60, 0) && lastLayers(big, "pub", 60, 1)
	})
	checkContinuous(t, "small", small.Received("pub").Video)
	checkContinuous(t, "big", big.Received("pub").Video)
	testsync.Eventually(t, 10*time.Second, "the publisher capped by REMB", func() bool {
		return pub.PublisherREMB() == 1_500_000
	})
}

func TestPublisherLossIsNACKed(t *testing.T) {
	h := newHarness(t, Config{})
	pub := h.join("uplink", "pub", sfutest.Options{Layers: plainVideo})
	sub := h.join("uplink", "sub", sfutest.Options{})
	h.publish(pub)
	testsync.Eventually(t, 20*time.Second, "video", func() bool { return len(sub.Received("pub").Video) > 30 })
	pub.DropVideo(2)
	testsync.Eventually(t, 10*time.Second, "the SFU asking the publisher for the lost packets", func() bool {
		dropped, nacked := pub.Dropped()
		if len(dropped) != 2 {
			return false
		}
		for _, d := range dropped {
			if !slices.Contains(nacked, d) {
				return false
			}
		}
		return true
	})
}

func TestReceiverReportLossLowersTheLayer(t *testing.T) {
	h := newHarness(t, Config{})
	pub := h.join("loss", "pub", sfutest.Options{Layers: sfutest.DefaultLayers})
	lossy := h.join("loss", "lossy", sfutest.Options{})
	h.publish(pub)
	// No REMB: the start estimate (1 Mbps) gives the top layer.
	testsync.Eventually(t, 20*time.Second, "lossy on layer 2 first", func() bool { return lastLayers(lossy, "pub", 60, 2) })
	// Receiver reports of 50 % loss, as a pion client behind a saturated link sends them.
	done := make(chan struct{})
	defer close(done)
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			ssrc := lossy.Received("pub").VideoSSRC
			_ = lossy.WriteDownRTCP(&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{{SSRC: ssrc, FractionLost: 128}}})
		}
	}()
	testsync.Eventually(t, 20*time.Second, "lossy stepping down to layer 0", func() bool { return lastLayers(lossy, "pub", 60, 0) })
	checkContinuous(t, "lossy", lossy.Received("pub").Video)
}

// TestPausedLayerIsLeft: Chromium pauses a simulcast layer (its uplink estimate fell, or the
// camera stopped feeding a second call) but keeps probing on it with padding-only packets.
// A subscriber on that layer is moved to the best layer that still brings frames, and back
// once the paused layer resumes. Counted as media, the probes kept the layer "active" and
// the subscriber's picture froze (2.4 s in a browser move to the SFU).
func TestPausedLayerIsLeft(t *testing.T) {
	h := newHarness(t, Config{})
	pub := h.join("paused", "pub", sfutest.Options{Layers: sfutest.DefaultLayers})
	sub := h.join("paused", "sub", sfutest.Options{})
	sub.SetEstimate(10_000_000)
	h.publish(pub)
	top := len(sfutest.DefaultLayers) - 1
	testsync.Eventually(t, 20*time.Second, "sub on the top layer", func() bool {
		return lastLayers(sub, "pub", 60, top)
	})
	pub.PauseLayer(sfutest.DefaultLayers[top].RID, true)
	testsync.Eventually(t, 10*time.Second, "sub moved to the middle layer while the top one only probes", func() bool {
		return lastLayers(sub, "pub", 30, top-1)
	})
	pub.PauseLayer(sfutest.DefaultLayers[top].RID, false)
	testsync.Eventually(t, 20*time.Second, "sub back on the top layer once it resumes", func() bool {
		return lastLayers(sub, "pub", 60, top)
	})
	checkContinuous(t, "sub", sub.Received("pub").Video)
}

// TestLayerActivity: a layer counts as sent until a second after its last media packet,
// but probes (padding only) with no media for pausedAfter mark it paused at once, as
// Chromium's paused layers look; probes alone never make a layer active.
func TestLayerActivity(t *testing.T) {
	now := time.Unix(100, 0)
	ago := func(d time.Duration) int64 { return now.Add(-d).UnixNano() }
	for _, tc := range []struct {
		name         string
		media, probe int64 // unix nanoseconds; 0: never
		want         bool
	}{
		{"media just now", ago(10 * time.Millisecond), 0, true},
		{"a slow frame rate: media 800 ms ago, no probe", ago(800 * time.Millisecond), 0, true},
		{"silent for over a second", ago(1100 * time.Millisecond), 0, false},
		{"probes after media 400 ms ago: paused", ago(400 * time.Millisecond), ago(50 * time.Millisecond), false},
		{"a probe between frames: media 100 ms ago", ago(100 * time.Millisecond), ago(50 * time.Millisecond), true},
		{"probes before the last media", ago(500 * time.Millisecond), ago(600 * time.Millisecond), true},
		{"probes only, never media", 0, ago(10 * time.Millisecond), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l upLayer
			l.lastPacket.Store(tc.media)
			l.lastProbe.Store(tc.probe)
			if got := l.view(now).active; got != tc.want {
				t.Fatalf("active = %v, want %v", got, tc.want)
			}
		})
	}
}
