#!/usr/bin/env bash
# scripts/zeebe.sh — a real Zeebe broker (with its embedded gateway) for tests
# and the demo, on a machine with only Go, Java and Maven.
#
#   scripts/zeebe.sh install     download + unpack the distribution (cached)
#   scripts/zeebe.sh start       start in the background, wait until ready
#   scripts/zeebe.sh stop        TERM, then KILL after a timeout
#   scripts/zeebe.sh status      exit 0 if running and ready
#   scripts/zeebe.sh logs-path   print the exporter record file tests scan
#                                (logs-path --broker: the broker's own log)
#
# Environment (all optional):
#   ZEEBE_JAVA_HOME        JDK to run the broker (must be Java 21+)
#   PA_CONNECTOR_CACHE     cache root (default $HOME/.cache/pa-connector)
#   ZEEBE_WORK_DIR         data, logs, config, pid (default ${TMPDIR:-/tmp}/pa-connector-zeebe)
#   ZEEBE_CLEAN=1          start: wipe data and logs first (fresh broker)
#   ZEEBE_START_TIMEOUT    seconds to wait for readiness (default 180)
#   ZEEBE_STOP_TIMEOUT     seconds between TERM and KILL (default 30)
#   ZEEBE_HEAP             JVM max heap (default 256m)
#   ZEEBE_JAVA_OPTS        extra JVM flags, appended last
#   ZEEBE_GATEWAY_PORT     gRPC gateway port (default 26500)
#   ZEEBE_COMMAND_PORT, ZEEBE_INTERNAL_PORT, ZEEBE_MONITORING_PORT, ZEEBE_REST_PORT
#                          other ports (default 26501, 26502, 9600, 8088)
# See docs/zeebe-broker.md.
set -euo pipefail

# The one place the Zeebe version is pinned (matches the Go client v8.5.8 in
# go.mod). Zeebe 8.4+ needs Java 21+.
ZEEBE_VERSION="8.5.8"
ZEEBE_MIN_JAVA=21
MAVEN_DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.6.1"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

CACHE_ROOT="${PA_CONNECTOR_CACHE:-${HOME:-/tmp}/.cache/pa-connector}"
ZEEBE_HOME="$CACHE_ROOT/zeebe-$ZEEBE_VERSION"
WORK_DIR="${ZEEBE_WORK_DIR:-${TMPDIR:-/tmp}/pa-connector-zeebe}"
DATA_DIR="$WORK_DIR/data"
LOG_DIR="$WORK_DIR/logs"
CONF_DIR="$WORK_DIR/config"
PID_FILE="$WORK_DIR/broker.pid"
BROKER_LOG="$LOG_DIR/broker.log"
RECORDS_LOG="$LOG_DIR/records.log"
STDOUT_LOG="$LOG_DIR/stdout.log"
PROBE_BIN="$WORK_DIR/bin/zeebe-topology"

HOST="127.0.0.1"
GATEWAY_PORT="${ZEEBE_GATEWAY_PORT:-26500}"
COMMAND_PORT="${ZEEBE_COMMAND_PORT:-26501}"
INTERNAL_PORT="${ZEEBE_INTERNAL_PORT:-26502}"
MONITORING_PORT="${ZEEBE_MONITORING_PORT:-9600}"
REST_PORT="${ZEEBE_REST_PORT:-8088}"
GATEWAY_ADDRESS="$HOST:$GATEWAY_PORT"
START_TIMEOUT="${ZEEBE_START_TIMEOUT:-180}"
STOP_TIMEOUT="${ZEEBE_STOP_TIMEOUT:-30}"
HEAP="${ZEEBE_HEAP:-256m}"

log() { printf 'zeebe.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- java ----

# java_major JAVA_BIN -> prints the feature version (8, 17, 21, 25, ...)
java_major() {
  local v
  v="$("$1" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')" || return 1
  [[ -n "$v" ]] || return 1
  case "$v" in
    1.*) v="${v#1.}"; echo "${v%%.*}" ;;
    *) v="${v%%[.+-]*}"; echo "$v" ;;
  esac
}

