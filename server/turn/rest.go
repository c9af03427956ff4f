package turn

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/onertc/onertc/protocol"
)

// DefaultTTL is the lifetime of minted credentials when RESTConfig.TTL is zero.
const DefaultTTL = 24 * time.Hour

// maxRESTUser bounds the user part of a requested username.
const maxRESTUser = 128

// RESTConfig configures the credential endpoints.
type RESTConfig struct {
	// Secret signs the credentials (the TURN server's current Secret).
	Secret string
	// TTL is how long minted credentials are valid; default DefaultTTL.
	TTL time.Duration
	// APIKey, when set, must be passed as the key query parameter, to either endpoint.
	APIKey string
	// URIs returns the TURN URIs to hand out for a request (see URIs); nil or empty means
	// no TURN server to offer.
	URIs func(r *http.Request) []string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// NewRESTHandlers returns the handlers of GET /turn (the TURN REST API of
// draft-uberti-behave-turn-rest, as coTurn deployments serve it) and POST /v1alpha/iceconfig
// (the iceServers format AppRTC clients request). The caller mounts them.
func NewRESTHandlers(cfg RESTConfig) (turnHandler, iceConfigHandler http.Handler) {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &restHandlers{cfg: cfg}
	return http.HandlerFunc(h.turn), http.HandlerFunc(h.iceConfig)
}

type restHandlers struct{ cfg RESTConfig }

func (h *restHandlers) uris(r *http.Request) []string {
	if h.cfg.URIs == nil {
		return []string{}
	}
	var out []string
	for _, u := range h.cfg.URIs(r) {
		if u != "" {
			out = append(out, u)
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}

func (h *restHandlers) turn(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, fmt.Errorf("%w: %s", ErrMethod, r.Method))
		return
	}
	user, err := ParseTURNQuery(r.URL.Query(), h.cfg.APIKey, true)
	if err != nil {
		writeError(w, err)
		return
	}
	username, pass := Mint(h.cfg.Secret, user, h.cfg.TTL, h.cfg.Now())
	writeJSON(w, http.StatusOK, protocol.TURNCredentials{
		Username: username,
		Password: pass,
		TTL:      int(h.cfg.TTL / time.Second),
		URIs:     h.uris(r),
	})
}

func (h *restHandlers) iceConfig(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, fmt.Errorf("%w: %s", ErrMethod, r.Method))
		return
	}
	// The key, when set, guards this endpoint as it guards /turn: both mint the same
	// credentials, and a key that left one of them open would keep nobody out. Browsers
	// cannot hold a key (AppRTC's page sends "?key=" empty), so with a key the room app's
	// clients get their credentials from /join instead (see the server's joinICEServers).
	user, err := ParseTURNQuery(r.URL.Query(), h.cfg.APIKey, false)
	if err != nil {
		writeError(w, err)
		return
	}
	// AppRTC posts an empty or small JSON body that carries nothing we need; it is read
	// only so the connection can serve the next request.
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<10))
	if user == "" {
		user = randomUser()
	}
	cfg := protocol.ICEConfig{ICEServers: []protocol.ICEServer{}}
	if uris := h.uris(r); len(uris) > 0 { // never an entry with empty urls
		username, pass := Mint(h.cfg.Secret, user, h.cfg.TTL, h.cfg.Now())
		cfg.ICEServers = append(cfg.ICEServers, protocol.ICEServer{URLs: uris, Username: username, Credential: pass})
	}
	writeJSON(w, http.StatusOK, cfg)
}

// ParseTURNQuery checks the query of a credential request: the key when apiKey is set, the
// service (only "turn"), and the username, required when needUser. It returns the username.
func ParseTURNQuery(q url.Values, apiKey string, needUser bool) (string, error) {
	if apiKey != "" {
		key := q.Get("key")
		if key == "" {
			return "", fmt.Errorf("%w: missing key", ErrForbidden)
		}
		if subtle.ConstantTimeCompare([]byte(key), []byte(apiKey)) != 1 {
			return "", fmt.Errorf("%w: wrong key", ErrForbidden)
		}
	}
	if s, ok := q["service"]; ok && (len(s) != 1 || s[0] != "turn") {
		return "", fmt.Errorf("%w: service must be \"turn\"", ErrBadRequest)
	}
	vals, ok := q["username"]
	switch {
	case !ok || (len(vals) == 1 && vals[0] == ""):
		if needUser {
			return "", fmt.Errorf("%w: missing username", ErrBadRequest)
		}
		return "", nil
	case len(vals) > 1:
		return "", fmt.Errorf("%w: more than one username", ErrBadRequest)
	}
	if err := validRESTUser(vals[0]); err != nil {
		return "", err
	}
	return vals[0], nil
}

// validRESTUser accepts 1–128 printable ASCII characters other than ':' (which separates
// the expiry in the TURN username).
func validRESTUser(u string) error {
	if len(u) == 0 || len(u) > maxRESTUser {
		return fmt.Errorf("%w: username must be 1-%d characters", ErrBadRequest, maxRESTUser)
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; c <= ' ' || c >= 0x7f || c == ':' {
			return fmt.Errorf("%w: username has a character other than printable ASCII without ':'", ErrBadRequest)
		}
	}
	return nil
}

func randomUser() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errorStatus is the one mapping from this package's errors to HTTP statuses.
func errorStatus(err error) int {
	switch {
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrMethod):
		return http.StatusMethodNotAllowed
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, err error) {
	writeJSON(w, errorStatus(err), protocol.ErrorBody{Error: err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// URIs returns the TURN URIs of a server reachable at host, in the order clients should
// try them: turn:…?transport=udp and ?transport=tcp for the ports that are > 0, then
// turns:…?transport=tcp for each TLS port > 0 (the HTTPS port first, when it serves TURN:
// the one path through firewalls that let only 443 out). IPv6 literals are bracketed.
func URIs(host string, udpPort, tcpPort int, tlsPorts ...int) []string {
	hp := func(port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
	out := []string{}
	if udpPort > 0 {
		out = append(out, "turn:"+hp(udpPort)+"?transport=udp")
	}
	if tcpPort > 0 {
		out = append(out, "turn:"+hp(tcpPort)+"?transport=tcp")
	}
	for _, p := range tlsPorts {
		if p > 0 {
			out = append(out, "turns:"+hp(p)+"?transport=tcp")
		}
	}
	return out
}
