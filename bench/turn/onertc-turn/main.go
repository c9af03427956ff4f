// Command onertc-turn runs onertc's TURN server alone on loopback for bench/turn/run.sh:
// UDP (one SO_REUSEPORT socket per CPU) and TCP on -port, REST-secret auth, loopback peers
// allowed. It exits on SIGINT/SIGTERM (writing the -cpuprofile, if asked, on the way out).
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/onertc/onertc/server/turn"
)

func main() {
	port := flag.Int("port", 3478, "TURN port (udp and tcp) on 127.0.0.1")
	secret := flag.String("secret", "", "shared secret (use-auth-secret)")
	realm := flag.String("realm", "bench", "realm")
	minPort := flag.Int("min-port", 61000, "lowest relay port")
	maxPort := flag.Int("max-port", 65535, "highest relay port")
	sockets := flag.Int("sockets", runtime.NumCPU(), "UDP listener sockets (SO_REUSEPORT)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile, from start to exit, to this file")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			log.Error("onertc-turn: cpu profile", "err", err)
			os.Exit(1)
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	if err := run(log, *port, *secret, *realm, *minPort, *maxPort, *sockets); err != nil {
		log.Error("onertc-turn", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, port int, secret, realm string, minPort, maxPort, sockets int) error {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	pcs, err := turn.ListenUDP("udp4", addr, sockets)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		return err
	}
	s, err := turn.New(turn.Config{
		Realm: realm, Secret: secret, PublicIP: net.IPv4(127, 0, 0, 1), RelayAddress: "127.0.0.1",
		RelayPortMin: uint16(minPort), RelayPortMax: uint16(maxPort), AllowLoopback: true,
		PacketConns: pcs, Listeners: []net.Listener{l}, OwnPorts: []int{port}, Logger: log,
	})
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	st := s.Stats()
	fmt.Fprintf(os.Stderr, "stats: allocations=%d to_peer=%d from_peer=%d auth_failures=%v\n",
		st.AllocationsTotal, st.ToPeerPackets, st.FromPeerPackets, st.AuthFailures)
	return s.Close()
}
