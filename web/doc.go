// Package web holds the browser app's pages and files: templ components for the
// room-selection, room and room-full pages, the hand-written CSS and icon, the loader script,
// wasm_exec.js and the built WebAssembly app, embedded in the binary and served by [Assets].
//
// The .wasm is never committed: `make build` compiles ./wasm, and cmd/wasmpack gives it a
// content-hash name and writes its gzip and brotli variants next to it in static/. A fresh
// clone without them still compiles (static/ always holds the tracked CSS and scripts); the
// pages then say that the app is not built.
package web
