# Shared by the side-by-side scripts (source it): a work folder removed at
# exit with every server started into pids, and loopback port helpers.
# Messages name the calling script.

me=$(basename "$0")
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# freeport prints a loopback TCP port nothing listens on (bounded tries),
# below the ephemeral range so no client socket holds it either.
freeport() {
  local lo; lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
  for _ in $(seq 1 100); do
    local p=$((10000 + RANDOM % (lo - 10000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "$me: no free port" >&2; exit 1
}

# waitport waits up to 10 s for a listener on port $1.
waitport() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return; fi
    sleep 0.1
  done
  echo "$me: nothing listens on $1" >&2; exit 1
}
