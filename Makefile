# pa-connector: see README.md. `make test` runs everything CI runs; `make demo` runs the demo.
GO ?= go
BIN := bin

.PHONY: all build engine test unit fuzz integration node-checks demo bench clean reliability generate

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/pa-connector ./cmd/pa-connector
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/dataverse-emulator ./cmd/dataverse-emulator
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/pa-engine ./cmd/pa-engine

# pa-engine, the project's own Zeebe gateway, in the foreground (Ctrl-C stops it):
# make engine ENGINE_FLAGS='--address 127.0.0.1:26500 --log-level debug'
ENGINE_FLAGS ?=
engine:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/pa-engine ./cmd/pa-engine
	$(BIN)/pa-engine $(ENGINE_FLAGS)

# Everything: unit tests with the race detector, short fuzz runs, the Node-based checks
# (element templates, FEEL differential test), then the integration tests, which start pa-engine
# (the project's own Zeebe gateway) themselves.
test:
	bash scripts/test.sh

# Rewrites what connector/spec generates: examples/element-templates/*.json and README.md's
# operation reference (CI fails when they differ from the declarations).
generate:
	$(GO) run ./tools/specgen

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

# pa-engine on its own (docs/benchmarks.md, "Engine (pa-engine)"): ENGINE_BENCH_FLAGS=-short for the smoke.
.PHONY: bench-engine
bench-engine:
	$(GO) run ./bench/cmd/engine-bench $(ENGINE_BENCH_FLAGS)

# Reliability tests of docs/reliability.md at full size (1,000 instances under load; CI runs
# them with 150 as part of `make integration`), on an engine of their own (scripts/engine.sh with
# its own data directory and port, started clean and stopped afterwards) so that other test runs'
# workers cannot take its jobs.
RELIABILITY_INSTANCES ?= 1000
RELIABILITY_TESTS ?= TestCrash|TestStartedRunsAreRecorded|TestWorkerRestartDuringWait|TestGracefulShutdown|TestBrokerOutage|TestDataverse|TestClientLimiter|TestBadInput|TestOutputOver|TestSecretsNeverLeak|TestSSRF|TestLeaseExpiryStorm|TestSigtermStorm|TestStreamedBacklog|TestProcessVariableCannotStandIn
RELIABILITY_ENGINE := ENGINE_DATA_DIR=$${TMPDIR:-/tmp}/pa-connector-reliability ENGINE_PORT=26600

reliability: SHELL := /bin/bash
reliability:
	@set -eo pipefail; export $(RELIABILITY_ENGINE); \
	ENGINE_CLEAN=1 scripts/engine.sh start >/dev/null; \
	trap 'scripts/engine.sh stop' EXIT; \
	log="$${TMPDIR:-/tmp}/pa-connector-reliability.log"; echo "full output: $$log"; \
	ZEEBE_ADDRESS="$$(scripts/engine.sh address)" ZEEBE_RECORDS_LOG="$$(scripts/engine.sh logs-path)" \
	PA_RELIABILITY_INSTANCES=$(RELIABILITY_INSTANCES) \
	$(GO) test -tags integration -count=1 -timeout 30m -v -run '$(RELIABILITY_TESTS)' ./integration/ 2>&1 | \
	tee "$$log" | grep -E '^(--- |\s+[a-z_]+_test\.go:[0-9]+: |PASS|FAIL|ok )'

clean:
	rm -rf $(BIN)
