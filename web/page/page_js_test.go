//go:build js && wasm

// Run under node: GOOS=js GOARCH=wasm go test -exec="$(go env GOROOT)/lib/wasm/go_js_wasm_exec" ./web/page/
package page

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/onertc/onertc/protocol"
)

// Decode must read what the server writes with encoding/json (templ.JSONScript) as
// encoding/json would.
func TestDecodeMatchesJSON(t *testing.T) {
	params := protocol.RoomParams{RoomID: "room-1", RoomLink: "http://localhost/r/room-1?it=relay", Messages: []string{},
		Params: protocol.Params{MediaConstraints: `{"audio":true,"video":{"width":{"ideal":1280}}}`,
			PCConfig: `{"iceServers":[],"iceTransports":"relay"}`, WarningMessages: []string{"<b>&"}}}
	var inputs []string
	for _, c := range []Config{{Page: Index}, {Page: Room, Room: "room-1", Params: &params, Access: "password"}, {Page: Full, Room: "x"}} {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, string(b))
	}
	inputs = append(inputs, `{"page":"room","params":null}`, `{}`, `null`, `{"page":1}`, `{"params":[]}`, `[`, ``)
	for _, in := range inputs {
		got, err := Decode(in)
		var want Config
		wantErr := json.Unmarshal([]byte(in), &want)
		if (err != nil) != (wantErr != nil) || (err == nil && !reflect.DeepEqual(got, want)) {
			t.Errorf("%s:\n Decode        %+v, %v\n encoding/json %+v, %v", in, got, err, want, wantErr)
		}
	}
}
