package handover

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// childEnv makes the test binary act as the new process (see TestMain).
const childEnv = "HANDOVER_TEST_CHILD"

// TestMain runs the child's part when the test binary is started by Start: it takes the
// inherited sockets and serves them (HTTP on "http", an echo on "udp"), then says it is
// ready, or misbehaves as its parent's test asks.
func TestMain(m *testing.M) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		os.Exit(m.Run())
	}
	in, err := FromEnv()
	if err != nil || in == nil {
		fmt.Fprintln(os.Stderr, "child: no sockets:", err)
		os.Exit(3)
	}
	switch mode {
	case "exit":
		os.Exit(4)
	case "hang":
		time.Sleep(time.Hour)
	}
	lns, err := in.Listeners("http")
	if err != nil || len(lns) != 1 {
		fmt.Fprintln(os.Stderr, "child: http:", err, len(lns))
		os.Exit(5)
	}
	pcs, err := in.PacketConns("udp")
	if err != nil || len(pcs) != 2 {
		fmt.Fprintln(os.Stderr, "child: udp:", err, len(pcs))
		os.Exit(6)
	}
	in.Close()
	if os.Getenv(EnvFDs) != "" {
		fmt.Fprintln(os.Stderr, "child: the variable is still set")
		os.Exit(7)
	}
	for _, pc := range pcs {
		go func() {
			buf := make([]byte, 100)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo(append([]byte("child:"), buf[:n]...), from)
			}
		}()
	}
	go http.Serve(lns[0], http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "child") }))
	if err := in.Ready(); err != nil {
		os.Exit(8)
	}
	time.Sleep(time.Hour) // killed by the test
}

// Sockets go to a real new process, which serves them once the old one closed its copies;
// a new process that exits or never gets ready fails the hand-over and the old process's
// sockets still work.
func TestStart(t *testing.T) {
	for _, tt := range []struct {
		mode    string
		wantErr string
	}{
		{"serve", ""},
		{"exit", "exited before serving"},
		{"hang", "not serving after"},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			var udp []*net.UDPConn
			for range 2 {
				pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					t.Fatal(err)
				}
				defer pc.Close()
				udp = append(udp, pc)
			}
			t.Setenv(childEnv, tt.mode)
			var stderr strings.Builder
			pid, err := Start(Config{Path: os.Args[0], Args: []string{"-test.run=^$"}, Timeout: 3 * time.Second,
				Stderr: &stderr, Sockets: []Socket{
					{Name: "http", Conn: ln.(*net.TCPListener)},
					{Name: "udp", Conn: udp[0]}, {Name: "udp", Conn: udp[1]},
				}})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Start = %v, want an error with %q", err, tt.wantErr)
				}
				// The old process still serves its listener.
				go func() {
					if c, err := ln.Accept(); err == nil {
						c.Write([]byte("parent\n"))
						c.Close()
					}
				}()
				if got := readLine(t, ln.Addr().String()); got != "parent" {
					t.Fatalf("after a failed hand-over the listener answered %q", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Start: %v\n%s", err, stderr.String())
			}
			proc, _ := os.FindProcess(pid)
			defer func() { proc.Kill(); proc.Wait() }()
			// Let go, as the old process does once the new one serves.
			ln.Close()
			for _, pc := range udp {
				pc.Close()
			}
			resp, err := http.Get("http://" + ln.Addr().String())
			if err != nil {
				t.Fatalf("the new process does not serve the handed-over listener: %v", err)
			}
			body := make([]byte, 10)
			n, _ := resp.Body.Read(body)
			resp.Body.Close()
			if string(body[:n]) != "child" {
				t.Fatalf("answer %q, want child", body[:n])
			}
			for _, pc := range udp {
				c, err := net.Dial("udp4", pc.LocalAddr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.Write([]byte("ping"))
				c.SetReadDeadline(time.Now().Add(3 * time.Second))
				buf := make([]byte, 100)
				n, err := c.Read(buf)
				if err != nil || string(buf[:n]) != "child:ping" {
					t.Fatalf("UDP %s answered %q (%v), want child:ping", pc.LocalAddr(), buf[:n], err)
				}
			}
		})
	}
}

func readLine(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	l, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(l)
}

// A malformed variable is an error naming what is wrong, not a silent ordinary start.
func TestParseErrors(t *testing.T) {
	for _, tt := range []struct{ env, want string }{
		{"http", "not name:fd"},
		{"http:x", "not name:fd"},
		{"http:1", "not name:fd"},
		{":5", "not name:fd"},
		{"http:100", "no ready pipe"},
	} {
		if _, err := parse(tt.env); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parse(%q) = %v, want an error with %q", tt.env, err, tt.want)
		}
	}
}
