package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

//go:embed static
var staticFS embed.FS

// asset is one embedded file with its precompressed variants, if the build made them. Only
// their names and sizes are kept: each request reads the embedded data, which lives in the
// binary's read-only pages. Copies on the heap (5 MB with the wasm and its variants) would
// also raise the garbage collector's heap goal by as much, which an SFU under load fills.
type asset struct {
	ctype    string
	name     string // path in the FS
	size     int
	gz, br   int    // sizes of the variants, 0 when missing
	hash     string // hex prefix of the SHA-256 of the file
	hashName bool   // the name itself carries the hash (the wasm): always immutable
}

// Assets serves the embedded static files under /static/. The wasm has a content-hash name;
// the other files are linked as name?v=hash. Both are cached for a year as immutable, so a
// warm reload fetches nothing; a link with a stale v is served with no-cache instead.
type Assets struct {
	fsys  fs.FS
	files map[string]*asset
	wasm  string // name of the hashed wasm, "" when the app is not built
}

// DefaultAssets returns the Assets of the embedded files. They are read and hashed once per
// process: the embedded data never changes.
var DefaultAssets = sync.OnceValue(func() *Assets { return newAssets(staticFS) })

func newAssets(fsys fs.FS) *Assets {
	a := &Assets{fsys: fsys, files: map[string]*asset{}}
	entries, _ := fs.ReadDir(fsys, "static") // embedded: cannot fail
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasSuffix(name, ".gz") || strings.HasSuffix(name, ".br") {
			continue
		}
		f := &asset{ctype: contentType(name), name: "static/" + name}
		sum := sha256.New()
		n, err := copyFile(sum, fsys, f.name)
		if err != nil {
			continue
		}
		f.size, f.hash = n, hex.EncodeToString(sum.Sum(nil)[:6])
		if strings.HasSuffix(name, ".wasm") {
			f.hashName = true
			f.gz = fileSize(fsys, f.name+".gz")
			f.br = fileSize(fsys, f.name+".br")
			// cmd/wasmpack removes older builds, so there is one.
			a.wasm = name
		}
		a.files[name] = f
	}
	return a
}

// copyFile writes the file at name to w and returns its length.
func copyFile(w io.Writer, fsys fs.FS, name string) (int, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := io.Copy(w, f)
	return int(n), err
}

// fileSize is the size of the file at name, 0 when there is none.
func fileSize(fsys fs.FS, name string) int {
	st, err := fs.Stat(fsys, name)
	if err != nil || st.IsDir() {
		return 0
	}
	return int(st.Size())
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".wasm":
		return "application/wasm"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	}
	return "text/plain; charset=utf-8"
}

// URL is the cache-busting link of a static file ("" when there is none).
func (a *Assets) URL(name string) string {
	f, ok := a.files[name]
	if !ok {
		return ""
	}
	if f.hashName {
		return "/static/" + name
	}
	return "/static/" + name + "?v=" + f.hash
}

// WasmURL is the link of the built app, "" when the binary was built without it.
func (a *Assets) WasmURL() string {
	if a.wasm == "" {
		return ""
	}
	return a.URL(a.wasm)
}

// WasmSizes returns the sizes of the app and its gzip and brotli variants (0 when missing).
func (a *Assets) WasmSizes() (raw, gz, br int) {
	f, ok := a.files[a.wasm]
	if !ok {
		return 0, 0, 0
	}
	return f.size, f.gz, f.br
}

// ServeHTTP serves GET and HEAD /static/{name}.
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/static/")
	f, ok := a.files[name]
	if !ok || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if f.hashName || r.URL.Query().Get("v") == f.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	body, size, enc := f.name, f.size, ""
	if f.gz > 0 || f.br > 0 {
		h.Set("Vary", "Accept-Encoding")
		switch accepts := acceptedEncodings(r.Header.Get("Accept-Encoding")); {
		case f.br > 0 && accepts["br"]:
			body, size, enc = f.name+".br", f.br, "br"
		case f.gz > 0 && accepts["gzip"]:
			body, size, enc = f.name+".gz", f.gz, "gzip"
		}
	}
	etag := `"` + f.hash + enc + `"`
	h.Set("ETag", etag)
	if enc != "" {
		h.Set("Content-Encoding", enc)
	}
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(size))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = copyFile(w, a.fsys, body) // the client may be gone; nothing to do then
}

// acceptedEncodings parses Accept-Encoding; an encoding with q=0 is refused.
func acceptedEncodings(header string) map[string]bool {
	out := map[string]bool{}
	for _, part := range strings.Split(header, ",") {
		token, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		token = strings.ToLower(strings.TrimSpace(token))
		if token == "" {
			continue
		}
		refused := false
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "q") {
				q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				refused = err != nil || q <= 0
			}
		}
		out[token] = !refused
	}
	if out["*"] {
		for _, e := range []string{"br", "gzip"} {
			if _, named := out[e]; !named {
				out[e] = true
			}
		}
	}
	return out
}
