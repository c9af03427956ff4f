package certs

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// RedirectHandler sends plain-HTTP requests to https on the same host,
// keeping path and query, for a listener such as --http-redirect :80.
// httpsPort is the port of the HTTPS listener; 0 or 443 leaves it out of the
// URL. GET and HEAD get 301 Moved Permanently; other methods get 400, since
// their body already crossed the network in clear text.
func RedirectHandler(httpsPort int) http.Handler {
	if httpsPort < 0 || httpsPort > 65535 {
		panic(fmt.Sprintf("certs: RedirectHandler: https port %d out of range", httpsPort))
	}
	port := ""
	if httpsPort != 0 && httpsPort != 443 {
		port = strconv.Itoa(httpsPort)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "use https", http.StatusBadRequest)
			return
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h // drop the plain-HTTP port
		}
		host = strings.Trim(host, "[]")
		if host == "" {
			http.Error(w, "missing Host header", http.StatusBadRequest)
			return
		}
		switch {
		case port != "":
			host = net.JoinHostPort(host, port)
		case strings.Contains(host, ":"): // IPv6 literal
			host = "[" + host + "]"
		}
		u := url.URL{Scheme: "https", Host: host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
		http.Redirect(w, r, u.String(), http.StatusMovedPermanently)
	})
}
