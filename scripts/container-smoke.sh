#!/usr/bin/env bash
# scripts/container-smoke.sh — the container image's promise without a container engine.
#
# The Dockerfile puts a static CGO_ENABLED=0 binary and the CA bundle into `scratch` and runs it
# as 65532:65532. This script builds the binary the same way, checks that it is static, and runs
# it in a root filesystem that holds only /pa-connector and /etc/ssl/certs/ca-certificates.crt
# (chroot as root, else `unshare -r --root` in a user namespace), as that user, with a clean
# environment, and checks:
#   1. gateway unreachable: /healthz 200, /readyz 503; SIGTERM → exit 0;
#   2. gateway up (bench/cmd/fake-gateway) and the Dataverse emulator: /readyz 200, 20 status
#      jobs completed, the token read from PA_CONNECTOR_SECRETS_DIR (a directory added to the
#      root as a Kubernetes Secret volume would be); SIGTERM → exit 0;
#   3. nothing was written into the root filesystem (readOnlyRootFilesystem holds).
# Prints the binary's size. Only loopback addresses are used.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'container-smoke: %s\n' "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/pa-container-smoke.XXXXXX")"
root="$work/root"
pids=()
cleanup() {
  local p
  for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; done
  for p in ${pids[@]+"${pids[@]}"}; do wait "$p" 2>/dev/null || true; done
  # SMOKE_KEEP=1 keeps the root and the logs for a look afterwards.
  if [[ -n "${SMOKE_KEEP:-}" ]]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# --- build, as the Dockerfile does ---------------------------------------------------------
mkdir -p "$root/etc/ssl/certs" "$work/bin"
CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$root/pa-connector" ./cmd/pa-connector
go build -o "$work/bin/dataverse-emulator" ./cmd/dataverse-emulator
go build -o "$work/bin/fake-gateway" ./bench/cmd/fake-gateway
ca=""
for c in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
  [[ -f "$c" ]] && { ca="$c"; break; }
done
[[ -n "$ca" ]] || die "no CA bundle on this machine to copy"
cp "$ca" "$root/etc/ssl/certs/ca-certificates.crt"

# --- static? --------------------------------------------------------------------------------
desc="$(file -b "$root/pa-connector")"
[[ "$desc" == *"statically linked"* ]] || die "file says the binary is not static: $desc"
if ldd_out="$(ldd "$root/pa-connector" 2>&1)"; then
  die "ldd lists libraries: $ldd_out"
fi
[[ "$ldd_out" == *"not a dynamic executable"* || "$ldd_out" == *"statically linked"* ]] ||
  die "unexpected ldd answer: $ldd_out"
size="$(stat -c %s "$root/pa-connector")"
log "binary: $desc"
log "binary size: $size bytes ($(( (size + 524288) / 1048576 )) MiB), ldd: ${ldd_out//$'\n'/ }"

chmod -R a+rX "$root"
find "$root" -type d -exec chmod 555 {} +
snapshot() { (cd "$root" && find . -printf '%p %s %T@\n' | sort); }
before="$(snapshot)"
log "root filesystem: $(cd "$root" && find . -type f | sort | tr '\n' ' ')"

# in_root ENV... : runs /pa-connector inside the root as 65532:65532 with only ENV.
CHROOT="$(command -v chroot || true)"
UNSHARE="$(command -v unshare || true)"
in_root() {
  if [[ "$(id -u)" == 0 && -n "$CHROOT" ]]; then
    exec env -i "$@" "$CHROOT" --userspec=65532:65532 "$root" /pa-connector
  else
    # Without root: a user namespace maps us to root inside; the binary still sees only $root.
    [[ -n "$UNSHARE" ]] || die "neither root with chroot nor unshare is available"
    exec env -i "$@" "$UNSHARE" -r --root="$root" /pa-connector
  fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

http_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" || true; }

wait_code() { # URL CODE SECONDS
  local i
  for ((i = 0; i < $3 * 20; i++)); do
    [[ "$(http_code "$1")" == "$2" ]] && return 0
    sleep 0.05
  done
  return 1
}

stop_worker() { # PID NAME
  kill -TERM "$1"
  local rc=0
  wait "$1" || rc=$?
  [[ "$rc" == 0 ]] || die "$2: the worker exited with $rc after SIGTERM (log: $(tail -5 "$work/$2.log"))"
}

# --- 1. gateway unreachable -------------------------------------------------------------------
http_port="$(free_port)"
dead_port="$(free_port)" # nothing listens there
(in_root ZEEBE_ADDRESS="127.0.0.1:$dead_port" ZEEBE_INSECURE_CONNECTION=true \
  PA_CONNECTOR_HTTP_ADDR="127.0.0.1:$http_port" PA_CONNECTOR_SHUTDOWN_GRACE=2s) \
  >"$work/down.log" 2>&1 &
worker=$!
pids+=("$worker")
wait_code "http://127.0.0.1:$http_port/healthz" 200 10 ||
  die "gateway down: /healthz did not answer 200 (log: $(tail -5 "$work/down.log"))"
code="$(http_code "http://127.0.0.1:$http_port/readyz")"
[[ "$code" == 503 ]] || die "gateway down: /readyz answered $code, want 503"
grep -q 'Zeebe gateway not reachable' "$work/down.log" || die "gateway down: no log line saying so"
stop_worker "$worker" down
log "gateway unreachable: /healthz 200, /readyz 503, SIGTERM → exit 0"

# --- 2. gateway up, jobs through the emulator ------------------------------------------------
token="smoke-token-$RANDOM$RANDOM"
cat >"$work/emulator.json" <<EOF
{"tokens": ["$token"], "flows": {"6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f": {"name": "smoke"}}}
EOF
"$work/bin/dataverse-emulator" -listen 127.0.0.1:0 -config "$work/emulator.json" \
  >"$work/emulator.out" 2>"$work/emulator.log" &
pids+=("$!")
for ((i = 0; i < 100; i++)); do [[ -s "$work/emulator.out" ]] && break; sleep 0.05; done
org="$(head -1 "$work/emulator.out")"
[[ "$org" == http://* ]] || die "the emulator printed no URL"
session="$(curl -fsS -m 5 -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"runMode":"unattended","connectionName":"smoke"}' \
  "$org/api/data/v9.2/workflows(6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f)/Microsoft.Dynamics.CRM.RunDesktopFlow" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["flowsessionId"])')"

vars="{\"operationType\":\"getStatusOfFlowRun\",\"organizationUri\":\"$org\",\"flowSessionId\":\"$session\",\"authentication\":{\"type\":\"bearer\",\"token\":\"{{secrets.DV_TOKEN}}\"}}"
"$work/bin/fake-gateway" -jobs 20 -variables "$vars" \
  -headers '{"resultExpression":"={statusCode: response.body.statuscode}"}' \
  >"$work/gateway.out" 2>"$work/gateway.log" &
gateway=$!
pids+=("$gateway")
for ((i = 0; i < 100; i++)); do [[ -s "$work/gateway.out" ]] && break; sleep 0.05; done
gw_addr="$(head -1 "$work/gateway.out")"
[[ -n "$gw_addr" ]] || die "the fake gateway printed no address"

# The Secret volume: the only thing added to the root, as Kubernetes mounts it.
chmod 755 "$root"
mkdir -p "$root/var/run/secrets/pa-connector"
printf '%s' "$token" >"$root/var/run/secrets/pa-connector/DV_TOKEN"
chmod -R a+rX "$root/var"
chmod 555 "$root" "$root/var" "$root/var/run" "$root/var/run/secrets" "$root/var/run/secrets/pa-connector"
with_secret="$(snapshot)"

host="$(python3 -c 'import sys,urllib.parse; print(urllib.parse.urlparse(sys.argv[1]).hostname)' "$org")"
(in_root ZEEBE_ADDRESS="$gw_addr" ZEEBE_INSECURE_CONNECTION=true \
  PA_CONNECTOR_HTTP_ADDR="127.0.0.1:$http_port" PA_CONNECTOR_ALLOWED_HOSTS="$host" \
  PA_CONNECTOR_SECRETS_DIR=/var/run/secrets/pa-connector PA_CONNECTOR_SHUTDOWN_GRACE=2s) \
  >"$work/up.log" 2>&1 &
worker=$!
pids+=("$worker")
wait_code "http://127.0.0.1:$http_port/readyz" 200 10 ||
  die "gateway up: /readyz did not answer 200 (log: $(tail -5 "$work/up.log"))"
# The gateway prints its verdict as its second line once every job is answered (or it gave up).
for ((i = 0; i < 1200; i++)); do (( $(wc -l <"$work/gateway.out") >= 2 )) && break; sleep 0.05; done
verdict="$(sed -n 2p "$work/gateway.out")"
[[ "$verdict" == ok:* ]] || die "gateway up: jobs not completed: ${verdict:-no verdict}; worker log: $(tail -5 "$work/up.log")"
code="$(http_code "http://127.0.0.1:$http_port/readyz")"
[[ "$code" == 200 ]] || die "gateway up: /readyz answered $code after the jobs"
code="$(http_code "http://127.0.0.1:$http_port/metrics")"
[[ "$code" == 200 ]] || die "gateway up: /metrics answered $code"
stop_worker "$worker" up
kill -TERM "$gateway"
wait "$gateway" || die "the fake gateway exited with an error: $(cat "$work/gateway.log")"
if grep -q "$token" "$work/up.log"; then die "the token appears in the worker's log"; fi
log "gateway up: /readyz 200, ${verdict#ok: }"

# --- 3. nothing written ------------------------------------------------------------------------
[[ "$(snapshot)" == "$with_secret" ]] || die "the worker wrote into its root filesystem: $(diff <(echo "$with_secret") <(snapshot) || true)"
log "root filesystem unchanged (as with readOnlyRootFilesystem)"
log "OK: the root held only /pa-connector and /etc/ssl/certs/ca-certificates.crt (plus the secret volume in step 2)"
