package server

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/internal/testkit/turntest"
	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/access"
	"github.com/onertc/onertc/server/admission"
	"github.com/onertc/onertc/server/limit"
	"github.com/onertc/onertc/server/turn"
	"github.com/onertc/onertc/web"
)

const testPassword = "open sesame"

// testTURNSecret is the password servers' TURN secret, from which their access key derives
// (no --access-key-file).
const testTURNSecret = "access-test-secret"

// startPasswordServer runs a password-mode server with TURN on loopback UDP; mutate may
// change its Config further.
func startPasswordServer(t *testing.T, mutate func(*Config)) (*testServer, string) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Limits = limit.Rates{}
	cfg.MaxSocketsPerIP = 0
	cfg.RelayGrace = 500 * time.Millisecond
	cfg.TURN.PublicIP = "127.0.0.1"
	cfg.TURN.AllowLoopback = true
	cfg.TURN.Secret = testTURNSecret
	cfg.TURN.Realm = "access-test"
	cfg.TURN.RelayPortMin, cfg.TURN.RelayPortMax = 61000, 65000
	cfg.TURN.SelfTestInterval = 0
	cfg.Access.Mode = string(access.Password)
	cfg.Access.Password = testPassword
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
	udp, err := turn.ListenUDP("udp4", "127.0.0.1:0", 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, Listeners{HTTP: ln, TURNUDP: udp}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	testsync.Eventually(t, 5*time.Second, "TURN started", func() bool { return srv.turn.srv.Load() != nil })
	return &testServer{Server: srv, url: "http://" + ln.Addr().String(), host: ln.Addr().String()}, udp[0].LocalAddr().String()
}

