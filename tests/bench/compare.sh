#!/usr/bin/env bash
# One command for the side-by-side comparison: builds pocketlua, pocketbench
# and the peer servers, then runs every scenario alternating servers.
# Usage: bash tests/bench/compare.sh [-d 5s] [-r 3] [-only echo-100x32,idle]
#   [-servers pocketlua,pocketlua-epoll,pocketlua-uring,gorilla,gws,nbio,nginx-1w,nginx-2w]
#   [-loops 1,0] [-idle 10000]
#   [-workers 1] [-baseline OTHER_POCKETLUA -servers pocketlua,baseline] [-pl-env K=V] [-perf=false]
# nginx-1w and nginx-2w need the Debian packages nginx, libnginx-mod-http-lua and
# lua-nginx-websocket; perf (linux-perf) counts syscalls when it runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root/tests/bench"
exec go run ./compare -root "$root" "$@"
