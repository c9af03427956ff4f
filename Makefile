# onertc — one binary for self-hosted 1:1 video calls.
#   make run    build everything and start the server on http://localhost:8080
#   make test   every test (installs the Debian packages tests need when missing)
#   make bench  benchmarks; updates BENCHMARKS.md

GO        ?= go
BIN       := bin/onertc
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/onertc/onertc/server.Version=$(VERSION)
FUZZTIME  ?= 10s
# Packages with fuzz targets, as package:target.
FUZZ      := ./server/signal:FuzzRelayFrames ./server:FuzzHTTPInput

.PHONY: all build run test check unit fuzz deps bench clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./server/cmd/onertc

run: build
	./$(BIN)

# Debian packages the tests drive (real clients nobody on this team wrote).
deps:
	@scripts/need-debian-packages coturn

test: deps check unit fuzz

check:
	@echo "== gofmt, go vet"
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt wants to change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./protocol/...

unit:
	@echo "== go test -race"
	$(GO) test -race -count=1 -timeout 20m ./...

fuzz:
	@echo "== fuzz targets, $(FUZZTIME) each"
	@for pt in $(FUZZ); do pkg=$${pt%%:*}; target=$${pt##*:}; \
	  echo "$(GO) test -run='^$$' -fuzz='^$$target\$$' -fuzztime=$(FUZZTIME) $$pkg"; \
	  $(GO) test -run='^$$' -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; done

bench: build
	scripts/bench-relay

clean:
	rm -rf bin
