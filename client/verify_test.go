package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

func repeat(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

// fingerprintOf is the sha-256 fingerprint of der, through the build's own hash (Web Crypto
// under node, crypto/sha256 natively).
func fingerprintOf(t *testing.T, der string) Fingerprint {
	t.Helper()
	f, err := SHA256Fingerprint([]byte(der))
	if err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256([]byte(der)); !bytes.Equal(f.Digest, want[:]) {
		t.Fatalf("SHA256Fingerprint(%q) = %x, crypto/sha256 says %x", der, f.Digest, want)
	}
	return f
}

// TestVerificationCodeKnownVectors holds the derivation to values worked out apart from the
// implementation. For a = sha-256 of 32 bytes 0x01 and b = sha-256 of 32 bytes 0x02, the
// hash input is "onertc verification code v1\x00", then 0x07 "sha-256" 0x20 and 32×0x01
// (a sorts first: same prefix, 0x01 < 0x02), then 0x07 "sha-256" 0x20 and 32×0x02. Its
// SHA-256, computed with Python's hashlib, starts 81d69881de5b3d99 = 9355832959457508761;
// modulo 10^12 that is 959457508761. For a and c = sha-1 of 20 bytes 0xab, c sorts first
// (its length prefix 0x05 < 0x07); the hash starts a1244d6f3dd460ee =
// 11611490879442018542, so 879442018542. The test also rebuilds the first input byte by
// byte with crypto/sha256, so a change to the encoding shows which half moved.
func TestVerificationCodeKnownVectors(t *testing.T) {
	a := Fingerprint{Algorithm: "sha-256", Digest: repeat(0x01, 32)}
	b := Fingerprint{Algorithm: "sha-256", Digest: repeat(0x02, 32)}
	c := Fingerprint{Algorithm: "sha-1", Digest: repeat(0xab, 20)}
	for _, tc := range []struct {
		name string
		x, y Fingerprint
		want string
	}{
		{"two sha-256", a, b, "9594 5750 8761"},
		{"sha-1 and sha-256", a, c, "8794 4201 8542"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := VerificationCode(tc.x, tc.y)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("code %q, want %q", got, tc.want)
			}
		})
	}

	var in []byte
	in = append(in, "onertc verification code v1\x00"...)
	in = append(in, 7)
	in = append(in, "sha-256"...)
	in = append(in, 32)
	in = append(in, repeat(0x01, 32)...)
	in = append(in, 7)
	in = append(in, "sha-256"...)
	in = append(in, 32)
	in = append(in, repeat(0x02, 32)...)
	sum := sha256.Sum256(in)
	if n := binary.BigEndian.Uint64(sum[:8]); n != 9355832959457508761 {
		t.Errorf("hash of the hand-built input starts %d, want 9355832959457508761 (hashlib)", n)
	}
}

