# pa-connector: see README.md. `make test` runs everything CI runs; `make demo` runs the demo.
GO ?= go
BIN := bin

.PHONY: all build test unit fuzz integration node-checks demo bench clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/pa-connector ./cmd/pa-connector
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/dataverse-emulator ./cmd/dataverse-emulator

# Everything: unit tests with the race detector, short fuzz runs, the Node-based checks
# (element templates, FEEL differential test), then the integration tests against a real Zeebe
# broker, which scripts/test.sh starts (and stops again if it started it).
test:
	bash scripts/test.sh

unit:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

fuzz:
	bash scripts/fuzz.sh $(FUZZTIME)

integration:
	bash scripts/test.sh integration

demo:
	bash scripts/demo.sh

bench:
	bash scripts/bench.sh

clean:
	rm -rf $(BIN)
