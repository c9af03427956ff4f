//go:build js && wasm

package main

import (
	"strconv"
	"strings"
)

// device is a MediaDeviceInfo.
type device struct{ id, label, kind string }

// choice is an option of a device select.
type choice struct {
	label, value string
	selected     bool
}

// deviceChoices are the options of the select for kind ("videoinput", "audioinput"):
// devices without a label (the browser tells them only once access is granted) are called
// name and a number; currentID, the device in use, is selected. Devices without an id
// (the same reason) cannot be chosen.
func deviceChoices(devs []device, kind, name, currentID string) []choice {
	var out []choice
	for _, d := range devs {
		if d.kind != kind || d.id == "" {
			continue
		}
		label := d.label
		if label == "" {
			label = name + " " + strconv.Itoa(len(out)+1)
		}
		out = append(out, choice{label: label, value: d.id, selected: d.id == currentID})
	}
	return out
}

// codecOrder is the order to give codecs, by their mimeTypes, so that kind/name (?vsc=VP9
// makes "video/VP9") comes first: indexes into mimeTypes, each group in the browser's
// order. nil when no codec matches: the browser's order stays.
func codecOrder(mimeTypes []string, kind, name string) []int {
	want := kind + "/" + name
	var first, rest []int
	for i, m := range mimeTypes {
		if strings.ToLower(m) == strings.ToLower(want) {
			first = append(first, i)
		} else {
			rest = append(rest, i)
		}
	}
	if len(first) == 0 {
		return nil
	}
	return append(first, rest...)
}
