//go:build !js

// Package check is `onertc check URL`: from any machine, it joins a throwaway room on a
// deployment with two headless bots and forces a relay-only call over each TURN transport
// the server offers (UDP, TCP, and TLS — on the HTTPS port when the server shares it, the
// one path through networks that let only 443 out), then says what works from where it
// runs and how to fix what does not.
package check

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
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
	Transport string `json:"transport"`
	URI       string `json:"uri,omitempty"`
	// OnHTTPSPort is set when URI is on the port the pages come from (TURN sharing 443).
	OnHTTPSPort bool          `json:"on_https_port,omitempty"`
	OK          bool          `json:"ok"`
	Connected   time.Duration `json:"connect_ns,omitempty"`
	Local       string        `json:"local_candidate,omitempty"`
	Remote      string        `json:"remote_candidate,omitempty"`
	Error       string        `json:"error,omitempty"`
	Fix         string        `json:"fix,omitempty"`
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

// errKeyRefused: the server has a --turn-api-key and was not given it.
var errKeyRefused = errors.New("the server wants its TURN API key")

// errPasswordWanted: the server is in password mode and check was given no password.
var errPasswordWanted = errors.New("the server asks for a password (--access password)")

// Options configure a check.
type Options struct {
	Server string
	APIKey string // the server's --turn-api-key, if it has one
	// Password is the server's password, for a server in password mode: check signs in
	// first, and its requests and the bots' carry the cookie.
	Password string
	Timeout  time.Duration // per transport; default 15 s
	Logger   *slog.Logger
	HTTP     *http.Client
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
	if opts.HTTP.Jar == nil {
		// One jar for check's own requests and the bots': the session cookie of a server
		// in password mode admits both.
		withJar := *opts.HTTP
		withJar.Jar, _ = cookiejar.New(nil) // never fails without options
		opts.HTTP = &withJar
	}
	rep := Report{Server: opts.Server}
	if opts.Password != "" {
		if err := signIn(ctx, opts); err != nil {
			rep.Error = err.Error()
			rep.Fix = "give the password the server reads from its --access-password-file, in a file: --password-file FILE"
			return rep
		}
	}
	servers, err := iceServers(ctx, opts)
	if err != nil {
		rep.Error = err.Error()
		rep.Fix = "check that the URL is right and the server runs: curl " + strings.TrimRight(opts.Server, "/") + "/healthz"
		switch {
		case errors.Is(err, errKeyRefused):
			rep.Fix = "pass the server's --turn-api-key with --turn-api-key-file FILE"
		case errors.Is(err, errPasswordWanted):
			rep.Fix = "pass the server's password with --password-file FILE"
		}
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
	httpsPort := serverPort(opts.Server)
	for _, tr := range Transports {
		uri := firstURI(turnURIs, tr, httpsPort)
		res := Result{Transport: tr, URI: uri}
		if uri == "" {
			res.Error = "not offered"
			if tr == "tls" {
				res.Fix = "optional: with HTTPS on (--tls-cert/--tls-key or --acme-domain) onertc serves TURN over TLS on the HTTPS port too, which gets through firewalls that only allow 443"
			}
			rep.Results = append(rep.Results, res)
			continue
		}
		res = tryTransport(ctx, opts, tr, uri)
		res.OnHTTPSPort = httpsPort != "" && uriPort(uri) == httpsPort
		if !res.OK && res.OnHTTPSPort {
			res.Fix = "TURN over TLS on the HTTPS port " + uriPort(uri) + " does not work although the pages load there: check that --public-host is the name the certificate is for, and that nothing in front of onertc terminates TLS on that port (TURN must reach onertc itself)"
		}
		rep.Results = append(rep.Results, res)
	}
	return rep
}

// serverPort is the port of a server URL, explicit or implied by its scheme.
func serverPort(server string) string {
	u, err := url.Parse(server)
	if err != nil {
		return ""
	}
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// uriPort is the port of a TURN URI (turn[s]:host:port?transport=…).
func uriPort(uri string) string {
	hostPort := uri[strings.IndexByte(uri, ':')+1:]
	if i := strings.IndexByte(hostPort, '?'); i >= 0 {
		hostPort = hostPort[:i]
	}
	_, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return ""
	}
	return port
}

func iceServers(ctx context.Context, opts Options) ([]protocol.ICEServer, error) {
	u, err := url.Parse(strings.TrimRight(opts.Server, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://host[:port]", opts.Server)
	}
	endpoint := u.JoinPath("/v1alpha/iceconfig")
	if opts.APIKey != "" {
		endpoint.RawQuery = url.Values{"key": {opts.APIKey}}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint.String(), strings.NewReader("{}"))
	if err != nil {
		return nil, fmt.Errorf("ice config request: %w", err)
	}
	resp, err := opts.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("server unreachable: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, fmt.Errorf("POST /v1alpha/iceconfig: HTTP 401: %w", errPasswordWanted)
	}
	if resp.StatusCode == http.StatusForbidden {
		if opts.APIKey == "" {
			return nil, fmt.Errorf("POST /v1alpha/iceconfig: HTTP 403: %w", errKeyRefused)
		}
		return nil, fmt.Errorf("POST /v1alpha/iceconfig: HTTP 403 with the key given: %w", errKeyRefused)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST /v1alpha/iceconfig: HTTP %d", resp.StatusCode)
	}
	var cfg protocol.ICEConfig
	if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil {
		return nil, fmt.Errorf("POST /v1alpha/iceconfig: %w", err)
	}
	return cfg.ICEServers, nil
}

// signIn gives the server its password; the cookie lands in opts.HTTP's jar.
func signIn(ctx context.Context, opts Options) error {
	tr, err := client.NewHTTPTransport(opts.Server, opts.HTTP)
	if err != nil {
		return err
	}
	return tr.SignIn(ctx, opts.Password)
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

// firstURI is the first URI of a transport; for TLS, the one on the HTTPS port first.
func firstURI(uris []string, transport, httpsPort string) string {
	first := ""
	for _, u := range uris {
		if transportOf(u) != transport {
			continue
		}
		if transport == "tls" && httpsPort != "" && uriPort(u) == httpsPort {
			return u
		}
		if first == "" {
			first = u
		}
	}
	return first
}

// onlyURI hands the bots only one TURN URI, so a relay-only call can succeed over that
// transport and port alone.
type onlyURI struct {
	client.Transport
	uri string
}

func (o onlyURI) ICEServers(ctx context.Context, iceServerURL string) ([]protocol.ICEServer, error) {
	servers, err := o.Transport.ICEServers(ctx, iceServerURL)
	if err != nil {
		return nil, err
	}
	var out []protocol.ICEServer
	for _, s := range servers {
		var urls []string
		for _, u := range s.URLs {
			if u == o.uri {
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
			Transport: onlyURI{base, uri}, Logger: opts.Logger,
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
	fmt.Fprintf(w, "  %-13s  %-6s  %-8s  %s\n", "turn", "result", "connect", "detail")
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
		fmt.Fprintf(w, "  %-13s  %-6s  %-8s  %s\n", res.label(), status, conn, detail)
		if res.Fix != "" {
			fmt.Fprintf(w, "        fix: %s\n", res.Fix)
		}
	}
	var works []string
	for _, res := range r.Results {
		if res.OK {
			works = append(works, res.label())
		}
	}
	if len(works) > 0 {
		fmt.Fprintf(w, "  from here: %s works\n", strings.Join(works, ", "))
	}
	if r.CallWorks() {
		fmt.Fprintln(w, "  => calls work: relay-only calls connect through this server's TURN")
	} else {
		fmt.Fprintln(w, "  => calls between people behind NAT will FAIL: no TURN transport works")
	}
}

// label names the transport as a person reads it: "tls on 443" when TURN over TLS shares
// the HTTPS port.
func (r Result) label() string {
	if r.OnHTTPSPort {
		return r.Transport + " on " + uriPort(r.URI)
	}
	return r.Transport
}
