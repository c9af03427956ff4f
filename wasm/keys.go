//go:build js && wasm

package main

import "strings"

// shortcut is an action of the room view that a key stands for.
type shortcut int

const (
	noShortcut     shortcut = iota
	shortcutMic             // m
	shortcutCamera          // c
	shortcutFull            // f
	shortcutInfo            // i
	shortcutHangup          // q
)

// keyPress is what of a keydown event decides whether it is a shortcut.
type keyPress struct {
	key       string // KeyboardEvent.key
	targetTag string // tagName of the focused element, "" for none
	modified  bool   // Ctrl, Meta or Alt held: the browser's or the system's shortcut
	composing bool   // inside an input method's composition
}

// shortcutFor is the action of k. Keys typed into a field are text, not shortcuts (the
// chat input, the device selects).
func shortcutFor(k keyPress) shortcut {
	if k.modified || k.composing {
		return noShortcut
	}
	switch strings.ToUpper(k.targetTag) {
	case "INPUT", "TEXTAREA", "SELECT":
		return noShortcut
	}
	switch strings.ToLower(k.key) {
	case "m":
		return shortcutMic
	case "c":
		return shortcutCamera
	case "f":
		return shortcutFull
	case "i":
		return shortcutInfo
	case "q":
		return shortcutHangup
	}
	return noShortcut
}
