package server

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/limit"
)

// hardServer is a real server on loopback sockets for the tests of hostile clients: plain
// HTTP, or HTTPS on the port it shares with TURN (server/demux), optionally with TURN on a UDP socket.
type hardServer struct {
	*Server
	addr string
	tls  bool
}

func startHard(t *testing.T, https, withTURN bool, mutate func(*Config), opts ...Option) *hardServer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.RelayGrace = 30 * time.Second // joined clients that never register stay for the whole test
	cfg.Limits = limit.Rates{}
	cfg.MaxSocketsPerIP = 0
	cfg.TURN.Disabled = !withTURN
	cfg.TURN.PublicIP = "127.0.0.1"
	cfg.TLS.SelfSigned = https
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ls := Listeners{HTTP: ln}
	if withTURN {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls.TURNUDP = []net.PacketConn{pc}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ls) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &hardServer{Server: srv, addr: ln.Addr().String(), tls: https}
}

func (hs *hardServer) url(path string) string {
	if hs.tls {
		return "https://" + hs.addr + path
	}
	return "http://" + hs.addr + path
}

// insecureTLS trusts the test's own self-signed server. A fresh one each time: an HTTP/2
// transport adds "h2" to the config it is given, which an HTTP/1 client must not offer.
func insecureTLS() *tls.Config { return &tls.Config{InsecureSkipVerify: true} }

