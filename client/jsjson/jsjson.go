//go:build js && wasm

// Package jsjson reads and writes JSON in the js/wasm build with the browser's own
// JSON.parse and JSON.stringify, for the protocol wire types the browser app uses. The app
// links it instead of encoding/json, whose reflection costs the wasm about 120 KB of brotli.
//
// Decoding follows encoding/json's rules for the types handled here: an absent key or null
// leaves the zero value, [] is an empty non-nil slice, a value of the wrong JSON type is an
// error. Three differences, none of which the servers exercise: keys match exactly (encoding/json
// also accepts other letter cases); an integer written as 1.0 or 1e2 is accepted, and -0 for
// an unsigned one (a JS zero reaches Go without its sign); a key repeated in one object is
// read once, from its last value (encoding/json reads each, so the fields of a repeated
// nested object add up).
// Encoding writes the keys in struct-field order with the omitempty rules of the struct tags;
// JSON.stringify does not escape <, > and & as \u003c…, which any JSON reader takes alike.
// The tests hold both directions to encoding/json.
package jsjson

import (
	"errors"
	"math"
	"syscall/js"
)

// Parse is JSON.parse of text, a Go string or a JS string value; a syntax error is an error.
func Parse(text any) (v js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			if jsErr, ok := r.(js.Error); ok {
				err = errors.New("jsjson: " + jsErr.Get("message").String())
				return
			}
			panic(r)
		}
	}()
	return js.Global().Get("JSON").Call("parse", text), nil
}

// Stringify is JSON.stringify of v.
func Stringify(v js.Value) string {
	return js.Global().Get("JSON").Call("stringify", v).String()
}

// NewObject returns an empty JS object. Its keys keep their insertion order in
// JSON.stringify, as encoding/json keeps struct-field order.
func NewObject() js.Value { return js.Global().Get("Object").New() }

// Decode parses text and reads it with read; the error is the syntax error or the first
// type mismatch that read met (the value then holds what could be read, as with
// encoding/json).
func Decode[T any](text any, read func(*Decoder, js.Value) T) (T, error) {
	v, err := Parse(text)
	if err != nil {
		var zero T
		return zero, err
	}
	var d Decoder
	out := read(&d, v)
	return out, d.Err()
}

// TypeError is a JSON value of the wrong type for the Go value it is read into.
type TypeError struct {
	Field string // the key, "" for a value that is not an object field
	Want  string // the JSON type expected
	Got   string // the JS type found
}

func (e *TypeError) Error() string {
	if e.Field == "" {
		return "jsjson: cannot read " + e.Got + " as " + e.Want
	}
	return "jsjson: field " + e.Field + ": cannot read " + e.Got + " as " + e.Want
}

// Decoder reads parsed JSON values into Go values, keeping the first type mismatch.
type Decoder struct {
	err error
}

// Err is the first type mismatch met, or nil.
func (d *Decoder) Err() error { return d.err }

func (d *Decoder) fail(field, want string, v js.Value) {
	if d.err == nil {
		got := v.Type().String()
		if isArray(v) {
			got = "array"
		}
		d.err = &TypeError{Field: field, Want: want, Got: got}
	}
}

func isArray(v js.Value) bool {
	return v.Type() == js.TypeObject && js.Global().Get("Array").Call("isArray", v).Bool()
}

func absent(v js.Value) bool { return v.IsNull() || v.IsUndefined() }

// Object reports whether v is an object to read fields of. null (or an absent key) is not,
// without an error: the Go value stays zero. Any other non-object is a mismatch.
func (d *Decoder) Object(v js.Value) bool {
	switch {
	case absent(v):
		return false
	case v.Type() == js.TypeObject && !isArray(v):
		return true
	}
	d.fail("", "object", v)
	return false
}

// String reads the string at obj[key].
func (d *Decoder) String(obj js.Value, key string) string {
	v := obj.Get(key)
	switch {
	case v.Type() == js.TypeString:
		return v.String()
	case !absent(v):
		d.fail(key, "string", v)
	}
	return ""
}

