# onertc — one binary for self-hosted 1:1 video calls.
#   make run    build everything and start the server on http://localhost:8080
#   make test   every test (installs the Debian packages tests need when missing)
#   make bench  benchmarks; updates BENCHMARKS.md

GO        ?= go
BIN       := bin/onertc
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/onertc/onertc/server.Version=$(VERSION)
FUZZTIME  ?= 10s
# The browser app: compiled for js/wasm, then hashed and precompressed into web/static by
# web/cmd/wasmpack (skipped when that build is already there), and embedded by package web.
WASM_RAW  := bin/app.wasm
WASM_EXEC := $(shell $(GO) env GOROOT)/lib/wasm/wasm_exec.js
# Packages with fuzz targets, as package:target.
FUZZ      := ./server/signal:FuzzRelayFrames ./server/signal:FuzzDecodeRequest ./server:FuzzHTTPInput ./server/turn:FuzzParseUsername \
             ./server/turn:FuzzParseTURNQuery ./server/turn:FuzzGuard

.PHONY: all build wasm templ run test check unit load e2e fuzz deps bench clean stress

all: build

build: wasm
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./server/cmd/onertc

# The .wasm is never committed; wasm_exec.js must match the Go that builds it, so it is
# copied from this toolchain.
wasm:
	@mkdir -p bin
	cp "$(WASM_EXEC)" web/static/wasm_exec.js
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags '-s -w' -o $(WASM_RAW) ./wasm
	$(GO) run ./web/cmd/wasmpack -in $(WASM_RAW) -out web/static

# Regenerates the committed *_templ.go from web/*.templ.
templ:
	$(GO) tool templ generate -path web

run: build
	./$(BIN)

# Debian packages the tests drive (real clients nobody on this team wrote).
deps:
	@scripts/need-debian-packages coturn chromium nodejs redis-server haproxy

test: deps check unit load fuzz

check:
	@echo "== gofmt, go vet"
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt wants to change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./protocol/... ./client/... ./wasm/... ./web/page/... ./web/roomname/...
	@echo "== js/wasm tests under node (the browser build of the client and page config)"
	GOOS=js GOARCH=wasm $(GO) test -count=1 -exec="$$($(GO) env GOROOT)/lib/wasm/go_js_wasm_exec" ./client/... ./web/page/
	@echo "== templ output up to date"
	@cd web && for f in *.templ; do \
	  $(GO) tool templ generate -f "$$f" -stdout | cmp -s - "$${f%.templ}_templ.go" || \
	    { echo "web/$${f%.templ}_templ.go is stale: run make templ"; exit 1; }; done

# The browser tests drive the embedded app: build it first.
unit: wasm
	@echo "== go test -race"
	$(GO) test -race -count=1 -timeout 20m ./...

# 50 concurrent calls, 100 pion bots: built without the race detector, which would slow
# pion far more than the server (the load test skips itself under -race).
load: wasm
	@echo "== load: 50 concurrent calls, direct and relay-only"
	$(GO) test -count=1 -run 'TestFiftyConcurrentCalls' -timeout 10m ./e2e

# The end-to-end tests alone (also part of unit): pion bots through the TURN relay, TLS with a
# test CA, and real headless Chromium.
e2e: deps wasm load
	$(GO) test -race -count=1 -timeout 20m ./e2e/...

# The timing-sensitive packages several times on a busy machine (see scripts/stress). Run it
# before every submission that touches the relay, the client or the e2e tests.
stress: deps wasm
	GO=$(GO) scripts/stress

fuzz:
	@echo "== fuzz targets, $(FUZZTIME) each"
	@for pt in $(FUZZ); do pkg=$${pt%%:*}; target=$${pt##*:}; \
	  echo "$(GO) test -run='^$$' -fuzz='^$$target\$$' -fuzztime=$(FUZZTIME) $$pkg"; \
	  $(GO) test -run='^$$' -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; done

# Each benchmark writes bench/*/RESULTS.md; BENCHMARKS.md is assembled from them.
bench: deps build
	scripts/bench-relay
	scripts/bench-shared
	bench/turn/run.sh
	ONERTC_BENCH=1 $(GO) test -count=1 -run TestBenchmarkCalls -v -timeout 20m ./e2e
	ONERTC_BENCH=1 $(GO) test -count=1 -run TestBenchmarkBrowser -v -timeout 20m ./e2e/browser
	scripts/bench-collect

clean:
	rm -rf bin
