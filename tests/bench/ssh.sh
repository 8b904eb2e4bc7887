#!/usr/bin/env bash
# SSH side by side: pocketlua's ssh.lua against OpenSSH's sshd, on this
# machine, loopback only. Not a CI test: run it by hand, as root (sshd
# needs root to run its privilege separation; apt-get install
# openssh-server openssh-client).
#
#   bash tests/bench/ssh.sh [size_mb] [exec_round_trips] [idle_sessions]
#
# For each server: sftp put and get of a size_mb file (MB/s of the wall
# time, and the server's CPU seconds: user+system of the process, plus its
# reaped children for sshd, which forks per connection); exec round trips
# per second over one multiplexed connection (ssh -S, a ControlMaster);
# then the memory one idle session costs (proportional set size of the
# server's processes, before and after opening idle_sessions sessions).
# Clients use OpenSSH's default ciphers; a last sftp run against sshd
# forces aes128-gcm, the cipher pocketlua negotiates.
set -euo pipefail
size=${1:-200}
trips=${2:-200}
idle=${3:-100}
root=$(cd "$(dirname "$0")/../.." && pwd)
d=$(mktemp -d /tmp/sshbench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$d"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# tree PID: PID and its descendants (sshd forks two levels per session).
tree() {
  local all=("$1") p
  for p in $(pgrep -P "$1" 2>/dev/null || true); do all+=($(tree "$p")); done
  echo "${all[@]}"
}
# cpu PID: user+system seconds of the process tree, reaped children included.
cpu() {
  local p
  for p in $(tree "$1"); do cat "/proc/$p/stat" 2>/dev/null || true; done |
    awk -v hz="$(getconf CLK_TCK)" '{s+=$14+$15+$16+$17} END{printf "%.2f", s/hz}'
}
# pss PID: summed proportional set size of the process tree, KiB.
pss() {
  local p
  for p in $(tree "$1"); do awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true; done |
    awk '{s+=$1} END{print s+0}'
}

go build -o "$d/pocketlua" "$root/cmd/pocketlua"
ssh-keygen -q -t ed25519 -N '' -f "$d/client"
ssh-keygen -q -t ed25519 -N '' -f "$d/hostkey"
cp "$d/client.pub" "$d/authorized_keys"
mkdir -p "$d/files" /run/sshd
head -c "$((size * 1000000))" /dev/urandom > "$d/big.bin"

sshd_port=$(free_port)
cat > "$d/sshd_config" <<CFG
Port $sshd_port
ListenAddress 127.0.0.1
HostKey $d/hostkey
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
MaxSessions $((idle + 10))
MaxStartups 200:30:400
Subsystem sftp internal-sftp
UseDNS no
PrintMotd no
PrintLastLog no
CFG
/usr/sbin/sshd -D -f "$d/sshd_config" -E "$d/sshd.log" &
pids+=($!)
sshd_pid=$!

pl_port=$(free_port)
cat > "$d/bench.lua" <<LUA
local Ssh = require "ssh"
local Session = Ssh.Session:extend()
function Session:exec(command)
  if command == "idle" then return end  -- stays open
  self:send(command .. "\n")
  self:exit(0)
end
return Ssh:extend{ session = Session, host_keys = { "$d/hostkey" }, root = "$d/files",
  max_sessions = $((idle + 10)),
  users = { root = { authorized_keys = "$d/authorized_keys", root = "$d/files", write = true } } }
LUA
"$d/pocketlua" -l "127.0.0.1:$pl_port" --ssh-max-startups 400 "$d/bench.lua" 2>"$d/pl.log" >/dev/null &
pids+=($!)
pl_pid=$!
sleep 1

opts=(-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
  -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes -i "$d/client")

run() { # name port pid dest [sftp-only]
  local name=$1 port=$2 pid=$3 dest=$4
  local c0 c1 t0 t1 i
  [ "${5:-}" = sftp-only ] || idle_and_exec "$@"
  sftp_runs "$@"
}

idle_and_exec() {
  local name=$1 port=$2 pid=$3 dest=$4
  local c0 c1 t0 t1 i
  local ctl="$d/ctl-$name"
  ssh "${opts[@]}" -p "$port" -o ControlMaster=yes -o ControlPath="$ctl" -o ControlPersist=600 -N -f root@127.0.0.1

  # Idle sessions first, on a fresh server: later runs leave garbage to collect.
  local before after cmd=idle
  [ "$name" = sshd ] && cmd="cat"
  sleep 1
  before=$(pss "$pid")
  local fifo="$d/fifo-$name"
  mkfifo "$fifo"
  sleep 600 >"$fifo" &
  local feeder=$!
  pids+=($feeder)
  local holders=()
  for ((i = 0; i < idle; i++)); do
    ssh -o ControlPath="$ctl" -p "$port" root@127.0.0.1 "$cmd" <"$fifo" >/dev/null 2>&1 &
    holders+=($!); pids+=($!)
  done
  sleep 5
  after=$(pss "$pid")
  awk -v n="$name" -v k="$idle" -v b="$before" -v a="$after" \
    'BEGIN{printf "%-10s idle sessions: %d on one connection, %.1f KiB each (PSS %d -> %d KiB)\n", n, k, (a-b)/k, b, a}'
  kill "${holders[@]}" "$feeder" 2>/dev/null || true
  sleep 2

  # Exec round trips over the multiplexed connection, at most 60 s.
  c0=$(cpu "$pid"); t0=$(date +%s.%N)
  for ((i = 0; i < trips && $(date +%s) - ${t0%.*} < 60; i++)); do
    ssh -o ControlPath="$ctl" -p "$port" root@127.0.0.1 echo x </dev/null >/dev/null
  done
  t1=$(date +%s.%N); c1=$(cpu "$pid")
  awk -v n="$name" -v k="$i" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" \
    'BEGIN{printf "%-10s exec: %d round trips, %6.1f per second, server CPU %5.2f s\n", n, k, k/(t1-t0), c1-c0}'
  ssh -o ControlPath="$ctl" -O exit root@127.0.0.1 2>/dev/null || true
}

sftp_runs() {
  local name=$1 port=$2 pid=$3 dest=$4
  local c0 c1 t0 t1
  c0=$(cpu "$pid"); t0=$(date +%s.%N)
  sftp "${opts[@]}" -P "$port" -b - root@127.0.0.1 >/dev/null <<<"put $d/big.bin $dest/up-$name.bin"
  t1=$(date +%s.%N); sleep 1; c1=$(cpu "$pid")
  awk -v n="$name" -v s="$size" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" \
    'BEGIN{printf "%-10s sftp put %d MB: %6.1f MB/s, server CPU %5.2f s, %6.1f MB per server CPU-s\n", n, s, s/(t1-t0), c1-c0, s/(c1-c0)}'
  c0=$(cpu "$pid"); t0=$(date +%s.%N)
  sftp "${opts[@]}" -P "$port" -b - root@127.0.0.1 >/dev/null <<<"get $dest/up-$name.bin $d/down-$name.bin"
  t1=$(date +%s.%N); sleep 1; c1=$(cpu "$pid")
  cmp -s "$d/big.bin" "$d/down-$name.bin" || { echo "$name: the file came back different"; exit 1; }
  awk -v n="$name" -v s="$size" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" \
    'BEGIN{printf "%-10s sftp get %d MB: %6.1f MB/s, server CPU %5.2f s, %6.1f MB per server CPU-s\n", n, s, s/(t1-t0), c1-c0, s/(c1-c0)}'
  rm -f "$d/down-$name.bin"
}

echo "# $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(ssh -V 2>&1)"
run pocketlua "$pl_port" "$pl_pid" "."
run sshd "$sshd_port" "$sshd_pid" "$d/files"
# The same cipher on both sides: pocketlua offers only AES-GCM (LUA_API 12.5).
opts+=(-o Ciphers=aes128-gcm@openssh.com)
run sshd-gcm "$sshd_port" "$sshd_pid" "$d/files" sftp-only
