package server

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/onertc/onertc/server/errcount"
)

// metrics holds the server's own Prometheus registry. Counters that the relay, the room
// table and TURN already keep are read at scrape time (collector); only what exists
// nowhere else (joins by result, HTTP requests) is counted here.
type metrics struct {
	reg      *prometheus.Registry
	joins    *prometheus.CounterVec
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	limited  *prometheus.CounterVec
	delivery prometheus.Histogram
	// groupPassedOn counts group sockets passed on to the instance whose SFU serves
	// their room (Redis mode).
	groupPassedOn prometheus.Counter
}

// newDeliveryHistogram is made before the relay that feeds it (the state collector needs
// the relay when it is registered), and newMetrics registers that same histogram: one
// owner, one series.
func newDeliveryHistogram() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "onertc_relay_delivery_seconds",
		Help:    "Time from the wake-up of a message's recipient socket on the instance holding it (at once when that socket is online, at its register when it was offline) to the message's write on the socket.",
		Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .1, 1, 10},
	})
}

func newMetrics(s *Server, delivery prometheus.Histogram) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		joins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "onertc_joins_total", Help: "Room joins by result (SUCCESS, FULL, ERROR).",
		}, []string{"result"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "onertc_http_requests_total", Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "onertc_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "onertc_rate_limited_total", Help: "Requests refused with 429 by rate-limit class.",
		}, []string{"class"}),
		delivery: delivery,
		groupPassedOn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "onertc_group_sockets_passed_on_total", Help: "Group sockets passed on to the instance whose SFU serves their room.",
		}),
	}
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "onertc_build_info", Help: "Build version and Go version; always 1.",
	}, []string{"version", "goversion"})
	buildInfo.WithLabelValues(Version, runtime.Version()).Set(1)
	m.reg.MustRegister(m.joins, m.requests, m.latency, m.limited, m.delivery, m.groupPassedOn, buildInfo, stateCollector{s},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{"SUCCESS", "FULL", "ERROR"} {
		m.joins.WithLabelValues(r)
	}
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// instrument counts every request by the route pattern the mux chose, so that ids in paths
// never become label values.
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status code; it passes Hijack and Flush through so the
// WebSocket upgrade still works behind it.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack is how the WebSocket upgrade takes the connection (gorilla asserts
// http.Hijacker directly); a hijacked request counts as 101.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("response does not support hijacking")
	}
	w.code, w.wrote = http.StatusSwitchingProtocols, true
	return h.Hijack()
}

var (
	descRooms     = prometheus.NewDesc("onertc_rooms", "Rooms with at least one client.", nil, nil)
	descClients   = prometheus.NewDesc("onertc_room_clients", "Clients in rooms.", nil, nil)
	descSockets   = prometheus.NewDesc("onertc_relay_sockets_open", "Open relay WebSockets.", nil, nil)
	descSocketsT  = prometheus.NewDesc("onertc_relay_sockets_total", "Relay WebSockets accepted.", nil, nil)
	descRelayed   = prometheus.NewDesc("onertc_relay_messages_relayed_total", "Messages written to and confirmed by a recipient's socket.", nil, nil)
	descQueued    = prometheus.NewDesc("onertc_relay_messages_queued_total", "Messages queued for a recipient without a live socket, or stored in a mailbox.", nil, nil)
	descDropped   = prometheus.NewDesc("onertc_relay_messages_dropped_total", "Messages refused because a queue was full.", nil, nil)
	descRelayErrs = prometheus.NewDesc("onertc_relay_errors_total", "Relay protocol errors by transport.", []string{"transport"}, nil)
	descRemoved   = prometheus.NewDesc("onertc_relay_clients_removed_total", "Relay clients removed (grace period over, DELETE, leave).", nil, nil)
	descRedisRT   = prometheus.NewDesc("onertc_redis_round_trips_total", "Round trips to Redis (a pipeline is one).", nil, nil)
	descRedisErr  = prometheus.NewDesc("onertc_redis_errors_total", "Round trips to Redis that failed.", nil, nil)
	descAlive     = prometheus.NewDesc("onertc_instances_alive", "Instances sharing the Redis state whose heartbeat is recent, this one included.", nil, nil)
	descCrossed   = prometheus.NewDesc("onertc_relay_messages_cross_instance_total", "Messages sent to a socket held by another instance.", nil, nil)
	descHandoff   = prometheus.NewDesc("onertc_relay_messages_handed_off_total", "Queued messages moved into a room mailbox when their recipient was removed.", nil, nil)
	descErrors    = prometheus.NewDesc("onertc_errors_total", "Failures of work no caller waits for (counters, indexes and notices kept in Redis, reaping, reading the room counters for this scrape), by operation; each burst is logged once.", []string{"op"}, nil)
)

