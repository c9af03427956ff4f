//go:build !js

// Package check is `onertc check URL`: from any machine, it joins a throwaway room on a
// deployment with two headless bots and forces a relay-only call over each TURN transport
// the server offers (UDP, TCP, TLS), then says what works and how to fix what does not.
package check

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/onertc/onertc/bot"
	"github.com/onertc/onertc/client"
	"github.com/onertc/onertc/protocol"
)

// Transports are the TURN transports a check tries, in order.
var Transports = []string{"udp", "tcp", "tls"}

// Result is the outcome for one transport.
type Result struct {
	Transport string        `json:"transport"`
	URI       string        `json:"uri,omitempty"`
	OK        bool          `json:"ok"`
	Connected time.Duration `json:"connect_ns,omitempty"`
	Local     string        `json:"local_candidate,omitempty"`
	Remote    string        `json:"remote_candidate,omitempty"`
	Error     string        `json:"error,omitempty"`
	Fix       string        `json:"fix,omitempty"`
}

// Report is the whole check.
type Report struct {
	Server  string   `json:"server"`
	Results []Result `json:"results"`
	// Error is set when the check could not get as far as trying a transport.
	Error string `json:"error,omitempty"`
	Fix   string `json:"fix,omitempty"`
}

// CallWorks reports whether a relay-only call works over at least one transport: then a
// browser behind any NAT can reach the other side.
func (r Report) CallWorks() bool {
	for _, res := range r.Results {
		if res.OK {
			return true
		}
	}
	return false
}

// Options configure a check.
type Options struct {
	Server  string
	Timeout time.Duration // per transport; default 15 s
	Logger  *slog.Logger
	HTTP    *http.Client
}

