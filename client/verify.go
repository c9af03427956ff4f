package client

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/onertc/onertc/internal/wrap"
)

// ErrBadFingerprint is wrapped by the errors of a certificate fingerprint that cannot be used.
var ErrBadFingerprint = errors.New("bad certificate fingerprint")

// Fingerprint is the fingerprint of a DTLS certificate: the hash function, named as in SDP's
// a=fingerprint and in RTCCertificateStats ("sha-256"), and its digest of the certificate.
type Fingerprint struct {
	Algorithm string
	Digest    []byte
}

// fingerprintSizes are the digest sizes of the hash functions RFC 8122 names.
var fingerprintSizes = map[string]int{"sha-1": 20, "sha-224": 28, "sha-256": 32, "sha-384": 48, "sha-512": 64}

// ParseFingerprint reads a fingerprint written as SDP and getStats write it: algorithm
// "sha-256", value "AB:CD:…" (hex pairs, either case).
func ParseFingerprint(algorithm, value string) (Fingerprint, error) {
	alg := strings.ToLower(strings.TrimSpace(algorithm))
	size, ok := fingerprintSizes[alg]
	if !ok {
		return Fingerprint{}, wrap.Error(ErrBadFingerprint, ": unknown algorithm ", strconv.Quote(algorithm))
	}
	parts := strings.Split(strings.TrimSpace(value), ":")
	if len(parts) != size {
		return Fingerprint{}, wrap.Error(ErrBadFingerprint, ": ", alg, " needs ", size, " bytes, got ", len(parts), " groups")
	}
	digest := make([]byte, size)
	for i, p := range parts {
		hi, ok1 := hexDigit(p, 0)
		lo, ok2 := hexDigit(p, 1)
		if len(p) != 2 || !ok1 || !ok2 {
			return Fingerprint{}, wrap.Error(ErrBadFingerprint, ": group ", i+1, " is ", strconv.Quote(p), ", want two hex digits")
		}
		digest[i] = hi<<4 | lo
	}
	return Fingerprint{Algorithm: alg, Digest: digest}, nil
}

// hexDigit is the value of s[i] as a hex digit, either case (encoding/hex is kept out of the
// browser app).
func hexDigit(s string, i int) (byte, bool) {
	if i >= len(s) {
		return 0, false
	}
	switch c := s[i]; {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// SHA256Fingerprint is the sha-256 fingerprint of a DER certificate.
func SHA256Fingerprint(der []byte) (Fingerprint, error) {
	sum, err := sha256Sum(der)
	if err != nil {
		return Fingerprint{}, wrap.Error("certificate fingerprint: ", err)
	}
	return Fingerprint{Algorithm: "sha-256", Digest: sum[:]}, nil
}

// String is the SDP form, "sha-256 AB:CD:…".
func (f Fingerprint) String() string {
	var b strings.Builder
	b.WriteString(f.Algorithm)
	for i, c := range f.Digest {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteByte(':')
		}
		const hex = "0123456789ABCDEF"
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func (f Fingerprint) check() error {
	size, ok := fingerprintSizes[f.Algorithm]
	if !ok {
		return wrap.Error(ErrBadFingerprint, ": unknown algorithm ", strconv.Quote(f.Algorithm))
	}
	if len(f.Digest) != size {
		return wrap.Error(ErrBadFingerprint, ": ", f.Algorithm, " digest of ", len(f.Digest), " bytes, want ", size)
	}
	return nil
}

// encode is the fingerprint in the code's input: length-prefixed algorithm, then
// length-prefixed digest, so no two different fingerprints encode alike.
func (f Fingerprint) encode() []byte {
	out := make([]byte, 0, 2+len(f.Algorithm)+len(f.Digest))
	out = append(out, byte(len(f.Algorithm)))
	out = append(out, f.Algorithm...)
	out = append(out, byte(len(f.Digest)))
	return append(out, f.Digest...)
}

// verificationDomain separates the code's hash from any other hash of the same bytes, and
// versions the derivation: changing it changes every code.
const verificationDomain = "onertc verification code v1\x00"

// VerificationCode is the code two people read to each other to check that their
// peer-to-peer connection has no one in the middle: 12 digits in three groups, "0123 4567
// 8901", derived from the two certificates of the connection's DTLS handshake. Each side
// passes its own certificate's fingerprint and the one the other side presented; the order
// does not matter, so both sides get the same code. A server that swapped the fingerprints
// in the SDP terminates DTLS on each side with its own certificates, and then each side
// sees a different pair.
//
// The code is the first 8 bytes of SHA-256(domain ‖ min(enc(a), enc(b)) ‖ max(…)), big
// endian, modulo 10¹², where enc is the length-prefixed algorithm then length-prefixed
// digest and min/max compare bytes.
func VerificationCode(a, b Fingerprint) (string, error) {
	for _, f := range []Fingerprint{a, b} {
		if err := f.check(); err != nil {
			return "", err
		}
	}
	ea, eb := a.encode(), b.encode()
	if bytes.Compare(ea, eb) > 0 {
		ea, eb = eb, ea
	}
	sum, err := sha256Sum(append(append([]byte(verificationDomain), ea...), eb...))
	if err != nil {
		return "", wrap.Error("verification code: ", err)
	}
	var n uint64
	for _, c := range sum[:8] {
		n = n<<8 | uint64(c)
	}
	n %= 1_000_000_000_000
	s := strconv.FormatUint(n, 10)
	s = strings.Repeat("0", 12-len(s)) + s
	return s[:4] + " " + s[4:8] + " " + s[8:], nil
}

// Verification is the verification code of a peer-to-peer connection and the two
// fingerprints it comes from, as this side saw them in the DTLS handshake.
type Verification struct {
	Code   string
	Local  Fingerprint // this side's certificate
	Remote Fingerprint // the certificate the other end presented
}

// NewVerification computes the code of local and remote.
func NewVerification(local, remote Fingerprint) (Verification, error) {
	code, err := VerificationCode(local, remote)
	if err != nil {
		return Verification{}, err
	}
	return Verification{Code: code, Local: local, Remote: remote}, nil
}

// DTLSPeer is implemented by a Peer whose media ends at the other person's device, so that
// the certificates of its DTLS transport say who holds the keys: a peer-to-peer connection.
// The call computes the verification code only for such peers; a connection to a media
// server would not implement it, since that server decrypts the media by design.
type DTLSPeer interface {
	// DTLSFingerprints returns, once the connection is up, the fingerprints of the local
	// certificate and of the certificate the remote end presented in the DTLS handshake
	// (not the a=fingerprint lines of the SDP, which the signaling server carries).
	DTLSFingerprints(ctx context.Context) (local, remote Fingerprint, err error)
}