// noRedirects is a client that shows redirects instead of following them, without a jar:
// each test request carries exactly the cookies it is given.
var noRedirects = &http.Client{Timeout: 10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// do sends a request with cookies (name=value pairs) and extra headers; it returns the
// response with its body read.
func do(t *testing.T, method, u, body string, cookies []*http.Cookie, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	return resp, string(b)
}

var formHeader = map[string]string{"Content-Type": "application/x-www-form-urlencoded"}

// login posts the password and returns the session cookie it got.
func login(t *testing.T, ts *testServer, password string, header map[string]string) (*http.Response, *http.Cookie) {
	t.Helper()
	h := map[string]string{}
	for k, v := range formHeader {
		h[k] = v
	}
	for k, v := range header {
		h[k] = v
	}
	resp, _ := do(t, http.MethodPost, ts.url+"/login", url.Values{"password": {password}, "next": {"/r/room-a"}}.Encode(), nil, h)
	for _, c := range resp.Cookies() {
		if c.Name == admission.SessionCookie {
			return resp, c
		}
	}
	return resp, nil
}

func cookie(name, value string) *http.Cookie { return &http.Cookie{Name: name, Value: value} }

// TestPasswordModeRefusesStrangers: every route that opens a room, signals or mints TURN
// credentials answers 401 to a request without a valid session or an invite to its room
// (JSON for the API, the password page for pages); with the session cookie none does; the
// health, status and static routes stay public.
func TestPasswordModeRefusesStrangers(t *testing.T) {
	ts, _ := startPasswordServer(t, nil)
	now := time.Now()
	k := access.NewKeeper(access.DeriveKey(testTURNSecret), testPassword)
	session := cookie(admission.SessionCookie, k.Sign(access.Session, "", now.Add(time.Hour)))
	strangers := map[string][]*http.Cookie{
		"no cookie":                {},
		"invite to another room":   {cookie(admission.InviteCookie, k.Sign(access.Invite, "room-b", now.Add(time.Hour)))},
		"expired session":          {cookie(admission.SessionCookie, k.Sign(access.Session, "", now.Add(-time.Second)))},
		"session of another key":   {cookie(admission.SessionCookie, access.NewKeeper(access.DeriveKey("other"), testPassword).Sign(access.Session, "", now.Add(time.Hour)))},
		"invite in session cookie": {cookie(admission.SessionCookie, k.Sign(access.Invite, "room-a", now.Add(time.Hour)))},
		"garbage":                  {cookie(admission.SessionCookie, "v1.s.9999999999..AAAA")},
	}
	wsHeader := map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": ts.url}
	for _, tt := range []struct {
		method, path string
		header       map[string]string
		page         bool // answered with the password page, not JSON
		roomless     bool // any invite admits it (no room in the request)
	}{
		{"GET", "/", nil, true, true},
		{"GET", "/r/room-a", nil, true, false},
		{"POST", "/join/room-a", nil, false, false},
		{"POST", "/message/room-a/client1", nil, false, false},
		{"POST", "/leave/room-a/client1", nil, false, false},
		{"POST", "/bye/room-a/client1", nil, false, false},
		{"POST", "/collider/room-a/client1", nil, false, false},
		{"DELETE", "/collider/room-a/client1", nil, false, false},
		{"GET", "/params", nil, false, true},
		{"GET", "/ws", wsHeader, false, true},
		{"GET", "/turn?username=u", nil, false, true},
		{"POST", "/v1alpha/iceconfig", nil, false, true},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			for who, cookies := range strangers {
				if tt.roomless && who == "invite to another room" {
					continue // an invite to any room admits what belongs to no room
				}
				resp, body := do(t, tt.method, ts.url+tt.path, "x", cookies, tt.header)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("%s: %d %.200q, want 401", who, resp.StatusCode, body)
				}
				if tt.page {
					if !strings.Contains(body, `action="/login"`) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
						t.Fatalf("%s: 401 without the password form: %.300q", who, body)
					}
					continue
				}
				var e struct{ Error string }
				if err := json.Unmarshal([]byte(body), &e); err != nil || !strings.Contains(e.Error, "password") {
					t.Fatalf("%s: 401 body %q is not {\"error\": ...} naming the password (%v)", who, body, err)
				}
			}
			if tt.path == "/ws" {
				h := http.Header{"Origin": {ts.url}, "Cookie": {session.String()}}
				conn, resp, err := websocket.DefaultDialer.Dial("ws://"+ts.host+"/ws", h)
				if err != nil {
					t.Fatalf("with the session cookie: %v (%v)", err, resp)
				}
				conn.Close()
				return
			}
			resp, body := do(t, tt.method, ts.url+tt.path, "x", []*http.Cookie{session}, tt.header)
			if resp.StatusCode == http.StatusUnauthorized {
				t.Fatalf("with the session cookie: 401 %.200q", body)
			}
		})
	}
	// The form the 401s point at is public, and so is a stale invite to someone signed in.
	if resp, body := do(t, "GET", ts.url+"/login?next=/r/room-a", "", nil, nil); resp.StatusCode != http.StatusOK ||
		!strings.Contains(body, `name="next" value="/r/room-a"`) {
		t.Errorf("GET /login: %d %.300q, want 200 with the form going to /r/room-a", resp.StatusCode, body)
	}
	if resp, _ := do(t, "GET", ts.url+"/r/room-a?invite=expired", "", []*http.Cookie{session}, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("room page with a bad invite but the session cookie: %d, want 200", resp.StatusCode)
	}
	for _, path := range []string{"/healthz", "/readyz", "/status", web404Free(t, ts)} {
		if resp, body := do(t, "GET", ts.url+path, "", nil, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("public %s without a cookie: %d %.100q, want 200", path, resp.StatusCode, body)
		}
	}
}

// web404Free is the address of a static asset the pages link to.
func web404Free(t *testing.T, ts *testServer) string {
	t.Helper()
	return web.DefaultAssets().URL("app.css")
}

