package server

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/internal/testkit/redistest"
	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/limit"
)

// testServer is a real server on an ephemeral loopback port.
type testServer struct {
	*Server
	url  string // http://127.0.0.1:port
	host string
}

func startServer(t testing.TB, mutate func(*Config)) *testServer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.RelayGrace = 500 * time.Millisecond
	cfg.TURN.Disabled = true
	// Every test client comes from 127.0.0.1; the limits have tests of their own.
	cfg.Limits = limit.Rates{}
	cfg.MaxSocketsPerIP = 0
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, Listeners{HTTP: ln}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &testServer{Server: srv, url: "http://" + ln.Addr().String(), host: ln.Addr().String()}
}

func (ts *testServer) post(t testing.TB, path, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(ts.url+path, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: read the response (status %d): %v", path, resp.StatusCode, err)
	}
	return resp.StatusCode, string(b)
}

// leave posts /leave (or /bye, as route) for a client, which answers 200 with no body.
func (ts *testServer) leave(t testing.TB, route, roomID, clientID string) {
	t.Helper()
	if code, body := ts.post(t, "/"+route+"/"+roomID+"/"+clientID, ""); code != http.StatusOK || body != "" {
		t.Fatalf("%s %s/%s = %d %q, want 200 with an empty body", route, roomID, clientID, code, body)
	}
}

func (ts *testServer) join(t testing.TB, roomID string) protocol.RoomParams {
	t.Helper()
	status, body := ts.post(t, "/join/"+roomID, "")
	var jr protocol.JoinResponse
	if err := json.Unmarshal([]byte(body), &jr); err != nil || status != 200 || jr.Result != protocol.ResultSuccess {
		t.Fatalf("join %s: %d %s (%v)", roomID, status, body, err)
	}
	return jr.Params
}

func (ts *testServer) message(t testing.TB, roomID, clientID, msg string) string {
	t.Helper()
	// AppRTC answers every accepted message with 200 and says in result what became of it;
	// any other status is a server failure the caller's result check would not tell apart.
	status, body := ts.post(t, "/message/"+roomID+"/"+clientID, msg)
	var mr protocol.MessageResponse
	if err := json.Unmarshal([]byte(body), &mr); err != nil || status != http.StatusOK {
		t.Fatalf("message to %s/%s: %d %q (%v)", roomID, clientID, status, body, err)
	}
	return mr.Result
}

