#!/usr/bin/env bash
# One command for the side-by-side comparison: builds pocketlua, pocketbench
# and the peer servers, then runs every scenario alternating servers.
# Usage: bash tests/bench/compare.sh [-d 5s] [-r 3] [-only echo-100x32,idle] [-idle 10000]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root/tests/bench"
exec go run ./compare -root "$root" "$@"
