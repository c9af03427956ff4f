//go:build js && wasm

package client

import (
	"context"
	"errors"
	"syscall/js"

	"github.com/onertc/onertc/internal/wrap"
)

// errNoCertificateStats: the browser's getStats has no certificate of the connection (not
// connected yet, or a browser without RTCCertificateStats).
var errNoCertificateStats = errors.New("no certificate statistics")

// DTLSFingerprints implements DTLSPeer from getStats: the transport's localCertificateId and
// remoteCertificateId name "certificate" stats of the certificates of its DTLS handshake.
func (p *BrowserPeer) DTLSFingerprints(ctx context.Context) (local, remote Fingerprint, err error) {
	promise, err := call(p.pc, "getStats")
	if err != nil {
		return Fingerprint{}, Fingerprint{}, err
	}
	report, err := await(ctx, promise)
	if err != nil {
		return Fingerprint{}, Fingerprint{}, wrap.Error("getStats: ", err)
	}
	return ReportFingerprints(report)
}

// ReportFingerprints reads the DTLS certificates of the connection's transport from an
// RTCStatsReport. With max-bundle there is one transport; a report with several (no
// bundling) has no single pair of certificates and is refused.
func ReportFingerprints(report js.Value) (local, remote Fingerprint, err error) {
	byID := map[string]js.Value{}
	var transports []js.Value
	all := js.Global().Get("Array").Call("from", report.Call("values"))
	for i := 0; i < all.Length(); i++ {
		s := all.Index(i)
		byID[jsString(s.Get("id"))] = s
		if jsString(s.Get("type")) == "transport" && jsString(s.Get("dtlsState")) == "connected" {
			transports = append(transports, s)
		}
	}
	if len(transports) != 1 {
		return Fingerprint{}, Fingerprint{}, wrap.Error("dtls fingerprints: ", errNoCertificateStats, ": ", len(transports), " connected transports, want 1")
	}
	read := func(which string) (Fingerprint, error) {
		id := jsString(transports[0].Get(which + "CertificateId"))
		c, ok := byID[id]
		if id == "" || !ok {
			return Fingerprint{}, wrap.Error("dtls fingerprints: ", errNoCertificateStats, ": transport has no ", which, " certificate")
		}
		f, err := ParseFingerprint(jsString(c.Get("fingerprintAlgorithm")), jsString(c.Get("fingerprint")))
		if err != nil {
			return Fingerprint{}, wrap.Error("dtls fingerprints: ", which, " certificate: ", err)
		}
		return f, nil
	}
	if local, err = read("local"); err != nil {
		return Fingerprint{}, Fingerprint{}, err
	}
	if remote, err = read("remote"); err != nil {
		return Fingerprint{}, Fingerprint{}, err
	}
	return local, remote, nil
}

func jsString(v js.Value) string {
	if v.Type() == js.TypeString {
		return v.String()
	}
	return ""
}
