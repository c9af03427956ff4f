package main

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// httpsResult is one HTTPS requests/s measurement.
type httpsResult struct {
	Kind     string  `json:"kind"` // "https"
	Server   string  `json:"server"`
	Mode     string  `json:"mode"` // keepalive (HTTP/2, one connection per worker) or handshake (a new TLS connection per request)
	Requests uint64  `json:"requests"`
	Errors   uint64  `json:"errors"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
}

// runHTTPS measures GET requests/s on an HTTPS URL: with -new-conns every request opens a
// TLS connection (what the HTTPS port's first-bytes routing costs is paid per connection).
func runHTTPS(args []string) error {
	var c common
	fs := flag.NewFlagSet("https", flag.ExitOnError)
	c.register(fs)
	url := fs.String("url", "", "HTTPS URL to GET")
	workers := fs.Int("workers", 16, "concurrent workers")
	d := fs.Duration("duration", 4*time.Second, "how long")
	newConns := fs.Bool("new-conns", false, "a new TLS connection per request (else HTTP/2 keep-alive)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" {
		return errors.New("-url is required")
	}
	mode := "keepalive"
	if *newConns {
		mode = "handshake"
	}
	var reqs, errs atomic.Uint64
	var wg sync.WaitGroup
	start := time.Now()
	for range *workers {
		tr := &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // a benchmark, not a CA check
			ForceAttemptHTTP2: !*newConns,
			DisableKeepAlives: *newConns,
		}
		hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer tr.CloseIdleConnections()
			for time.Since(start) < *d {
				resp, err := hc.Get(*url)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != http.StatusOK {
					errs.Add(1)
					continue
				}
				reqs.Add(1)
			}
		}()
	}
	wg.Wait()
	sec := time.Since(start).Seconds()
	r := httpsResult{Kind: "https", Server: c.server, Mode: mode, Requests: reqs.Load(), Errors: errs.Load(), Seconds: sec, RPS: float64(reqs.Load()) / sec}
	if r.Requests == 0 {
		return fmt.Errorf("https %s %s: no request succeeded (%d errors)", c.server, mode, r.Errors)
	}
	return c.emit(r)
}

// runHTTPSReport prints the HTTPS results of -in as a markdown table: requests/s of each
// server label and mode (min / median / max over the rounds) and the ratio -b/-a of medians.
func runHTTPSReport(args []string) error {
	fs := flag.NewFlagSet("httpsreport", flag.ExitOnError)
	in := fs.String("in", "", "JSON lines written by load https")
	a := fs.String("a", "", "reference server label")
	b := fs.String("b", "", "compared server label")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	rps := map[string][]float64{} // server/mode
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r httpsResult
		if json.Unmarshal(sc.Bytes(), &r) != nil || r.Kind != "https" {
			continue
		}
		rps[r.Server+"/"+r.Mode] = append(rps[r.Server+"/"+r.Mode], r.RPS)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Printf("| HTTPS GET /healthz | %s req/s (min / median / max) | %s req/s | %s / %s |\n|---|---|---|---|\n", *a, *b, *b, *a)
	for _, mode := range []string{"keepalive", "handshake"} {
		ra, rb := rps[*a+"/"+mode], rps[*b+"/"+mode]
		if len(ra) == 0 || len(rb) == 0 {
			return fmt.Errorf("no %s samples for %s or %s: a failed benchmark", mode, *a, *b)
		}
		fmt.Printf("| %s | %s | %s | %.2f× |\n", mode, spread(ra), spread(rb), median(rb)/median(ra))
	}
	return nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func spread(v []float64) string {
	return fmt.Sprintf("%.0f / %.0f / %.0f", slices.Min(v), median(v), slices.Max(v))
}
