//go:build js && wasm

package client

import (
	"context"
	"errors"
	"sync"
	"syscall/js"

	"github.com/onertc/onertc/internal/wrap"
)

// await waits for a JS promise. The then/catch functions are released once it settles; a
// cancelled ctx stops the wait but leaves them for the promise to settle into.
func await(ctx context.Context, promise js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	done := make(chan result, 1)
	var onOK, onErr js.Func
	release := func() {
		onOK.Release()
		onErr.Release()
	}
	onOK = js.FuncOf(func(_ js.Value, args []js.Value) any {
		v := js.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		done <- result{v: v}
		go release()
		return nil
	})
	onErr = js.FuncOf(func(_ js.Value, args []js.Value) any {
		err := errors.New("promise rejected")
		if len(args) > 0 {
			err = jsError(args[0])
		}
		done <- result{err: err}
		go release()
		return nil
	})
	promise.Call("then", onOK, onErr)
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return js.Undefined(), ctx.Err()
	}
}

// jsError makes an error of a thrown JS value (an Error, DOMException or anything else).
func jsError(v js.Value) error {
	if v.Type() == js.TypeObject {
		name, msg := v.Get("name"), v.Get("message")
		if msg.Type() == js.TypeString {
			if name.Type() == js.TypeString {
				return wrap.Error(name.String(), ": ", msg.String())
			}
			return errors.New(msg.String())
		}
	}
	return errors.New(v.String())
}

// call invokes v[method](args...) turning a JS exception into an error.
func call(v js.Value, method string, args ...any) (res js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			if jsErr, ok := r.(js.Error); ok {
				err = wrap.Error(method, ": ", jsErr)
				return
			}
			err = wrap.Error(method, ": ", wrap.Text(r))
		}
	}()
	return v.Call(method, args...), nil
}

// listeners tracks addEventListener registrations so they can be removed and released.
type listeners struct {
	target js.Value
	mu     sync.Mutex
	added  []struct {
		event string
		fn    js.Func
	}
}

// on registers f for event. f runs on the JS event loop: it must not block.
func (l *listeners) on(event string, f func(ev js.Value)) {
	fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ev := js.Undefined()
		if len(args) > 0 {
			ev = args[0]
		}
		f(ev)
		return nil
	})
	l.mu.Lock()
	l.added = append(l.added, struct {
		event string
		fn    js.Func
	}{event, fn})
	l.mu.Unlock()
	l.target.Call("addEventListener", event, fn)
}

// removeAll unregisters and releases every listener.
func (l *listeners) removeAll() {
	l.mu.Lock()
	added := l.added
	l.added = nil
	l.mu.Unlock()
	for _, a := range added {
		l.target.Call("removeEventListener", a.event, a.fn)
		a.fn.Release()
	}
}

// queue hands values from JS callbacks to one Go goroutine, in order, without blocking the
// callback.
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	wake   chan struct{}
	closed bool
}

func newQueue[T any]() *queue[T] { return &queue[T]{wake: make(chan struct{}, 1)} }

func (q *queue[T]) push(v T) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, v)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue[T]) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop waits for the next value; ok is false once the queue is closed and drained or ctx ends.
func (q *queue[T]) pop(ctx context.Context) (v T, ok bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			v = q.items[0]
			q.items = q.items[1:]
			q.mu.Unlock()
			return v, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return v, false
		}
		select {
		case <-q.wake:
		case <-ctx.Done():
			return v, false
		}
	}
}
