package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

// procSample is a process's CPU time and memory, and the kernel's UDP drop counters.
type procSample struct {
	cpuSec     float64 // utime+stime of the server
	selfCPUSec float64 // utime+stime of this load process
	rssKiB     int     // VmRSS
	hwmKiB     int     // VmHWM (peak RSS)
	rcvbufErrs uint64  // /proc/net/snmp Udp RcvbufErrors (whole host)
	drops      udpDrops
	host       hostCPU
}

// hostCPU is /proc/stat's first line in seconds: all cores, busy (not idle or iowait) and
// the softirq part of it (loopback delivery runs there).
type hostCPU struct{ busy, softirq float64 }

func readHostCPU() hostCPU {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return hostCPU{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return hostCPU{}
	}
	var v [8]float64
	for i := range v {
		n, _ := strconv.ParseUint(f[i+1], 10, 64)
		v[i] = float64(n) / clockTicks
	}
	// user nice system idle iowait irq softirq steal
	return hostCPU{busy: v[0] + v[1] + v[2] + v[5] + v[6] + v[7], softirq: v[6]}
}

// udpDrops splits /proc/net/udp's per-socket drop counters into the server's listener
// sockets, its relay sockets (the relay port range) and everyone else's (the load client's).
type udpDrops struct{ listener, relay, other uint64 }

type dropClassifier struct {
	listenPort         int
	relayMin, relayMax int
}

func sample(pid int, dc dropClassifier) procSample {
	var s procSample
	if pid > 0 {
		s.cpuSec = cpuSeconds(fmt.Sprintf("/proc/%d/stat", pid))
		s.rssKiB, s.hwmKiB = memKiB(fmt.Sprintf("/proc/%d/status", pid))
	}
	s.selfCPUSec = cpuSeconds("/proc/self/stat")
	s.rcvbufErrs = rcvbufErrors()
	s.drops = readUDPDrops(dc)
	s.host = readHostCPU()
	return s
}

func cpuSeconds(path string) float64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	// The command name may hold spaces: fields start after the last ')'.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 13 { // f[0] is field 3 (state); utime is field 14, stime 15
		return 0
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return float64(ut+st) / clockTicks
}

func memKiB(path string) (rss, hwm int) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm
}

func rcvbufErrors() uint64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0
	}
	var hdr []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "Udp:") {
			continue
		}
		f := strings.Fields(line)
		if hdr == nil {
			hdr = f
			continue
		}
		for i, name := range hdr {
			if name == "RcvbufErrors" && i < len(f) {
				n, _ := strconv.ParseUint(f[i], 10, 64)
				return n
			}
		}
	}
	return 0
}

func readUDPDrops(dc dropClassifier) udpDrops {
	var d udpDrops
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		return d
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 13 {
			continue
		}
		_, hexPort, ok := strings.Cut(fl[1], ":")
		if !ok {
			continue
		}
		port, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil {
			continue
		}
		n, _ := strconv.ParseUint(fl[len(fl)-1], 10, 64)
		switch p := int(port); {
		case p == dc.listenPort:
			d.listener += n
		case p >= dc.relayMin && p <= dc.relayMax:
			d.relay += n
		default:
			d.other += n
		}
	}
	return d
}
