// Package wrap builds errors that wrap others, and the text of values, without package fmt:
// fmt and the reflection it brings cost the browser app (the client compiled to wasm) about
// 80 KB of brotli. Error makes what fmt.Errorf makes of the same parts: the same text, and
// errors.Is and errors.As find every error among the parts.
package wrap

import "strconv"

// Error is an error whose text is the parts' texts, one after the other (see Text), and that
// wraps every error among the parts, as fmt.Errorf wraps each %w operand:
// Error(ErrBadConfig, ": room id ", strconv.Quote(id)) is
// fmt.Errorf("%w: room id %q", ErrBadConfig, id).
func Error(parts ...any) error {
	var text []byte
	var errs []error
	for _, p := range parts {
		if e, ok := p.(error); ok {
			errs = append(errs, e)
		}
		text = appendText(text, p)
	}
	switch len(errs) {
	case 0:
		return &plainError{string(text)}
	case 1:
		return &wrapError{string(text), errs[0]}
	}
	return &wrapErrors{string(text), errs}
}

type plainError struct{ text string }

func (e *plainError) Error() string { return e.text }

type wrapError struct {
	text string
	err  error
}

func (e *wrapError) Error() string { return e.text }
func (e *wrapError) Unwrap() error { return e.err }

type wrapErrors struct {
	text string
	errs []error
}

func (e *wrapErrors) Error() string   { return e.text }
func (e *wrapErrors) Unwrap() []error { return e.errs }

// Text is v as fmt's %v writes it, for the values a client logs or puts in an error: strings,
// errors, Stringers, booleans, integers, floats, durations and nil. Other types, which %v
// would print by reflection, come out as "%!v(unsupported)".
func Text(v any) string { return string(appendText(nil, v)) }

func appendText(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "<nil>"...)
	case string:
		return append(b, v...)
	case error:
		// Before Stringer, as fmt does for a value that is both.
		return append(b, v.Error()...)
	case interface{ String() string }:
		return append(b, v.String()...)
	case bool:
		return strconv.AppendBool(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int8:
		return strconv.AppendInt(b, int64(v), 10)
	case int16:
		return strconv.AppendInt(b, int64(v), 10)
	case int32:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case uint:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint8:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint16:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint64:
		return strconv.AppendUint(b, v, 10)
	case float32:
		return strconv.AppendFloat(b, float64(v), 'g', -1, 32)
	case float64:
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return append(b, "%!v(unsupported)"...)
}

// Fixed is x with prec digits after the point, as fmt's %.<prec>f writes it.
func Fixed(x float64, prec int) string { return strconv.FormatFloat(x, 'f', prec, 64) }

// Truncate is s cut to its first n characters, as fmt's %.<n>s writes it.
func Truncate(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}
