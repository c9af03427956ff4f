//go:build js && wasm

package main

import (
	"strings"

	"github.com/onertc/onertc/internal/wrap"
)

// logLine is one record as the console shows it: the message, then key=value attributes.
func logLine(msg string, args []any) string {
	var b strings.Builder
	b.WriteString(msg)
	for i := 0; i < len(args); i += 2 {
		b.WriteByte(' ')
		if i+1 == len(args) {
			// A dangling value, as slog.Logger names it.
			b.WriteString("!BADKEY=" + wrap.Text(args[i]))
			break
		}
		b.WriteString(wrap.Text(args[i]) + "=" + wrap.Text(args[i+1]))
	}
	return b.String()
}
