package wrap

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"testing"
	"time"
)

type stringer struct{}

func (stringer) String() string { return "a stringer" }

// bothError is an error and a Stringer: fmt prints its Error.
type bothError struct{}

func (bothError) Error() string  { return "the error" }
func (bothError) String() string { return "the stringer" }

// TestErrorMatchesErrorf holds Error to what fmt.Errorf makes of the same format: the text,
// errors.Is of each wrapped error, errors.As, and errors.Unwrap (one %w: the error; two: nil).
func TestErrorMatchesErrorf(t *testing.T) {
	pathErr := &os.PathError{Op: "open", Path: "/x", Err: os.ErrNotExist}
	for _, tc := range []struct {
		name    string
		got     error
		want    error
		wrapped []error
	}{
		{"no error", Error("dial ", "wss://h/ws", ": closed"), fmt.Errorf("dial %s: closed", "wss://h/ws"), nil},
		{"one", Error("relay write: ", io.EOF), fmt.Errorf("relay write: %w", io.EOF), []error{io.EOF}},
		{"first", Error(io.EOF, " 503"), fmt.Errorf("%w %d", io.EOF, 503), []error{io.EOF}},
		{"two", Error(io.EOF, " ", 503, ": ", os.ErrNotExist), fmt.Errorf("%w %d: %w", io.EOF, 503, os.ErrNotExist), []error{io.EOF, os.ErrNotExist}},
		{"as", Error("open: ", pathErr), fmt.Errorf("open: %w", pathErr), []error{pathErr, os.ErrNotExist}},
		{"values", Error(io.EOF, ": ", 3, " attempts in ", 1500*time.Millisecond, ": ", true),
			fmt.Errorf("%w: %d attempts in %v: %v", io.EOF, 3, 1500*time.Millisecond, true), []error{io.EOF}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got.Error() != tc.want.Error() {
				t.Errorf("text %q, fmt.Errorf's %q", tc.got, tc.want)
			}
			for _, w := range tc.wrapped {
				if !errors.Is(tc.got, w) || !errors.Is(tc.want, w) {
					t.Errorf("errors.Is(_, %v): %v, fmt.Errorf's %v", w, errors.Is(tc.got, w), errors.Is(tc.want, w))
				}
			}
			if errors.Is(tc.got, io.ErrUnexpectedEOF) {
				t.Errorf("errors.Is(_, io.ErrUnexpectedEOF) is true")
			}
			var pe *os.PathError
			if errors.As(tc.got, &pe) != errors.As(tc.want, &pe) {
				t.Errorf("errors.As(*os.PathError) differs from fmt.Errorf's")
			}
			if u, w := errors.Unwrap(tc.got), errors.Unwrap(tc.want); u != w {
				t.Errorf("errors.Unwrap = %v, fmt.Errorf's %v", u, w)
			}
		})
	}
}

func TestTextMatchesSprint(t *testing.T) {
	for _, v := range []any{
		nil, "", "abc", io.EOF, stringer{}, bothError{}, true, false,
		0, -7, int8(-8), int16(300), int32(-70000), int64(math.MinInt64),
		uint(7), uint8(255), uint16(65535), uint32(1 << 31), uint64(math.MaxUint64),
		0.0, 1.5, -2.25e-9, 1e21, 3.0, float32(0.1), math.Inf(-1), math.NaN(),
		2 * time.Second, time.Duration(0),
	} {
		if got, want := Text(v), fmt.Sprint(v); got != want {
			t.Errorf("Text(%#v) = %q, fmt.Sprint's %q", v, got, want)
		}
	}
	if got := Text(struct{ A int }{1}); got != "%!v(unsupported)" {
		t.Errorf("Text(struct) = %q, want %%!v(unsupported)", got)
	}
}

func TestFixedMatchesSprintf(t *testing.T) {
	for _, x := range []float64{0, -0.2, 0.5, 1.5, 2.5, 12.345, -99.995, 1e21, math.Inf(1), math.Inf(-1), math.NaN()} {
		for _, prec := range []int{0, 2} {
			if got, want := Fixed(x, prec), fmt.Sprintf("%.*f", prec, x); got != want {
				t.Errorf("Fixed(%v, %d) = %q, fmt's %q", x, prec, got, want)
			}
		}
	}
}

func TestTruncateMatchesSprintf(t *testing.T) {
	for _, s := range []string{"", "abc", "héllo wörld", "\xff\xfeab", "日本語のテキスト"} {
		for _, n := range []int{0, 1, 3, 200} {
			if got, want := Truncate(s, n), fmt.Sprintf("%.*s", n, s); got != want {
				t.Errorf("Truncate(%q, %d) = %q, fmt's %q", s, n, got, want)
			}
		}
	}
}
