package turn

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // HMAC-SHA1 is what the TURN REST scheme (and coTurn) specify.
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pion/stun"
	pionturn "github.com/pion/turn/v2"
)

// Reasons an authentication attempt is refused, as counted in Stats.AuthFailures.
const (
	ReasonMalformed    = "malformed_username"
	ReasonBadTimestamp = "bad_timestamp"
	ReasonExpired      = "expired"
	ReasonWrongRealm   = "wrong_realm"
	ReasonBadPassword  = "bad_password" // wrong secret or password: MESSAGE-INTEGRITY mismatch
	ReasonWrongUser    = "wrong_user"   // a 5-tuple's allocation was made with another username
)

var authReasons = []string{ReasonMalformed, ReasonBadTimestamp, ReasonExpired, ReasonWrongRealm, ReasonBadPassword, ReasonWrongUser}

// maxUsernameLen is the STUN USERNAME limit (RFC 8489: fewer than 509 bytes).
const maxUsernameLen = 508

// Mint returns TURN REST credentials valid for ttl from now, as coTurn's use-auth-secret
// expects them: username "<unix expiry>:<user>" (just "<unix expiry>" when user is empty)
// and password base64(HMAC-SHA1(secret, username)).
func Mint(secret, user string, ttl time.Duration, now time.Time) (username, pass string) {
	username = strconv.FormatInt(now.Add(ttl).Unix(), 10)
	if user != "" {
		username += ":" + user
	}
	return username, restPassword(secret, username)
}

func restPassword(secret, username string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ParseUsername splits a TURN REST username "<unix expiry>[:<user>]" into its expiry and user.
func ParseUsername(username string) (expiry time.Time, user string, err error) {
	if username == "" || len(username) > maxUsernameLen {
		return time.Time{}, "", fmt.Errorf("%w: length %d", ErrMalformedUsername, len(username))
	}
	ts, user, found := strings.Cut(username, ":")
	if !allDigits(ts) {
		if !found {
			return time.Time{}, "", fmt.Errorf("%w: no expiry timestamp", ErrMalformedUsername)
		}
		return time.Time{}, "", fmt.Errorf("%w: %q", ErrBadTimestamp, trunc(ts, 24))
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || secs > 1<<40 { // 1<<40 s is ~36,000 years: anything later is garbage
		return time.Time{}, "", fmt.Errorf("%w: %q", ErrBadTimestamp, trunc(ts, 24))
	}
	return time.Unix(secs, 0), user, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// authenticator checks long-term credentials of the TURN REST scheme against one or two
// secrets. It is pure: the memory of which 5-tuples may outlive their credential is the
// registry's.
type authenticator struct {
	realm   string
	secrets []string // current first
}

func newAuthenticator(realm, secret, oldSecret string) *authenticator {
	a := &authenticator{realm: realm, secrets: []string{secret}}
	if oldSecret != "" && oldSecret != secret {
		a.secrets = append(a.secrets, oldSecret)
	}
	return a
}

// check verifies a request's credentials and MESSAGE-INTEGRITY. With ignoreExpiry, an
// expired but otherwise valid credential passes (a live allocation refreshing). It returns
// the key that verified the message, or the refusal reason.
func (a *authenticator) check(m *stun.Message, username, realm string, now time.Time, ignoreExpiry bool) (key []byte, reason string) {
	if realm != a.realm {
		return nil, ReasonWrongRealm
	}
	expiry, _, err := ParseUsername(username)
	switch {
	case err == nil:
	case errors.Is(err, ErrBadTimestamp):
		return nil, ReasonBadTimestamp
	default:
		return nil, ReasonMalformed
	}
	if !ignoreExpiry && !now.Before(expiry) {
		return nil, ReasonExpired
	}
	// The username does not say which secret signed it; try the current one, then the old.
	for _, s := range a.secrets {
		k := pionturn.GenerateAuthKey(username, realm, restPassword(s, username))
		if stun.MessageIntegrity(k).Check(m) == nil {
			return k, ""
		}
	}
	return nil, ReasonBadPassword
}