// dialRaw opens a connection a test writes a request on by hand.
func (hs *hardServer) dialRaw(t *testing.T) net.Conn {
	t.Helper()
	var c net.Conn
	var err error
	if hs.tls {
		c, err = tls.Dial("tcp", hs.addr, insecureTLS())
	} else {
		c, err = net.Dial("tcp", hs.addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (hs *hardServer) do(t *testing.T, method, path, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, hs.url(path), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: insecureTLS()}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the answer (status %d): %v", method, path, resp.StatusCode, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func (hs *hardServer) join(t *testing.T, roomID string) protocol.RoomParams {
	t.Helper()
	status, _, body := hs.do(t, "POST", "/join/"+roomID, "")
	var jr protocol.JoinResponse
	if err := json.Unmarshal([]byte(body), &jr); err != nil || status != 200 || jr.Result != protocol.ResultSuccess {
		t.Fatalf("join %s: %d %s (%v)", roomID, status, body, err)
	}
	return jr.Params
}

// answer is what the server said on a raw connection: a status, or how the read failed.
type answer struct {
	status int
	header http.Header
	body   string
	close  bool // the server said Connection: close
	err    error
}

// readAnswer reads one response from c in the background.
func readAnswer(c net.Conn) <-chan answer {
	out := make(chan answer, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			out <- answer{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body) // what arrived before the server closed is enough
		resp.Body.Close()
		out <- answer{status: resp.StatusCode, header: resp.Header, body: string(b), close: resp.Close}
	}()
	return out
}

// TestSlowBodyIsCutOff: a client that sends its body a byte at a time is answered (408, or
// the connection closed) once the body deadline passes, long before its body would be
// complete, on every POST route and on the plain and the TLS-terminated (demux) port.
func TestSlowBodyIsCutOff(t *testing.T) {
	const bodyTimeout = 300 * time.Millisecond
	const declared = 200 // bytes announced; at one per 50 ms the body would take 10 s
	for _, https := range []bool{false, true} {
		hs := startHard(t, https, false, nil, WithBodyTimeout(bodyTimeout))
		p := hs.join(t, "slowroom")
		for _, tt := range []struct {
			name, path string
			want       int // 0: any answer or a closed connection
		}{
			{"message", "/message/slowroom/" + p.ClientID, http.StatusRequestTimeout},
			{"collider", "/collider/slowroom/" + p.ClientID, http.StatusRequestTimeout},
			{"join, which reads no body", "/join/slowjoin", 0},
		} {
			t.Run(fmt.Sprintf("https=%v/%s", https, tt.name), func(t *testing.T) {
				c := hs.dialRaw(t)
				fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", tt.path, hs.addr, declared)
				answered := readAnswer(c)
				sent := 0
				var got answer
			send:
				for sent < declared {
					select {
					case got = <-answered:
						break send
					case <-time.After(50 * time.Millisecond):
					}
					if _, err := c.Write([]byte("x")); err != nil {
						got = <-answered // the server closed the connection
						break
					}
					sent++
				}
				if sent == declared {
					t.Fatalf("the server waited for the whole slow body (%d bytes, %v)", declared, got)
				}
				if tt.want != 0 && got.status != tt.want {
					t.Fatalf("after %d of %d bytes: %+v, want status %d", sent, declared, got, tt.want)
				}
				t.Logf("cut off after %d of %d bytes: status %d %q (%v)", sent, declared, got.status, strings.TrimSpace(got.body), got.err)
			})
		}
	}
}

// slowBody yields one byte per tick up to n, counting what it gave.
type slowBody struct {
	n    int
	sent atomic.Int64
	done chan struct{} // closed when the test is over: stop feeding
}

func (b *slowBody) Read(p []byte) (int, error) {
	if int(b.sent.Load()) >= b.n {
		return 0, io.EOF
	}
	select {
	case <-time.After(50 * time.Millisecond):
	case <-b.done:
		return 0, io.ErrUnexpectedEOF
	}
	p[0] = 'x'
	b.sent.Add(1)
	return 1, nil
}

// TestSlowBodyIsCutOffOverHTTP2: the HTTPS port offers h2, where the body deadline is the
// stream's: a slow body gets 408 there too.
func TestSlowBodyIsCutOffOverHTTP2(t *testing.T) {
	hs := startHard(t, true, false, nil, WithBodyTimeout(300*time.Millisecond))
	p := hs.join(t, "h2room")
	for _, path := range []string{"/message/h2room/" + p.ClientID, "/collider/h2room/" + p.ClientID} {
		t.Run(path, func(t *testing.T) {
			body := &slowBody{n: 200, done: make(chan struct{})}
			defer close(body.done)
			req, err := http.NewRequest("POST", hs.url(path), body)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = int64(body.n)
			tr := &http.Transport{TLSClientConfig: insecureTLS(), ForceAttemptHTTP2: true}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			sent := body.sent.Load()
			if resp.ProtoMajor != 2 {
				t.Fatalf("spoke %s, want HTTP/2", resp.Proto)
			}
			if resp.StatusCode != http.StatusRequestTimeout || sent >= int64(body.n) {
				t.Fatalf("status %d after %d of %d bytes, want 408 before the body ends", resp.StatusCode, sent, body.n)
			}
		})
	}
}

// TestWebSocketOutlivesBodyTimeout: relay sockets are hijacked requests: left idle longer
// than the body deadline and the header/first-bytes deadline (the HTTPS port's demux sets
// one), on the plain and the TLS port, they still carry a message.
func TestWebSocketOutlivesBodyTimeout(t *testing.T) {
	const bodyTimeout, firstBytes = 300 * time.Millisecond, time.Second
	for _, https := range []bool{false, true} {
		t.Run(fmt.Sprintf("https=%v", https), func(t *testing.T) {
			hs := startHard(t, https, false, nil, WithBodyTimeout(bodyTimeout), WithFirstBytesTimeout(firstBytes))
			a, b := hs.join(t, "idle"), hs.join(t, "idle")
			dial := func(clientID string) *websocket.Conn {
				d := websocket.Dialer{TLSClientConfig: insecureTLS(), HandshakeTimeout: 5 * time.Second}
				scheme := "ws://"
				if https {
					scheme = "wss://"
				}
				ws, _, err := d.Dial(scheme+hs.addr+"/ws", nil)
				if err != nil {
					t.Fatalf("dial /ws: %v", err)
				}
				t.Cleanup(func() { ws.Close() })
				if err := ws.WriteJSON(protocol.RelayRequest{Cmd: protocol.CmdRegister, RoomID: "idle", ClientID: clientID}); err != nil {
					t.Fatal(err)
				}
				return ws
			}
			wa, wb := dial(a.ClientID), dial(b.ClientID)
			// The condition under test is the idleness itself, past both deadlines.
			time.Sleep(firstBytes + 2*bodyTimeout)
			if err := wa.WriteJSON(protocol.RelayRequest{Cmd: protocol.CmdSend, Msg: "after the idle spell"}); err != nil {
				t.Fatalf("send after idling: %v", err)
			}
			wb.SetReadDeadline(time.Now().Add(5 * time.Second))
			var f protocol.RelayFrame
			if err := wb.ReadJSON(&f); err != nil {
				t.Fatalf("read after idling: %v", err)
			}
			if f.Msg != "after the idle spell" || f.Error != "" {
				t.Fatalf("frame %+v", f)
			}
		})
	}
}

// TestColliderRateLimited: POST /collider draws on the same per-address bucket as
// /message; past the burst it answers 429 with Retry-After and says why.
func TestColliderRateLimited(t *testing.T) {
	hs := startHard(t, false, false, func(c *Config) { c.Limits = limit.Rates{Message: 0.5, Burst: 6} }) // burst 3
	p := hs.join(t, "limited")
	var codes []int
	for i := range 3 {
		status, _, body := hs.do(t, "POST", "/collider/limited/"+p.ClientID, fmt.Sprintf(`{"n":%d}`, i))
		codes = append(codes, status)
		if status != 200 {
			t.Fatalf("collider post %d: %d %q", i, status, body)
		}
	}
	for _, path := range []string{"/collider/limited/" + p.ClientID, "/message/limited/" + p.ClientID} {
		status, h, body := hs.do(t, "POST", path, `{"n":9}`)
		if status != http.StatusTooManyRequests || h.Get("Retry-After") == "" || !strings.Contains(body, "too many requests") {
			t.Fatalf("POST %s over the limit (after %v): %d Retry-After %q %q", path, codes, status, h.Get("Retry-After"), body)
		}
	}
}

// TestColliderChecksClientFirst: a POST /collider for a client the room table does not
// hold is refused without its body being read: the answer comes while the body is still
// (forever) incomplete, however large it claims to be, and the connection is closed
// rather than drained. A member's post is read and delivered as before.
func TestColliderChecksClientFirst(t *testing.T) {
	// A long body deadline, so that it is not what answers.
	hs := startHard(t, false, false, nil, WithBodyTimeout(time.Minute))
	p := hs.join(t, "known")
	for _, tt := range []struct {
		name, path, headers string
	}{
		{"unknown room", "/collider/nosuchroom/" + p.ClientID, "Content-Length: 1000\r\n"},
		{"unknown client", "/collider/known/stranger", "Content-Length: 1000\r\n"},
		{"oversized body", "/collider/known/stranger", "Content-Length: 1073741824\r\n"},
		{"endless chunked body", "/collider/known/stranger", "Transfer-Encoding: chunked\r\n"},
		{"waiting for 100 Continue", "/collider/known/stranger", "Content-Length: 1000\r\nExpect: 100-continue\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := hs.dialRaw(t)
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", tt.path, hs.addr, tt.headers)
			if !strings.Contains(tt.headers, "Expect") {
				io.WriteString(c, "5\r\nhello") // a start, never the end
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got := <-readAnswer(c)
			if got.err != nil {
				t.Fatalf("no answer while the body is incomplete: %v", got.err)
			}
			if got.status != http.StatusInternalServerError || strings.TrimSpace(got.body) != protocol.ErrTextUnknownClient {
				t.Fatalf("answer %d %q, want 500 %q", got.status, got.body, protocol.ErrTextUnknownClient)
			}
			if !got.close {
				t.Error("no Connection: close: an unread body must not be drained")
			}
		})
	}
	status, _, body := hs.do(t, "POST", "/collider/known/"+p.ClientID, `{"type":"bye"}`)
	if status != 200 || body != "OK\n" {
		t.Fatalf("member's post: %d %q", status, body)
	}
}

// TestAPIKeyGuardsEveryMintingEndpoint: with --turn-api-key, GET /turn and POST
// /v1alpha/iceconfig refuse a missing, empty or wrong key and mint with the right one; the
// room app's clients get credentials in /join's pc_config instead, and no ice_server_url
// that would send them to the guarded endpoint. Without a key, nothing changes.
func TestAPIKeyGuardsEveryMintingEndpoint(t *testing.T) {
	const key, secret = "op3rator-key", "turn-secret-for-test"
	hs := startHard(t, false, true, func(c *Config) { c.TURN.APIKey = key; c.TURN.Secret = secret })
	open := startHard(t, false, true, func(c *Config) { c.TURN.Secret = secret })
	for _, tt := range []struct {
		name, method, path string
		server             *hardServer
		want               int
	}{
		{"turn, no key", "GET", "/turn?username=u", hs, 403},
		{"turn, empty key", "GET", "/turn?username=u&key=", hs, 403},
		{"turn, wrong key", "GET", "/turn?username=u&key=op3rator-kez", hs, 403},
		{"turn, right key", "GET", "/turn?username=u&key=" + key, hs, 200},
		{"iceconfig, no key", "POST", "/v1alpha/iceconfig", hs, 403},
		{"iceconfig, AppRTC's empty key", "POST", "/v1alpha/iceconfig?key=", hs, 403},
		{"iceconfig, wrong key", "POST", "/v1alpha/iceconfig?key=op3rator", hs, 403},
		{"iceconfig, right key", "POST", "/v1alpha/iceconfig?key=" + key, hs, 200},
		{"no key set: iceconfig open as before", "POST", "/v1alpha/iceconfig?key=", open, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := tt.server.do(t, tt.method, tt.path, "{}")
			if status != tt.want {
				t.Fatalf("%s %s: %d %q, want %d", tt.method, tt.path, status, body, tt.want)
			}
			if status == 200 && !strings.Contains(body, "turn:127.0.0.1:") {
				t.Fatalf("minted nothing usable: %s", body)
			}
			if status == 403 && (strings.Contains(body, "credential") || strings.Contains(body, "password")) {
				t.Fatalf("a refusal carries credentials: %s", body)
			}
		})
	}

	t.Run("join hands its client credentials", func(t *testing.T) {
		p := hs.join(t, "keyed")
		if p.ICEServerURL != "" {
			t.Errorf("ice_server_url %q with a key set: clients would be sent to a guarded endpoint", p.ICEServerURL)
		}
		var pc struct {
			ICEServers []protocol.ICEServer `json:"iceServers"`
		}
		if err := json.Unmarshal([]byte(p.PCConfig), &pc); err != nil || len(pc.ICEServers) != 1 {
			t.Fatalf("pc_config %s (%v): want one TURN server", p.PCConfig, err)
		}
		s := pc.ICEServers[0]
		mac := hmac.New(sha1.New, []byte(secret))
		mac.Write([]byte(s.Username))
		if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); s.Credential != want || len(s.URLs) == 0 || !strings.HasPrefix(s.URLs[0], "turn:127.0.0.1:") {
			t.Fatalf("pc_config server %+v: not a credential of the TURN secret", s)
		}
		if strings.Contains(s.Username, p.ClientID) {
			t.Errorf("TURN user name %q carries the client id, which /message trusts", s.Username)
		}
		status, _, body := hs.do(t, "GET", "/params", "")
		if status != 200 || strings.Contains(body, "/v1alpha/iceconfig") {
			t.Errorf("GET /params with a key set: %d %s", status, body)
		}
	})

	t.Run("no key set: join as before", func(t *testing.T) {
		p := open.join(t, "open")
		if !strings.HasSuffix(p.ICEServerURL, "/v1alpha/iceconfig?key=") || strings.Contains(p.PCConfig, "turn:") {
			t.Fatalf("ice_server_url %q, pc_config %s", p.ICEServerURL, p.PCConfig)
		}
	})
}
