#!/usr/bin/env bash
# scripts/clients.sh — run the official Camunda clients against pa-engine: the Java client
# (io.camunda:camunda-client-java, tools/clients/java) and the Node SDK's Zeebe gRPC client
# (@camunda8/sdk, tools/clients/node). They are not ours, so passing them shows that the engine
# speaks the Zeebe 8.5 gateway protocol and not only what our Go client sends (tools/clients/README.md).
#
#   scripts/clients.sh            both clients
#   scripts/clients.sh java       only one of them (java | node)
#
# Builds bin/pa-engine, starts it on a free 127.0.0.1 port with a fresh temporary data dir (stopped
# on exit), compiles the Java check with Maven (offline first: a warm ~/.m2 needs no network) and
# installs the Node one with `npm ci`, then runs both checks at once against the engine. Exits
# non-zero if a check fails. The last line is "clients: N passed, N failed" (all checks of both).
#
# Environment (optional): CLIENTS_TIMEOUT seconds per client run (default 300); JAVA_HOME; KEEP=1
# keeps the temporary directory (engine log, records, client logs).
# Needs: go, java 17+, mvn, node 18+, npm.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd -P)"
CLIENTS_DIR="$REPO_ROOT/tools/clients"
TIMEOUT="${CLIENTS_TIMEOUT:-300}"

log() { printf 'clients.sh [%3ds]: %s\n' "$SECONDS" "$*" >&2; }
die() { log "error: $*"; exit 1; }

want_java=0 want_node=0
if [[ $# -eq 0 ]]; then want_java=1 want_node=1; fi
for a in "$@"; do
  case "$a" in
    java) want_java=1 ;;
    node) want_node=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument '$a' (java | node)" ;;
  esac
done

