package turn

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/onertc/onertc/protocol"
)

func TestRESTTurn(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	uris := URIs("turn.example", 3478, 3478, 5349)
	tests := []struct {
		name, method, query, apiKey string
		status                      int
	}{
		{"ok", "GET", "service=turn&username=alice", "", 200},
		{"ok without service", "GET", "username=alice", "", 200},
		{"missing username", "GET", "service=turn", "", 400},
		{"empty username", "GET", "username=", "", 400},
		{"colon in username", "GET", "username=a:b", "", 400},
		{"control char", "GET", "username=a%0Ab", "", 400},
		{"too long", "GET", "username=" + strings.Repeat("a", 129), "", 400},
		{"two usernames", "GET", "username=a&username=b", "", 400},
		{"other service", "GET", "service=stun&username=alice", "", 400},
		{"wrong method", "POST", "username=alice", "", 405},
		{"key required, missing", "GET", "username=alice", "k3y", 403},
		{"key required, wrong", "GET", "username=alice&key=nope", "k3y", 403},
		{"key required, empty", "GET", "username=alice&key=", "k3y", 403},
		{"key required, a prefix of it", "GET", "username=alice&key=k3", "k3y", 403},
		{"key required, longer", "GET", "username=alice&key=k3yy", "k3y", 403},
		{"key required, right", "GET", "username=alice&key=k3y", "k3y", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := NewRESTHandlers(RESTConfig{Secret: testSecret, TTL: time.Hour, APIKey: tt.apiKey,
				URIs: func(*http.Request) []string { return uris }, Now: func() time.Time { return now }})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, "/turn?"+tt.query, nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.status != 200 {
				var e protocol.ErrorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
					t.Errorf("error body %q: %v", rec.Body, err)
				}
				return
			}
			var c protocol.TURNCredentials
			if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil {
				t.Fatal(err)
			}
			if c.Username != "1700003600:alice" || c.Password != "r81IbIdZmK1K+WFTq4GN1AZmtnc=" /* openssl, as in TestRESTPasswordKnownAnswers */ || c.TTL != 3600 || !reflect.DeepEqual(c.URIs, uris) {
				t.Errorf("credentials %+v", c)
			}
		})
	}
}

// TestRESTIceConfig: POST /v1alpha/iceconfig mints what GET /turn mints, so an API key,
// when set, guards it the same way; a refused request's body is not read.
func TestRESTIceConfig(t *testing.T) {
	uris := URIs("192.0.2.1", 3478, 3478, 0)
	tests := []struct {
		name, method, query, apiKey string
		uris                        []string
		status, servers             int
	}{
		{"ok", "POST", "", "", uris, 200, 1},
		{"ok with username", "POST", "username=bob", "", URIs("192.0.2.1", 3478, 0, 0), 200, 1},
		{"AppRTC's empty key with no key set", "POST", "key=", "", uris, 200, 1},
		{"no uris: no entry", "POST", "", "", nil, 200, 0},
		{"only empty uris: no entry", "POST", "", "", []string{""}, 200, 0},
		{"bad username", "POST", "username=a:b", "", nil, 400, 0},
		{"wrong method", "GET", "", "", nil, 405, 0},
		{"key set, none given", "POST", "", "server-side-key", uris, 403, 0},
		{"key set, AppRTC's empty key", "POST", "key=", "server-side-key", uris, 403, 0},
		{"key set, wrong key", "POST", "key=server-side-kez", "server-side-key", uris, 403, 0},
		{"key set, a prefix of it", "POST", "key=server-side", "server-side-key", uris, 403, 0},
		{"key set, right key", "POST", "key=server-side-key", "server-side-key", uris, 200, 1},
		{"key set, right key and a username", "POST", "key=server-side-key&username=bob", "server-side-key", uris, 200, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, h := NewRESTHandlers(RESTConfig{Secret: testSecret, APIKey: tt.apiKey, URIs: func(*http.Request) []string { return tt.uris }})
			rec := httptest.NewRecorder()
			body := &watchedBody{Reader: strings.NewReader("{}")}
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, "/v1alpha/iceconfig?"+tt.query, body))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.status != 200 {
				var e protocol.ErrorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
					t.Errorf("error body %q: %v", rec.Body, err)
				}
				if body.read {
					t.Error("the body of a refused request was read")
				}
				return
			}
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil || string(raw["iceServers"]) == "null" {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
			var c protocol.ICEConfig
			if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil {
				t.Fatal(err)
			}
			if len(c.ICEServers) != tt.servers {
				t.Fatalf("%d ice servers, want %d: %s", len(c.ICEServers), tt.servers, rec.Body)
			}
			for _, s := range c.ICEServers {
				exp, _, err := ParseUsername(s.Username)
				if len(s.URLs) == 0 || err != nil || s.Credential != restPassword(testSecret, s.Username) || time.Until(exp) < 23*time.Hour {
					t.Errorf("bad entry %+v (%v)", s, err)
				}
			}
		})
	}
}

