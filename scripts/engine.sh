#!/usr/bin/env bash
# scripts/engine.sh — pa-engine, the project's own Zeebe-compatible engine (the Zeebe gRPC
# gateway API in one Go binary), for the demo, tests, benchmarks and local development.
# Needs only Go.
#
#   scripts/engine.sh start       build bin/pa-engine when needed, start it in the background and
#                                 wait until it answers Topology; prints the gateway address
#   scripts/engine.sh stop        TERM, then KILL after ENGINE_STOP_TIMEOUT
#   scripts/engine.sh status      exit 0 if running and answering Topology
#   scripts/engine.sh address     print the gateway address (127.0.0.1:ENGINE_PORT)
#   scripts/engine.sh logs-path   print the records file (exporter: one JSON record per line)
#                                 (logs-path --engine: the engine's own log)
#
# Environment (all optional):
#   ENGINE_DATA_DIR        the engine's --data-dir (durable state); also holds engine.pid,
#                          engine.log and records.log (default ${TMPDIR:-/tmp}/pa-connector-engine)
#   ENGINE_PORT            gRPC gateway port on 127.0.0.1 (default 26500)
#   ENGINE_MONITORING_ADDRESS  /healthz /readyz /metrics (default 127.0.0.1:0: a free port, so
#                          that engines of their own, e.g. make reliability's, do not collide)
#   ENGINE_CLEAN=1         start: wipe the data dir first (a fresh engine; restarts a running one)
#   ENGINE_START_TIMEOUT   seconds to wait for readiness (default 30)
#   ENGINE_STOP_TIMEOUT    seconds between TERM and KILL (default 10)
#   ENGINE_LOG_LEVEL       debug|info|warn|error (default info)
#   ENGINE_ARGS            extra flags for pa-engine, e.g. "--backpressure-limit 5"
#   ENGINE_BIN             the binary to run (default bin/pa-engine, built from ./cmd/pa-engine
#                          when missing or older than its sources; a given ENGINE_BIN is not built)
# See docs/engine.md.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd -P)"