need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found ($2)"; }
need go "to build bin/pa-engine"
if ((want_java)); then need mvn "for tools/clients/java"; fi
if ((want_node)); then need node "for tools/clients/node"; need npm "for tools/clients/node"; fi
JAVA="java"
if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then JAVA="$JAVA_HOME/bin/java"; fi
if ((want_java)); then need "$JAVA" "for tools/clients/java"; fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/pa-clients.XXXXXX")"
ENGINE_PID=""
cleanup() {
  local rc=$?
  if [[ -n "$ENGINE_PID" ]] && kill -0 "$ENGINE_PID" 2>/dev/null; then
    kill -TERM "$ENGINE_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$ENGINE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$ENGINE_PID" 2>/dev/null || true
    wait "$ENGINE_PID" 2>/dev/null || true
  fi
  if [[ "${KEEP:-0}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ----------------------------------------------------------------------------------- builds ----

# The three builds at once (Go and Maven mostly compute, npm mostly writes files); each logs to
# its own file, shown when it fails.
build_engine() {
  cd "$REPO_ROOT" && mkdir -p bin && go build -o bin/pa-engine ./cmd/pa-engine
}

# Short-lived JVMs on a 2-core machine: the C1 compiler alone and the serial collector start
# Maven and the check in about half the time.
JVM_FAST=(-XX:TieredStopAtLevel=1 -XX:+UseSerialGC)
JAVA_STAMP="$CLIENTS_DIR/java/target/.clients-sh-built"
java_built() { # the last build by this script is newer than every source of the Java check
  local d="$CLIENTS_DIR/java"
  [[ -f "$JAVA_STAMP" && -s "$d/target/classpath.txt" && -f "$d/target/classes/clients/Main.class" ]] || return 1
  [[ -z "$(find "$d/pom.xml" "$d/src" -newer "$JAVA_STAMP" -print -quit)" ]]
}
build_java() {
  export MAVEN_OPTS="${MAVEN_OPTS:-${JVM_FAST[*]}}"
  rm -f "$JAVA_STAMP"
  local args=(-q -B -Dstyle.color=never -f "$CLIENTS_DIR/java/pom.xml" compile)
  if ! mvn -o "${args[@]}"; then
    # A cold ~/.m2 (new machine): resolve from Maven Central.
    echo "clients.sh: offline build failed (cold ~/.m2?); building online"
    mvn "${args[@]}" || return 1
  fi
  [[ -s "$CLIENTS_DIR/java/target/classpath.txt" ]] || { echo "target/classpath.txt missing"; return 1; }
  touch "$JAVA_STAMP"
}

# npm ci (a clean install from package-lock.json) unless node_modules was installed by it from
# this very lock file and node (a stamp written below): a clean clone always installs.
NODE_STAMP="$CLIENTS_DIR/node/node_modules/.clients-sh-stamp"
node_stamp() { echo "$(cat "$CLIENTS_DIR/node/package-lock.json" "$CLIENTS_DIR/node/package.json" | cksum) $(node --version)"; }
node_installed() { [[ -f "$NODE_STAMP" && "$(cat "$NODE_STAMP")" == "$(node_stamp)" ]]; }
install_node() {
  cd "$CLIENTS_DIR/node" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error || return 1
  node_stamp >"$NODE_STAMP"
}

build_pids=() build_names=()
start_build() { # NAME FUNCTION
  log "$1"
  ("$2") >"$WORK/build-$2.log" 2>&1 </dev/null &
  build_pids+=($!) build_names+=("$2")
}
start_build "building bin/pa-engine" build_engine
if ((want_java)); then
  if java_built; then log "tools/clients/java is built (maven skipped)"; else start_build "building tools/clients/java (maven)" build_java; fi
fi
if ((want_node)); then
  if node_installed; then log "tools/clients/node: node_modules matches package-lock.json (npm ci skipped)"
  else start_build "installing tools/clients/node (npm ci)" install_node; fi
fi
build_failed=0
for i in "${!build_pids[@]}"; do
  if ! wait "${build_pids[$i]}"; then
    build_failed=1
    log "${build_names[$i]} failed:"
    tail -n 60 "$WORK/build-${build_names[$i]}.log" >&2
  fi
done
((build_failed == 0)) || die "a build failed"
log "built"

# ----------------------------------------------------------------------------------- engine ----

free_port() {
  local p
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    return
  fi
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  die "no free port found"
}

PORT="$(free_port)"
ADDRESS="127.0.0.1:$PORT"
mkdir -p "$WORK/data"
log "starting pa-engine on $ADDRESS (data dir $WORK/data)"
"$REPO_ROOT/bin/pa-engine" --address "$ADDRESS" --data-dir "$WORK/data" \
  --records "$WORK/records.log" --monitoring-address 127.0.0.1:0 >"$WORK/engine.log" 2>&1 </dev/null &
ENGINE_PID=$!

# Ready once the gRPC port accepts connections (each check then starts with a Topology request).
ready=0
for _ in $(seq 1 300); do
  kill -0 "$ENGINE_PID" 2>/dev/null || { tail -n 40 "$WORK/engine.log" >&2; die "pa-engine exited during start-up"; }
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then ready=1; break; fi
  sleep 0.1
done
((ready)) || { tail -n 40 "$WORK/engine.log" >&2; die "pa-engine did not listen on $ADDRESS within 30s"; }

# ----------------------------------------------------------------------------------- checks ----

# Both clients at once: separate processes, job types and process ids, so they cannot meet.
log "running the checks"
pids=() names=()
if ((want_java)); then
  (cd "$CLIENTS_DIR/java" && timeout "$TIMEOUT" "$JAVA" "${JVM_FAST[@]}" -cp "target/classes:$(cat target/classpath.txt)" \
    clients.Main "$ADDRESS" --bpmn order.bpmn) >"$WORK/java.out" 2>"$WORK/java.err" </dev/null &
  pids+=($!) names+=(java)
fi
if ((want_node)); then
  (cd "$CLIENTS_DIR/node" && timeout "$TIMEOUT" node check.mjs "$ADDRESS") \
    >"$WORK/node.out" 2>"$WORK/node.err" </dev/null &
  pids+=($!) names+=(node)
fi

total_passed=0 total_failed=0 bad=()
for i in "${!pids[@]}"; do
  name="${names[$i]}"
  rc=0
  wait "${pids[$i]}" || rc=$?
  echo "---- $name client ($name.out) ----"
  cat "$WORK/$name.out"
  summary="$(grep -E "^$name-client: [0-9]+ passed, [0-9]+ failed$" "$WORK/$name.out" | tail -n 1 || true)"
  if [[ -n "$summary" ]]; then
    p="$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$summary")"
    f="$(sed -E 's/.*, ([0-9]+) failed/\1/' <<<"$summary")"
  else
    p=0 f=1
    log "$name client printed no summary (exit $rc$( ((rc == 124)) && echo ": timed out after ${TIMEOUT}s"))"
  fi
  if ((rc != 0 && f == 0)); then f=1; fi
  total_passed=$((total_passed + p)) total_failed=$((total_failed + f))
  if ((rc != 0)); then
    bad+=("$name")
    echo "---- $name client stderr (last 40 lines) ----"
    tail -n 40 "$WORK/$name.err"
  fi
done

log "checks done"
if ((${#bad[@]})); then
  echo "---- pa-engine log (last 40 lines) ----"
  tail -n 40 "$WORK/engine.log"
  log "failed: ${bad[*]}"
fi
echo "clients: $total_passed passed, $total_failed failed"
((${#bad[@]} == 0))
