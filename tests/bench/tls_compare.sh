#!/usr/bin/env bash
# TLS side by side: pocketlua (scripts/echo.lua), gws (tests/bench/gws,
# RunTLS) and nginx with a lua-resty-websocket echo (tests/bench/nginx),
# all on one throwaway ECDSA P-256 certificate, TLS 1.3. Each measurement
# of tests/tlsstall's -target modes runs against a freshly started server
# (stopped by its PID afterwards), the servers interleaved round by round
# in a rotating order; prints every run and the medians.
# Needs nginx, libnginx-mod-http-lua, lua-nginx-websocket (Debian), python3.
# Usage: bash tests/bench/tls_compare.sh [-r ROUNDS] [-d HANDSHAKE_DURATION]
#        [--idle CONNECTIONS] [--only pocketlua,gws,nginx]
#        [--modes handshakes,echo100,echo1000,idle]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=3 dur=5s idle=4000 only=pocketlua,gws,nginx modes=handshakes,echo100,echo1000,idle
while (($#)); do
  case $1 in
    -r) rounds=$2; shift 2 ;;
    -d) dur=$2; shift 2 ;;
    --idle) idle=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    *) echo "tls_compare.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

source "$(dirname "$0")/lib.sh" # $work, $pids, freeport, waitport

(cd "$root" && go build -o "$work/" ./cmd/pocketlua ./tests/tlsstall)
(cd "$root/tests/bench" && go build -o "$work/" ./gws)
"$work/tlsstall" -gencert "$work" >/dev/null
cert=$work/cert.pem key=$work/key.pem

# start SERVER starts one on a free port and sets port, pid (what is
# stopped) and measured (the process whose CPU and RSS count: for nginx
# its one worker).
start() {
  port=$(freeport)
  case $1 in
    pocketlua)
      "$work/pocketlua" -l "127.0.0.1:$port" --log-level warn --tls-cert "$cert" --tls-key "$key" \
        --max-conns 20000 "$root/scripts/echo.lua" &
      pid=$! measured=$! ;;
    gws)
      "$work/gws" -l "127.0.0.1:$port" -cert "$cert" -key "$key" 2>/dev/null &
      pid=$! measured=$! ;;
    nginx)
      local prefix=$work/nginx-$port
      mkdir -p "$prefix/tmp"
      cp "$root/tests/bench/nginx/echo.lua" "$cert" "$key" "$prefix/"
      # Run as root, nginx's worker drops to an unprivileged user: it reads
      # echo.lua (the key is read by the master).
      chmod a+rx "$work" "$prefix"
      chmod a+r "$prefix/echo.lua"
      sed "s/127.0.0.1:9443/127.0.0.1:$port/" "$root/tests/bench/nginx/nginx.conf" >"$prefix/nginx.conf"
      nginx -p "$prefix" -c nginx.conf -g "pid $prefix/nginx.pid;" -e stderr &
      pid=$! ;;
    *) echo "tls_compare.sh: unknown server $1 (pocketlua, gws, nginx)" >&2; exit 2 ;;
  esac
  pids+=("$pid")
  waitport "$port"
  if [[ $1 == nginx ]]; then measured=$(pgrep -P "$pid" | head -1); fi
}

stop() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

IFS=, read -ra servers <<<"$only"
IFS=, read -ra todo <<<"$modes"
echo "# $(nproc) CPUs, TLS 1.3 ECDSA P-256, nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), $(go version | awk '{print $3}')"
for r in $(seq 1 "$rounds"); do
  for m in "${todo[@]}"; do
    case $m in
      handshakes) args=(-handshakes "$dur") ;;
      echo100) args=(-echo 100) ;;
      echo1000) args=(-echo 1000) ;;
      idle) args=(-idle "$idle") ;;
      *) echo "tls_compare.sh: unknown mode $m" >&2; exit 2 ;;
    esac
    n=${#servers[@]}
    for i in $(seq 0 $((n - 1))); do
      s=${servers[$(((i + r) % n))]} # a different server first each round
      start "$s"
      load=$(cut -d' ' -f1 /proc/loadavg)
      out=$("$work/tlsstall" -target "wss://127.0.0.1:$port/" -pid "$measured" -ca "$cert" "${args[@]}" 2>&1) || true
      stop
      while IFS= read -r line; do
        echo "$s round $r load $load | $line" | tee -a "$work/runs"
      done <<<"$out"
    done
  done
done

python3 - "$work/runs" "$only" <<'PY'
import re, statistics, sys
pats = [
    ("full handshakes / CPU-s", r"^full +handshakes: .*?(\d+) per server CPU-second"),
    ("resumed handshakes / CPU-s", r"^resumed +handshakes: .*?(\d+) per server CPU-second"),
    ("wss echo / CPU-s, 100 conns", r"^wss 100 clients: .*?(\d+) per server CPU-second"),
    ("wss echo / CPU-s, 1000 conns", r"^wss 1000 clients: .*?(\d+) per server CPU-second"),
    ("idle KiB/conn after 16 B", r"^wss \d+ idle connections: (-?[\d.]+) KiB each"),
    ("idle KiB/conn after 16 KiB", r"^wss \d+ idle connections: .*?, (-?[\d.]+) KiB after"),
]
servers = sys.argv[2].split(",")
vals, loads = {}, {}
for line in open(sys.argv[1]):
    head, _, text = line.partition(" | ")
    f = head.split()
    for name, pat in pats:
        m = re.search(pat, text)
        if m:
            vals.setdefault((name, f[0]), []).append(float(m.group(1)))
            loads.setdefault((name, f[0]), []).append(float(f[4]))
print()
print(f"{'median (runs; load range)':30}" + "".join(f"{s:>26}" for s in servers))
for name, _ in pats:
    row = f"{name:30}"
    for s in servers:
        v, l = vals.get((name, s)), loads.get((name, s))
        row += f"{'-':>26}" if not v else f"{statistics.median(v):>10.1f} ({len(v)}; {min(l):.1f}-{max(l):.1f})".rjust(26)
    print(row)
print("(load = 1-min load average before each run; each run on a freshly started server)")
PY
