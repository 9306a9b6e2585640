# chatbridge: the two commands that matter are `make run` and `make test`.
GO       ?= go
BIN      := bin/chatbridge
CONFIG   ?= config.toml
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME ?= 60s

.PHONY: build run console test test-short bench fuzz lint clean load

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

# fuzz: every fuzz target for FUZZTIME each, one after the other (go test
# fuzzes one target at a time). FUZZ_TARGETS lists package:target pairs.
FUZZ_TARGETS = \
	./engine:FuzzSplit ./engine:FuzzFences \
	./engine/openrouter:FuzzSSE ./engine/openrouter:FuzzDecodeChunkFast \
	./cmd/chatbridge/internal/config:FuzzLoad \
	./bridges/telegram:FuzzRenderHTML ./bridges/telegram:FuzzValidateHTML ./bridges/telegram:FuzzEventDecoding \
	./bridges/discord:FuzzRender ./bridges/discord:FuzzEventDecoding \
	./bridges/slack:FuzzRender ./bridges/slack:FuzzEventDecoding \
	./bridges/console:FuzzRender ./bridges/console:FuzzTerminalRedraw
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

# load: the real binary under load against the fake platforms and a
# scripted provider (cmd/chatload); prints Markdown tables. The defaults
# take a few minutes; the 1 GiB database for the start-up time is
# generated once and cached (see -cache-dir).
LOAD_ARGS ?= -chats 100 -tokens-per-reply 200 -token-rate 20 -db-size 1GiB -startup-runs 3
load:
	$(GO) run ./cmd/chatload $(LOAD_ARGS)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1)
	$(GO) vet ./...

clean:
	rm -rf bin
