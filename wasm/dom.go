//go:build js && wasm

package main

import (
	"errors"
	"strconv"
	"sync"
	"syscall/js"

	"github.com/onertc/onertc/internal/wrap"
)

// ui owns the page state: every change to it runs as a func on the one goroutine of run, in
// the order posted, so app state needs no locks.
type ui struct {
	mu    sync.Mutex
	queue []func()
	wake  chan struct{}
}

func newUI() *ui { return &ui{wake: make(chan struct{}, 1)} }

// post schedules f on the UI goroutine. It never blocks, so JS callbacks and the call's
// event hook may use it.
func (u *ui) post(f func()) {
	u.mu.Lock()
	u.queue = append(u.queue, f)
	u.mu.Unlock()
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

func (u *ui) run() {
	for range u.wake {
		for {
			u.mu.Lock()
			if len(u.queue) == 0 {
				u.mu.Unlock()
				break
			}
			f := u.queue[0]
			u.queue = u.queue[1:]
			u.mu.Unlock()
			f()
		}
	}
}

// on adds an event listener whose handler runs on the UI goroutine. The returned func
// removes the listener and releases the js.Func.
func (u *ui) on(target js.Value, event string, f func(ev js.Value)) (off func()) {
	return listen(target, event, func(ev js.Value) { u.post(func() { f(ev) }) })
}

// listen adds a listener that runs sync on the JS event loop: for what must happen inside
// the event (preventDefault), and nothing that blocks.
func listen(target js.Value, event string, f func(ev js.Value)) (off func()) {
	fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ev := js.Undefined()
		if len(args) > 0 {
			ev = args[0]
		}
		f(ev)
		return nil
	})
	target.Call("addEventListener", event, fn)
	var once sync.Once
	return func() {
		once.Do(func() {
			target.Call("removeEventListener", event, fn)
			fn.Release()
		})
	}
}

// offs collects listener removals of one owner (a peer connection, a data channel).
type offs []func()

func (o *offs) add(off func()) { *o = append(*o, off) }
func (o *offs) run() {
	for _, f := range *o {
		f()
	}
	*o = nil
}

// await waits for a promise. Call it only from a goroutine of its own, never from a JS
// callback or the UI goroutine: the promise settles on the event loop it would block.
func await(promise js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	done := make(chan result, 1)
	var ok, fail js.Func
	ok = js.FuncOf(func(_ js.Value, args []js.Value) any {
		done <- result{v: arg0(args)}
		return nil
	})
	fail = js.FuncOf(func(_ js.Value, args []js.Value) any {
		done <- result{err: jsErr(arg0(args))}
		return nil
	})
	promise.Call("then", ok, fail)
	r := <-done
	ok.Release()
	fail.Release()
	return r.v, r.err
}

func arg0(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}

// domError is a rejected promise or thrown exception, with the DOMException name kept for
// telling permission problems from missing devices.
type domError struct{ name, msg string }

func (e *domError) Error() string {
	if e.name == "" {
		return e.msg
	}
	return e.name + ": " + e.msg
}

func jsErr(v js.Value) error {
	if v.Type() == js.TypeObject {
		name, msg := v.Get("name"), v.Get("message")
		if msg.Type() == js.TypeString {
			e := &domError{msg: msg.String()}
			if name.Type() == js.TypeString {
				e.name = name.String()
			}
			return e
		}
	}
	return &domError{msg: v.String()}
}

func errName(err error) string {
	var d *domError
	if errors.As(err, &d) {
		return d.name
	}
	return ""
}

// try calls v[method](args...) and turns a JS exception into an error.
func try(v js.Value, method string, args ...any) (res js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(js.Error); ok {
				err = jsErr(e.Value)
				return
			}
			err = wrap.Error(method, ": ", wrap.Text(r))
		}
	}()
	return v.Call(method, args...), nil
}

// ignoreRejection attaches a no-op catch, so promises whose outcome does not matter (play,
// requestFullscreen) do not log "uncaught in promise".
func ignoreRejection(p js.Value) {
	if p.Type() == js.TypeObject && p.Get("catch").Type() == js.TypeFunction {
		p.Call("catch", noop)
	}
}

var noop = js.FuncOf(func(js.Value, []js.Value) any { return nil })

func doc() js.Value           { return js.Global().Get("document") }
func byID(id string) js.Value { return doc().Call("getElementById", id) }
func setText(el js.Value, s string) {
	if el.Truthy() {
		el.Set("textContent", s)
	}
}
func setHidden(el js.Value, hidden bool) {
	if el.Truthy() {
		el.Set("hidden", hidden)
	}
}
func setPressed(el js.Value, on bool) {
	if el.Truthy() {
		el.Call("setAttribute", "aria-pressed", strconv.FormatBool(on))
	}
}