// TestVerificationCodeProperties: the order of the two fingerprints does not matter, any
// change to either changes the code, and the code is 12 digits in groups of 4.
func TestVerificationCodeProperties(t *testing.T) {
	shape := regexp.MustCompile(`^[0-9]{4} [0-9]{4} [0-9]{4}$`)
	alice, bob := fingerprintOf(t, "alice's certificate"), fingerprintOf(t, "bob's certificate")
	mallory, m1, m2 := fingerprintOf(t, "mallory"), fingerprintOf(t, "m1"), fingerprintOf(t, "m2")
	base := func() (Fingerprint, Fingerprint) {
		return Fingerprint{alice.Algorithm, bytes.Clone(alice.Digest)}, Fingerprint{bob.Algorithm, bytes.Clone(bob.Digest)}
	}
	x, y := base()
	want, err := VerificationCode(x, y)
	if err != nil {
		t.Fatal(err)
	}
	if !shape.MatchString(want) {
		t.Fatalf("code %q is not three groups of four digits", want)
	}
	if rev, err := VerificationCode(y, x); err != nil || rev != want {
		t.Fatalf("swapped order gives %q, %v; want %q", rev, err, want)
	}
	seen := map[string]string{want: "base"}
	for _, tc := range []struct {
		name   string
		change func(x, y *Fingerprint)
	}{
		{"first bit of local", func(x, _ *Fingerprint) { x.Digest[0] ^= 0x80 }},
		{"last bit of remote", func(_, y *Fingerprint) { y.Digest[31] ^= 0x01 }},
		{"remote replaced (man in the middle)", func(_, y *Fingerprint) { *y = mallory }},
		{"both replaced", func(x, y *Fingerprint) {
			*x, *y = m1, m2
		}},
		{"same certificate twice", func(x, y *Fingerprint) { *y = *x }},
		{"algorithm name, same bytes", func(x, _ *Fingerprint) { x.Algorithm = "sha-1"; x.Digest = x.Digest[:20] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, y := base()
			tc.change(&x, &y)
			got, err := VerificationCode(x, y)
			if err != nil {
				t.Fatal(err)
			}
			if prev, dup := seen[got]; dup {
				t.Fatalf("code %q equals the code of %q", got, prev)
			}
			seen[got] = tc.name
			if rev, err := VerificationCode(y, x); err != nil || rev != got {
				t.Fatalf("swapped order gives %q, %v; want %q", rev, err, got)
			}
		})
	}
}

func TestVerificationCodeRefusesBadFingerprints(t *testing.T) {
	good := fingerprintOf(t, "x")
	for _, tc := range []struct {
		name string
		f    Fingerprint
	}{
		{"empty", Fingerprint{}},
		{"unknown algorithm", Fingerprint{Algorithm: "md5", Digest: repeat(1, 16)}},
		{"short digest", Fingerprint{Algorithm: "sha-256", Digest: repeat(1, 31)}},
		{"upper-case name not normalized", Fingerprint{Algorithm: "SHA-256", Digest: repeat(1, 32)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, err := VerificationCode(good, tc.f); !errors.Is(err, ErrBadFingerprint) {
				t.Fatalf("code %q, err %v; want ErrBadFingerprint", code, err)
			}
			if _, err := NewVerification(tc.f, good); !errors.Is(err, ErrBadFingerprint) {
				t.Fatalf("NewVerification: err %v; want ErrBadFingerprint", err)
			}
		})
	}
}

func TestParseFingerprint(t *testing.T) {
	hex32 := strings.TrimSuffix(strings.Repeat("aB:", 32), ":")
	for _, tc := range []struct {
		name, alg, value string
		want             string // String() of the result, "" for an error
	}{
		{"sha-256 mixed case", "SHA-256", hex32, "sha-256 " + strings.TrimSuffix(strings.Repeat("AB:", 32), ":")},
		{"sha-1", "sha-1", strings.TrimSuffix(strings.Repeat("00:", 20), ":"), "sha-1 " + strings.TrimSuffix(strings.Repeat("00:", 20), ":")},
		{"too short", "sha-256", strings.TrimSuffix(strings.Repeat("AB:", 31), ":"), ""},
		{"too long", "sha-1", hex32, ""},
		{"not hex", "sha-256", "ZZ" + hex32[2:], ""},
		{"three digits", "sha-256", "ABC" + hex32[2:], ""},
		{"no colons", "sha-256", strings.Repeat("AB", 32), ""},
		{"unknown algorithm", "md5", strings.TrimSuffix(strings.Repeat("AB:", 16), ":"), ""},
		{"empty", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseFingerprint(tc.alg, tc.value)
			if tc.want == "" {
				if !errors.Is(err, ErrBadFingerprint) {
					t.Fatalf("got %v, %v; want ErrBadFingerprint", f, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := f.String(); got != tc.want {
				t.Fatalf("String() %q, want %q", got, tc.want)
			}
			back, err := ParseFingerprint(strings.Fields(f.String())[0], strings.Fields(f.String())[1])
			if err != nil || fmt.Sprint(back) != fmt.Sprint(f) {
				t.Fatalf("round trip gives %v, %v", back, err)
			}
		})
	}
}
