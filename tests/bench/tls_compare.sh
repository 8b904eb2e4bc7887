#!/usr/bin/env bash
# TLS side by side: pocketlua (scripts/echo.lua), gws (tests/bench/gws,
# RunTLS) and nginx with a lua-resty-websocket echo (tests/bench/nginx),
# all on one throwaway ECDSA P-256 certificate, TLS 1.3, measured by one
# load generator, cmd/pocketbench --tls (Go's crypto/tls client). Each
# measurement runs against a freshly started server (stopped by its PID
# afterwards), the servers interleaved round by round in a rotating order;
# prints every run and the medians. (tests/tlsstall stays the tool for
# the stalling-client modes.)
# Needs nginx, libnginx-mod-http-lua, lua-nginx-websocket (Debian), python3.
# Usage: bash tests/bench/tls_compare.sh [-r ROUNDS] [-d DURATION]
#        [--idle CONNECTIONS] [--only pocketlua,gws,nginx]
#        [--modes full,resumed,echo100,echo1000,idle] [--base BINARY]
# --base adds the server "base": that pocketlua binary (an older build, for
# an A/B in the same run: --only pocketlua,base,gws).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=3 dur=5s idle=10000 only=pocketlua,gws,nginx modes=full,resumed,echo100,echo1000,idle
base=
while (($#)); do
  case $1 in
    -r) rounds=$2; shift 2 ;;
    -d) dur=$2; shift 2 ;;
    --idle) idle=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --base) base=$(realpath "$2"); shift 2 ;;
    *) echo "tls_compare.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
# Servers and pocketbench are separate processes: each may open the
# connections of --idle up to the hard limit of open files.
ulimit -n "$(ulimit -Hn)"

source "$(dirname "$0")/lib.sh" # $work, $pids, freeport, waitport

(cd "$root" && go build -o "$work/" ./cmd/pocketlua ./cmd/pocketbench ./tests/tlsstall)
(cd "$root/tests/bench" && go build -o "$work/" ./gws)
"$work/tlsstall" -gencert "$work" >/dev/null
cert=$work/cert.pem key=$work/key.pem

# start SERVER starts one on a free port and sets port, pid (what is
# stopped) and measured (the process whose CPU and RSS count: for nginx
# its one worker).
start() {
  port=$(freeport)
  case $1 in
    pocketlua | base)
      local bin=$work/pocketlua
      if [[ $1 == base ]]; then bin=${base:?tls_compare.sh: the server base needs --base BINARY}; fi
      "$bin" -l "127.0.0.1:$port" --log-level warn --tls-cert "$cert" --tls-key "$key" \
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
echo "# $(nproc) CPUs, TLS 1.3 ECDSA P-256, nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), $(go version | awk '{print $3}'), open files $(ulimit -n)"
tlsargs=(--tls --tls-ca "$cert" --tls-server-name localhost --json)
for r in $(seq 1 "$rounds"); do
  for m in "${todo[@]}"; do
    case $m in
      # 8 dialers: connect, TLS handshake, upgrade, one 1-byte echo, close.
      full) args=(connect -c 8 --echo -s 1 -d "$dur") ;;
      resumed) args=(connect -c 8 --echo -s 1 -d "$dur" --tls-resume) ;;
      echo100) args=(echo -c 100 -s 64 -d "$dur") ;;
      echo1000) args=(echo -c 1000 -s 64 -d "$dur") ;;
      # One 16 B echo per connection, RSS; then one 16 KiB echo (one frame,
      # one full-sized TLS record), RSS.
      idle) args=(idle -c "$idle" --idle-echo 16,16384 --settle 2s --timeout 20s) ;;
      *) echo "tls_compare.sh: unknown mode $m" >&2; exit 2 ;;
    esac
    n=${#servers[@]}
    for i in $(seq 0 $((n - 1))); do
      s=${servers[$(((i + r) % n))]} # a different server first each round
      start "$s"
      load=$(cut -d' ' -f1 /proc/loadavg)
      out=$("$work/pocketbench" "${args[@]}" "${tlsargs[@]}" --url "ws://127.0.0.1:$port/" --pid "$measured" 2>"$work/err") || true
      stop
      echo "$s round $r load $load $m | ${out:-$(tr '\n' ' ' <"$work/err")}" | tee -a "$work/runs"
    done
  done
done

python3 - "$work/runs" "$only" <<'PY'
import json, statistics, sys
rows = [
    ("full handshakes / CPU-s", "full", lambda j: j.get("handshakes_per_server_cpu_s")),
    ("resumed handshakes / CPU-s", "resumed", lambda j: j.get("handshakes_per_server_cpu_s")),
    ("wss echo / CPU-s, 100 conns", "echo100", lambda j: j.get("msgs_per_server_cpu_s")),
    ("wss echo / CPU-s, 1000 conns", "echo1000", lambda j: j.get("msgs_per_server_cpu_s")),
    ("idle KiB/conn after 16 B", "idle", lambda j: j["idle_echo"][0]["rss_per_conn_bytes"] / 1024),
    ("idle KiB/conn after 16 KiB", "idle", lambda j: j["idle_echo"][1]["rss_per_conn_bytes"] / 1024),
]
servers = sys.argv[2].split(",")
vals, loads = {}, {}
for line in open(sys.argv[1]):
    head, _, text = line.partition(" | ")
    f = head.split()
    try:
        j = json.loads(text)
    except ValueError:
        continue
    if j.get("errors"):
        print(f"# {f[0]} round {f[2]} {f[5]}: {j['errors']} errors {j.get('error_kinds')}: not counted")
        continue
    for name, mode, get in rows:
        if mode != f[5]:
            continue
        try:
            v = get(j)
        except (KeyError, IndexError):
            v = None
        if v is not None:
            vals.setdefault((name, f[0]), []).append(float(v))
            loads.setdefault((name, f[0]), []).append(float(f[4]))
print()
print(f"{'median (runs; load range)':30}" + "".join(f"{s:>26}" for s in servers))
for name, _, _ in rows:
    row = f"{name:30}"
    for s in servers:
        v, l = vals.get((name, s)), loads.get((name, s))
        row += f"{'-':>26}" if not v else f"{statistics.median(v):>10.1f} ({len(v)}; {min(l):.1f}-{max(l):.1f})".rjust(26)
    print(row)
print("(load = 1-min load average before each run; each run on a freshly started server)")
PY
