package certs

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// recheckInterval is how often, at most, a handshake looks at the files.
const recheckInterval = time.Second

// Files serves a certificate and key from PEM files and re-reads them when
// they change, so a renewed certificate (certbot, a cron job, an operator)
// is used by new handshakes without a restart. Connections already open keep
// the certificate they were made with.
//
// A handshake checks the files' size and modification time at most once per
// second; reload forces a read. When the new files do not load (half written,
// corrupt, key and certificate not matching) the previous certificate stays
// in use and the failure is logged once per change of the files.
type Files struct {
	certFile, keyFile string
	log               *slog.Logger
	interval          time.Duration

	cert atomic.Pointer[tls.Certificate]

	mu        sync.Mutex // guards the fields below; held only by the checker
	lastCheck time.Time
	loaded    fileStamp // stamp of the files behind cert
	failed    fileStamp // stamp of the last files that did not load
}

// fileStamp identifies a version of the certificate and key files.
type fileStamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

// NewFiles loads certFile and keyFile (PEM; the certificate file may hold the
// chain after the leaf). It fails when either file is missing or invalid or
// the key does not belong to the certificate. A nil log discards messages.
func NewFiles(certFile, keyFile string, log *slog.Logger) (*Files, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Files{certFile: certFile, keyFile: keyFile, log: log, interval: recheckInterval}
	st, err := f.stat()
	if err != nil {
		return nil, err
	}
	cert, err := f.load()
	if err != nil {
		return nil, err
	}
	f.cert.Store(cert)
	f.loaded = st
	f.lastCheck = time.Now()
	f.logLoaded(cert)
	return f, nil
}

// GetCertificate implements tls.Config.GetCertificate. It never fails once
// NewFiles succeeded: a broken replacement only means the old certificate
// is served a while longer.
func (f *Files) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	// Only one handshake at a time looks at the disk; the others serve
	// the current certificate instead of waiting for it.
	if f.mu.TryLock() {
		if now := time.Now(); now.Sub(f.lastCheck) >= f.interval {
			f.lastCheck = now
			f.refresh(false)
		}
		f.mu.Unlock()
	}
	return f.cert.Load(), nil
}

// reload re-reads the files now, changed or not. On error the previous
// certificate stays in use.
func (f *Files) reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastCheck = time.Now()
	return f.refresh(true)
}

// Certificate returns the certificate currently served.
func (f *Files) Certificate() *tls.Certificate { return f.cert.Load() }

// refresh loads the files if they changed since the last load (or if force
// is set) and swaps them in. f.mu must be held.
func (f *Files) refresh(force bool) error {
	st, err := f.stat()
	if err != nil {
		if force || st != f.failed {
			f.log.Error("tls: certificate files unreadable, keeping the previous certificate",
				"cert", f.certFile, "key", f.keyFile, "err", err)
		}
		f.failed = st
		return err
	}
	if !force && (st == f.loaded || st == f.failed) {
		return nil
	}
	cert, err := f.load()
	if err != nil {
		f.failed = st
		f.log.Error("tls: new certificate files do not load, keeping the previous certificate",
			"cert", f.certFile, "key", f.keyFile, "err", err)
		return err
	}
	f.cert.Store(cert)
	f.loaded, f.failed = st, fileStamp{}
	f.logLoaded(cert)
	return nil
}

func (f *Files) stat() (fileStamp, error) {
	var st fileStamp
	ci, err := os.Stat(f.certFile)
	if err != nil {
		return st, fmt.Errorf("certs: certificate file: %w", err)
	}
	st.certMod, st.certSize = ci.ModTime(), ci.Size()
	ki, err := os.Stat(f.keyFile)
	if err != nil {
		return st, fmt.Errorf("certs: key file: %w", err)
	}
	st.keyMod, st.keySize = ki.ModTime(), ki.Size()
	return st, nil
}

func (f *Files) load() (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(f.certFile)
	if err != nil {
		return nil, fmt.Errorf("certs: read certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(f.keyFile)
	if err != nil {
		return nil, fmt.Errorf("certs: read key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("certs: %s and %s: %w: %w", f.certFile, f.keyFile, ErrNoCertificate, err)
	}
	return &cert, nil
}

func (f *Files) logLoaded(cert *tls.Certificate) {
	leaf := cert.Leaf // set by tls.X509KeyPair
	if leaf == nil {
		return
	}
	attrs := []any{"cert", f.certFile, "names", leaf.DNSNames, "not_after", leaf.NotAfter,
		"sha256", Fingerprint(leaf.Raw)}
	if time.Now().After(leaf.NotAfter) {
		f.log.Warn("tls: loaded certificate has expired", attrs...)
		return
	}
	f.log.Info("tls: loaded certificate", attrs...)
}