// Bool reads the boolean at obj[key].
func (d *Decoder) Bool(obj js.Value, key string) bool {
	v := obj.Get(key)
	switch {
	case v.Type() == js.TypeBoolean:
		return v.Bool()
	case !absent(v):
		d.fail(key, "boolean", v)
	}
	return false
}

// IntPtr reads the integer at obj[key] into a new int; nil when absent or null.
func (d *Decoder) IntPtr(obj js.Value, key string) *int {
	f, ok := d.integer(obj.Get(key), key, math.MinInt, math.MaxInt)
	if !ok {
		return nil
	}
	n := int(f)
	return &n
}

// Int reads the integer at obj[key]; 0 when absent or null.
func (d *Decoder) Int(obj js.Value, key string) int {
	f, _ := d.integer(obj.Get(key), key, math.MinInt, math.MaxInt)
	return int(f)
}

// Uint16Ptr reads the integer at obj[key] into a new uint16; nil when absent or null.
func (d *Decoder) Uint16Ptr(obj js.Value, key string) *uint16 {
	f, ok := d.integer(obj.Get(key), key, 0, math.MaxUint16+1)
	if !ok {
		return nil
	}
	n := uint16(f)
	return &n
}

// integer reads v, a whole number in [lo, hi); ok is false when v is absent, null or a
// mismatch (then f is 0).
func (d *Decoder) integer(v js.Value, key string, lo, hi float64) (f float64, ok bool) {
	if absent(v) {
		return 0, false
	}
	if v.Type() != js.TypeNumber {
		d.fail(key, "number", v)
		return 0, false
	}
	f = v.Float()
	if f != math.Trunc(f) || f < lo || f >= hi {
		d.fail(key, "integer", v)
		return 0, false
	}
	return f, true
}

// BoolPtr reads the boolean at obj[key] into a new bool; nil when absent or null.
func (d *Decoder) BoolPtr(obj js.Value, key string) *bool {
	v := obj.Get(key)
	switch {
	case v.Type() == js.TypeBoolean:
		b := v.Bool()
		return &b
	case !absent(v):
		d.fail(key, "boolean", v)
	}
	return nil
}

// StringPtr reads the string at obj[key] into a new string; nil when absent or null.
func (d *Decoder) StringPtr(obj js.Value, key string) *string {
	v := obj.Get(key)
	switch {
	case v.Type() == js.TypeString:
		s := v.String()
		return &s
	case !absent(v):
		d.fail(key, "string", v)
	}
	return nil
}

// Array returns the array at obj[key] and its length; the length is -1 when the key is
// absent or null (a nil slice) and after a mismatch.
func (d *Decoder) Array(obj js.Value, key string) (js.Value, int) {
	return d.array(obj.Get(key), key)
}

func (d *Decoder) array(v js.Value, key string) (js.Value, int) {
	if absent(v) {
		return v, -1
	}
	if !isArray(v) {
		d.fail(key, "array", v)
		return v, -1
	}
	return v, v.Length()
}

// Strings reads the array of strings at obj[key]; a null element is "".
func (d *Decoder) Strings(obj js.Value, key string) []string {
	return d.strings(obj.Get(key), key)
}

// StringSlice reads v, an array of strings (or null: nil).
func (d *Decoder) StringSlice(v js.Value) []string { return d.strings(v, "") }

func (d *Decoder) strings(v js.Value, key string) []string {
	arr, n := d.array(v, key)
	if n < 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		switch e := arr.Index(i); {
		case e.Type() == js.TypeString:
			out[i] = e.String()
		case !absent(e):
			d.fail(key, "string", e)
		}
	}
	return out
}

// setString sets obj[key] = s, unless omitempty and s is "".
func setString(obj js.Value, key, s string, omitempty bool) {
	if s != "" || !omitempty {
		obj.Set(key, s)
	}
}
