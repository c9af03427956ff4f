package secretfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want, wantErr string
	}{
		{"line", "s3cret\n", "s3cret", ""},
		{"no newline", "s3cret", "s3cret", ""},
		{"crlf", "s3cret\r\n", "s3cret", ""},
		{"spaces kept", " s p \n", " s p ", ""},
		{"empty", "", "", "the file is empty: want the key alone on one line"},
		{"only a newline", "\n", "", "the file is empty: want the key alone on one line"},
		{"two lines", "one\ntwo\n", "", "want the key alone on one line, found several lines"},
		{"blank line after", "one\n\n", "", "want the key alone on one line, found several lines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := Read("--x-file", "key", path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), "--x-file "+path+": "+tc.wantErr) {
					t.Fatalf("Read = %q, %v; want the error %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Read = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := Read("--x-file", "key", filepath.Join(dir, "none")); err == nil || !strings.Contains(err.Error(), "--x-file: ") {
		t.Fatalf("missing file: %v", err)
	}
}