# find_java: sets JAVA_BIN and JAVA_MAJOR to the newest JDK >= ZEEBE_MIN_JAVA.
find_java() {
  JAVA_BIN="" JAVA_MAJOR=0
  if [[ -n "${ZEEBE_JAVA_HOME:-}" ]]; then
    [[ -x "$ZEEBE_JAVA_HOME/bin/java" ]] || die "ZEEBE_JAVA_HOME=$ZEEBE_JAVA_HOME has no bin/java"
    JAVA_BIN="$ZEEBE_JAVA_HOME/bin/java"
    JAVA_MAJOR="$(java_major "$JAVA_BIN")" || die "cannot run $JAVA_BIN -version"
    (( JAVA_MAJOR >= ZEEBE_MIN_JAVA )) ||
      die "ZEEBE_JAVA_HOME is Java $JAVA_MAJOR; Zeebe $ZEEBE_VERSION needs Java $ZEEBE_MIN_JAVA+"
    return 0
  fi
  local c m candidates=()
  [[ -n "${JAVA_HOME:-}" ]] && candidates+=("$JAVA_HOME/bin/java")
  for c in /usr/lib/jvm/temurin-*-jdk* /usr/lib/jvm/*; do
    candidates+=("$c/bin/java")
  done
  if command -v java >/dev/null 2>&1; then candidates+=("$(command -v java)"); fi
  for c in "${candidates[@]}"; do
    [[ -x "$c" ]] || continue
    m="$(java_major "$c" 2>/dev/null)" || continue
    [[ "$m" =~ ^[0-9]+$ ]] || continue
    if (( m >= ZEEBE_MIN_JAVA && m > JAVA_MAJOR )); then JAVA_BIN="$c" JAVA_MAJOR="$m"; fi
  done
  [[ -n "$JAVA_BIN" ]] ||
    die "no Java $ZEEBE_MIN_JAVA+ found (looked at ZEEBE_JAVA_HOME, JAVA_HOME, /usr/lib/jvm/*, PATH); set ZEEBE_JAVA_HOME"
}

# ------------------------------------------------------------- install ----

is_installed() { [[ -f "$ZEEBE_HOME/.installed" && -x "$ZEEBE_HOME/bin/broker" ]]; }

cmd_install() {
  if is_installed; then
    log "Zeebe $ZEEBE_VERSION already installed in $ZEEBE_HOME"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found (needed to fetch io.camunda:camunda-zeebe:$ZEEBE_VERSION:tar.gz)"
  mkdir -p "$CACHE_ROOT"
  # One installer at a time (parallel test packages may all call start).
  exec 8>"$CACHE_ROOT/.zeebe-$ZEEBE_VERSION.lock"
  flock 8
  if is_installed; then
    log "Zeebe $ZEEBE_VERSION already installed in $ZEEBE_HOME"
    exec 8>&-
    return 0
  fi
  local stage
  stage="$(mktemp -d "$CACHE_ROOT/.zeebe-$ZEEBE_VERSION.XXXXXX")"
  log "downloading io.camunda:camunda-zeebe:$ZEEBE_VERSION:tar.gz from Maven Central (~210 MB)"
  # The distribution tarball is published on Maven Central as the main
  # artifact of io.camunda:camunda-zeebe (type tar.gz); "copy" needs no pom and
  # does not resolve the pom's dependencies (some live in Camunda's own repo).
  if ! (cd "$stage" && mvn -B -q -C -Dstyle.color=never \
        "$MAVEN_DEPENDENCY_PLUGIN:copy" \
        -Dartifact="io.camunda:camunda-zeebe:$ZEEBE_VERSION:tar.gz" \
        -DoutputDirectory="$stage" </dev/null >&2); then
    rm -rf "$stage"
    die "mvn could not fetch io.camunda:camunda-zeebe:$ZEEBE_VERSION:tar.gz"
  fi
  log "unpacking into $ZEEBE_HOME"
  mkdir -p "$stage/x"
  tar -xzf "$stage/camunda-zeebe-$ZEEBE_VERSION.tar.gz" -C "$stage/x"
  local top="$stage/x/camunda-zeebe-$ZEEBE_VERSION"
  [[ -x "$top/bin/broker" ]] || { rm -rf "$stage"; die "unexpected tarball layout (no bin/broker)"; }
  rm -rf "$ZEEBE_HOME"
  mv "$top" "$ZEEBE_HOME"
  rm -rf "$stage"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$ZEEBE_HOME/.installed"
  exec 8>&-
  log "installed Zeebe $ZEEBE_VERSION in $ZEEBE_HOME"
}

# ---------------------------------------------------------- readiness ----

# build_probe: compile scripts/zeebe/topology once per work dir (rebuilt when
# the source is newer). Prints nothing; sets PROBE_OK=1 on success.
build_probe() {
  PROBE_OK=0
  local src="$REPO_ROOT/scripts/zeebe/topology/main.go"
  [[ -f "$src" ]] || return 0
  command -v go >/dev/null 2>&1 || return 0
  if [[ -x "$PROBE_BIN" && "$PROBE_BIN" -nt "$src" ]]; then PROBE_OK=1; return 0; fi
  mkdir -p "$(dirname "$PROBE_BIN")"
  if (cd "$REPO_ROOT" && go build -o "$PROBE_BIN.tmp" ./scripts/zeebe/topology) >"$WORK_DIR/probe-build.log" 2>&1; then
    mv "$PROBE_BIN.tmp" "$PROBE_BIN"
    PROBE_OK=1
  else
    log "could not build the gRPC topology probe (see $WORK_DIR/probe-build.log); using the HTTP readiness endpoint"
  fi
}

# ready: 0 when the gateway reports a healthy partition leader.
ready() {
  if [[ "${PROBE_OK:-0}" == 1 ]]; then
    env -u ZEEBE_CLIENT_ID -u ZEEBE_CLIENT_SECRET -u ZEEBE_AUTHORIZATION_SERVER_URL \
      -u ZEEBE_HOST -u ZEEBE_PORT ZEEBE_ADDRESS="$GATEWAY_ADDRESS" ZEEBE_INSECURE_CONNECTION=true \
      "$PROBE_BIN" -address "$GATEWAY_ADDRESS" -timeout 3s >/dev/null 2>&1
  else
    curl -fsS -m 3 -o /dev/null "http://$HOST:$MONITORING_PORT/actuator/health/readiness" 2>/dev/null
  fi
}

# ------------------------------------------------------------ process ----

# broker_pid: prints the pid from the pid file if that process is our broker.
broker_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'io.camunda.zeebe.broker.StandaloneBroker' || return 1
  echo "$pid"
}

port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# Byte offsets of the logs when this start began: a failure shows only what
# this run wrote, not a previous run's lines.
BROKER_LOG_OFFSET=0
STDOUT_LOG_OFFSET=0

file_size() { if [[ -f "$1" ]]; then stat -c %s "$1"; else echo 0; fi; }

# tail_since FILE OFFSET LINES: the last LINES lines written after OFFSET.
tail_since() {
  [[ -f "$1" ]] || return 0
  tail -c "+$(($2 + 1))" "$1" | tail -n "$3"
}

show_log_tail() {
  local out
  out="$(tail_since "$BROKER_LOG" "$BROKER_LOG_OFFSET" 50)"
  if [[ -n "$out" ]]; then
    log "last 50 lines of $BROKER_LOG:"
    printf '%s\n' "$out" >&2
  fi
  out="$(tail_since "$STDOUT_LOG" "$STDOUT_LOG_OFFSET" 50)"
  if [[ -n "$out" ]]; then
    log "JVM console output ($STDOUT_LOG):"
    printf '%s\n' "$out" >&2
  fi
}

write_config() {
  mkdir -p "$CONF_DIR"
  # Spring Boot config, loaded on top of the distribution's defaults
  # (spring.config.additional-location). Single node, single partition,
  # everything bound to 127.0.0.1.
  cat >"$CONF_DIR/application.yaml" <<EOF
# generated by scripts/zeebe.sh — do not edit
zeebe:
  broker:
    gateway:
      enable: true
      network:
        host: $HOST
        port: $GATEWAY_PORT
      security:
        enabled: false
        authentication:
          mode: none
    network:
      host: $HOST
      advertisedHost: $HOST
      commandApi:
        port: $COMMAND_PORT
      internalApi:
        port: $INTERNAL_PORT
    data:
      directory: $DATA_DIR
      logSegmentSize: 16MB
      snapshotPeriod: 5m
      disk:
        freeSpace:
          processing: 256MB
          replication: 128MB
    cluster:
      nodeId: 0
      clusterSize: 1
      replicationFactor: 1
      partitionsCount: 1
      clusterName: pa-connector-zeebe
    threads:
      cpuThreadCount: 1
      ioThreadCount: 1
    experimental:
      rocksdb:
        memoryLimit: 64MB
    exporters:
      # Every record the broker commits is written as one JSON line to
      # $RECORDS_LOG (logger io.camunda.zeebe.broker.exporter.debuglog).
      debuglog:
        className: io.camunda.zeebe.broker.exporter.debug.DebugLogExporter
        args:
          logLevel: info
          prettyPrint: false
spring:
  main:
    banner-mode: "off"
management:
  server:
    address: $HOST
    port: $MONITORING_PORT
server:
  address: $HOST
  port: $REST_PORT
EOF
  # Log4j2: broker log and exporter records in separate files; the record
  # file gets the bare JSON message, one record per line.
  cat >"$CONF_DIR/log4j2.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- generated by scripts/zeebe.sh — do not edit -->
<Configuration status="WARN" shutdownHook="disable">
  <Appenders>
    <File name="Broker" fileName="$BROKER_LOG" append="true">
      <PatternLayout pattern="%d{yyyy-MM-dd HH:mm:ss.SSS} [%t] [%X{actor-name}] %-5level %logger{36} - %msg%n"/>
    </File>
    <File name="Records" fileName="$RECORDS_LOG" append="true" immediateFlush="true">
      <PatternLayout pattern="%msg%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Logger name="io.camunda.zeebe.broker.exporter.debuglog" level="info" additivity="false">
      <AppenderRef ref="Records"/>
    </Logger>
    <Logger name="io.camunda.zeebe" level="\${env:ZEEBE_LOG_LEVEL:-info}"/>
    <Logger name="io.atomix" level="\${env:ATOMIX_LOG_LEVEL:-info}"/>
    <Logger name="org.ehcache.core.EhcacheManager" level="warn"/>
    <Root level="info">
      <AppenderRef ref="Broker"/>
    </Root>
  </Loggers>
</Configuration>
EOF
}

# ------------------------------------------------------------ commands ----

cmd_status() {
  local pid
  if ! pid="$(broker_pid)"; then
    echo "Zeebe broker not running"
    return 1
  fi
  build_probe
  if ready; then
    echo "Zeebe broker running (pid $pid), gateway $GATEWAY_ADDRESS ready"
    return 0
  fi
  echo "Zeebe broker running (pid $pid) but not ready"
  return 1
}

wait_ready() { # PID START_EPOCH
  local pid="$1" t0="$2" now
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "broker process $pid exited during start-up"
      rm -f "$PID_FILE"
      show_log_tail
      return 1
    fi
    if ready; then
      now="$(date +%s)"
      log "ready after $((now - t0)) s"
      return 0
    fi
    now="$(date +%s)"
    if (( now - t0 >= START_TIMEOUT )); then
      log "broker not ready after ${START_TIMEOUT} s"
      show_log_tail
      return 1
    fi
    sleep 1
  done
}

cmd_start() {
  # bin/broker expands JAVA_OPTS unquoted: paths in it must have no blanks.
  [[ "$WORK_DIR" != *[[:space:]]* ]] || die "ZEEBE_WORK_DIR must not contain blanks: '$WORK_DIR'"
  mkdir -p "$WORK_DIR"
  exec 9>"$WORK_DIR/.lock"
  flock 9
  build_probe
  local pid t0
  t0="$(date +%s)"
  if pid="$(broker_pid)"; then
    if [[ "${ZEEBE_CLEAN:-0}" == 1 ]]; then
      log "ZEEBE_CLEAN=1: stopping the running broker (pid $pid) to start fresh"
      stop_pid "$pid"
    elif ready; then
      log "already running (pid $pid) and ready"
      echo "$GATEWAY_ADDRESS"
      return 0
    else
      log "already running (pid $pid), waiting for readiness"
      wait_ready "$pid" "$t0" || return 1
      echo "$GATEWAY_ADDRESS"
      return 0
    fi
  fi
  rm -f "$PID_FILE"
  for p in "$GATEWAY_PORT" "$COMMAND_PORT" "$INTERNAL_PORT" "$MONITORING_PORT" "$REST_PORT"; do
    if port_busy "$p"; then
      die "port $HOST:$p is already in use by another process (not our broker: no live pid in $PID_FILE)"
    fi
  done
  cmd_install
  find_java
  if [[ "${ZEEBE_CLEAN:-0}" == 1 ]]; then
    log "ZEEBE_CLEAN=1: wiping $DATA_DIR and $LOG_DIR"
    rm -rf "$DATA_DIR" "$LOG_DIR"
  fi
  mkdir -p "$DATA_DIR" "$LOG_DIR"
  BROKER_LOG_OFFSET="$(file_size "$BROKER_LOG")"
  STDOUT_LOG_OFFSET="$(file_size "$STDOUT_LOG")"
  write_config

  local opts=(
    "-Xmx$HEAP"
    # C1 only: ~30 % faster start-up and ~40 MB less RSS on 2 cores; plenty
    # for tests (override with ZEEBE_JAVA_OPTS=-XX:TieredStopAtLevel=4).
    "-XX:TieredStopAtLevel=1"
    "-Dspring.config.additional-location=file:$CONF_DIR/application.yaml"
    "-Dlog4j2.configurationFile=$CONF_DIR/log4j2.xml"
    "-Dlogging.config=file:$CONF_DIR/log4j2.xml"
  )
  # Newer JDKs only warn about netty/rocksdb/agrona native+Unsafe use; these
  # flags silence the warnings, the broker runs the same without them.
  if (( JAVA_MAJOR >= 22 )); then opts+=("--enable-native-access=ALL-UNNAMED"); fi
  if (( JAVA_MAJOR >= 24 )); then opts+=("--sun-misc-unsafe-memory-access=allow"); fi

  log "starting Zeebe $ZEEBE_VERSION on Java $JAVA_MAJOR ($JAVA_BIN), work dir $WORK_DIR"
  # bin/broker execs java, so $! is the JVM's pid; setsid detaches it from the
  # caller's process group and terminal.
  JAVA_HOME="$(dirname "$(dirname "$JAVA_BIN")")" JAVACMD="$JAVA_BIN" JAVA_OPTS="${opts[*]} ${ZEEBE_JAVA_OPTS:-}" \
    setsid "$ZEEBE_HOME/bin/broker" >>"$STDOUT_LOG" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"
  if ! wait_ready "$pid" "$t0"; then
    if kill -0 "$pid" 2>/dev/null; then
      log "stopping the broker that did not become ready"
      stop_pid "$pid"
    fi
    return 1
  fi
  echo "$GATEWAY_ADDRESS"
}

stop_pid() {
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "broker (pid $pid) still alive after ${STOP_TIMEOUT} s, sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$PID_FILE"
}

cmd_stop() {
  mkdir -p "$WORK_DIR"
  exec 9>"$WORK_DIR/.lock"
  flock 9
  local pid
  if ! pid="$(broker_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping broker (pid $pid)"
  stop_pid "$pid"
  log "stopped"
}

cmd_logs_path() {
  case "${1:-}" in
    --broker) echo "$BROKER_LOG" ;;
    "" | --records) echo "$RECORDS_LOG" ;;
    *) die "logs-path: unknown option $1 (use --records or --broker)" ;;
  esac
}

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

main() {
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    logs-path) cmd_logs_path "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
