package access

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseMode(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Mode
		err  error
	}{
		{"open", Open, nil},
		{"password", Password, nil},
		{"", "", ErrMode},
		{"Password", "", ErrMode},
		{"token", "", ErrMode},
	} {
		got, err := ParseMode(tt.in)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("ParseMode(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	k := NewKeeper(DeriveKey("turn secret"), "correct horse")
	for _, tt := range []struct {
		try  string
		want bool
	}{
		{"correct horse", true},
		{"correct hors", false},
		{"correct horse ", false},
		{"Correct horse", false},
		{"", false},
		{strings.Repeat("x", 10000), false},
	} {
		if got := k.CheckPassword(tt.try); got != tt.want {
			t.Errorf("CheckPassword(%.20q) = %v, want %v", tt.try, got, tt.want)
		}
	}
	// Another key, same password: the check still holds (the key only hides the password).
	if !NewKeeper(DeriveKey("other"), "correct horse").CheckPassword("correct horse") {
		t.Error("password refused under another key")
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	k := NewKeeper(DeriveKey("turn secret"), "pw")
	session := k.Sign(Session, "", now.Add(time.Hour))
	invite := k.Sign(Invite, "room-1", now.Add(time.Minute))
	for _, tt := range []struct {
		name      string
		token     string
		at        time.Time
		err       error
		wantRooms map[string]bool // room → admitted
	}{
		{"session admits every room", session, now, nil, map[string]bool{"room-1": true, "other": true, "": true}},
		{"invite admits its room only", invite, now, nil, map[string]bool{"room-1": true, "room-2": false, "room": false, "": true}},
		{"invite stops at its expiry", invite, now.Add(time.Minute), ErrExpired, nil},
		{"session stops at its expiry", session, now.Add(2 * time.Hour), ErrExpired, nil},
		{"another instance's key", NewKeeper(DeriveKey("other secret"), "pw").Sign(Session, "", now.Add(time.Hour)), now, ErrSignature, nil},
		{"room changed", strings.Replace(invite, ".room-1.", ".room-2.", 1), now, ErrSignature, nil},
		{"expiry pushed", strings.Replace(session, ".s.18", ".s.19", 1), now, ErrSignature, nil},
		{"invite turned session", strings.Replace(invite, "v1.i.", "v1.s.", 1), now, ErrSignature, nil},
		{"no signature", strings.TrimSuffix(invite, invite[strings.LastIndexByte(invite, '.'):]), now, ErrSignature, nil},
		{"empty", "", now, ErrMalformed, nil},
		{"not base64", "v1.s.1.." + "!!", now, ErrMalformed, nil},
		{"too long", strings.Repeat("a", 300), now, ErrMalformed, nil},
		{"signed but bad room", k.Sign(Invite, "a/b", now.Add(time.Hour)), now, ErrMalformed, nil},
		{"signed session with a room", k.Sign(Session, "r", now.Add(time.Hour)), now, ErrMalformed, nil},
		{"signed unknown kind", k.Sign('x', "r", now.Add(time.Hour)), now, ErrMalformed, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, err := k.Verify(tt.token, tt.at)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Verify: %v, want %v", err, tt.err)
			}
			for room, want := range tt.wantRooms {
				if got := g.Admits(room); got != want {
					t.Errorf("Admits(%q) = %v, want %v", room, got, want)
				}
			}
		})
	}
}

// TestSameKeyAcrossInstances: two keepers built from one TURN secret (two instances behind
// a load balancer) accept each other's tokens.
func TestSameKeyAcrossInstances(t *testing.T) {
	now := time.Now()
	a, b := NewKeeper(DeriveKey("shared"), "pw"), NewKeeper(DeriveKey("shared"), "pw")
	if _, err := b.Verify(a.Sign(Session, "", now.Add(time.Hour)), now); err != nil {
		t.Fatalf("instance b refuses a's session: %v", err)
	}
	if string(DeriveKey("shared")) == "shared" || len(DeriveKey("")) != 32 {
		t.Fatal("DeriveKey does not derive a 32-byte key")
	}
}

func FuzzVerify(f *testing.F) {
	k := NewKeeper(DeriveKey("s"), "pw")
	now := time.Unix(1_800_000_000, 0)
	f.Add(k.Sign(Invite, "room", now.Add(time.Hour)))
	f.Add("v1.s.1..")
	// Only tokens the keeper signed pass: whatever is accepted is exactly what Sign makes
	// of the grant it reads, and an invite always names a room.
	f.Fuzz(func(t *testing.T, token string) {
		g, err := k.Verify(token, now)
		if err != nil {
			return
		}
		if g.Kind == Invite && g.Room == "" {
			t.Fatalf("invite without a room accepted: %q", token)
		}
		if again := k.Sign(g.Kind, g.Room, g.Expires); again != token {
			t.Fatalf("accepted %q, but its grant signs as %q", token, again)
		}
	})
}
