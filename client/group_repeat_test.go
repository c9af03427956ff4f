//go:build !js

package client_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v3"

	"github.com/onertc/onertc/client"
	"github.com/onertc/onertc/internal/testkit/sfutest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/sfu"
)

// doubledOffers is a group socket on which every down offer arrives twice, as when the SFU
// sent it again (its answer overdue) while the first answer was on its way.
type doubledOffers struct {
	client.GroupConn
	mu      sync.Mutex
	again   *protocol.GroupMessage
	offers  int
	answers int
}

func (d *doubledOffers) Read(ctx context.Context) (protocol.GroupMessage, error) {
	d.mu.Lock()
	if m := d.again; m != nil {
		d.again = nil
		d.mu.Unlock()
		return *m, nil
	}
	d.mu.Unlock()
	m, err := d.GroupConn.Read(ctx)
	if err == nil && m.Type == protocol.GroupOffer && m.PC == protocol.PCDown {
		d.mu.Lock()
		d.again = &m
		d.offers++
		d.mu.Unlock()
	}
	return m, err
}

func (d *doubledOffers) Write(ctx context.Context, m protocol.GroupMessage) error {
	if m.Type == protocol.GroupAnswer && m.PC == protocol.PCDown {
		d.mu.Lock()
		d.answers++
		d.mu.Unlock()
	}
	return d.GroupConn.Write(ctx, m)
}

type doublingDialer struct {
	inner client.GroupDialer
	conn  *doubledOffers
}

func (d *doublingDialer) DialGroup(ctx context.Context, url string) (client.GroupConn, error) {
	c, err := d.inner.DialGroup(ctx, url)
	if err != nil {
		return nil, err
	}
	d.conn = &doubledOffers{GroupConn: c}
	return d.conn, nil
}

// TestRepeatedDownOfferIsAnsweredOnce: a down offer that arrives again after the client
// answered it (the SFU repeats an offer whose answer is late, docs/protocol.md section 10)
// is not answered a second time, which the SFU would refuse (no offer waits for it); the
// session receives the publisher with no error. Real SFU, real pion peers.
func TestRepeatedDownOfferIsAnsweredOnce(t *testing.T) {
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := sfu.New(sfu.Config{UDPConn: udp, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/group/"), "/")
		f.ServeParticipant(w, r, parts[0], parts[1], "guest")
	}))
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := f.Close(ctx); err != nil {
			t.Errorf("sfu close: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wsBase := "ws" + strings.TrimPrefix(srv.URL, "http")
	pub, err := sfutest.Dial(ctx, wsBase+"/group/repeat/pub", sfutest.Options{Audio: true, Layers: []sfutest.Layer{{Width: 320, Height: 240, FrameBytes: 1000}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	if err := pub.Publish(ctx); err != nil {
		t.Fatal(err)
	}

	tr, err := client.NewHTTPTransport(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	media := &webrtc.MediaEngine{}
	if err := media.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(media))
	var mu sync.Mutex
	got := map[string]int{}
	var events []client.GroupEvent
	dialer := &doublingDialer{inner: tr}
	s, err := client.NewGroupSession(client.GroupConfig{
		URL: wsBase + "/group/repeat/sub", Dialer: dialer,
		NewDown: client.PionFactory(api, func(p *client.PionPeer) error {
			p.PC().OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
				go func() {
					for {
						if _, _, err := t.ReadRTP(); err != nil {
							return
						}
						mu.Lock()
						got[t.Kind().String()]++
						mu.Unlock()
					}
				}()
			})
			return nil
		}),
		OnEvent: func(ev client.GroupEvent) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	testsync.Eventually(t, 20*time.Second, "the session receiving audio and video", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return got["audio"] > 20 && got["video"] > 20
	})
	s.Leave()
	if err := <-done; err != nil {
		t.Errorf("session ended with %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, ev := range events {
		if ev.Kind == client.GroupEventError {
			t.Errorf("error event: %v", ev.Err)
		}
	}
	c := dialer.conn
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.offers == 0 || c.answers != c.offers {
		t.Errorf("%d down offers (each read twice), %d answers: want one answer each", c.offers, c.answers)
	}
}
