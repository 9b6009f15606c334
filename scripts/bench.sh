#!/usr/bin/env bash
# scripts/bench.sh — `make bench`: load, CPU, latency and memory figures of the pa-connector
# binary (see docs/benchmarks.md, which a full run rewrites between its markers).
#
#   scripts/bench.sh           full: fake gateway (3 runs × 10,000 jobs per operation and variant:
#                              default, polling only, secrets from files, GOGC=400), 1,000 jobs
#                              in flight, profiled runs, and the real Zeebe broker (10,000 jobs
#                              per operation); about 5 minutes
#   scripts/bench.sh -short    smoke (CI): fake gateway only, 500 jobs, well under a minute;
#                              fails only when jobs are not completed, never on timings
#
# Environment (optional):
#   BENCH_JOBS=N        jobs per operation and run (default 10000, -short 500)
#   BENCH_RUNS=N        runs per operation and mode against the fake gateway (default 3, -short 1)
#   BENCH_BROKER=0      skip the real broker in a full run
#   BENCH_BROKER_JOBS=N jobs per operation against the broker (default BENCH_JOBS)
#   BENCH_OUT=dir       logs, profiles and results.json (default: a new temp dir, kept)
#   BENCH_DOC=path      document to rewrite in a full run (default docs/benchmarks.md; "" = none)
# Further arguments go to pa-bench (go run ./bench/cmd/pa-bench -h lists them).
#
# The broker: when `scripts/zeebe.sh status` says one is running it is used and left running;
# otherwise this script starts one and stops it at the end. The binaries are built into the
# output directory, so a concurrent `make build` is not disturbed.
set -euo pipefail
cd "$(dirname "$0")/.."

short=""
args=()
for a in "$@"; do
  case "$a" in
    -short | --short) short=1 ;;
    *) args+=("$a") ;;
  esac
done

log() { printf 'bench.sh: %s\n' "$*" >&2; }

out="${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/pa-bench.XXXXXX")}"
mkdir -p "$out/bin"
log "building into $out/bin"
CGO_ENABLED=0 go build -trimpath -o "$out/bin/pa-connector" ./cmd/pa-connector
CGO_ENABLED=0 go build -trimpath -o "$out/bin/dataverse-emulator" ./cmd/dataverse-emulator
go build -o "$out/bin/pa-bench" ./bench/cmd/pa-bench

common=(-worker "$out/bin/pa-connector" -emulator "$out/bin/dataverse-emulator" -out "$out")
[[ -n "${BENCH_JOBS:-}" ]] && common+=(-jobs "$BENCH_JOBS")
[[ -n "${BENCH_RUNS:-}" ]] && common+=(-runs "$BENCH_RUNS")

if [[ -n "$short" ]]; then
  "$out/bin/pa-bench" -short "${common[@]}" -command "scripts/bench.sh -short" ${args[@]+"${args[@]}"}
  # Passed: drop the temp dir (binaries, logs) unless the caller chose it; a failure keeps it.
  if [[ -z "${BENCH_OUT:-}" ]]; then rm -rf "$out"; log "smoke passed (output removed; set BENCH_OUT to keep it)"; fi
  exit 0
fi

broker=()
started=""
if [[ "${BENCH_BROKER:-1}" != 0 ]]; then
  if ! scripts/zeebe.sh status >/dev/null 2>&1; then
    log "starting a Zeebe broker (scripts/zeebe.sh start)"
    ZEEBE_CLEAN=1 scripts/zeebe.sh start
    started=1
  else
    log "using the running Zeebe broker (left running)"
  fi
  pid_file="${ZEEBE_WORK_DIR:-${TMPDIR:-/tmp}/pa-connector-zeebe}/broker.pid"
  broker=(-broker "127.0.0.1:${ZEEBE_GATEWAY_PORT:-26500}" -broker-pid "$(cat "$pid_file")")
  [[ -n "${BENCH_BROKER_JOBS:-}" ]] && broker+=(-broker-jobs "$BENCH_BROKER_JOBS")
fi
cleanup() { if [[ -n "$started" ]]; then scripts/zeebe.sh stop || true; fi; }
trap cleanup EXIT

doc="${BENCH_DOC-docs/benchmarks.md}"
"$out/bin/pa-bench" "${common[@]}" ${broker[@]+"${broker[@]}"} -doc "$doc" -command "make bench" \
  ${args[@]+"${args[@]}"}
log "logs, profiles and results.json in $out"
