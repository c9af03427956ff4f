// Package handover passes listening sockets from a running process to a new one started from
// the same (or an upgraded) binary, so that a restart refuses no connection: the old process
// starts the new one with its sockets as inherited file descriptors, the new one serves them
// instead of binding its addresses and says when it is serving, and only then does the old
// one let go of them.
//
// The sockets are named in the variable EnvFDs as "name:fd" pairs ("http:3,turn-udp:4"); one
// more descriptor, named "ready", is the write end of a pipe on which the new process writes
// one byte once it serves. A name may repeat (several UDP sockets share the TURN port).
package handover

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// EnvFDs names the inherited descriptors. It has no ONERTC_ prefix: it is not a setting.
const EnvFDs = "HANDOVER_FDS"

// readyName is the descriptor of the readiness pipe.
const readyName = "ready"

// Socket is one listening socket to pass on, by name.
type Socket struct {
	Name string
	// Conn is the listener or packet conn; its File (a duplicate descriptor) is passed.
	Conn interface{ File() (*os.File, error) }
}

// Config is how to start the new process.
type Config struct {
	Path    string   // the binary, resolved when the old process started
	Args    []string // its arguments, without the program name
	Sockets []Socket
	// Env are variables ("KEY=value") the new process gets besides this one's.
	Env []string
	// Timeout bounds the wait for the new process to serve.
	Timeout time.Duration
	// Stdout and Stderr are the new process's (the old one's, for the journal).
	Stdout, Stderr io.Writer
}

// Start starts the new process and waits until it serves (it has written to the readiness
// pipe), it exits, or Timeout passes; then the new process is on its own. On failure the new
// process is killed and the error says why; the caller's sockets are untouched either way.
func Start(cfg Config) (pid int, err error) {
	if cfg.Timeout <= 0 {
		return 0, errors.New("handover: a timeout is needed")
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close() // the child has its own copies
		}
	}()
	var names []string
	for _, s := range cfg.Sockets {
		f, err := s.Conn.File()
		if err != nil {
			return 0, fmt.Errorf("handover: descriptor of %s: %w", s.Name, err)
		}
		files = append(files, f)
		// ExtraFiles[i] becomes descriptor 3+i in the child.
		names = append(names, fmt.Sprintf("%s:%d", s.Name, 2+len(files)))
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("handover: readiness pipe: %w", err)
	}
	defer readyR.Close()
	files = append(files, readyW)
	names = append(names, fmt.Sprintf("%s:%d", readyName, 2+len(files)))

	cmd := exec.Command(cfg.Path, cfg.Args...)
	cmd.Env = append(append(withoutFDs(os.Environ()), cfg.Env...), EnvFDs+"="+strings.Join(names, ","))
	cmd.Stdout, cmd.Stderr = cfg.Stdout, cfg.Stderr
	cmd.ExtraFiles = files
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("handover: start %s: %w", cfg.Path, err)
	}
	readyW.Close() // only the child's copy is left: EOF when it exits
	files = files[:len(files)-1]
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ready := make(chan error, 1)
	go func() {
		var b [1]byte
		_, err := readyR.Read(b[:])
		ready <- err
	}()
	select {
	case err := <-ready:
		if err == nil {
			// The child runs on: Wait above stays until it exits, which may be after
			// this process has gone.
			return cmd.Process.Pid, nil
		}
		// EOF: the child closed the pipe without a word, which means it exited.
		werr := <-exited
		return 0, fmt.Errorf("handover: %s exited before serving: %v", cfg.Path, werr)
	case werr := <-exited:
		return 0, fmt.Errorf("handover: %s exited before serving: %v", cfg.Path, werr)
	case <-time.After(cfg.Timeout):
		_ = cmd.Process.Kill()
		<-exited
		return 0, fmt.Errorf("handover: %s not serving after %v; killed", cfg.Path, cfg.Timeout)
	}
}

// withoutFDs drops an EnvFDs entry this process inherited itself.
func withoutFDs(environ []string) []string {
	out := environ[:0:0]
	for _, kv := range environ {
		if !strings.HasPrefix(kv, EnvFDs+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// Inherited are the sockets a process got from its predecessor.
type Inherited struct {
	files map[string][]*os.File
	ready *os.File
}

// FromEnv returns the sockets named in EnvFDs, or nil when there is none (an ordinary
// start). It unsets the variable, so that a process started later does not take it as its
// own.
func FromEnv() (*Inherited, error) {
	v, ok := os.LookupEnv(EnvFDs)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(EnvFDs)
	return parse(v)
}

func parse(v string) (*Inherited, error) {
	type named struct {
		name string
		fd   int
	}
	var fds []named
	hasReady := false
	for _, item := range strings.Split(v, ",") {
		name, num, ok := strings.Cut(item, ":")
		fd, err := strconv.Atoi(num)
		if !ok || name == "" || err != nil || fd < 3 {
			return nil, fmt.Errorf("handover: $%s: %q is not name:fd (fd 3 or more)", EnvFDs, item)
		}
		fds = append(fds, named{name, fd})
		hasReady = hasReady || name == readyName
	}
	// Checked before any descriptor is wrapped: an *os.File closes its descriptor when
	// collected, which must not happen to one that is not ours.
	if !hasReady {
		return nil, fmt.Errorf("handover: $%s names no %s pipe", EnvFDs, readyName)
	}
	in := &Inherited{files: map[string][]*os.File{}}
	for _, n := range fds {
		f := os.NewFile(uintptr(n.fd), n.name)
		if n.name == readyName {
			in.ready = f
			continue
		}
		in.files[n.name] = append(in.files[n.name], f)
	}
	return in, nil
}

// Listeners takes the inherited stream listeners named name (none: nil).
func (in *Inherited) Listeners(name string) ([]net.Listener, error) {
	var out []net.Listener
	for _, f := range in.take(name) {
		l, err := net.FileListener(f)
		f.Close() // FileListener made its own copy
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("handover: %s: %w", name, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// PacketConns takes the inherited packet sockets named name (none: nil).
func (in *Inherited) PacketConns(name string) ([]net.PacketConn, error) {
	var out []net.PacketConn
	for _, f := range in.take(name) {
		pc, err := net.FilePacketConn(f)
		f.Close()
		if err != nil {
			for _, c := range out {
				c.Close()
			}
			return nil, fmt.Errorf("handover: %s: %w", name, err)
		}
		out = append(out, pc)
	}
	return out, nil
}

func (in *Inherited) take(name string) []*os.File {
	fs := in.files[name]
	delete(in.files, name)
	return fs
}

// Close closes the descriptors nobody took (a socket the new configuration does not use).
func (in *Inherited) Close() {
	for name, fs := range in.files {
		for _, f := range fs {
			f.Close()
		}
		delete(in.files, name)
	}
}

// Ready tells the predecessor that this process serves: it may let go of the sockets.
func (in *Inherited) Ready() error {
	if in.ready == nil {
		return errors.New("handover: readiness already told")
	}
	_, err := in.ready.Write([]byte{1})
	cerr := in.ready.Close()
	in.ready = nil
	if err != nil {
		return fmt.Errorf("handover: tell the predecessor: %w", err)
	}
	if cerr != nil {
		return fmt.Errorf("handover: tell the predecessor: %w", cerr)
	}
	return nil
}

func closeAll(ls []net.Listener) {
	for _, l := range ls {
		l.Close()
	}
}
