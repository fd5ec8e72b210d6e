# tier0 — common tasks. `make run` is the main job; `make test` is what CI runs.
GO      ?= go
BIN     ?= bin/tier0
PKGS    ?= ./...

.PHONY: run build test test-short bench bench-engine bench-http lint fmt vet clean

## run: serve the web chat on http://localhost:8080 with the sample IT-helpdesk config
run:
	$(GO) run ./cmd/tier0 serve

## build: build the tier0 binary into bin/
build:
	$(GO) build -o $(BIN) ./cmd/tier0

## test: all tests, with the race detector (needs redis-server and chromium on PATH)
test:
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

## bench: load benchmark on a private redis-server: the HTTP variant, then the engine (RESULT lines)
bench: bench-http bench-engine

bench-engine:
	$(GO) run ./cmd/tier0 bench -mode engine -conversations 10000 -rate 2500 -duration 20s

bench-http:
	$(GO) run ./cmd/tier0 bench -mode http -conversations 2000 -rate 1000 -duration 10s

## bench-go: Go micro-benchmarks (knowledge query, embedding, …)
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./knowledge/...

## lint: gofmt and go vet must be clean
lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin data
