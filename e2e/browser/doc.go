// Package browser tests the browser app in real headless Chromium (Debian's chromium, driven
// by chromedp) with fake cameras and microphones, against a real server started in the test
// process on an ephemeral port. `make deps` installs chromium; `make build` (or `make wasm`)
// must have built the app into the binary, since package web embeds it.
package browser
