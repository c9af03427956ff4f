//go:build js && wasm

package main

import "testing"

func TestShortcutFor(t *testing.T) {
	for _, tc := range []struct {
		k    keyPress
		want shortcut
	}{
		{keyPress{key: "m"}, shortcutMic},
		{keyPress{key: "M"}, shortcutMic}, // Shift or Caps Lock
		{keyPress{key: "c"}, shortcutCamera},
		{keyPress{key: "f"}, shortcutFull},
		{keyPress{key: "i"}, shortcutInfo},
		{keyPress{key: "q"}, shortcutHangup},
		{keyPress{key: "x"}, noShortcut},
		{keyPress{key: "Escape"}, noShortcut},
		{keyPress{key: ""}, noShortcut},
		{keyPress{key: "m", targetTag: "BUTTON"}, shortcutMic},
		{keyPress{key: "m", targetTag: "BODY"}, shortcutMic},
		{keyPress{key: "m", targetTag: "INPUT"}, noShortcut}, // typing in the chat
		{keyPress{key: "q", targetTag: "input"}, noShortcut},
		{keyPress{key: "c", targetTag: "TEXTAREA"}, noShortcut},
		{keyPress{key: "f", targetTag: "SELECT"}, noShortcut},
		{keyPress{key: "c", modified: true}, noShortcut}, // Ctrl+C copies
		{keyPress{key: "i", composing: true}, noShortcut},
	} {
		if got := shortcutFor(tc.k); got != tc.want {
			t.Errorf("shortcutFor(%+v) = %d, want %d", tc.k, got, tc.want)
		}
	}
}
