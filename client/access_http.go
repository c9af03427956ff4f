//go:build !js

package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// SignIn gives a server in password mode its password (POST /login, as the password form
// does). The session cookie it answers with stays in the transport's jar, so the join, the
// relay socket and the TURN credentials that follow are admitted.
func (t *HTTPTransport) SignIn(ctx context.Context, password string) error {
	u := t.endpoint("login")
	form := url.Values{"password": {password}, "next": {"/"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form))
	if err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := t.noRedirect().Do(req)
	if err != nil {
		return fmt.Errorf("sign in at %s: %w", u, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusSeeOther:
		return nil
	case http.StatusUnauthorized:
		return fmt.Errorf("sign in at %s: %w", u, ErrPasswordRefused)
	case http.StatusNotFound:
		return fmt.Errorf("sign in at %s: %w", u, ErrNoPassword)
	case http.StatusTooManyRequests:
		return fmt.Errorf("sign in at %s: too many attempts, try again in %s s: %w %d",
			u, resp.Header.Get("Retry-After"), ErrHTTPStatus, resp.StatusCode)
	}
	return fmt.Errorf("sign in at %s: %w %d", u, ErrHTTPStatus, resp.StatusCode)
}

// OpenInvite opens an invite link of this transport's server, as a browser would: the
// server answers with the invite cookie (in the jar from then on) and a redirect to the
// room. It returns the room the link is for.
func (t *HTTPTransport) OpenInvite(ctx context.Context, link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("%w: invite link %q: %v", ErrBadConfig, link, err)
	}
	room, ok := strings.CutPrefix(u.Path, "/r/")
	if u.Host != t.base.Host || !ok || u.Query().Get("invite") == "" {
		return "", fmt.Errorf("%w: invite link %q: want %s/r/ROOM?invite=...", ErrBadConfig, link, t.base)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base.ResolveReference(u).String(), nil)
	if err != nil {
		return "", fmt.Errorf("open invite: %w", err)
	}
	resp, err := t.noRedirect().Do(req)
	if err != nil {
		return "", fmt.Errorf("open invite: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusSeeOther:
		return room, nil
	case http.StatusUnauthorized:
		return "", fmt.Errorf("open invite to %s: %w", room, ErrInviteRefused)
	case http.StatusOK:
		return room, nil // an open server shows the room: nothing to be admitted to
	}
	return "", fmt.Errorf("open invite to %s: %w %d", room, ErrHTTPStatus, resp.StatusCode)
}

// noRedirect is the transport's client (same jar, TLS, timeout) stopping at a redirect:
// the answer to a sign-in or an invite is the cookie, not the page it leads to.
func (t *HTTPTransport) noRedirect() *http.Client {
	c := *t.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}
