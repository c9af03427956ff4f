package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/a-h/templ"

	"github.com/onertc/onertc/protocol"
)

// Render writes the page c of p with status and the headers every page carries: no
// caching (the pre-filled room name and the occupancy are per request) and the security
// headers (SecurityHeaders). The request's context is not the render's: a client gone
// mid-page must not leave a half-rendered template behind a cancelled context.
func Render(w http.ResponseWriter, r *http.Request, status int, p Page, c templ.Component) error {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	var params *protocol.Params
	if p.Config.Params != nil {
		params = &p.Config.Params.Params
	}
	SecurityHeaders(h, params)
	w.WriteHeader(status)
	if err := c.Render(context.WithoutCancel(r.Context()), w); err != nil {
		return fmt.Errorf("render page %s: %w", p.Config.Page, err)
	}
	return nil
}

// SecurityHeaders allows exactly what the app needs: its own scripts and styles,
// WebAssembly compilation ('wasm-unsafe-eval', not 'unsafe-eval'), fetch and WebSocket to
// this server (and to an external relay chosen with ?wshpp=, named in p), camera streams in
// media elements; nothing may frame the page.
func SecurityHeaders(h http.Header, p *protocol.Params) {
	connect := []string{"'self'"}
	if p != nil {
		for _, u := range []string{p.WSSURL, p.WSSPostURL} {
			if o := urlOrigin(u); o != "" && !slices.Contains(connect, o) {
				connect = append(connect, o)
			}
		}
	}
	h.Set("Content-Security-Policy", strings.Join([]string{
		"default-src 'none'",
		"script-src 'self' 'wasm-unsafe-eval'",
		"style-src 'self'",
		"img-src 'self' data:",
		"media-src 'self'", // camera streams are set as srcObject, which CSP does not govern
		"connect-src " + strings.Join(connect, " "),
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; "))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self), fullscreen=(self)")
}

// urlOrigin is scheme://host of u, or "" when u is not an absolute URL.
func urlOrigin(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" || p.Host == "" {
		return ""
	}
	return p.Scheme + "://" + p.Host
}