// watchedBody records whether anything read it.
type watchedBody struct {
	io.Reader
	read bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.read = true
	return b.Reader.Read(p)
}

func TestURIs(t *testing.T) {
	tests := []struct {
		host          string
		udp, tcp, tls int
		want          []string
	}{
		{"1.2.3.4", 3478, 3478, 5349, []string{"turn:1.2.3.4:3478?transport=udp", "turn:1.2.3.4:3478?transport=tcp", "turns:1.2.3.4:5349?transport=tcp"}},
		{"2001:db8::1", 3478, 0, 0, []string{"turn:[2001:db8::1]:3478?transport=udp"}},
		{"turn.example", 0, 443, 0, []string{"turn:turn.example:443?transport=tcp"}},
		{"x", 0, 0, 0, []string{}},
	}
	for _, tt := range tests {
		if got := URIs(tt.host, tt.udp, tt.tcp, tt.tls); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("URIs(%s) = %q, want %q", tt.host, got, tt.want)
		}
	}
}

func FuzzParseUsername(f *testing.F) {
	for _, s := range []string{"1700000000:alice", "1700000000", "x:y", "", ":", "1:2:3", "99999999999999999999:a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		exp, user, err := ParseUsername(s)
		if err != nil {
			return
		}
		// Whatever parses must round-trip through Mint's format.
		again := exp.Unix()
		u, _ := Mint("k", user, 0, time.Unix(again, 0))
		if exp2, user2, err := ParseUsername(u); err != nil || exp2.Unix() != again || user2 != user {
			t.Fatalf("%q parsed as (%d, %q) but %q re-parses as (%d, %q, %v)", s, again, user, u, exp2.Unix(), user2, err)
		}
	})
}

func FuzzParseTURNQuery(f *testing.F) {
	for _, s := range []string{"service=turn&username=alice", "username=a&key=k", "username=a%00b", "service=x", "username=&username=b", "%zz"} {
		f.Add(s, "k")
	}
	f.Fuzz(func(t *testing.T, rawQuery, apiKey string) {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return
		}
		user, err := ParseTURNQuery(q, apiKey, true)
		if err != nil {
			if errorStatus(err) == http.StatusInternalServerError {
				t.Fatalf("unmapped error %v", err)
			}
			return
		}
		if validRESTUser(user) != nil {
			t.Fatalf("accepted invalid user %q", user)
		}
		if apiKey != "" && q.Get("key") != apiKey {
			t.Fatalf("accepted wrong key %q", q.Get("key"))
		}
		// A minted username from an accepted user must parse back to it.
		u, _ := Mint("s", user, time.Hour, time.Now())
		if _, got, err := ParseUsername(u); err != nil || got != user {
			t.Fatalf("user %q: minted %q re-parses as %q, %v", user, u, got, err)
		}
	})
}