// Run checks the deployment at opts.Server.
func Run(ctx context.Context, opts Options) Report {
	if opts.Timeout <= 0 {
		opts.Timeout = 15 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	rep := Report{Server: opts.Server}
	servers, err := iceServers(ctx, opts)
	if err != nil {
		rep.Error = err.Error()
		rep.Fix = "check that the URL is right and the server runs: curl " + strings.TrimRight(opts.Server, "/") + "/healthz"
		return rep
	}
	var turnURIs []string
	for _, s := range servers {
		turnURIs = append(turnURIs, s.URLs...)
	}
	if len(turnURIs) == 0 {
		rep.Error = "the server hands out no TURN servers (POST /v1alpha/iceconfig has none)"
		rep.Fix = "run onertc without --turn-disable, so browsers behind NAT get a relay"
		return rep
	}
	for _, tr := range Transports {
		uri := firstURI(turnURIs, tr)
		res := Result{Transport: tr, URI: uri}
		if uri == "" {
			res.Error = "not offered"
			if tr == "tls" {
				res.Fix = "optional: with --tls-cert/--tls-key or --acme-domain, TURN over TLS (port 5349) gets through firewalls that only allow HTTPS"
			}
			rep.Results = append(rep.Results, res)
			continue
		}
		res = tryTransport(ctx, opts, tr, uri)
		rep.Results = append(rep.Results, res)
	}
	return rep
}

func iceServers(ctx context.Context, opts Options) ([]protocol.ICEServer, error) {
	u, err := url.Parse(strings.TrimRight(opts.Server, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://host[:port]", opts.Server)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String()+"/v1alpha/iceconfig", strings.NewReader("{}"))
	if err != nil {
		return nil, fmt.Errorf("ice config request: %w", err)
	}
	resp, err := opts.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("server unreachable: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST /v1alpha/iceconfig: HTTP %d", resp.StatusCode)
	}
	var cfg protocol.ICEConfig
	if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil {
		return nil, fmt.Errorf("POST /v1alpha/iceconfig: %w", err)
	}
	return cfg.ICEServers, nil
}

// transportOf names the TURN transport of a URI: udp, tcp or tls (turns:).
func transportOf(uri string) string {
	switch {
	case strings.HasPrefix(uri, "turns:"):
		return "tls"
	case strings.Contains(uri, "transport=tcp"):
		return "tcp"
	case strings.HasPrefix(uri, "turn:"):
		return "udp"
	}
	return ""
}

func firstURI(uris []string, transport string) string {
	for _, u := range uris {
		if transportOf(u) == transport {
			return u
		}
	}
	return ""
}

// onlyTransport hands the bots only the TURN URIs of one transport, so a relay-only call
// can succeed over that transport alone.
type onlyTransport struct {
	client.Transport
	transport string
}

func (o onlyTransport) ICEServers(ctx context.Context, iceServerURL string) ([]protocol.ICEServer, error) {
	servers, err := o.Transport.ICEServers(ctx, iceServerURL)
	if err != nil {
		return nil, err
	}
	var out []protocol.ICEServer
	for _, s := range servers {
		var urls []string
		for _, u := range s.URLs {
			if transportOf(u) == o.transport {
				urls = append(urls, u)
			}
		}
		if len(urls) > 0 {
			s.URLs = urls
			out = append(out, s)
		}
	}
	return out, nil
}

func tryTransport(ctx context.Context, opts Options, transport, uri string) Result {
	res := Result{Transport: transport, URI: uri}
	var b [6]byte
	_, _ = rand.Read(b[:])
	roomID := "onertc-check-" + hex.EncodeToString(b[:])
	base, err := client.NewHTTPTransport(opts.Server, opts.HTTP)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, 2)
	sums := make([]bot.Summary, 2)
	for i := range 2 {
		b, err := bot.New(bot.Options{
			Server: opts.Server, Room: roomID, RelayOnly: true, Media: bot.MediaData,
			Duration: time.Second, Timeout: opts.Timeout, StatsEvery: -1, Index: i,
			Transport: onlyTransport{base, transport}, Logger: opts.Logger,
			OnRecord: func(r bot.Record) {
				if r.Event == "connected" && i == 0 {
					mu.Lock()
					res.Local, res.Remote = r.LocalCandidate, r.RemoteCandidate
					res.Connected = time.Duration(r.TimeMS) * time.Millisecond
					mu.Unlock()
				}
			},
		})
		if err != nil {
			res.Error = err.Error()
			return res
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[i], errs[i] = b.Run(ctx)
		}()
		if i == 0 {
			// Let the first bot join as initiator, as two people would.
			time.Sleep(200 * time.Millisecond)
		}
	}
	wg.Wait()
	if err := cmp.Or(errs[0], errs[1]); err != nil {
		res.Error = err.Error()
		res.Fix = fixFor(transport, uri)
		return res
	}
	if sums[0].Data.MessagesReceived == 0 || sums[1].Data.MessagesReceived == 0 {
		res.Error = "connected, but no data crossed the relay"
		res.Fix = fixFor(transport, uri)
		return res
	}
	res.OK = true
	return res
}

func fixFor(transport, uri string) string {
	hostPort := uri[strings.IndexByte(uri, ':')+1:]
	if i := strings.IndexByte(hostPort, '?'); i >= 0 {
		hostPort = hostPort[:i]
	}
	switch transport {
	case "udp":
		return "UDP to " + hostPort + " or to the relay ports does not get through: open UDP " + hostPort + " and the relay range (--relay-ports, default 49152-65535) in the firewall; behind NAT, set --public-ip to the public address and forward those ports"
	case "tcp":
		return "TCP to " + hostPort + " does not get through: open TCP " + hostPort + " in the firewall (and forward it behind NAT)"
	default:
		return "TURN over TLS to " + hostPort + " does not work: open TCP " + hostPort + ", and check the certificate is valid for that name (--tls-cert/--tls-key or --acme-domain)"
	}
}

// Print writes the report as a table a person reads.
func (r Report) Print(w interface{ Write([]byte) (int, error) }) {
	fmt.Fprintf(w, "onertc check %s\n", r.Server)
	if r.Error != "" {
		fmt.Fprintf(w, "  FAILED: %s\n  fix: %s\n", r.Error, r.Fix)
		return
	}
	fmt.Fprintf(w, "  %-4s  %-6s  %-8s  %s\n", "turn", "result", "connect", "detail")
	for _, res := range r.Results {
		status, detail := "ok", res.URI
		switch {
		case res.OK:
			detail = fmt.Sprintf("%s (%s <-> %s)", res.URI, res.Local, res.Remote)
		case res.Error == "not offered":
			status, detail = "-", "not offered"
		default:
			status, detail = "FAIL", res.URI+": "+res.Error
		}
		conn := ""
		if res.OK {
			conn = res.Connected.String()
		}
		fmt.Fprintf(w, "  %-4s  %-6s  %-8s  %s\n", res.Transport, status, conn, detail)
		if res.Fix != "" {
			fmt.Fprintf(w, "        fix: %s\n", res.Fix)
		}
	}
	if r.CallWorks() {
		fmt.Fprintln(w, "  => calls work: relay-only calls connect through this server's TURN")
	} else {
		fmt.Fprintln(w, "  => calls between people behind NAT will FAIL: no TURN transport works")
	}
}
