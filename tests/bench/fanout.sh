#!/usr/bin/env bash
# Fan-out through one Redis: pocketlua (tests/bench/fanout.lua, 1 and 2
# workers) against Centrifuge (tests/bench/centrifuge, its RedisBroker),
# driven by `pocketbench fanout`, runs interleaved round by round; prints
# every run and the medians. Needs redis-server (Debian) and python3.
# Usage: bash tests/bench/fanout.sh [-r ROUNDS] [-c SUBSCRIBERS] [--rate N]
#        [-d DURATION] [-s SIZE] [--publishers N] [--only p1,p2,cf,p1x2,cfx2]
#        [--base POCKETLUA]
# p1, p2: pocketlua with 1 and 2 workers; cf: Centrifuge; p1x2, cfx2: two
# processes of each on the same Redis. A pocketlua server with @DELAY
# (p1@5ms, p2@0) runs with --publish-flush-delay DELAY. b1, b2 are p1, p2
# run from the binary --base names (an A/B against another build).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=3 subs=500 rate=100 dur=5s size=64 pubs=2 only=p1,p2,cf base=
while (($#)); do
  case $1 in
    -r) rounds=$2; shift 2 ;;
    -c) subs=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    -d) dur=$2; shift 2 ;;
    -s) size=$2; shift 2 ;;
    --publishers) pubs=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --base) base=$(realpath "$2"); shift 2 ;;
    *) echo "fanout.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

source "$(dirname "$0")/lib.sh" # $work, $pids, freeport, waitport

(cd "$root" && go build -o "$work/" ./cmd/pocketlua ./cmd/pocketbench)
(cd "$root/tests/bench" && go build -o "$work/" ./centrifuge)

rport=$(freeport)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
  --logfile "$work/redis.log" &
pids+=($!)
waitport "$rport"
redis=127.0.0.1:$rport

# start_pocketlua WORKERS [DELAY [BINARY]] and start_centrifuge start one
# server on a free port and print "URL PID".
start_pocketlua() {
  local port; port=$(freeport)
  "${3:-$work/pocketlua}" -l "127.0.0.1:$port" --log-level warn --workers "$1" ${2:+--publish-flush-delay "$2"} \
    --broker "redis://$redis" "$root/tests/bench/fanout.lua" >&2 &
  local p=$!
  pids+=("$p")
  waitport "$port"
  echo "ws://127.0.0.1:$port/ $p"
}
start_centrifuge() {
  local port; port=$(freeport)
  "$work/centrifuge" -l "127.0.0.1:$port" -redis "$redis" >&2 &
  local p=$!
  pids+=("$p")
  waitport "$port"
  echo "ws://127.0.0.1:$port/connection/websocket $p"
}

# Each server is one or two processes (x2: subscribers and publishers
# alternate between them, so deliveries also cross Redis); url and pid
# hold comma-separated lists.
declare -A url pid
declare -A proto=([p1]=pocketlua [p2]=pocketlua [p1x2]=pocketlua [b1]=pocketlua [b2]=pocketlua [cf]=centrifuge [cfx2]=centrifuge)
IFS=, read -ra servers <<<"$only"
for s in "${servers[@]}"; do
  delay= bin=
  [[ $s == *@* ]] && delay=${s#*@}
  if [[ $s == b* ]]; then
    [[ -n $base ]] || { echo "fanout.sh: $s needs --base POCKETLUA" >&2; exit 2; }
    bin=$base
  fi
  proto[$s]=${proto[${s%@*}]:-}
  case ${s%@*} in
    p1 | b1) set -- 1 ;; p2 | b2) set -- 2 ;; p1x2) set -- 1 1 ;; cf) set -- c ;; cfx2) set -- c c ;;
    *) echo "fanout.sh: unknown server $s (p1, p2, p1x2, b1, b2, cf, cfx2)" >&2; exit 2 ;;
  esac
  for w in "$@"; do
    # $(...) would run the server in a subshell the trap cannot reach.
    if [[ $w == c ]]; then start_centrifuge >"$work/started"; else start_pocketlua "$w" "$delay" "$bin" >"$work/started"; fi
    read -r u p <"$work/started"
    url[$s]=${url[$s]:+${url[$s]},}$u
    pid[$s]=${pid[$s]:+${pid[$s]},}$p
  done
done

echo "# $subs subscribers, $pubs publishers, $rate msg/s, ${size} B, $dur per run, Redis $(redis-server --version | awk '{print $3}')"
for r in $(seq 1 "$rounds"); do
  for s in "${servers[@]}"; do
    # A topic per server: the processes share the Redis, not the load.
    out=$("$work/pocketbench" fanout --json --proto "${proto[$s]}" --topic "bench.${s/@/.}" \
      -c "$subs" --publishers "$pubs" --rate "$rate" -s "$size" -d "$dur" \
      --urls "${url[$s]}" --pid "${pid[$s]}" --sources 1) || true
    echo "$s round $r load $(cut -d' ' -f1 /proc/loadavg) $out" | tee -a "$work/runs"
  done
done

python3 - "$work/runs" <<'PY'
import json, statistics, sys
labels = {"p1": "pocketlua 1 worker", "p2": "pocketlua 2 workers", "b1": "base 1 worker", "b2": "base 2 workers", "p1x2": "pocketlua 2 procs x 1 w",
          "cf": "centrifuge", "cfx2": "centrifuge 2 nodes"}
runs, order = {}, []
for line in open(sys.argv[1]):
    f = line.split(" ", 5)
    try:
        r = json.loads(f[5])
    except ValueError:
        continue
    r["load"] = float(f[4])
    if f[0] not in runs:
        order.append(f[0])
    runs.setdefault(f[0], []).append(r)
def med(rs, k):
    v = [r.get(k) for r in rs if r.get(k) is not None]
    return statistics.median(v) if v else float("nan")
print()
print(f"{'server':26} {'runs':>4} {'deliv/s':>9} {'deliv/srv CPU-s':>16} {'µs CPU/deliv':>13} {'p50 µs':>8} {'p99 µs':>8} {'lost':>6} {'errors':>6} {'load':>5}")
for k in order:
    rs = runs[k]
    base, _, delay = k.partition("@")
    label = labels.get(base, base) + (f" @{delay}" if delay else "")
    print(f"{label:26} {len(rs):>4} {med(rs,'msgs_per_s'):>9.0f} {med(rs,'msgs_per_server_cpu_s'):>16.0f} "
          f"{med(rs,'server_cpu_us_per_msg'):>13.2f} {med(rs,'p50_us'):>8.0f} {med(rs,'p99_us'):>8.0f} "
          f"{sum(r.get('lost',0) for r in rs):>6} {sum(r.get('errors',0) for r in rs):>6} {med(rs,'load'):>5.2f}")
print("(medians over the runs; lost and errors summed; load = 1-min load average before each run)")
# Same-round ratios of deliveries per server CPU-second: each server
# against Centrifuge (cf), and p1/p2 against b1/b2 (--base).
def ratios(a, b):
    pairs = zip(runs.get(a, []), runs.get(b, []))
    return [x["msgs_per_server_cpu_s"] / y["msgs_per_server_cpu_s"] for x, y in pairs
            if x.get("msgs_per_server_cpu_s") and y.get("msgs_per_server_cpu_s")]
for a, b in [(k, "cf") for k in order if k != "cf"] + [("p1", "b1"), ("p2", "b2")]:
    if r := ratios(a, b):
        print(f"{a}/{b} per round: " + " ".join(f"{x:.2f}" for x in r) + f"  median {statistics.median(r):.2f}")
PY
