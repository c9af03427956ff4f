//go:build js && wasm

package main

import (
	"fmt"
	"reflect"
	"syscall/js"
	"testing"
)

// jsFunc is a JS function with body, made by the page's own Function constructor.
func jsFunc(body string) js.Value { return js.Global().Get("Function").New(body) }

func TestTry(t *testing.T) {
	v, err := try(js.Global().Get("JSON"), "parse", "[1,2]")
	if err != nil || v.Length() != 2 {
		t.Errorf("try(JSON.parse, [1,2]) = %v, %v; want an array of 2", v, err)
	}
	for _, tc := range []struct {
		name     string
		v        js.Value
		method   string
		args     []any
		wantName string // the DOMException or Error name the error keeps
	}{
		{"exception", js.Global().Get("JSON"), "parse", []any{"{"}, "SyntaxError"},
		{"thrown string", js.ValueOf(map[string]any{"f": jsFunc(`throw "plain"`)}), "f", nil, ""},
		{"thrown DOMException", js.ValueOf(map[string]any{"f": jsFunc(`throw new DOMException("no camera", "NotFoundError")`)}), "f", nil, "NotFoundError"},
		{"no such method", js.Global().Get("JSON"), "nosuch", nil, ""},
		{"undefined receiver", js.Undefined(), "getItem", []any{"k"}, ""}, // no localStorage
	} {
		_, err := try(tc.v, tc.method, tc.args...)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if got := errName(fmt.Errorf("wrapped: %w", err)); got != tc.wantName {
			t.Errorf("%s: error %q named %q, want %q", tc.name, err, got, tc.wantName)
		}
	}
}

func TestJSErr(t *testing.T) {
	newErr := func(ctor string, args ...any) js.Value { return js.Global().Get(ctor).New(args...) }
	for _, tc := range []struct {
		v          js.Value
		text, name string
	}{
		{newErr("Error", "boom"), "Error: boom", "Error"},
		{newErr("TypeError", "x is not a function"), "TypeError: x is not a function", "TypeError"},
		{newErr("DOMException", "Permission denied", "NotAllowedError"), "NotAllowedError: Permission denied", "NotAllowedError"},
		{js.ValueOf(map[string]any{"message": "no name"}), "no name", ""},
		{js.ValueOf(map[string]any{"message": "numeric name", "name": 3}), "numeric name", ""},
		{js.ValueOf("just text"), "just text", ""},
		{js.ValueOf(42), "<number: 42>", ""},
	} {
		err := jsErr(tc.v)
		if err.Error() != tc.text || errName(err) != tc.name {
			t.Errorf("jsErr(%v) = %q named %q, want %q named %q", tc.v, err, errName(err), tc.text, tc.name)
		}
	}
	if got := errName(fmt.Errorf("plain")); got != "" {
		t.Errorf("errName of a Go error = %q, want none", got)
	}
}

// TestAwait: a promise's value or rejection, also one that settles later on the event loop.
func TestAwait(t *testing.T) {
	for _, tc := range []struct {
		promise string
		want    string // the value as a string, or the error's text
		fails   bool
	}{
		{`return Promise.resolve("now")`, "now", false},
		{`return new Promise(ok => setTimeout(() => ok("later"), 20))`, "later", false},
		{`return Promise.reject(new RangeError("too big"))`, "RangeError: too big", true},
		{`return new Promise((_, fail) => setTimeout(() => fail(new DOMException("gone", "AbortError")), 20))`, "AbortError: gone", true},
	} {
		v, err := await(jsFunc(tc.promise).Invoke())
		switch {
		case tc.fails && (err == nil || err.Error() != tc.want):
			t.Errorf("%s: await = %v, %v; want the error %q", tc.promise, v, err, tc.want)
		case !tc.fails && (err != nil || v.String() != tc.want):
			t.Errorf("%s: await = %v, %v; want %q", tc.promise, v, err, tc.want)
		}
	}
}

// TestListen: a listener sees the events of its target until its removal, which may be
// called again.
func TestListen(t *testing.T) {
	target := js.Global().Get("EventTarget").New()
	var got []string
	off := listen(target, "ping", func(ev js.Value) { got = append(got, ev.Get("type").String()) })
	other := listen(target, "pong", func(ev js.Value) { got = append(got, "pong") })
	defer other()
	fire := func(name string) { target.Call("dispatchEvent", js.Global().Get("Event").New(name)) }
	// node's own count: a listener left behind calls a released func, which only logs.
	listeners := func(name string) int {
		return js.Global().Call("require", "events").Call("getEventListeners", target, name).Length()
	}
	fire("ping")
	fire("pong")
	fire("ping")
	if n := listeners("ping"); n != 1 {
		t.Errorf("%d ping listeners, want 1", n)
	}
	off()
	off()
	fire("ping")
	if want := []string{"ping", "pong", "ping"}; !reflect.DeepEqual(got, want) {
		t.Errorf("events seen %q, want %q", got, want)
	}
	if n, m := listeners("ping"), listeners("pong"); n != 0 || m != 1 {
		t.Errorf("after off: %d ping and %d pong listeners, want 0 and 1", n, m)
	}
}

// TestUIOrder: work posted from goroutines and events runs on the UI goroutine one at a
// time, in the order posted.
func TestUIOrder(t *testing.T) {
	u := newUI()
	stopped := make(chan struct{})
	go func() {
		u.run()
		close(stopped)
	}()
	target := js.Global().Get("EventTarget").New()
	var got []int
	n := 0
	off := u.on(target, "tick", func(js.Value) { got = append(got, -1) })
	defer off()
	done := make(chan struct{})
	for i := range 50 {
		u.post(func() { got = append(got, i) })
		if i%10 == 0 {
			target.Call("dispatchEvent", js.Global().Get("Event").New("tick"))
			n++
		}
	}
	u.post(func() { close(done) })
	<-done
	close(u.wake) // nothing posts any more: run returns
	<-stopped
	var want []int
	for i := range 50 {
		want = append(want, i)
		if i%10 == 0 {
			want = append(want, -1)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ran %v\nwant %v", got, want)
	}
	if n != 5 {
		t.Fatalf("dispatched %d events, want 5", n)
	}
}
