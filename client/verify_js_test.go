//go:build js && wasm

package client

import (
	"errors"
	"strings"
	"syscall/js"
	"testing"
)

// statsReport builds an RTCStatsReport-like Map (what getStats resolves to: values() of
// plain stats objects) from the given stats.
func statsReport(stats ...map[string]any) js.Value {
	m := js.Global().Get("Map").New()
	for _, s := range stats {
		m.Call("set", s["id"], js.ValueOf(s))
	}
	return m
}

func certStats(id, alg, fp string) map[string]any {
	return map[string]any{"id": id, "type": "certificate", "fingerprintAlgorithm": alg, "fingerprint": fp}
}

func transportStats(id, dtls, local, remote string) map[string]any {
	return map[string]any{"id": id, "type": "transport", "dtlsState": dtls, "localCertificateId": local, "remoteCertificateId": remote}
}

// TestReportFingerprints reads the certificates the way the browser reports them (lower-case
// hex, as the statistics spec writes it) and refuses reports without one clear pair.
func TestReportFingerprints(t *testing.T) {
	hexOf := func(b string) string { return strings.TrimSuffix(strings.Repeat(b+":", 32), ":") }
	mine, theirs := certStats("C1", "sha-256", hexOf("0a")), certStats("C2", "sha-256", hexOf("b0"))
	for _, tc := range []struct {
		name    string
		report  js.Value
		wantErr error // nil: expect mine, theirs
	}{
		{"one connected transport", statsReport(mine, theirs, transportStats("T1", "connected", "C1", "C2")), nil},
		{"an old transport beside it", statsReport(mine, theirs, transportStats("T0", "closed", "C2", "C1"),
			transportStats("T1", "connected", "C1", "C2")), nil},
		{"not connected", statsReport(mine, theirs, transportStats("T1", "connecting", "C1", "C2")), errNoCertificateStats},
		{"two transports (no bundle)", statsReport(mine, theirs, transportStats("T1", "connected", "C1", "C2"),
			transportStats("T2", "connected", "C1", "C2")), errNoCertificateStats},
		{"no certificate stats", statsReport(transportStats("T1", "connected", "C1", "C2")), errNoCertificateStats},
		{"no remote certificate id", statsReport(mine, theirs, transportStats("T1", "connected", "C1", "")), errNoCertificateStats},
		{"bad fingerprint", statsReport(mine, certStats("C2", "sha-256", "zz"), transportStats("T1", "connected", "C1", "C2")), ErrBadFingerprint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			local, remote, err := ReportFingerprints(tc.report)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, %v, err %v; want %v", local, remote, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := "sha-256 " + strings.ToUpper(hexOf("0a")); local.String() != want {
				t.Errorf("local %s, want %s", local, want)
			}
			if want := "sha-256 " + strings.ToUpper(hexOf("b0")); remote.String() != want {
				t.Errorf("remote %s, want %s", remote, want)
			}
		})
	}
}
