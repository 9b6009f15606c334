#!/usr/bin/env bash
# Runs every fuzz target for a short time (default 5s each): scripts/fuzz.sh [DURATION]
# Each package's fuzzing test binary is built once (go test -c -fuzz) and run once per target,
# as go test -fuzz runs it: in the package's directory (its testdata/fuzz corpus, where a failing
# input is written) with go's cache of interesting inputs. A build and link per package, not
# one per target.
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-5s}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
log="$work/fuzz.log"
cache="$(go env GOCACHE)/fuzz"
n=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u || true)
  [[ -n "$targets" ]] || continue
  n=$((n + 1))
  bin="$work/$n.test"
  go test -c -fuzz=. -o "$bin" "$pkg"
  for target in $targets; do
    echo "fuzz $pkg $target ($t)"
    run() {
      (cd "$dir" && "$bin" -test.run='^$' -test.fuzz="^${target}\$" -test.fuzztime="$1" \
        -test.fuzzcachedir="$cache/$pkg" -test.paniconexit0) >"$log" 2>&1
    }
    # On a loaded machine Go's fuzz coordinator can time out stopping its workers at the end of a
    # timed run ("context deadline exceeded") without any failing input, most often with slow
    # targets (a WAL opened per input): run it once more by a count of inputs instead, which has
    # no deadline. A real failure writes its input to testdata/fuzz and fails at once.
    if ! run "$t"; then
      if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
        echo "fuzz $pkg $target: the fuzz engine timed out without a failing input; once more, 300 inputs"
        run 300x || { cat "$log"; exit 1; }
      else
        cat "$log"; exit 1
      fi
    fi
  done
done
