// Package admission is password mode at the HTTP level: which requests the cookies admit to
// which room, the password form and sign-in, and invite links. The tokens themselves are
// package access's; which routes ask for admission is decided where the routes are wired.
package admission

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/access"
	"github.com/onertc/onertc/server/limit"
	"github.com/onertc/onertc/server/origin"
	"github.com/onertc/onertc/server/requestid"
	"github.com/onertc/onertc/web"
	"github.com/onertc/onertc/web/page"
)

// Cookie names. The session cookie admits every room; the invite cookie holds the token of
// the last invite link opened, for its room.
const (
	SessionCookie = "onertc_session"
	InviteCookie  = "onertc_invite"
)

// loginRate and loginBurst bound password attempts per client IP: five at once, then one
// every five seconds, so guessing a password of any strength by trial is hopeless.
const (
	loginRate  = 0.2
	loginBurst = 25 // seconds' worth: 5 attempts
)

// Config is what a Gate needs.
type Config struct {
	// Password is the one password of password mode.
	Password string
	// Key signs the tokens; every instance behind a load balancer must have the same, so
	// each accepts the others' cookies and invites. Empty: a random key for this run.
	Key        string
	SessionTTL time.Duration
	InviteTTL  time.Duration
	Trust      origin.Trust
	Log        *slog.Logger
	// Limited is told of each refusal of the password rate limit (for metrics).
	Limited func(class string)
}

// Gate admits requests in password mode. A nil *Gate is open mode: it admits everyone and
// serves no routes of its own.
type Gate struct {
	cfg    Config
	keeper *access.Keeper
	logins *limit.PerIP
}

// New makes password mode's gate.
func New(cfg Config) *Gate {
	secret := cfg.Key
	if secret == "" {
		var b [32]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
		secret = hex.EncodeToString(b[:])
		cfg.Log.Info("access: cookies and invites are signed with a random key for this run; set --access-key-file to keep them valid across restarts")
	}
	if cfg.Limited == nil {
		cfg.Limited = func(string) {}
	}
	return &Gate{cfg: cfg, keeper: access.NewKeeper(access.DeriveKey(secret), cfg.Password),
		logins: limit.NewPerIP("login", loginRate, loginBurst)}
}

// Mode is the mode the pages tell the app, so it offers invite links in password mode.
func (g *Gate) Mode() string {
	if g == nil {
		return ""
	}
	return string(access.Password)
}

// Routes adds password mode's own routes to mux (none in open mode).
func (g *Gate) Routes(mux *http.ServeMux) {
	if g == nil {
		return
	}
	mux.HandleFunc("POST /login", g.login)
	mux.HandleFunc("GET /login", g.loginForm)
	mux.HandleFunc("POST /invite/{room}", g.invite)
}

// grant is what r's cookies admit; false when they admit nothing.
func (g *Gate) grant(r *http.Request) (access.Grant, bool) {
	now := time.Now()
	if c, err := r.Cookie(SessionCookie); err == nil {
		if gr, err := g.keeper.Verify(c.Value, now); err == nil && gr.Kind == access.Session {
			return gr, true
		}
	}
	if c, err := r.Cookie(InviteCookie); err == nil {
		if gr, err := g.keeper.Verify(c.Value, now); err == nil && gr.Kind == access.Invite {
			return gr, true
		}
	}
	return access.Grant{}, false
}

// Admits says whether r may use room (empty: something of no room: TURN credentials, the
// relay socket, /params). Open mode admits everyone.
//
// The relay socket is not tied to a room here, yet an invite for one room opens no other:
// a register names a client id that only a /join of that room hands out.
func (g *Gate) Admits(r *http.Request, room string) bool {
	if g == nil {
		return true
	}
	gr, ok := g.grant(r)
	return ok && gr.Admits(room)
}

// Guard answers 401, {"error": ...}, to an API request that its cookies do not admit to the
// {room} of its path (pages use AdmitPage, which shows the password form instead).
func (g *Gate) Guard(h http.HandlerFunc) http.HandlerFunc {
	if g == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if !g.Admits(r, r.PathValue("room")) {
			g.logFor(r).Debug("access: refused", "path", r.URL.Path)
			writeError(w, http.StatusUnauthorized, "this server asks for a password: sign in at /login or open an invite link to this room")
			return
		}
		h(w, r)
	}
}

