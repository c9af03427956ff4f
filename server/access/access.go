// Package access holds what the server's password mode admits someone with: the password
// check, and the signed, expiring tokens of the session cookie (the whole server) and of
// invite links (one room). It knows nothing of HTTP; the server puts the tokens in cookies
// and decides which routes ask for them.
//
// A token is "v1.KIND.EXPIRY.ROOM.MAC": KIND is s (session) or i (invite), EXPIRY Unix
// seconds, ROOM empty for a session, MAC the unpadded base64url HMAC-SHA256 of the rest
// under the server's access key. Everything but the MAC is readable by its holder: it
// carries no secret, only what the server signed. Instances that share the key accept each
// other's tokens, so a browser admitted by one is admitted by every instance behind a
// load balancer.
package access

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/onertc/onertc/protocol"
)

// Mode is how the server admits people.
type Mode string

const (
	// Open admits anyone, as AppRTC does: anyone who can reach the server can open rooms
	// and get TURN credentials.
	Open Mode = "open"
	// Password admits holders of the session cookie (given for the server's password) and
	// of invite links (one room each).
	Password Mode = "password"
)

// ParseMode reads an --access value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Open, Password:
		return m, nil
	}
	return "", fmt.Errorf("%w: %q: want open or password", ErrMode, s)
}

// Sentinel errors.
var (
	ErrMode      = errors.New("unknown access mode")
	ErrMalformed = errors.New("malformed access token")
	ErrSignature = errors.New("access token not signed by this server")
	ErrExpired   = errors.New("access token expired")
)

// Kind says what a token admits.
type Kind byte

const (
	// Session admits every room: the password was given.
	Session Kind = 's'
	// Invite admits one room.
	Invite Kind = 'i'
)

// Grant is what a valid token admits.
type Grant struct {
	Kind    Kind
	Room    string // the invite's room; empty for a session
	Expires time.Time
}

// Admits says whether the grant lets its holder into room; room "" asks for something
// that belongs to no room (a TURN credential, the relay socket), which any grant gives.
func (g Grant) Admits(room string) bool {
	return g.Kind == Session || room == "" || g.Room == room
}

// Keeper checks passwords and signs and verifies tokens with one key.
type Keeper struct {
	key      []byte
	password [sha256.Size]byte // the MAC of the password, never the password itself
}

// Domain-separation labels: one key signs tokens and hashes passwords, and neither may
// be taken for the other; the key derived from the TURN secret must differ from anything
// TURN computes with that secret.
const (
	labelKey      = "onertc access key v1"
	labelToken    = "onertc access token v1\x00"
	labelPassword = "onertc access password v1\x00"
)

// DeriveKey makes the access key from a secret the instances share: the TURN secret or the
// content of --access-key-file.
func DeriveKey(secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(labelKey))
	return m.Sum(nil)
}

// NewKeeper returns a Keeper signing with key (see DeriveKey) and checking password.
func NewKeeper(key []byte, password string) *Keeper {
	k := &Keeper{key: append([]byte(nil), key...)}
	copy(k.password[:], k.mac(labelPassword, password))
	return k
}

func (k *Keeper) mac(label, s string) []byte {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(label))
	m.Write([]byte(s))
	return m.Sum(nil)
}

// CheckPassword says whether p is the password. It compares MACs of both, in constant
// time: how long it takes depends neither on where p differs nor on its length.
func (k *Keeper) CheckPassword(p string) bool {
	return hmac.Equal(k.mac(labelPassword, p), k.password[:])
}

// Sign makes a token of kind for room (empty for a session) that expires at expires.
func (k *Keeper) Sign(kind Kind, room string, expires time.Time) string {
	body := "v1." + string(kind) + "." + strconv.FormatInt(expires.Unix(), 10) + "." + room
	return body + "." + base64.RawURLEncoding.EncodeToString(k.mac(labelToken, body))
}

// Verify checks a token's signature, form and expiry at now.
func (k *Keeper) Verify(token string, now time.Time) (Grant, error) {
	if len(token) > 256 {
		return Grant{}, fmt.Errorf("%w: %d bytes", ErrMalformed, len(token))
	}
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return Grant{}, ErrMalformed
	}
	body, sig := token[:i], token[i+1:]
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return Grant{}, fmt.Errorf("%w: signature: %v", ErrMalformed, err)
	}
	// The decoder ignores the last character's unused bits, so one MAC has several
	// spellings: only Sign's own is accepted, one grant one token.
	if !hmac.Equal(got, k.mac(labelToken, body)) || base64.RawURLEncoding.EncodeToString(got) != sig {
		return Grant{}, ErrSignature
	}
	// Signed by us: the form below is ours, checked anyway so a bug cannot widen a grant.
	parts := strings.Split(body, ".")
	if len(parts) != 4 || parts[0] != "v1" || len(parts[1]) != 1 {
		return Grant{}, ErrMalformed
	}
	g := Grant{Kind: Kind(parts[1][0]), Room: parts[3]}
	switch {
	case g.Kind == Session && g.Room == "":
	case g.Kind == Invite && protocol.ValidID(g.Room):
	default:
		return Grant{}, fmt.Errorf("%w: kind %q room %q", ErrMalformed, parts[1], g.Room)
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return Grant{}, fmt.Errorf("%w: expiry: %v", ErrMalformed, err)
	}
	g.Expires = time.Unix(exp, 0)
	if !now.Before(g.Expires) {
		return Grant{}, fmt.Errorf("%w at %s", ErrExpired, g.Expires.UTC().Format(time.RFC3339))
	}
	return g, nil
}
