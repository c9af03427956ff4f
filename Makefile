# onertc — one binary for self-hosted 1:1 video calls.
#   make run    build everything and start the server on http://localhost:8080
#   make test   every test (installs the Debian packages tests need when missing)
#   make bench  benchmarks; updates BENCHMARKS.md
#   make dist   release archives, Debian packages and SHA256SUMS in bin/dist; make image

GO        ?= go
BIN       := bin/onertc
# Expanded once, so every recipe of one make run names the same version.
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
VERSION   := $(VERSION)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)
COMMIT    := $(COMMIT)
LDFLAGS   := -s -w -X github.com/onertc/onertc/server.Version=$(VERSION) -X main.commit=$(COMMIT)
# Release builds carry the last commit's time, never the build's (reproducible builds).
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
SOURCE_DATE_EPOCH := $(SOURCE_DATE_EPOCH)
# Fuzz budgets are execution counts, 2–10 s each on a 2-core machine: a duration (-fuzztime=10s)
# trips a race in Go 1.26's fuzz coordinator (go.dev/issue/75804, fixed in 1.27) that fails a
# target with "context deadline exceeded" and no crasher when the machine is busy. FUZZTIME=30s
# overrides every budget with a duration for a longer local run.
FUZZTIME  ?=
# The browser app: compiled for js/wasm, then hashed and precompressed into web/static by
# web/cmd/wasmpack (skipped when that build is already there), and embedded by package web.
WASM_RAW  := bin/app.wasm
WASM_EXEC := $(shell $(GO) env GOROOT)/lib/wasm/wasm_exec.js
# Fuzz targets, as package:target:executions.
FUZZ      := ./server/relay:FuzzRelayFrames:150000 ./server/relay:FuzzDecodeRequest:150000 \
             ./server/relay:FuzzMessageFrame:200000 ./server:FuzzHTTPInput:40000 \
             ./server/turn:FuzzParseUsername:150000 ./server/turn:FuzzParseTURNQuery:150000 \
             ./server/turn:FuzzGuard:150000 ./server/turn:FuzzWire:150000 ./server/demux:FuzzClassify:80000 \
             ./server/redisconn:FuzzRedact:100000 ./server/access:FuzzVerify:150000 \
             ./server/sfu:FuzzParseVP8:150000 ./protocol:FuzzParseGroupMessage:150000

.PHONY: all build wasm templ run test check unit load e2e fuzz deps bench clean stress dist image dist-test

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
	@scripts/need-debian-packages coturn chromium nodejs redis-server haproxy nginx curl zip file qemu-user-static systemd podman buildah
	@scripts/need-valkey

test: deps check unit load fuzz dist-test

# Release archives (.tar.gz with README and LICENSE) and Debian packages for linux/amd64,
# arm64 and arm (v7), static, with the app embedded; SHA256SUMS. See packaging/.
dist: wasm
	VERSION=$(VERSION) COMMIT=$(COMMIT) SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) GO=$(GO) packaging/dist

# A container image from scratch holding the binary of a release archive (this machine's
# architecture unless ARCH=arm64 or arm), tagged onertc:$(VERSION) and onertc:latest.
image: dist
	packaging/image bin/dist/onertc-$(VERSION)-linux-$(or $(ARCH),$(shell $(GO) env GOARCH)).tar.gz $(VERSION)

# Installs this machine's .deb (needs root: CI), runs it, upgrades and purges it; checks the
# other architectures' binaries, the image, and that a second make dist gives the same bytes.
dist-test: dist
	VERSION=$(VERSION) COMMIT=$(COMMIT) SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) GO=$(GO) packaging/test

check:
	@echo "== go.mod tidy"
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
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
# The Chromium tests run after the rest, not beside them: several headless tabs encoding fake
# video take both cores, and the relay's 200-room tests beside them timed out on a 2-core
# machine.
unit: wasm
	@echo "== go test ./wasm/ under node (the browser app's logic, GOOS=js)"
	@command -v node >/dev/null || { echo "node is missing: make deps installs it (Debian's nodejs)"; exit 1; }
	GOOS=js GOARCH=wasm $(GO) test -count=1 -exec="$$($(GO) env GOROOT)/lib/wasm/go_js_wasm_exec" ./wasm/
	@echo "== go test -race (the slowest ten tests are listed at the end)"
	$(GO) build -o bin/testtimes ./scripts/testtimes
	$(GO) test -race -count=1 -timeout 20m -json $$($(GO) list ./... | grep -v '/e2e/browser$$') | bin/testtimes -n 10
	@echo "== go test -race ./e2e/browser (headless Chromium)"
	$(GO) test -race -count=1 -timeout 20m -json ./e2e/browser | bin/testtimes -n 10

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
	@echo "== fuzz targets"
	@for pt in $(FUZZ); do pkg=$${pt%%:*}; rest=$${pt#*:}; target=$${rest%%:*}; execs=$${rest#*:}; \
	  budget=$${execs}x; [ -z "$(FUZZTIME)" ] || budget=$(FUZZTIME); \
	  echo "$(GO) test -run='^$$' -fuzz='^$$target\$$' -fuzztime=$$budget $$pkg"; \
	  $(GO) test -run='^$$' -fuzz="^$$target\$$" -fuzztime=$$budget $$pkg || exit 1; done

# Each benchmark writes bench/*/RESULTS.md; BENCHMARKS.md is assembled from them, and
# docs/scaling.md's figures are filled in from them.
# COLLIDER_BIN=/path/to/collider runs the relay scenarios against the original AppRTC Collider
# too and adds the ratio column; GALENE_BIN=/path/to/galene runs the SFU benchmark against
# Galène too (bench/sfu/RESULTS.md says how to build it), with the ratio column.
bench: deps build
	COLLIDER_BIN="$(COLLIDER_BIN)" scripts/bench-relay
	scripts/bench-shared
	bench/turn/run.sh
	scripts/bench-turn
	GALENE_BIN="$(GALENE_BIN)" scripts/bench-sfu
	bench/oneport/run.sh
	ONERTC_BENCH=1 $(GO) test -count=1 -run TestBenchmarkCalls -v -timeout 20m ./e2e
	ONERTC_BENCH=1 $(GO) test -count=1 -run TestBenchmarkBrowser -v -timeout 20m ./e2e/browser
	scripts/bench-failover
	scripts/bench-group-failover
	scripts/bench-restart
	scripts/bench-collect

clean:
	rm -rf bin
