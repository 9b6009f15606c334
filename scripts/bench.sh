#!/usr/bin/env bash
# scripts/bench.sh — `make bench`: load, CPU, latency and memory figures of the pa-connector
# binary (see docs/benchmarks.md, which a full run rewrites between its markers).
#
#   scripts/bench.sh           full: fake gateway (3 runs × 10,000 jobs per operation and variant:
#                              default, polling only, secrets from files, GOGC=400), 1,000 jobs
#                              in flight, profiled runs, and pa-engine, the project's own Zeebe
#                              gateway (10,000 jobs per operation); about 5 minutes
#   scripts/bench.sh -short    smoke (CI): fake gateway, 500 jobs, then engine-bench -short (2,000
#                              instances on pa-engine alone), about a minute;
#                              fails only when jobs are not completed, never on timings
#
# Environment (optional):
#   BENCH_JOBS=N        jobs per operation and run (default 10000, -short 500)
#   BENCH_RUNS=N        runs per operation and mode against the fake gateway (default 3, -short 1)
#   BENCH_ENGINE=0      skip pa-engine in a full run
#   BENCH_ENGINE_JOBS=N jobs per operation against pa-engine (default BENCH_JOBS)
#   BENCH_ENGINE_PORT=N its gateway port on 127.0.0.1 (default 26700)
#   BENCH_OUT=dir       logs, profiles and results.json (default: a new temp dir, kept)
#   BENCH_DOC=path      document to rewrite in a full run (default docs/benchmarks.md; "" = none)
# Further arguments go to pa-bench (go run ./bench/cmd/pa-bench -h lists them).
#
# pa-engine: a full run starts a fresh one of its own with scripts/engine.sh (data in the output
# directory, so no other test shares it and its CPU is the benchmark's alone) and stops it at
# the end. The binaries are built into the output directory, so a concurrent `make build` is not
# disturbed.
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
if [[ -z "$short" && "${BENCH_ENGINE:-1}" != 0 ]]; then
  CGO_ENABLED=0 go build -trimpath -o "$out/bin/pa-engine" ./cmd/pa-engine
fi
go build -o "$out/bin/pa-bench" ./bench/cmd/pa-bench

common=(-worker "$out/bin/pa-connector" -emulator "$out/bin/dataverse-emulator" -out "$out")
[[ -n "${BENCH_JOBS:-}" ]] && common+=(-jobs "$BENCH_JOBS")
[[ -n "${BENCH_RUNS:-}" ]] && common+=(-runs "$BENCH_RUNS")

if [[ -n "$short" ]]; then
  "$out/bin/pa-bench" -short "${common[@]}" -command "scripts/bench.sh -short" ${args[@]+"${args[@]}"}
  # pa-engine alone, 2,000 instances: fails only when an instance or a job is lost.
  go run ./bench/cmd/engine-bench -short
  # Passed: drop the temp dir (binaries, logs) unless the caller chose it; a failure keeps it.
  if [[ -z "${BENCH_OUT:-}" ]]; then rm -rf "$out"; log "smoke passed (output removed; set BENCH_OUT to keep it)"; fi
  exit 0
fi

engine=()
export ENGINE_BIN="$out/bin/pa-engine" ENGINE_DATA_DIR="$out/engine" ENGINE_PORT="${BENCH_ENGINE_PORT:-26700}"
started=""
cleanup() { if [[ -n "$started" ]]; then scripts/engine.sh stop || true; fi; }
trap cleanup EXIT
if [[ "${BENCH_ENGINE:-1}" != 0 ]]; then
  log "starting pa-engine (scripts/engine.sh, data in $ENGINE_DATA_DIR)"
  started=1
  ENGINE_CLEAN=1 ENGINE_LOG_LEVEL=warn scripts/engine.sh start >/dev/null
  engine=(-engine "$(scripts/engine.sh address)" -engine-pid "$(cat "$ENGINE_DATA_DIR/engine.pid")")
  [[ -n "${BENCH_ENGINE_JOBS:-}" ]] && engine+=(-engine-jobs "$BENCH_ENGINE_JOBS")
fi

doc="${BENCH_DOC-docs/benchmarks.md}"
"$out/bin/pa-bench" "${common[@]}" ${engine[@]+"${engine[@]}"} -doc "$doc" -command "make bench" \
  ${args[@]+"${args[@]}"}
log "logs, profiles and results.json in $out"
go run ./bench/cmd/engine-bench -short
