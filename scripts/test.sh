#!/usr/bin/env bash
# Runs the whole test suite: `scripts/test.sh` (all) or `scripts/test.sh integration`.
# The integration tests need a real Zeebe broker: this script starts one with scripts/zeebe.sh
# when none is running and stops it again at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"

step() { printf '\n== %s\n' "$*"; }

if [[ "$what" == all ]]; then
  step "go vet"
  go vet ./... && go vet -tags integration ./integration/
  step "unit tests (race detector)"
  go test -race -count=1 ./...
  step "fuzz targets, briefly"
  bash scripts/fuzz.sh "${FUZZTIME:-5s}"
  if [[ -f tools/templates/package.json ]]; then
    step "element templates and BPMN examples"
    (cd tools/templates && npm ci --no-audit --no-fund --loglevel=error)
    for check in tools/templates/*.mjs; do node "$check"; done
  fi
  if [[ -f tools/feel-diff/package.json ]]; then
    step "FEEL differential check against feelin"
    (cd tools/feel-diff && npm ci --no-audit --no-fund --loglevel=error)
    node tools/feel-diff/check.mjs
  fi
  step "benchmark smoke (fake gateway, 500 jobs; fails only on jobs not completed) and container smoke"
  bash scripts/bench.sh -short && bash scripts/container-smoke.sh
fi

step "integration tests against a real Zeebe broker"
started=""
if ! scripts/zeebe.sh status >/dev/null 2>&1; then
  ZEEBE_CLEAN=1 scripts/zeebe.sh start
  started=1
fi
cleanup() { [[ -n "$started" ]] && scripts/zeebe.sh stop || true; }
trap cleanup EXIT
ZEEBE_RECORDS_LOG="$(scripts/zeebe.sh logs-path)" \
  go test -tags integration -count=1 -timeout 15m ./integration/ "${@:2}"
