// Package secretfile reads a secret (a password, a key) from a file of its own, the way
// every command takes secrets: a flag on the command line would show in ps.
package secretfile

import (
	"fmt"
	"os"
	"strings"
)

// Read returns what is alone on the one line of path, its line ending trimmed. flag names
// the setting in errors ("--turn-secret-file"), what the secret ("password", "key").
func Read(flag, what, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	switch {
	case v == "":
		return "", fmt.Errorf("%s %s: the file is empty: want the %s alone on one line", flag, path, what)
	case strings.ContainsAny(v, "\r\n"):
		return "", fmt.Errorf("%s %s: want the %s alone on one line, found several lines", flag, path, what)
	}
	return v, nil
}