func httpRequest(t *testing.T) *http.Request {
	t.Helper()
	r, err := http.NewRequest("GET", "http://localhost/", nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestLogin: the right password gets a signed HttpOnly SameSite=Lax cookie (Secure when
// the browser came over https through a trusted proxy) and a redirect to a local page
// only; a wrong one gets the form again, no cookie.
func TestLogin(t *testing.T) {
	ts, _ := startPasswordServer(t, nil)
	for _, tt := range []struct {
		name, password string
		header         map[string]string
		wantStatus     int
		wantSecure     bool
	}{
		{"right password over http", testPassword, nil, http.StatusSeeOther, false},
		{"right password behind an https proxy", testPassword, map[string]string{"X-Forwarded-Proto": "https"}, http.StatusSeeOther, true},
		{"wrong password", "open sesam", nil, http.StatusUnauthorized, false},
		{"empty password", "", nil, http.StatusUnauthorized, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, c := login(t, ts, tt.password, tt.header)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantStatus != http.StatusSeeOther {
				if c != nil {
					t.Fatalf("a wrong password got a cookie")
				}
				return
			}
			if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != tt.wantSecure || c.MaxAge < 6*24*3600 {
				t.Fatalf("cookie %+v: want HttpOnly, SameSite=Lax, Secure=%v, about 7 days", c, tt.wantSecure)
			}
			if loc := resp.Header.Get("Location"); loc != "/r/room-a" {
				t.Fatalf("redirect to %q, want /r/room-a", loc)
			}
			if r, body := do(t, "POST", ts.url+"/join/room-"+strings.ReplaceAll(tt.name, " ", "-")[:10], "", []*http.Cookie{c}, nil); r.StatusCode != http.StatusOK {
				t.Fatalf("join with the cookie: %d %s", r.StatusCode, body)
			}
		})
	}
	for i, tt := range []struct{ next, want string }{
		{"/r/x?a=b", "/r/x?a=b"}, {"//evil.example/", "/"}, {"https://evil.example/", "/"}, {"/\\evil.example", "/"}, {"", "/"},
	} {
		// Each from an address of its own: the attempts above used 127.0.0.1's allowance.
		h := map[string]string{"X-Forwarded-For": "198.51.100." + strconv.Itoa(i+1)}
		for k, v := range formHeader {
			h[k] = v
		}
		resp, _ := do(t, "POST", ts.url+"/login", url.Values{"password": {testPassword}, "next": {tt.next}}.Encode(), nil, h)
		if got := resp.Header.Get("Location"); got != tt.want {
			t.Errorf("next %q: redirect to %q, want %q", tt.next, got, tt.want)
		}
	}
}

// TestWrongPasswordsAreRateLimited: past five attempts from one address, the next are
// refused with 429 before the password is looked at (the right one too), while another
// address (through the trusted proxy) still signs in.
func TestWrongPasswordsAreRateLimited(t *testing.T) {
	ts, _ := startPasswordServer(t, nil)
	from := map[string]string{"X-Forwarded-For": "192.0.2.7"}
	for i := range 5 {
		if resp, _ := login(t, ts, "guess"+string(rune('a'+i)), from); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	resp, c := login(t, ts, testPassword, from)
	if resp.StatusCode != http.StatusTooManyRequests || c != nil || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("6th attempt: %d (cookie %v, Retry-After %q), want 429 without a cookie", resp.StatusCode, c != nil, resp.Header.Get("Retry-After"))
	}
	if resp, c := login(t, ts, testPassword, map[string]string{"X-Forwarded-For": "192.0.2.8"}); resp.StatusCode != http.StatusSeeOther || c == nil {
		t.Fatalf("another address: %d, want 303 with the cookie", resp.StatusCode)
	}
	// An operator sees the guessing in the metrics.
	_, metrics := do(t, "GET", ts.url+"/metrics", "", nil, nil)
	for _, want := range []string{
		`onertc_http_requests_total{code="401",route="POST /login"} 5`,
		`onertc_http_requests_total{code="429",route="POST /login"} 1`,
		`onertc_rate_limited_total{class="login"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestInviteAdmitsItsRoomUntilExpiry: someone signed in makes an invite link; opening it
// sets the invite cookie; that admits the room's page, join and TURN credentials, but not
// another room, nor making invites; it stops at its expiry.
func TestInviteAdmitsItsRoomUntilExpiry(t *testing.T) {
	ts, _ := startPasswordServer(t, func(c *Config) { c.Access.InviteTTL = 2 * time.Second })
	_, session := login(t, ts, testPassword, nil)
	if session == nil {
		t.Fatal("no session cookie")
	}
	if resp, _ := do(t, "POST", ts.url+"/invite/room-a", "", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("invite by a stranger: %d, want 401", resp.StatusCode)
	}
	resp, body := do(t, "POST", ts.url+"/invite/room-a", "", []*http.Cookie{session}, nil)
	var inv protocol.InviteResponse
	if err := json.Unmarshal([]byte(body), &inv); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("invite: %d %s (%v)", resp.StatusCode, body, err)
	}
	link, err := url.Parse(inv.URL)
	if err != nil || link.Path != "/r/room-a" || link.Query().Get("invite") == "" || "http://"+link.Host != ts.url {
		t.Fatalf("invite link %q: want %s/r/room-a?invite=...", inv.URL, ts.url)
	}
	// Another room's page with this invite is refused.
	if resp, _ := do(t, "GET", ts.url+"/r/room-b?invite="+url.QueryEscape(link.Query().Get("invite")), "", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("room-b's page with room-a's invite: %d, want 401", resp.StatusCode)
	}
	resp, _ = do(t, "GET", inv.URL, "", nil, nil)
	var invite *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == admission.InviteCookie {
			invite = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || invite == nil || resp.Header.Get("Location") != "/r/room-a" {
		t.Fatalf("opening the invite: %d, cookie %v, Location %q; want 303 to /r/room-a with the invite cookie",
			resp.StatusCode, invite, resp.Header.Get("Location"))
	}
	guest := []*http.Cookie{invite}
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/r/room-a", http.StatusOK},
		{"POST", "/join/room-a", http.StatusOK},
		{"GET", "/turn?username=guest", http.StatusOK},
		{"POST", "/join/room-b", http.StatusUnauthorized},
		{"GET", "/r/room-b", http.StatusUnauthorized},
		{"POST", "/invite/room-a", http.StatusUnauthorized},
	} {
		if resp, body := do(t, tt.method, ts.url+tt.path, "", guest, nil); resp.StatusCode != tt.want {
			t.Errorf("guest %s %s: %d %.120q, want %d", tt.method, tt.path, resp.StatusCode, body, tt.want)
		}
	}
	// Token times are whole seconds: the invite ends within InviteTTL plus one.
	testsync.Eventually(t, 5*time.Second, "the invite expires", func() bool {
		resp, _ := do(t, "POST", ts.url+"/join/room-a", "", guest, nil)
		return resp.StatusCode == http.StatusUnauthorized
	})
	if resp, _ := do(t, "GET", inv.URL, "", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the expired invite link: %d, want 401", resp.StatusCode)
	}
}

// TestTURNCredentialsInPasswordMode: a stranger gets no TURN credentials; someone signed in
// gets short-lived ones (--access-turn-ttl) that the TURN server accepts.
func TestTURNCredentialsInPasswordMode(t *testing.T) {
	ts, turnAddr := startPasswordServer(t, func(c *Config) { c.Access.TURNTTL = 90 * time.Second })
	if resp, body := do(t, "GET", ts.url+"/turn?username=x", "", nil, nil); resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "password\":") {
		t.Fatalf("stranger: %d %s, want 401 without credentials", resp.StatusCode, body)
	}
	_, session := login(t, ts, testPassword, nil)
	resp, body := do(t, "GET", ts.url+"/turn?username=x", "", []*http.Cookie{session}, nil)
	var creds protocol.TURNCredentials
	if err := json.Unmarshal([]byte(body), &creds); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("admitted: %d %s (%v)", resp.StatusCode, body, err)
	}
	if creds.TTL != 90 {
		t.Fatalf("ttl %d, want 90 (--access-turn-ttl)", creds.TTL)
	}
	c := turntest.Dial(t, turnAddr, creds.Username, creds.Password, "access-test")
	if _, code := c.Allocate(); code != 0 {
		t.Fatalf("Allocate with the admitted client's credentials: code %d", code)
	}
}

// TestOpenModeHasNoLogin: in open mode nothing asks for a password and /login, /invite do
// not exist.
func TestOpenModeHasNoLogin(t *testing.T) {
	ts := startServer(t, nil)
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/", http.StatusOK},
		{"GET", "/r/room-a", http.StatusOK},
		{"POST", "/join/room-a", http.StatusOK},
		{"POST", "/login", http.StatusNotFound},
		{"POST", "/invite/room-a", http.StatusNotFound},
	} {
		if resp, body := do(t, tt.method, ts.url+tt.path, "", nil, nil); resp.StatusCode != tt.want {
			t.Errorf("%s %s: %d %.100q, want %d", tt.method, tt.path, resp.StatusCode, body, tt.want)
		}
	}
}

// TestAccessConfig: password mode needs its password, sane TTLs, and with Redis a key all
// instances share.
func TestAccessConfig(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mutate func(*Config)
		want   string // in the error; "" for none
	}{
		{"open by default", func(*Config) {}, ""},
		{"unknown mode", func(c *Config) { c.Access.Mode = "token" }, "--access"},
		{"password without file", func(c *Config) { c.Access.Mode = "password" }, "--access-password-file"},
		{"password", func(c *Config) { c.Access.Mode, c.Access.Password = "password", "p" }, ""},
		{"short cookie", func(c *Config) { c.Access.Mode, c.Access.Password, c.Access.SessionTTL = "password", "p", time.Second }, "ttls"},
		{"redis without shared key", func(c *Config) {
			c.Access.Mode, c.Access.Password, c.Redis, c.TURN.Disabled = "password", "p", "redis://127.0.0.1:1", true
		}, "--access-key-file"},
		{"redis with key file", func(c *Config) {
			c.Access.Mode, c.Access.Password, c.Redis, c.TURN.Disabled, c.Access.Key = "password", "p", "redis://127.0.0.1:1", true, "k"
		}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Validate: %v, want an error naming %q", err, tt.want)
			}
		})
	}
}

// TestCookieAcceptedByEveryInstance: instances sharing the TURN secret, or the access key
// whatever their TURN secrets, accept each other's session cookies; another secret does not.
func TestCookieAcceptedByEveryInstance(t *testing.T) {
	withSecret := func(secret, key string) func(*Config) {
		return func(c *Config) { c.TURN.Secret, c.Access.Key = secret, key }
	}
	for _, tt := range []struct {
		name       string
		a, b       func(*Config)
		wantStatus int
	}{
		{"same TURN secret", withSecret("s1", ""), withSecret("s1", ""), http.StatusOK},
		{"another TURN secret", withSecret("s1", ""), withSecret("s2", ""), http.StatusUnauthorized},
		{"same access key, other TURN secrets", withSecret("s1", "k"), withSecret("s2", "k"), http.StatusOK},
		{"another access key", withSecret("s1", "k1"), withSecret("s1", "k2"), http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := startPasswordServer(t, tt.a)
			b, _ := startPasswordServer(t, tt.b)
			_, session := login(t, a, testPassword, nil)
			if session == nil {
				t.Fatal("no session cookie from a")
			}
			if resp, body := do(t, "POST", b.url+"/join/shared-room", "", []*http.Cookie{session}, nil); resp.StatusCode != tt.wantStatus {
				t.Fatalf("join on b with a's cookie: %d %.100q, want %d", resp.StatusCode, body, tt.wantStatus)
			}
		})
	}
}

// TestSessionCookieSecure: the cookie is Secure when the browser reached the server over
// TLS, or through a trusted proxy that says https; an untrusted X-Forwarded-Proto counts
// for nothing.
func TestSessionCookieSecure(t *testing.T) {
	ts, _ := startPasswordServer(t, nil)
	for i, tt := range []struct {
		name, url, remote, proto string
		want                     bool
	}{
		{"TLS here", "https://call.example/login", "192.0.2.10:5000", "", true},
		{"plain http", "http://call.example/login", "192.0.2.11:5000", "", false},
		{"https said by a stranger", "http://call.example/login", "192.0.2.12:5000", "https", false},
		{"https said by the trusted proxy", "http://call.example/login", "127.0.0.1:5000", "https", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", tt.url, strings.NewReader(url.Values{"password": {testPassword}}.Encode()))
			req.RemoteAddr = tt.remote
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.proto != "" {
				req.Header.Set("X-Forwarded-Proto", tt.proto)
				req.Header.Set("X-Forwarded-For", "198.51.100.20"+strconv.Itoa(i))
			}
			rec := httptest.NewRecorder()
			ts.Handler().ServeHTTP(rec, req)
			cookies := rec.Result().Cookies()
			if rec.Code != http.StatusSeeOther || len(cookies) != 1 || cookies[0].Name != admission.SessionCookie {
				t.Fatalf("%d, cookies %v: want 303 and the session cookie", rec.Code, cookies)
			}
			if cookies[0].Secure != tt.want {
				t.Fatalf("Secure = %v, want %v", cookies[0].Secure, tt.want)
			}
		})
	}
}
