package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"
)

func testAssets() *Assets {
	return newAssets(fstest.MapFS{
		"static/app.css":                  {Data: []byte("body{}")},
		"static/app.0123456789ab.wasm":    {Data: []byte("\x00asm raw")},
		"static/app.0123456789ab.wasm.gz": {Data: []byte("gz")},
		"static/app.0123456789ab.wasm.br": {Data: []byte("br")},
	})
}

func TestAssetsWasmEncoding(t *testing.T) {
	a := testAssets()
	if a.WasmURL() != "/static/app.0123456789ab.wasm" {
		t.Fatalf("WasmURL %q", a.WasmURL())
	}
	tests := []struct{ accept, wantEnc, wantBody string }{
		{"gzip, deflate, br, zstd", "br", "br"},
		{"gzip", "gzip", "gz"},
		{"br;q=0, gzip", "gzip", "gz"},
		{"*", "br", "br"},
		{"", "", "\x00asm raw"},
		{"identity", "", "\x00asm raw"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", a.WasmURL(), nil)
		req.Header.Set("Accept-Encoding", tt.accept)
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		h := rec.Result().Header
		if rec.Code != 200 || h.Get("Content-Encoding") != tt.wantEnc || rec.Body.String() != tt.wantBody {
			t.Errorf("Accept-Encoding %q: %d, encoding %q, body %q", tt.accept, rec.Code, h.Get("Content-Encoding"), rec.Body.String())
		}
		if h.Get("Content-Type") != "application/wasm" || h.Get("Vary") != "Accept-Encoding" ||
			h.Get("Cache-Control") != "public, max-age=31536000, immutable" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("Accept-Encoding %q: headers %v", tt.accept, h)
		}
		// Revalidation of the same variant is a 304.
		req.Header.Set("If-None-Match", h.Get("ETag"))
		rec = httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: %d", h.Get("ETag"), rec.Code)
		}
	}
}

func TestAssetsVersionedLinks(t *testing.T) {
	a := testAssets()
	u := a.URL("app.css")
	for _, tt := range []struct{ url, cache string }{
		{u, "public, max-age=31536000, immutable"},
		{"/static/app.css?v=stale", "no-cache"},
		{"/static/app.css", "no-cache"},
	} {
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest("GET", tt.url, nil))
		if rec.Code != 200 || rec.Header().Get("Cache-Control") != tt.cache || rec.Header().Get("Content-Type") != "text/css; charset=utf-8" {
			t.Errorf("%s: %d %v", tt.url, rec.Code, rec.Header())
		}
	}
	for _, bad := range []string{"/static/nope.js", "/static/app.0123456789ab.wasm.br", "/static/../assets.go"} {
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest("GET", bad, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", bad, rec.Code)
		}
	}
}

func TestEmbeddedStaticFiles(t *testing.T) {
	a := DefaultAssets()
	for _, name := range []string{"app.css", "boot.js", "icon.svg"} {
		if a.URL(name) == "" {
			t.Errorf("%s is not embedded", name)
		}
	}
}

// TestAssetsReadPerRequest checks that the files are read from the FS at each request, not
// kept as copies on the heap (the embedded ones live in the binary), and that their sizes
// are known without them.
func TestAssetsReadPerRequest(t *testing.T) {
	fsys := fstest.MapFS{
		"static/app.0123456789ab.wasm":    {Data: []byte("\x00asm raw")},
		"static/app.0123456789ab.wasm.br": {Data: []byte("br")},
	}
	a := newAssets(fsys)
	if raw, gz, br := a.WasmSizes(); raw != 8 || gz != 0 || br != 2 {
		t.Fatalf("WasmSizes = %d, %d, %d; want 8, 0, 2", raw, gz, br)
	}
	fsys["static/app.0123456789ab.wasm.br"].Data[0] = 'B'
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", a.WasmURL(), nil)
	req.Header.Set("Accept-Encoding", "br")
	a.ServeHTTP(rec, req)
	if rec.Body.String() != "Br" || rec.Header().Get("Content-Length") != "2" {
		t.Fatalf("body %q, length %s; want the file as it is now", rec.Body.String(), rec.Header().Get("Content-Length"))
	}
}