// stateCollector reads the counters the packages keep themselves.
type stateCollector struct{ s *Server }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	// Without an answer the gauges are left out of this scrape (a stale value would look
	// current); onertc_errors_total{op="stats_read"}, below, says why.
	if st, err := c.s.rooms.Stats(context.Background()); err != nil {
		c.s.errs.Add(errcount.StatsRead, err)
	} else {
		ch <- prometheus.MustNewConstMetric(descRooms, prometheus.GaugeValue, float64(st.Rooms))
		ch <- prometheus.MustNewConstMetric(descClients, prometheus.GaugeValue, float64(st.Clients))
	}
	for _, op := range errcount.Ops {
		ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(c.s.errs.Count(op)), string(op))
	}
	r := c.s.relay.Stats()
	ch <- prometheus.MustNewConstMetric(descSockets, prometheus.GaugeValue, float64(r.OpenWS))
	ch <- prometheus.MustNewConstMetric(descSocketsT, prometheus.CounterValue, float64(r.TotalWS))
	ch <- prometheus.MustNewConstMetric(descRelayed, prometheus.CounterValue, float64(r.Relayed))
	ch <- prometheus.MustNewConstMetric(descQueued, prometheus.CounterValue, float64(r.Queued))
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(r.Dropped))
	ch <- prometheus.MustNewConstMetric(descRelayErrs, prometheus.CounterValue, float64(r.WSErrors), "ws")
	ch <- prometheus.MustNewConstMetric(descRelayErrs, prometheus.CounterValue, float64(r.HTTPErrors), "http")
	ch <- prometheus.MustNewConstMetric(descRemoved, prometheus.CounterValue, float64(r.Removed))
	ch <- prometheus.MustNewConstMetric(descHandoff, prometheus.CounterValue, float64(r.HandedOff))
	if rc := c.s.redis; rc != nil {
		ch <- prometheus.MustNewConstMetric(descRedisRT, prometheus.CounterValue, float64(rc.Counters.RoundTrips.Load()))
		ch <- prometheus.MustNewConstMetric(descRedisErr, prometheus.CounterValue, float64(rc.Counters.Errors.Load()))
		ch <- prometheus.MustNewConstMetric(descAlive, prometheus.GaugeValue, float64(r.InstancesAlive))
		ch <- prometheus.MustNewConstMetric(descCrossed, prometheus.CounterValue, float64(r.Crossed))
	}
	c.s.collectTURN(ch)
	c.s.collectHTTPSPort(ch)
	c.s.collectSFU(ch)
}

var (
	descSFURooms        = prometheus.NewDesc("onertc_sfu_rooms", "Group rooms on the SFU now.", nil, nil)
	descSFUParticipants = prometheus.NewDesc("onertc_sfu_participants", "Group participants on the SFU now.", nil, nil)
	descSFUPackets      = prometheus.NewDesc("onertc_sfu_forwarded_packets_total", "RTP packets the SFU sent to subscribers (retransmissions included).", nil, nil)
	descSFUBytes        = prometheus.NewDesc("onertc_sfu_forwarded_bytes_total", "RTP bytes the SFU sent to subscribers.", nil, nil)
	descSFUNACKs        = prometheus.NewDesc("onertc_sfu_nacks_total", "NACK packets received from subscribers.", nil, nil)
	descSFURetransmits  = prometheus.NewDesc("onertc_sfu_retransmits_total", "Packets resent from the SFU's cache for NACKs.", nil, nil)
	descSFUPLIs         = prometheus.NewDesc("onertc_sfu_plis_total", "Key frame requests (PLI) the SFU sent to publishers.", nil, nil)
	descSFUSwitches     = prometheus.NewDesc("onertc_sfu_layer_switches_total", "Simulcast layer switches of a subscriber's video.", nil, nil)
	descSFUErrorFrames  = prometheus.NewDesc("onertc_sfu_error_frames_total", "Error frames sent to group clients.", nil, nil)
	// Per room, as a distribution: a label per room would grow without bound.
	descSFURoomSubs = prometheus.NewDesc("onertc_sfu_room_subscriptions", "Group rooms by their forwarded tracks (one per subscriber and published track), at the scrape.", nil, nil)
)

// sfuRoomBuckets cover rooms of 3 to 50 people with 2 or 3 tracks each.
var sfuRoomBuckets = []float64{2, 6, 12, 24, 48, 100, 200, 500, 1000, 2500, 5000}

// collectSFU adds the SFU's gauges and counters to a scrape.
func (s *Server) collectSFU(ch chan<- prometheus.Metric) {
	f := s.sfu.Load()
	if f == nil {
		return
	}
	st := f.Stats()
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	ch <- prometheus.MustNewConstMetric(descSFURooms, gauge, float64(st.Rooms))
	ch <- prometheus.MustNewConstMetric(descSFUParticipants, gauge, float64(st.Participants))
	ch <- prometheus.MustNewConstMetric(descSFUPackets, counter, float64(st.ForwardedPackets))
	ch <- prometheus.MustNewConstMetric(descSFUBytes, counter, float64(st.ForwardedBytes))
	ch <- prometheus.MustNewConstMetric(descSFUNACKs, counter, float64(st.NACKs))
	ch <- prometheus.MustNewConstMetric(descSFURetransmits, counter, float64(st.Retransmits))
	ch <- prometheus.MustNewConstMetric(descSFUPLIs, counter, float64(st.PLIs))
	ch <- prometheus.MustNewConstMetric(descSFUSwitches, counter, float64(st.LayerSwitches))
	ch <- prometheus.MustNewConstMetric(descSFUErrorFrames, counter, float64(st.ErrorFrames))
	buckets := make(map[float64]uint64, len(sfuRoomBuckets))
	var sum float64
	for _, rm := range st.PerRoom {
		sum += float64(rm.Subscriptions)
		for _, b := range sfuRoomBuckets {
			if float64(rm.Subscriptions) <= b {
				buckets[b]++
			}
		}
	}
	ch <- prometheus.MustNewConstHistogram(descSFURoomSubs, uint64(len(st.PerRoom)), sum, buckets)
}
