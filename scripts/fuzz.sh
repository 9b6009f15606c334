#!/usr/bin/env bash
# Runs every fuzz target for a short time (default 5s each): scripts/fuzz.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-5s}"
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $target ($t)"
    run() { go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$1" >/tmp/fuzz.$$.log 2>&1; }
    # On a loaded machine Go's fuzz coordinator can time out stopping its workers at the end of a
    # timed run ("context deadline exceeded") without any failing input, most often with slow
    # targets (a WAL opened per input): run it once more by a count of inputs instead, which has
    # no deadline. A real failure writes its input to testdata/fuzz and fails at once.
    if ! run "$t"; then
      if grep -q 'context deadline exceeded' /tmp/fuzz.$$.log && ! grep -q 'Failing input written' /tmp/fuzz.$$.log; then
        echo "fuzz $pkg $target: the fuzz engine timed out without a failing input; once more, 300 inputs"
        run 300x || { cat /tmp/fuzz.$$.log; exit 1; }
      else
        cat /tmp/fuzz.$$.log; exit 1
      fi
    fi
  done
done
rm -f /tmp/fuzz.$$.log
