package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/onertc/onertc/server/access"
	"github.com/onertc/onertc/server/limit"
	"github.com/onertc/onertc/web"
	"github.com/onertc/onertc/web/page"
)

// Cookie names. The session cookie admits every room; the invite cookie holds the token of
// the last invite link opened, for its room.
const (
	sessionCookie = "onertc_session"
	inviteCookie  = "onertc_invite"
)

// loginRate and loginBurst bound password attempts per client IP: five at once, then one
// every five seconds, so guessing a password of any strength by trial is hopeless.
const (
	loginRate  = 0.2
	loginBurst = 25 // seconds' worth: 5 attempts
)

// setupAccess builds the token keeper in password mode (s.access stays nil in open mode).
// Its key comes from --access-key-file or from the TURN secret, both shared by the
// instances behind a load balancer, so each accepts the others' cookies and invites.
func (s *Server) setupAccess() {
	if s.cfg.Access.Mode != string(access.Password) {
		return
	}
	secret := s.cfg.Access.Key
	if secret == "" && s.turn != nil {
		secret = s.turn.secret
	}
	if secret == "" {
		var b [32]byte
		_, _ = rand.Read(b[:])
		secret = hex.EncodeToString(b[:])
		s.log.Info("access: cookies and invites are signed with a random key for this run; set --access-key-file to keep them valid across restarts")
	}
	s.access = access.NewKeeper(access.DeriveKey(secret), s.cfg.Access.Password)
	s.limiters.login = limit.NewPerIP("login", loginRate, loginBurst)
}

// grant is what r's cookies admit; false when they admit nothing.
func (s *Server) grant(r *http.Request) (access.Grant, bool) {
	now := time.Now()
	if c, err := r.Cookie(sessionCookie); err == nil {
		if g, err := s.access.Verify(c.Value, now); err == nil && g.Kind == access.Session {
			return g, true
		}
	}
	if c, err := r.Cookie(inviteCookie); err == nil {
		if g, err := s.access.Verify(c.Value, now); err == nil && g.Kind == access.Invite {
			return g, true
		}
	}
	return access.Grant{}, false
}

// admits says whether r may use room (empty: something of no room: TURN credentials, the
// relay socket, /params). Open mode admits everyone.
//
// The relay socket is not tied to a room here, yet an invite for one room opens no other:
// a register names a client id that only a /join of that room hands out.
func (s *Server) admits(r *http.Request, room string) bool {
	if s.access == nil {
		return true
	}
	g, ok := s.grant(r)
	return ok && g.Admits(room)
}

// guard answers 401, {"error": ...}, to an API request that its cookies do not admit to the
// {room} of its path (pages use admitPage, which shows the password form instead).
func (s *Server) guard(h http.HandlerFunc) http.HandlerFunc {
	if s.access == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.admits(r, r.PathValue("room")) {
			s.logFor(r).Debug("access: refused", "path", r.URL.Path)
			writeJSON(w, http.StatusUnauthorized, accessError{
				"this server asks for a password: sign in at /login or open an invite link to this room"})
			return
		}
		h(w, r)
	}
}

type accessError struct {
	Error string `json:"error"`
}

