//go:build js && wasm

package page

import (
	"syscall/js"

	"github.com/onertc/onertc/client/jsjson"
)

// Decode reads a Config from its JSON (a Go string or a JS string value) with the browser's
// JSON.parse, so that the app does not link encoding/json. It follows the struct tags of
// Config, as encoding/json would (page_js_test.go compares the two).
func Decode(text any) (Config, error) {
	return jsjson.Decode(text, func(d *jsjson.Decoder, v js.Value) Config {
		var c Config
		if d.Object(v) {
			c.Page = d.String(v, "page")
			c.Room = d.String(v, "room")
			c.Access = d.String(v, "access")
			if p := v.Get("params"); d.Object(p) {
				params := d.RoomParams(p)
				c.Params = &params
			}
		}
		return c
	})
}
