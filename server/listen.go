package server

import (
	"fmt"
	"net"
)

// Listen opens the sockets cfg names.
func Listen(cfg Config) (Listeners, error) {
	var ls Listeners
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return ls, fmt.Errorf("listen http %s: %w", cfg.HTTPAddr, err)
	}
	ls.HTTP = ln
	if err := listenTURN(cfg, &ls); err != nil {
		ls.Close()
		return Listeners{}, err
	}
	if cfg.TLS.Enabled() && !cfg.TURN.Disabled && cfg.TURN.TLSAddr != "" {
		tl, err := net.Listen("tcp", cfg.TURN.TLSAddr)
		if err != nil {
			ls.Close()
			return Listeners{}, fmt.Errorf("listen TURN tls %s: %w", cfg.TURN.TLSAddr, err)
		}
		ls.TURNTLS = []net.Listener{tl}
	}
	if cfg.TLS.HTTPRedirect != "" {
		if ls.Redirect, err = net.Listen("tcp", cfg.TLS.HTTPRedirect); err != nil {
			ls.Close()
			return Listeners{}, fmt.Errorf("listen http redirect %s: %w", cfg.TLS.HTTPRedirect, err)
		}
	}
	if cfg.MetricsAddr != "" {
		if ls.Metrics, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			ls.Close()
			return Listeners{}, fmt.Errorf("listen metrics %s: %w", cfg.MetricsAddr, err)
		}
	}
	if cfg.PprofAddr != "" {
		if ls.Pprof, err = net.Listen("tcp", cfg.PprofAddr); err != nil {
			ls.Close()
			return Listeners{}, fmt.Errorf("listen pprof %s: %w", cfg.PprofAddr, err)
		}
	}
	return ls, nil
}

// Close closes every listener that is set.
func (ls Listeners) Close() {
	for _, l := range append(append([]net.Listener{ls.HTTP, ls.Metrics, ls.Pprof, ls.Redirect}, ls.TURNTCP...), ls.TURNTLS...) {
		if l != nil {
			l.Close()
		}
	}
	for _, pc := range ls.TURNUDP {
		pc.Close()
	}
}
