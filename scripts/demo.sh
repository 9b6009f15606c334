#!/usr/bin/env bash
# make demo: pa-engine + Dataverse emulator + worker, one process instance end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./scripts/demo
