#!/usr/bin/env bash
# Runs the whole test suite: `scripts/test.sh` (all) or `scripts/test.sh integration`.
# The integration tests start their own Zeebe gateway, pa-engine (./cmd/pa-engine), and stop it
# at the end; with ZEEBE_ADDRESS (and ZEEBE_RECORDS_LOG) set they use that gateway instead.
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"

# Each step's header says how long the script has run so far (bash's SECONDS), so that a CI log
# shows where the time goes.
step() { printf '\n== [%3dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

# The Zeebe broker distribution's licence forbids us to use it in any way: no tracked file but
# Markdown (history, figures) may name its Maven artifact or its archives, so nothing downloads
# or starts it again. The patterns are built from parts so that this file does not name it
# either. A cluster's gateway Service name (in deploy/kubernetes) names no distribution and passes.
step "no Zeebe broker distribution referenced"
dist="camunda-""zeebe"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  hits="$(git ls-files -z | grep -zv '\.md$' |
    xargs -0 -r grep -s -l -E -e "io\.camunda:${dist}" -e "${dist}-[0-9\$]" -- || true)"
  if [[ -n "$hits" ]]; then
    printf 'these tracked files reference the Zeebe broker distribution:\n%s\n' "$hits" >&2
    exit 1
  fi
else
  echo "not a git work tree: skipped"
fi

if [[ "$what" == all ]]; then
  # The Node checks' npm ci waits on the network and the disk, not the CPU: it runs in the
  # background from here, and each check waits for its own install (npm_installed prints its log).
  declare -A npm_pid npm_log
  for tool in tools/templates tools/feel-diff; do
    if [[ -f $tool/package.json ]]; then
      npm_log[$tool]="$(mktemp)"
      (cd "$tool" && npm ci --no-audit --no-fund --loglevel=error) >"${npm_log[$tool]}" 2>&1 &
      npm_pid[$tool]=$!
    fi
  done
  npm_installed() {
    local rc=0
    wait "${npm_pid[$1]}" || rc=$?
    cat "${npm_log[$1]}"
    rm -f "${npm_log[$1]}"
    return "$rc"
  }
  # The element templates and README's operation reference are generated from connector/spec's
  # declarations (the same ones the worker binds and validates with); `make generate` rewrites them.
  step "generated element templates and README operation reference match connector/spec"
  go test -count=1 -run 'TestGeneratedFilesAreCommitted' ./connector/spec/
  step "go vet"
  go vet ./... && go vet -tags integration ./integration/ ./engine/...
  step "unit tests (race detector)"
  go test -race -count=1 ./...
  step "fuzz targets, briefly"
  bash scripts/fuzz.sh "${FUZZTIME:-3s}"
  if [[ -f tools/templates/package.json ]]; then
    step "element templates and BPMN examples"
    npm_installed tools/templates
    for check in tools/templates/*.mjs; do node "$check"; done
  fi
  if [[ -f tools/feel-diff/package.json ]]; then
    step "FEEL differential check against feelin"
    npm_installed tools/feel-diff
    node tools/feel-diff/check.mjs
  fi
  step "benchmark smoke (fake gateway, 500 jobs; fails only on jobs not completed) and container smoke"
  bash scripts/bench.sh -short && bash scripts/container-smoke.sh
fi

# One go test command for the three packages, so that they run side by side (-p 3: go test
# would run only GOMAXPROCS, here 2, at once): the integration tests mostly wait on processes
# and timers. The integration package's slowest tests, which wait out leases, Retry-After, an
# outage and a load run, go to a second go test process beside them: it starts a pa-engine of
# its own (TestMain), and -run and -skip take the same pattern, so each test runs once, in one
# of the two. A test renamed out of the pattern still runs, in the first.
step "engine conformance (one test per item of the Zeebe 8.5 reference's checklist), the SIGKILL crash test, and the integration tests (they start pa-engine themselves)"
if [[ $# -gt 1 ]]; then # `scripts/test.sh integration -run X`: X selects integration tests only
  go test -tags integration -count=1 -timeout 15m ./integration/ "${@:2}"
else
  slow='^(TestDataverse429StormSpendsNoRetries|TestCrashAndRestartUnderLoad|TestWorkerRestartDuringCallbackWait|TestLeaseExpiryStormStartsNoSecondRun|TestStreamedBacklogKeepsEveryLease|TestClientLimiterStaysUnderExecutionTimeLimit|TestBrokerOutageAndRecovery)$'
  slowlog="$(mktemp)"
  go test -tags integration -count=1 -timeout 15m ./integration/ -run "$slow" >"$slowlog" 2>&1 &
  slowpid=$!
  trap 'kill "$slowpid" 2>/dev/null || true' EXIT
  rc=0
  go test -tags integration -count=1 -timeout 15m -p 3 ./engine/conformance/ ./engine/crashtest/ ./integration/ -skip "$slow" || rc=$?
  wait "$slowpid" || rc=$?
  sed 's/^ok  \t\(.*\)\t/ok  \t\1 (the slow tests)\t/' "$slowlog"
  rm -f "$slowlog"
  if [[ $rc -ne 0 ]]; then exit "$rc"; fi
fi
step "done"
