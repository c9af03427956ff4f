//go:build !js

package oneport

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onertc/onertc/server"
)

// truncatedHello is the first part of a real TLS ClientHello: a record header promising
// more than follows.
func truncatedHello(t *testing.T) []byte {
	t.Helper()
	var rec recorder
	c := tls.Client(&rec, &tls.Config{ServerName: "oneport.test"})
	_ = c.Handshake() // fails at the first read; the hello is written by then
	if len(rec.Bytes()) < 60 || rec.Bytes()[0] != 0x16 {
		t.Fatalf("no ClientHello recorded: %x", rec.Bytes())
	}
	return rec.Bytes()[:60]
}

// recorder is a net.Conn that keeps what is written and reads nothing.
type recorder struct {
	net.Conn
	bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) { return r.Buffer.Write(p) }
func (r *recorder) Read([]byte) (int, error)    { return 0, io.EOF }
func (r *recorder) Close() error                { return nil }

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestBadInputOnTheHTTPSPort: 10,000 connections that send nothing, one byte, a truncated
// TLS hello, a STUN header and nothing more, or an HTTP request line and nothing more. Each
// is closed by the server (after the first-bytes deadline, shortened here, or at once when
// over the per-IP cap), pages from another address keep loading meanwhile, and goroutines
// and heap return to their idle level.
func TestBadInputOnTheHTTPSPort(t *testing.T) {
	const deadline = 300 * time.Millisecond
	r, _ := startShared(t, server.WithFirstBytesTimeout(deadline))
	base := r.URL
	// The flood comes from 127.0.0.1; the good client from 127.0.0.2, another IP for the
	// per-IP caps (all of 127/8 is loopback on Linux).
	good := h2Client(t, "127.0.0.2")
	for range 3 {
		if err := getH2(good, base+"/"); err != nil {
			t.Fatalf("before: %v", err)
		}
	}
	good.CloseIdleConnections()
	idleGoroutines, idleHeap := runtime.NumGoroutine(), heapInUse()
	failedBefore, overCapBefore := portMetric(t, good, base, "failed"), portMetric(t, good, base, "over_cap")

	stun := []byte{0x00, 0x03, 0x00, 0x10, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12} // Allocate, 16 bytes promised
	payloads := [][]byte{nil, {0x16}, truncatedHello(t), stun, []byte("GET / HTTP/1.1\r\n")}
	addr := strings.TrimPrefix(base, "https://")

	const total, workers = 10000, 200
	var next, notClosed, dialFailed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 512)
			for {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
				if err != nil {
					dialFailed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				if p := payloads[i%int64(len(payloads))]; len(p) > 0 {
					_, _ = c.Write(p)
				}
				// The server must close it: read until EOF (or a reset), within far more
				// than the deadline but far less than forever.
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				for {
					_, err := c.Read(buf)
					if err == nil {
						continue // e.g. the redirect server's 408, or a TLS alert
					}
					if errors.Is(err, os.ErrDeadlineExceeded) {
						notClosed.Add(1)
					}
					break
				}
				c.Close()
			}
		}()
	}

	// Meanwhile, pages load for a client at another address.
	stop := make(chan struct{})
	var pages, slowest atomic.Int64
	var pageErr atomic.Value
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			if err := getH2(good, base+"/healthz"); err != nil {
				pageErr.CompareAndSwap(nil, err)
			}
			pages.Add(1)
			if d := int64(time.Since(start)); d > slowest.Load() {
				slowest.Store(d)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	wg.Wait()
	close(stop)

	if n := notClosed.Load(); n > 0 {
		t.Errorf("%d of %d connections were still open 10 s after sending their bytes", n, total)
	}
	if n := dialFailed.Load(); n > 0 {
		t.Errorf("%d connections could not even be made: %v", n, firstErr.Load())
	}
	if err := pageErr.Load(); err != nil {
		t.Errorf("a page failed to load during the flood: %v", err)
	}
	if pages.Load() == 0 {
		t.Error("no page loaded during the flood")
	}
	t.Logf("during the flood: %d pages loaded from 127.0.0.2, slowest %v", pages.Load(), time.Duration(slowest.Load()))
	// Both defences took part: connections over the per-IP pending cap were closed at
	// accept, the others when their deadline passed.
	failed, overCap := portMetric(t, good, base, "failed")-failedBefore, portMetric(t, good, base, "over_cap")-overCapBefore
	t.Logf("closed at the deadline or for bad bytes: %v; over the per-IP cap: %v", failed, overCap)
	if failed == 0 || overCap == 0 {
		t.Errorf("failed %v, over_cap %v: want both > 0", failed, overCap)
	}

	good.CloseIdleConnections()
	eventually(t, 30*time.Second, "goroutines back to their idle level", func() bool {
		return runtime.NumGoroutine() <= idleGoroutines+2
	})
	eventually(t, 30*time.Second, "heap back to its idle level", func() bool {
		return heapInUse() <= idleHeap+8<<20
	})
	if err := getH2(good, base+"/"); err != nil {
		t.Fatalf("after: %v", err)
	}
}

// TestSilentConnectionClosedWithinTenSeconds: with the default deadline, a connection that
// sends nothing is closed within 10 s.
func TestSilentConnectionClosedWithinTenSeconds(t *testing.T) {
	t.Parallel()
	r, _ := startShared(t)
	c, err := net.Dial("tcp4", strings.TrimPrefix(r.URL, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(15 * time.Second))
	_, err = c.Read(make([]byte, 1))
	if errors.Is(err, os.ErrDeadlineExceeded) || err == nil {
		t.Fatalf("silent connection still open after %v (read: %v)", time.Since(start), err)
	}
	if d := time.Since(start); d > 10*time.Second+500*time.Millisecond {
		t.Fatalf("silent connection closed after %v; want 10 s", d)
	}
}
