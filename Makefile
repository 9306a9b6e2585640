# chatbridge: the two commands that matter are `make run` and `make test`.
GO       ?= go
BIN      := bin/chatbridge
CONFIG   ?= config.toml
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME ?= 60s

.PHONY: build run console test test-short bench fuzz lint clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/chatbridge

# run: with no config.toml, chatbridge creates one from config.example.toml,
# says what to fill in and exits 2.
run: build
	./$(BIN) run -config $(CONFIG)

console: build
	./$(BIN) console -config $(CONFIG)

# test: the whole suite, offline, with the race detector.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...

test-short:
	$(GO) test -count=1 ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./engine/... ./storage/... ./bridges/...

# fuzz: each fuzz target for FUZZTIME (go test runs one target at a time).
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzSplit$$' -fuzztime $(FUZZTIME) ./engine
	$(GO) test -run '^$$' -fuzz '^FuzzFences$$' -fuzztime $(FUZZTIME) ./engine
	$(GO) test -run '^$$' -fuzz '^FuzzSSE$$' -fuzztime $(FUZZTIME) ./engine/openrouter

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1)
	$(GO) vet ./...

clean:
	rm -rf bin