func (ts *testServer) occupancy(t testing.TB, roomID string) int {
	t.Helper()
	n, err := ts.rooms.Occupancy(context.Background(), roomID)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// wsClient is a relay client socket with a reader goroutine feeding frames to a channel.
type wsClient struct {
	t      testing.TB
	server *testServer // the instance it is connected to
	conn   *websocket.Conn
	frames chan protocol.RelayFrame
	closed chan struct{}
}

func (ts *testServer) dial(t testing.TB) *wsClient {
	t.Helper()
	return ts.dialWith(t, nil)
}

// dialWith dials /ws and lets setup adjust the connection (its handlers) before it is read.
func (ts *testServer) dialWith(t testing.TB, setup func(*websocket.Conn)) *wsClient {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+ts.host+"/ws", nil)
	if err != nil {
		t.Fatalf("dial /ws: %v", err)
	}
	if setup != nil {
		setup(conn)
	}
	c := &wsClient{t: t, server: ts, conn: conn, frames: make(chan protocol.RelayFrame, 4096), closed: make(chan struct{})}
	go func() {
		defer close(c.closed)
		for {
			kind, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var f protocol.RelayFrame
			var raw map[string]any
			if kind != websocket.TextMessage || json.Unmarshal(data, &f) != nil || json.Unmarshal(data, &raw) != nil {
				t.Errorf("relay sent a bad frame (kind %d): %q", kind, data)
				return
			}
			if _, ok := raw["msg"]; !ok {
				t.Errorf("relay frame without msg key: %s", data)
			}
			if _, ok := raw["error"]; !ok {
				t.Errorf("relay frame without error key: %s", data)
			}
			c.frames <- f
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return c
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
}

func (c *wsClient) sendRaw(b []byte) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *wsClient) register(roomID, clientID string) {
	c.t.Helper()
	c.send(protocol.RelayRequest{Cmd: protocol.CmdRegister, RoomID: roomID, ClientID: clientID})
}

func (c *wsClient) sendMsg(msg string) {
	c.t.Helper()
	c.send(protocol.RelayRequest{Cmd: protocol.CmdSend, Msg: msg})
}

// next waits for the next frame.
func (c *wsClient) next() protocol.RelayFrame {
	c.t.Helper()
	select {
	case f := <-c.frames:
		return f
	case <-c.closed:
		select {
		case f := <-c.frames:
			return f
		default:
		}
		c.t.Fatal("socket closed while waiting for a frame")
	case <-time.After(5 * time.Second):
		c.t.Fatal("no frame within 5s")
	}
	return protocol.RelayFrame{}
}

func (c *wsClient) expectMsg(want string) {
	c.t.Helper()
	if f := c.next(); f.Msg != want || f.Error != "" {
		c.t.Fatalf("frame = %+v, want msg %q", f, want)
	}
}

// tryNext waits up to d for a frame; safe to call from any goroutine.
func (c *wsClient) tryNext(d time.Duration) (protocol.RelayFrame, bool) {
	select {
	case f := <-c.frames:
		return f, true
	case <-time.After(d):
		return protocol.RelayFrame{}, false
	}
}

// expectNothing checks that no frame arrives within d.
func (c *wsClient) expectNothing(d time.Duration) {
	c.t.Helper()
	select {
	case f := <-c.frames:
		c.t.Fatalf("unexpected frame %+v", f)
	case <-time.After(d):
	}
}

func (c *wsClient) expectClosed() {
	c.t.Helper()
	select {
	case <-c.closed:
	case <-time.After(5 * time.Second):
		c.t.Fatal("socket not closed within 5s")
	}
}

// fleet is several servers sharing one real redis-server, as behind a load balancer with
// no stickiness: next hands out the servers in turn, so consecutive requests and sockets of
// one client land on different instances. A fleet of one in memory mode runs the same
// tests on a single process.
type fleet struct {
	servers []*testServer
	redis   *redistest.Server
	turn    atomic.Uint32
}

func startFleet(t testing.TB, n int, mutate func(*Config)) *fleet {
	t.Helper()
	return startFleetOn(t, redistest.Start(t), n, mutate)
}

// startFleetOn is startFleet on a server of the caller's (Valkey).
func startFleetOn(t testing.TB, srv *redistest.Server, n int, mutate func(*Config)) *fleet {
	t.Helper()
	f := &fleet{redis: srv}
	for range n {
		f.servers = append(f.servers, startServer(t, func(c *Config) {
			c.Redis = f.redis.URL()
			c.TURN.Secret = "fleet-secret"
			if mutate != nil {
				mutate(c)
			}
		}))
	}
	return f
}

// startClusterFleet is startFleet on a real three-node Redis Cluster instead of one
// redis-server.
func startClusterFleet(t testing.TB, n int, mutate func(*Config)) *fleet {
	t.Helper()
	addrs := redistest.StartCluster(t, 3).Addrs()
	f := &fleet{}
	for range n {
		f.servers = append(f.servers, startServer(t, func(c *Config) {
			c.Redis = "redis://" + addrs[0] + "?addr=" + addrs[1] + "&addr=" + addrs[2]
			c.RedisCluster = true
			c.TURN.Secret = "fleet-secret"
			if mutate != nil {
				mutate(c)
			}
		}))
	}
	return f
}

func single(ts *testServer) *fleet { return &fleet{servers: []*testServer{ts}} }

func (f *fleet) next() *testServer {
	return f.servers[int(f.turn.Add(1))%len(f.servers)]
}

// otherThan is the next server that is not ts (ts itself in a fleet of one).
func (f *fleet) otherThan(ts *testServer) *testServer {
	for range f.servers {
		if n := f.next(); n != ts {
			return n
		}
	}
	return ts
}

// pending is what the fleet holds unconfirmed for a client, wherever its socket is.
func (f *fleet) pending(roomID, clientID string) int {
	n := 0
	for _, ts := range f.servers {
		n += ts.relay.Pending(roomID, clientID)
	}
	return n
}

// queued counts the messages the fleet took for a recipient without a socket (in memory
// mode, or in Redis), since it started.
func (f *fleet) queued() int64 {
	var n int64
	for _, ts := range f.servers {
		n += ts.relay.Stats().Queued
	}
	return n
}

func (f *fleet) online() int64 {
	var n int64
	for _, ts := range f.servers {
		n += ts.relay.Stats().Online
	}
	return n
}
