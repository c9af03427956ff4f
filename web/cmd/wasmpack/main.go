// Command wasmpack prepares the built browser app for embedding: it copies the .wasm into
// the static folder under a content-hash name (so browsers may cache it forever) and writes
// its gzip and brotli variants next to it, so that no request pays for compression. Older
// builds in the folder are removed. When the folder already holds this exact build it does
// nothing: brotli at quality 11 takes tens of seconds.
//
//	go run ./web/cmd/wasmpack -in bin/app.wasm -out web/static
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/andybalholm/brotli"
)

func main() {
	in := flag.String("in", "bin/app.wasm", "the built .wasm")
	out := flag.String("out", "web/static", "folder to write app.<hash>.wasm{,.gz,.br} into")
	flag.Parse()
	if err := pack(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "wasmpack:", err)
		os.Exit(1)
	}
}

func pack(in, dir string) error {
	raw, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	name := "app." + hex.EncodeToString(sum[:6]) + ".wasm"
	base := filepath.Join(dir, name)
	if complete(base) {
		fmt.Printf("wasmpack: %s is current\n", base)
		return nil
	}
	old, _ := filepath.Glob(filepath.Join(dir, "app.*.wasm*"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	gz, err := gzipBytes(raw)
	if err != nil {
		return err
	}
	br, err := brotliBytes(raw)
	if err != nil {
		return err
	}
	// The uncompressed file last: its presence marks a complete set (see complete).
	for _, f := range []struct {
		path string
		data []byte
	}{{base + ".gz", gz}, {base + ".br", br}, {base, raw}} {
		if err := writeAtomic(f.path, f.data); err != nil {
			return err
		}
	}
	fmt.Printf("wasmpack: %s raw %d, gzip %d, brotli %d bytes\n", base, len(raw), len(gz), len(br))
	return nil
}

func complete(base string) bool {
	for _, suffix := range []string{"", ".gz", ".br"} {
		if _, err := os.Stat(base + suffix); err != nil {
			return false
		}
	}
	return true
}

func gzipBytes(raw []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(raw); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func brotliBytes(raw []byte) ([]byte, error) {
	var b bytes.Buffer
	w := brotli.NewWriterOptions(&b, brotli.WriterOptions{Quality: brotli.BestCompression, LGWin: 24})
	if _, err := w.Write(raw); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeAtomic writes via a temporary file, so an interrupted build leaves no truncated file
// with a final name; the temporary name starts with a dot, which go:embed of a folder skips.
func writeAtomic(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
