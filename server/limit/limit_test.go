package limit

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestPerIPAllow(t *testing.T) {
	a, b := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
	t0 := time.Unix(1_000_000, 0)
	tests := []struct {
		name      string
		perSecond float64
		burst     float64
		// steps: address, offset from t0, allowed?
		steps []struct {
			ip   netip.Addr
			at   time.Duration
			want bool
		}
	}{
		{"burst then refuse, other address unaffected", 1, 3, []struct {
			ip   netip.Addr
			at   time.Duration
			want bool
		}{{a, 0, true}, {a, 0, true}, {a, 0, true}, {a, 0, false}, {b, 0, true}, {a, time.Second, true}, {a, time.Second, false}}},
		{"fractional rate, burst at least one", 0.2, 1, []struct {
			ip   netip.Addr
			at   time.Duration
			want bool
		}{{a, 0, true}, {a, time.Second, false}, {a, 5 * time.Second, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewPerIP("test", tt.perSecond, tt.burst)
			for i, st := range tt.steps {
				ok, wait := l.Allow(st.ip, t0.Add(st.at))
				if ok != st.want {
					t.Fatalf("step %d (%s at %v): allowed %v, want %v", i, st.ip, st.at, ok, st.want)
				}
				if !ok && wait <= 0 {
					t.Fatalf("step %d: refused with wait %v, want a positive wait", i, wait)
				}
			}
		})
	}
}

func TestPerIPOffAndSweep(t *testing.T) {
	if l := NewPerIP("off", 0, 10); l != nil {
		t.Fatal("a zero rate made a table")
	}
	var off *PerIP
	if ok, _ := off.Allow(netip.MustParseAddr("192.0.2.1"), time.Now()); !ok || off.Len() != 0 {
		t.Fatal("a nil table refused or holds entries")
	}
	l := NewPerIP("sweep", 1, 1)
	t0 := time.Unix(1_000_000, 0)
	for i := range 100 {
		l.Allow(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), t0)
	}
	if l.Len() != 100 {
		t.Fatalf("Len = %d, want 100", l.Len())
	}
	// Idle entries go on the next use after a sweep is due; a fresh one stays.
	l.Allow(netip.MustParseAddr("198.51.100.1"), t0.Add(idleAfter+2*time.Minute))
	if l.Len() != 1 {
		t.Fatalf("after the idle time Len = %d, want 1", l.Len())
	}
}

func TestWrap(t *testing.T) {
	l := NewPerIP("join", 1, 1)
	var refused []string
	h := l.Wrap(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") },
		func(*http.Request) netip.Addr { return netip.MustParseAddr("192.0.2.9") },
		func(class string) { refused = append(refused, class) })
	for i, want := range []int{http.StatusOK, http.StatusTooManyRequests} {
		rec := httptest.NewRecorder()
		h(rec, httptest.NewRequest("POST", "/join/r", nil))
		if rec.Code != want {
			t.Fatalf("request %d: %d, want %d", i, rec.Code, want)
		}
		if want == http.StatusTooManyRequests && rec.Header().Get("Retry-After") != "1" {
			t.Fatalf("Retry-After = %q, want 1", rec.Header().Get("Retry-After"))
		}
	}
	if len(refused) != 1 || refused[0] != "join" {
		t.Fatalf("refused = %v, want [join]", refused)
	}
}

// A body sent a byte at a time is cut at the deadline; one without a body is not.
func TestBodyDeadline(t *testing.T) {
	errs := make(chan error, 1)
	h := BodyDeadline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		errs <- err
	}), 200*time.Millisecond, slog.New(slog.DiscardHandler))
	ts := httptest.NewServer(h)
	defer ts.Close()

	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
	select {
	case err := <-errs:
		if !BodyTimedOut(err) {
			t.Fatalf("slow body read: %v, want a timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a stalled body was not cut")
	}
	if BodyTimedOut(io.ErrUnexpectedEOF) || BodyTimedOut(context.Canceled) {
		t.Fatal("BodyTimedOut says yes to errors that are not timeouts")
	}

	resp, err := http.Post(ts.URL, "text/plain", strings.NewReader("whole"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-errs; err != nil {
		t.Fatalf("a body sent at once: %v", err)
	}
}
