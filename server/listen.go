package server

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"

	"github.com/onertc/onertc/server/handover"
	"github.com/onertc/onertc/server/turn"
)

// The names of the listeners in a hand-over (see Listeners.Sockets).
const (
	sockHTTP, sockRedirect, sockMetrics, sockPprof = "http", "redirect", "metrics", "pprof"
	sockTURNUDP, sockTURNTCP, sockTURNTLS          = "turn-udp", "turn-tcp", "turn-tls"
	sockSFU                                        = "sfu-udp"
)

// Listen opens the sockets cfg names.
func Listen(cfg Config) (Listeners, error) { return ListenInherited(cfg, nil, nil) }

// ListenInherited opens the sockets cfg names, taking each from in (the sockets a previous
// process handed over, see server/handover) when in holds it on the port cfg asks for, and
// binding it otherwise. An inherited socket on another port (the configuration changed) is
// closed: the new address is bound instead. in may be nil; log says which were taken.
func ListenInherited(cfg Config, in *handover.Inherited, log *slog.Logger) (Listeners, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if in != nil {
		defer in.Close() // what nobody took
	}
	var ls Listeners
	stream := func(name, addr string) (net.Listener, error) {
		if in != nil {
			got, err := in.Listeners(name)
			if err != nil {
				return nil, err
			}
			for i, l := range got {
				if i == 0 && samePort(l.Addr(), addr) {
					log.Info("listening on an inherited socket", "name", name, "addr", l.Addr().String())
					closeListeners(got[1:])
					return l, nil
				}
				l.Close()
			}
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen %s %s: %w", name, addr, err)
		}
		return l, nil
	}
	fail := func(err error) (Listeners, error) {
		ls.Close()
		return Listeners{}, err
	}
	var err error
	if ls.HTTP, err = stream(sockHTTP, cfg.HTTPAddr); err != nil {
		return fail(err)
	}
	if !cfg.TURN.Disabled {
		if ls.TURNUDP, err = turnUDP(cfg, in, log); err != nil {
			return fail(err)
		}
		tcp, err := stream(sockTURNTCP, cfg.TURN.Addr)
		if err != nil {
			return fail(err)
		}
		ls.TURNTCP = []net.Listener{tcp}
	}
	if cfg.TLS.Enabled() && !cfg.TURN.Disabled && cfg.TURN.TLSAddr != "" {
		tl, err := stream(sockTURNTLS, cfg.TURN.TLSAddr)
		if err != nil {
			return fail(err)
		}
		ls.TURNTLS = []net.Listener{tl}
	}
	if cfg.groupRooms() {
		if ls.SFU, err = sfuUDP(cfg, in, log); err != nil {
			return fail(err)
		}
	}
	for _, o := range []struct {
		name, addr string
		into       *net.Listener
	}{
		{sockRedirect, cfg.TLS.HTTPRedirect, &ls.Redirect},
		{sockMetrics, cfg.MetricsAddr, &ls.Metrics},
		{sockPprof, cfg.PprofAddr, &ls.Pprof},
	} {
		if o.addr == "" {
			continue
		}
		if *o.into, err = stream(o.name, o.addr); err != nil {
			return fail(err)
		}
	}
	return ls, nil
}

// turnUDP opens the TURN UDP sockets: one per CPU sharing the port, or those inherited.
func turnUDP(cfg Config, in *handover.Inherited, log *slog.Logger) ([]net.PacketConn, error) {
	if in != nil {
		got, err := in.PacketConns(sockTURNUDP)
		if err != nil {
			return nil, err
		}
		if len(got) > 0 && samePort(got[0].LocalAddr(), cfg.TURN.Addr) {
			log.Info("listening on inherited sockets", "name", sockTURNUDP, "addr", got[0].LocalAddr().String(), "sockets", len(got))
			return got, nil
		}
		for _, pc := range got {
			pc.Close()
		}
	}
	udp, err := turn.ListenUDP("udp", cfg.TURN.Addr, runtime.NumCPU())
	if err != nil {
		return nil, fmt.Errorf("listen TURN udp %s: %w", cfg.TURN.Addr, err)
	}
	return udp, nil
}

// sfuUDP opens the SFU's UDP socket, or takes the one inherited.
func sfuUDP(cfg Config, in *handover.Inherited, log *slog.Logger) (net.PacketConn, error) {
	if in != nil {
		got, err := in.PacketConns(sockSFU)
		if err != nil {
			return nil, err
		}
		for i, pc := range got {
			if i == 0 && samePort(pc.LocalAddr(), cfg.SFUAddr) {
				log.Info("listening on an inherited socket", "name", sockSFU, "addr", pc.LocalAddr().String())
				for _, rest := range got[1:] {
					rest.Close()
				}
				return pc, nil
			}
			pc.Close()
		}
	}
	pc, err := net.ListenPacket("udp", cfg.SFUAddr)
	if err != nil {
		return nil, fmt.Errorf("listen SFU udp %s: %w", cfg.SFUAddr, err)
	}
	if uc, ok := pc.(*net.UDPConn); ok {
		// Every participant's media arrives on this one socket: the default buffer drops
		// bursts (docs/facts.md, TURN).
		_ = uc.SetReadBuffer(4 << 20)
	}
	return pc, nil
}

// samePort reports whether a socket bound at a serves the configured address addr: the same
// port (an inherited socket's host is what the old configuration resolved to; port 0 asks
// for any).
func samePort(a net.Addr, addr string) bool {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	want, err := strconv.Atoi(p)
	return err == nil && (want == 0 || want == portOf(a))
}

// Sockets are ls's sockets by name, for a hand-over to a new process.
func (ls Listeners) Sockets() []handover.Socket {
	var out []handover.Socket
	add := func(name string, c interface{ File() (*os.File, error) }) {
		out = append(out, handover.Socket{Name: name, Conn: c})
	}
	for _, l := range []struct {
		name string
		l    net.Listener
	}{{sockHTTP, ls.HTTP}, {sockRedirect, ls.Redirect}, {sockMetrics, ls.Metrics}, {sockPprof, ls.Pprof}} {
		if f, ok := l.l.(interface{ File() (*os.File, error) }); ok && l.l != nil {
			add(l.name, f)
		}
	}
	for _, pc := range ls.TURNUDP {
		if f, ok := pc.(interface{ File() (*os.File, error) }); ok {
			add(sockTURNUDP, f)
		}
	}
	if f, ok := ls.SFU.(interface{ File() (*os.File, error) }); ok && ls.SFU != nil {
		add(sockSFU, f)
	}
	for name, lns := range map[string][]net.Listener{sockTURNTCP: ls.TURNTCP, sockTURNTLS: ls.TURNTLS} {
		for _, l := range lns {
			if f, ok := l.(interface{ File() (*os.File, error) }); ok {
				add(name, f)
			}
		}
	}
	return out
}

// Close closes every listener that is set.
func (ls Listeners) Close() {
	closeListeners(append(append([]net.Listener{ls.HTTP, ls.Metrics, ls.Pprof, ls.Redirect}, ls.TURNTCP...), ls.TURNTLS...))
	for _, pc := range ls.TURNUDP {
		pc.Close()
	}
	if ls.SFU != nil {
		ls.SFU.Close()
	}
}

func closeListeners(ls []net.Listener) {
	for _, l := range ls {
		if l != nil {
			l.Close()
		}
	}
}
