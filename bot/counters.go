//go:build !js

package bot

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// KindStats counts the RTP packets and bytes (header included) of one media kind.
type KindStats struct {
	PacketsSent     int64 `json:"packets_sent"`
	BytesSent       int64 `json:"bytes_sent"`
	PacketsReceived int64 `json:"packets_received"`
	BytesReceived   int64 `json:"bytes_received"`
}

// DataStats counts data-channel messages.
type DataStats struct {
	MessagesSent     int64 `json:"messages_sent"`
	MessagesReceived int64 `json:"messages_received"`
}

type kindCounter struct {
	pktSent, bytesSent, pktRecv, bytesRecv atomic.Int64
}

func (k *kindCounter) snapshot() KindStats {
	return KindStats{PacketsSent: k.pktSent.Load(), BytesSent: k.bytesSent.Load(),
		PacketsReceived: k.pktRecv.Load(), BytesReceived: k.bytesRecv.Load()}
}

// counters are a bot's totals over all its peers. firstMedia fires once, at the first RTP
// packet received.
type counters struct {
	video, audio       kindCounter
	dataSent, dataRecv atomic.Int64

	firstOnce  sync.Once
	firstMedia func(time.Time)
}

func (c *counters) kind(mime string) *kindCounter {
	if strings.HasPrefix(strings.ToLower(mime), "video/") {
		return &c.video
	}
	return &c.audio
}

func (c *counters) received() {
	c.firstOnce.Do(func() {
		if c.firstMedia != nil {
			c.firstMedia(time.Now())
		}
	})
}

// counterFactory is an interceptor counting RTP on every stream of every peer built from
// the API it is registered in.
type counterFactory struct{ c *counters }

func (f counterFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &counterInterceptor{c: f.c}, nil
}

type counterInterceptor struct {
	interceptor.NoOp
	c *counters
}

func (i *counterInterceptor) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	k := i.c.kind(info.MimeType)
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		n, err := w.Write(h, payload, a)
		if err == nil {
			k.pktSent.Add(1)
			k.bytesSent.Add(int64(n))
		}
		return n, err
	})
}

func (i *counterInterceptor) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	k := i.c.kind(info.MimeType)
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := r.Read(b, a)
		if err == nil && n > 0 {
			k.pktRecv.Add(1)
			k.bytesRecv.Add(int64(n))
			i.c.received()
		}
		return n, a, err
	})
}
