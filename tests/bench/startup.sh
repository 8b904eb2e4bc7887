#!/usr/bin/env bash
# Startup figures: exec to the first connection answered, package init
# (GODEBUG=inittrace=1) and an empty Go program for scale; medians.
# Usage: bash tests/bench/startup.sh [-n 20] [-bin path/to/pocketlua]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root/tests/bench"
exec go run ./startup -root "$root" "$@"