// AdmitPage lets a page through, or answers it with the password form (401). A valid
// ?invite= for the page's room is put in the invite cookie and the page reloaded without
// it, so the token leaves the address bar and history.
func (g *Gate) AdmitPage(w http.ResponseWriter, r *http.Request, room string) bool {
	if g == nil {
		return true
	}
	if tok := r.URL.Query().Get("invite"); tok != "" {
		gr, err := g.keeper.Verify(tok, time.Now())
		if err == nil && gr.Kind == access.Invite && gr.Admits(room) {
			g.setCookie(w, r, InviteCookie, tok, gr.Expires)
			q := r.URL.Query()
			q.Del("invite")
			target := r.URL.Path
			if len(q) > 0 {
				target += "?" + q.Encode()
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return false
		}
		if g.Admits(r, room) {
			return true // signed in already: the stale link does not matter
		}
		g.logFor(r).Info("access: invite refused", "room", room, "err", err)
		g.renderLogin(w, r, http.StatusUnauthorized, r.URL.Path, "This invite link has expired or is not for this room. Ask for a new one, or enter the password.")
		return false
	}
	if g.Admits(r, room) {
		return true
	}
	g.renderLogin(w, r, http.StatusUnauthorized, r.URL.RequestURI(), "")
	return false
}

func (g *Gate) renderLogin(w http.ResponseWriter, r *http.Request, status int, next, problem string) {
	p := web.Page{Title: "Password · onertc", Assets: web.DefaultAssets(),
		Config: page.Config{Page: page.Login}, Next: next, Problem: problem}
	if err := web.Render(w, r, status, p, web.LoginPage(p)); err != nil {
		g.cfg.Log.Warn("login page", "err", err)
	}
}

// loginForm is the password form on its own address (the 401s name it), sending the
// browser to ?next= (a local path) once signed in.
func (g *Gate) loginForm(w http.ResponseWriter, r *http.Request) {
	g.renderLogin(w, r, http.StatusOK, localPath(r.URL.Query().Get("next")), "")
}

// setCookie sets an HttpOnly, SameSite=Lax cookie until expires; Secure when the browser
// reached us over https (directly or through a trusted proxy), which is the only way it
// can be kept from a network that watches.
func (g *Gate) setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", Expires: expires,
		MaxAge: max(1, int(time.Until(expires).Seconds())), HttpOnly: true,
		Secure: g.cfg.Trust.Of(r).Secure, SameSite: http.SameSiteLaxMode})
}

// login checks the password posted by the form (or a bot) and, when right, gives the
// session cookie and sends the browser where it was going. Attempts are rate-limited per
// client IP and failures logged; a wrong password costs the same time as a right one.
func (g *Gate) login(w http.ResponseWriter, r *http.Request) {
	ip := g.cfg.Trust.ClientIP(r)
	if ok, wait := g.logins.Allow(ip, time.Now()); !ok {
		g.cfg.Limited(g.logins.Class())
		g.logFor(r).Warn("access: password attempts over the limit", "remote", ip.String())
		limit.TooMany(w, wait, "too many password attempts: wait a little")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "form too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return
	}
	next := localPath(r.PostForm.Get("next"))
	if !g.keeper.CheckPassword(r.PostForm.Get("password")) {
		g.logFor(r).Warn("access: wrong password", "remote", ip.String())
		g.renderLogin(w, r, http.StatusUnauthorized, next, "Wrong password.")
		return
	}
	exp := time.Now().Add(g.cfg.SessionTTL)
	g.setCookie(w, r, SessionCookie, g.keeper.Sign(access.Session, "", exp), exp)
	g.logFor(r).Info("access: signed in", "remote", ip.String())
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// localPath is p when it is a path on this server, else "/": a login form must not send
// the browser elsewhere.
func localPath(p string) string {
	u, err := url.Parse(p)
	if err != nil || p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") ||
		strings.Contains(p, "\\") || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return p
}

// invite gives someone who signed in with the password a link to one room that admits its
// holder without the password until it expires. An invite holder cannot make invites: the
// guest's access stays the one room, for the time the host chose.
func (g *Gate) invite(w http.ResponseWriter, r *http.Request) {
	roomID := r.PathValue("room")
	if !protocol.ValidID(roomID) {
		http.Error(w, protocol.InvalidRoomText, http.StatusNotFound)
		return
	}
	if gr, ok := g.grant(r); !ok || gr.Kind != access.Session {
		writeError(w, http.StatusUnauthorized, "only someone signed in with the password can make invite links")
		return
	}
	exp := time.Now().Add(g.cfg.InviteTTL)
	link := g.cfg.Trust.Of(r).HTTP() + "/r/" + roomID + "?invite=" + url.QueryEscape(g.keeper.Sign(access.Invite, roomID, exp))
	g.logFor(r).Info("access: invite made", "room", roomID, "expires", exp.UTC().Format(time.RFC3339))
	writeJSON(w, http.StatusOK, protocol.InviteResponse{URL: link, Expires: exp.UTC().Format(time.RFC3339)})
}

func (g *Gate) logFor(r *http.Request) *slog.Logger { return requestid.Logger(g.cfg.Log, r) }

// writeError answers {"error": msg}, the shape of every refusal of this package.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, struct {
		Error string `json:"error"`
	}{msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone; nothing to do then
}