// admitPage lets a page through, or answers it with the password form (401). A valid
// ?invite= for the page's room is put in the invite cookie and the page reloaded without
// it, so the token leaves the address bar and history.
func (s *Server) admitPage(w http.ResponseWriter, r *http.Request, room string) bool {
	if s.access == nil {
		return true
	}
	if tok := r.URL.Query().Get("invite"); tok != "" {
		g, err := s.access.Verify(tok, time.Now())
		if err == nil && g.Kind == access.Invite && g.Admits(room) {
			s.setCookie(w, r, inviteCookie, tok, g.Expires)
			q := r.URL.Query()
			q.Del("invite")
			target := r.URL.Path
			if len(q) > 0 {
				target += "?" + q.Encode()
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return false
		}
		if s.admits(r, room) {
			return true // signed in already: the stale link does not matter
		}
		s.logFor(r).Info("access: invite refused", "room", room, "err", err)
		s.loginPage(w, r, r.URL.Path, "This invite link has expired or is not for this room. Ask for a new one, or enter the password.")
		return false
	}
	if s.admits(r, room) {
		return true
	}
	s.loginPage(w, r, r.URL.RequestURI(), "")
	return false
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, next, problem string) {
	s.renderLogin(w, r, http.StatusUnauthorized, next, problem)
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, next, problem string) {
	p := web.Page{Title: "Password · onertc", Assets: web.DefaultAssets(),
		Config: page.Config{Page: page.Login}, Next: next, Problem: problem}
	s.renderStatus(w, r, status, p, web.LoginPage(p))
}

// handleLoginForm is the password form on its own address (the 401s name it), sending the
// browser to ?next= (a local path) once signed in.
func (s *Server) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, r, http.StatusOK, localPath(r.URL.Query().Get("next")), "")
}

// setCookie sets an HttpOnly, SameSite=Lax cookie until expires; Secure when the browser
// reached us over https (directly or through a trusted proxy), which is the only way it
// can be kept from a network that watches.
func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", Expires: expires,
		MaxAge: max(1, int(time.Until(expires).Seconds())), HttpOnly: true,
		Secure: s.trust.Of(r).Secure, SameSite: http.SameSiteLaxMode})
}

// handleLogin checks the password posted by the form (or a bot) and, when right, gives the
// session cookie and sends the browser where it was going. Attempts are rate-limited per
// client IP and failures logged; a wrong password costs the same time as a right one.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	ip := s.trust.ClientIP(r)
	if ok, wait := s.limiters.login.Allow(ip, time.Now()); !ok {
		s.metrics.limited.WithLabelValues("login").Inc()
		s.logFor(r).Warn("access: password attempts over the limit", "remote", ip.String())
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
	if !s.access.CheckPassword(r.PostForm.Get("password")) {
		s.logFor(r).Warn("access: wrong password", "remote", ip.String())
		s.loginPage(w, r, next, "Wrong password.")
		return
	}
	s.setCookie(w, r, sessionCookie, s.access.Sign(access.Session, "", time.Now().Add(s.cfg.Access.SessionTTL)), time.Now().Add(s.cfg.Access.SessionTTL))
	s.logFor(r).Info("access: signed in", "remote", ip.String())
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

// inviteResponse is POST /invite/ROOM's answer.
type inviteResponse struct {
	URL     string `json:"url"`
	Expires string `json:"expires"`
}

// handleInvite gives someone who signed in with the password a link to one room that
// admits its holder without the password until it expires. An invite holder cannot make
// invites: the guest's access stays the one room, for the time the host chose.
func (s *Server) handleInvite(w http.ResponseWriter, r *http.Request) {
	roomID, _, ok := ids(w, r, false)
	if !ok {
		return
	}
	if g, ok := s.grant(r); !ok || g.Kind != access.Session {
		writeJSON(w, http.StatusUnauthorized, accessError{"only someone signed in with the password can make invite links"})
		return
	}
	exp := time.Now().Add(s.cfg.Access.InviteTTL)
	link := s.trust.Of(r).HTTP() + "/r/" + roomID + "?invite=" + url.QueryEscape(s.access.Sign(access.Invite, roomID, exp))
	s.logFor(r).Info("access: invite made", "room", roomID, "expires", exp.UTC().Format(time.RFC3339))
	writeJSON(w, http.StatusOK, inviteResponse{URL: link, Expires: exp.UTC().Format(time.RFC3339)})
}

// accessMode is the mode the pages tell the app, so it offers invite links in password mode.
func (s *Server) accessMode() string {
	if s.access == nil {
		return ""
	}
	return string(access.Password)
}