DATA_DIR="${ENGINE_DATA_DIR:-${TMPDIR:-/tmp}/pa-connector-engine}"
[[ "$DATA_DIR" == /* ]] || DATA_DIR="$PWD/$DATA_DIR"
HOST="127.0.0.1"
PORT="${ENGINE_PORT:-26500}"
ADDRESS="$HOST:$PORT"
MONITORING_ADDRESS="${ENGINE_MONITORING_ADDRESS:-$HOST:0}"
START_TIMEOUT="${ENGINE_START_TIMEOUT:-30}"
STOP_TIMEOUT="${ENGINE_STOP_TIMEOUT:-10}"
LOG_LEVEL="${ENGINE_LOG_LEVEL:-info}"
DEFAULT_BIN="$REPO_ROOT/bin/pa-engine"
BIN="${ENGINE_BIN:-$DEFAULT_BIN}"
PROBE_BIN="$REPO_ROOT/bin/.engine-topology"

PID_FILE="$DATA_DIR/engine.pid"
ENGINE_LOG="$DATA_DIR/engine.log"
RECORDS="$DATA_DIR/records.log"
LOCK_FILE="$DATA_DIR/.engine-sh.lock"

log() { printf 'engine.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ------------------------------------------------------------- build ----

# engine_stale: 0 when bin/pa-engine is missing or older than a source file of the packages of
# this module it is built from (or go.mod / go.sum).
engine_stale() {
  [[ -x "$BIN" ]] || return 0
  [[ "$REPO_ROOT/go.mod" -nt "$BIN" || "$REPO_ROOT/go.sum" -nt "$BIN" ]] && return 0
  local dirs d
  # Packages of this module only (the engine, expr/, ...); a failing list means a build is due
  # (go build then reports why).
  dirs="$(cd "$REPO_ROOT" && go list -deps -f '{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}' ./cmd/pa-engine 2>/dev/null)" || return 0
  while IFS= read -r d; do
    [[ -n "$d" ]] || continue
    if [[ -n "$(find "$d" -maxdepth 1 -type f -newer "$BIN" -print -quit 2>/dev/null)" ]]; then return 0; fi
  done <<<"$dirs"
  return 1
}

build_engine() {
  if [[ "$BIN" != "$DEFAULT_BIN" ]]; then
    [[ -x "$BIN" ]] || die "ENGINE_BIN=$BIN is not an executable"
    return 0
  fi
  command -v go >/dev/null 2>&1 || die "go not found (needed to build bin/pa-engine)"
  engine_stale || return 0
  log "building bin/pa-engine from ./cmd/pa-engine"
  mkdir -p "$(dirname "$BIN")"
  local tmp="$BIN.tmp.$$"
  # A plain go build shares the build cache with go test and go run (a -trimpath or CGO_ENABLED=0
  # build would compile everything again).
  if ! (cd "$REPO_ROOT" && go build -o "$tmp" ./cmd/pa-engine); then
    rm -f "$tmp"
    die "building ./cmd/pa-engine failed"
  fi
  mv -f "$tmp" "$BIN"
}

# build_probe: compile scripts/engine/topology (rebuilt when its source is newer).
build_probe() {
  local src="$REPO_ROOT/scripts/engine/topology/main.go"
  if [[ -x "$PROBE_BIN" && "$PROBE_BIN" -nt "$src" ]]; then return 0; fi
  command -v go >/dev/null 2>&1 || die "go not found (needed to build the readiness probe)"
  mkdir -p "$(dirname "$PROBE_BIN")"
  local tmp="$PROBE_BIN.tmp.$$"
  if ! (cd "$REPO_ROOT" && go build -o "$tmp" ./scripts/engine/topology); then
    rm -f "$tmp"
    die "building the readiness probe ./scripts/engine/topology failed"
  fi
  mv -f "$tmp" "$PROBE_BIN"
}

# ready: 0 when the gateway answers a Topology call.
ready() { "$PROBE_BIN" -address "$ADDRESS" -timeout 2s >/dev/null 2>&1; }

# ------------------------------------------------------------ process ----

# engine_pid: prints the pid from the pid file if that process is a pa-engine on this data dir.
engine_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$DATA_DIR" || return 1
  fi
  echo "$pid"
}

port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

file_size() { if [[ -f "$1" ]]; then wc -c <"$1" | tr -d ' '; else echo 0; fi; }

LOG_OFFSET=0
show_log_tail() {
  [[ -f "$ENGINE_LOG" ]] || return 0
  local out
  out="$(tail -c "+$((LOG_OFFSET + 1))" "$ENGINE_LOG" | tail -n 50)"
  if [[ -n "$out" ]]; then
    log "last lines of $ENGINE_LOG:"
    printf '%s\n' "$out" >&2
  fi
}

lock() {
  mkdir -p "$DATA_DIR"
  exec 9>"$LOCK_FILE"
  flock 9
}

wait_ready() { # PID
  local pid="$1" i
  for ((i = 0; i < START_TIMEOUT * 10; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "pa-engine (pid $pid) exited during start-up"
      rm -f "$PID_FILE"
      show_log_tail
      return 1
    fi
    if ready; then return 0; fi
    sleep 0.1
  done
  log "pa-engine not ready after ${START_TIMEOUT} s"
  show_log_tail
  return 1
}

stop_pid() {
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pa-engine (pid $pid) still alive after ${STOP_TIMEOUT} s, sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$PID_FILE"
}

# ------------------------------------------------------------ commands ----

cmd_start() {
  lock
  build_probe
  local pid t0
  t0="$(date +%s%N)"
  if pid="$(engine_pid)"; then
    if [[ "${ENGINE_CLEAN:-0}" == 1 ]]; then
      log "ENGINE_CLEAN=1: stopping the running engine (pid $pid) to start fresh"
      stop_pid "$pid"
    else
      if ! ready; then
        log "already running (pid $pid), waiting for readiness"
        wait_ready "$pid" || return 1
      else
        log "already running (pid $pid) and ready"
      fi
      echo "$ADDRESS"
      return 0
    fi
  fi
  rm -f "$PID_FILE"
  if port_busy "$PORT"; then
    die "port $ADDRESS is already in use by another process (not our engine: no live pid in $PID_FILE)"
  fi
  build_engine
  t0="$(date +%s%N)"
  if [[ "${ENGINE_CLEAN:-0}" == 1 ]]; then
    log "ENGINE_CLEAN=1: wiping $DATA_DIR"
    find "$DATA_DIR" -mindepth 1 -maxdepth 1 ! -name "$(basename "$LOCK_FILE")" -exec rm -rf {} +
  fi
  LOG_OFFSET="$(file_size "$ENGINE_LOG")"
  local args=(--address "$ADDRESS" --data-dir "$DATA_DIR" --records "$RECORDS"
    --monitoring-address "$MONITORING_ADDRESS" --log-level "$LOG_LEVEL")
  if [[ -n "${ENGINE_ARGS:-}" ]]; then
    local extra
    read -r -a extra <<<"$ENGINE_ARGS"
    args+=("${extra[@]}")
  fi
  log "starting pa-engine on $ADDRESS, data dir $DATA_DIR"
  # Detached from the caller's process group and terminal; in a non-interactive shell the
  # background job is no group leader, so setsid execs in place and $! is the engine's pid.
  if command -v setsid >/dev/null 2>&1; then
    setsid "$BIN" "${args[@]}" >>"$ENGINE_LOG" 2>&1 </dev/null 9>&- &
  else
    nohup "$BIN" "${args[@]}" >>"$ENGINE_LOG" 2>&1 </dev/null 9>&- &
  fi
  pid=$!
  echo "$pid" >"$PID_FILE"
  if ! wait_ready "$pid"; then
    if kill -0 "$pid" 2>/dev/null; then
      log "stopping the engine that did not become ready"
      stop_pid "$pid"
    fi
    return 1
  fi
  log "ready $(( ($(date +%s%N) - t0) / 1000000 )) ms after its start (pid $pid)"
  echo "$ADDRESS"
}

cmd_stop() {
  lock
  local pid
  if ! pid="$(engine_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping pa-engine (pid $pid)"
  stop_pid "$pid"
  log "stopped"
}

cmd_status() {
  local pid
  if ! pid="$(engine_pid)"; then
    echo "pa-engine not running (data dir $DATA_DIR)"
    return 1
  fi
  build_probe
  if ready; then
    echo "pa-engine running (pid $pid), gateway $ADDRESS ready, data dir $DATA_DIR"
    return 0
  fi
  echo "pa-engine running (pid $pid) but not answering on $ADDRESS"
  return 1
}

cmd_logs_path() {
  case "${1:-}" in
    --engine) echo "$ENGINE_LOG" ;;
    "" | --records) echo "$RECORDS" ;;
    *) die "logs-path: unknown option $1 (use --records or --engine)" ;;
  esac
}

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

main() {
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    address) echo "$ADDRESS" ;;
    logs-path) cmd_logs_path "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
