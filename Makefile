# pa-connector: see README.md. `make test` runs everything CI runs; `make demo` runs the demo.
GO ?= go
BIN := bin

.PHONY: all build test unit fuzz integration node-checks demo bench clean reliability

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

# Reliability tests of docs/reliability.md at full size (1,000 instances under load; CI runs
# them with 150 as part of `make integration`), on a broker of their own (own work directory and
# ports, started clean and stopped afterwards) so that other test runs' workers cannot take its jobs.
RELIABILITY_INSTANCES ?= 1000
RELIABILITY_TESTS ?= TestCrash|TestStartedRunsAreRecorded|TestWorkerRestartDuringWait|TestGracefulShutdown|TestBrokerOutage|TestDataverse|TestClientLimiter|TestBadInput|TestOutputOver|TestSecretsNeverLeak|TestSSRF
RELIABILITY_BROKER := ZEEBE_WORK_DIR=$${TMPDIR:-/tmp}/pa-connector-reliability ZEEBE_GATEWAY_PORT=26600 \
	ZEEBE_COMMAND_PORT=26601 ZEEBE_INTERNAL_PORT=26602 ZEEBE_MONITORING_PORT=9700 ZEEBE_REST_PORT=8188

reliability: SHELL := /bin/bash
reliability:
	@set -eo pipefail; export $(RELIABILITY_BROKER); \
	ZEEBE_CLEAN=1 scripts/zeebe.sh start >/dev/null; \
	trap 'scripts/zeebe.sh stop' EXIT; \
	log="$${TMPDIR:-/tmp}/pa-connector-reliability.log"; echo "full output: $$log"; \
	ZEEBE_ADDRESS=127.0.0.1:$$ZEEBE_GATEWAY_PORT ZEEBE_RECORDS_LOG="$$(scripts/zeebe.sh logs-path)" \
	PA_RELIABILITY_INSTANCES=$(RELIABILITY_INSTANCES) \
	$(GO) test -tags integration -count=1 -timeout 30m -v -run '$(RELIABILITY_TESTS)' ./integration/ 2>&1 | \
	tee "$$log" | grep -E '^(--- |\s+[a-z_]+_test\.go:[0-9]+: |PASS|FAIL|ok )'

clean:
	rm -rf $(BIN)
