package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

//go:embed static
var staticFS embed.FS

// asset is one embedded file with its precompressed variants, if the build made them.
type asset struct {
	ctype    string
	raw      []byte
	gz, br   []byte
	hash     string // hex prefix of the SHA-256 of raw
	hashName bool   // the name itself carries the hash (the wasm): always immutable
}

// Assets serves the embedded static files under /static/. The wasm has a content-hash name;
// the other files are linked as name?v=hash. Both are cached for a year as immutable, so a
// warm reload fetches nothing; a link with a stale v is served with no-cache instead.
type Assets struct {
	files map[string]*asset
	wasm  string // name of the hashed wasm, "" when the app is not built
}

// DefaultAssets returns the Assets of the embedded files. They are read and hashed once per
// process: the embedded data never changes.
var DefaultAssets = sync.OnceValue(func() *Assets { return newAssets(staticFS) })

func newAssets(fsys fs.FS) *Assets {
	a := &Assets{files: map[string]*asset{}}
	entries, _ := fs.ReadDir(fsys, "static") // embedded: cannot fail
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasSuffix(name, ".gz") || strings.HasSuffix(name, ".br") {
			continue
		}
		raw, err := fs.ReadFile(fsys, "static/"+name)
		if err != nil {
			continue
		}
		sum := sha256.Sum256(raw)
		f := &asset{ctype: contentType(name), raw: raw, hash: hex.EncodeToString(sum[:6])}
		if strings.HasSuffix(name, ".wasm") {
			f.hashName = true
			f.gz, _ = fs.ReadFile(fsys, "static/"+name+".gz")
			f.br, _ = fs.ReadFile(fsys, "static/"+name+".br")
			// cmd/wasmpack removes older builds, so there is one.
			a.wasm = name
		}
		a.files[name] = f
	}
	return a
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
	return len(f.raw), len(f.gz), len(f.br)
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
	body, enc := f.raw, ""
	if f.gz != nil || f.br != nil {
		h.Set("Vary", "Accept-Encoding")
		switch accepts := acceptedEncodings(r.Header.Get("Accept-Encoding")); {
		case f.br != nil && accepts["br"]:
			body, enc = f.br, "br"
		case f.gz != nil && accepts["gzip"]:
			body, enc = f.gz, "gzip"
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
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body) // the client may be gone; nothing to do then
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
