#!/usr/bin/env bash
# Runs redis-benchmark against the kv-cache example (examples/kv-cache),
# against the same example checkpointing every 10 ms into a local
# directory, and against redis-server, side by side in one run, and prints
# a markdown table of requests per second with the ratios kv-cache /
# redis-server and checkpointing on / off.
#
# Usage: benches/kv_vs_redis.sh [UNDERSTUDY_BIN]   (default: target/release/understudy)
# Env:   REQUESTS=N (default 100000), CLIENTS=N (default 50),
#        ROUNDS=N   alternating rounds per server, the best is kept (default 3)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${1:-$root/target/release/understudy}
requests=${REQUESTS:-100000}
clients=${CLIENTS:-50}
rounds=${ROUNDS:-3}
tests=set,get,incr

for tool in redis-server redis-benchmark redis-cli; do
  if ! command -v "$tool" >/dev/null; then
    echo "kv_vs_redis.sh: $tool is not on PATH (apt-get install redis-server redis-tools)" >&2
    exit 1
  fi
done
if [[ ! -x $bin ]]; then
  echo "kv_vs_redis.sh: understudy binary not found: $bin (cargo build --release)" >&2
  exit 1
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# free_port: a port nothing listens on, from the kernel.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_ping() {
  for _ in $(seq 100); do
    if [[ $(redis-cli -p "$1" ping 2>/dev/null) == PONG ]]; then return 0; fi
    sleep 0.1
  done
  echo "kv_vs_redis.sh: server on port $1 did not answer PING" >&2
  exit 1
}

kv_port=$(free_port)
"$bin" run "$root/examples/kv-cache/main.lua" --port "$kv_port" >"$tmp/kv.log" 2>&1 &
pids+=($!)
ck_port=$(free_port)
"$bin" run --checkpoint-dir "$tmp/checkpoints" --checkpoint-every 10ms \
  "$root/examples/kv-cache/main.lua" --port "$ck_port" >"$tmp/ck.log" 2>&1 &
pids+=($!)
redis_port=$(free_port)
redis-server --port "$redis_port" --save "" --appendonly no >"$tmp/redis.log" 2>&1 &
pids+=($!)
wait_ping "$kv_port"
wait_ping "$ck_port"
wait_ping "$redis_port"

# bench PORT: prints "TEST rps" lines; fails on any error reply.
bench() {
  local out=$tmp/bench.out
  redis-benchmark -p "$1" -t "$tests" -n "$requests" -c "$clients" -q 2>&1 | tr '\r' '\n' >"$out"
  if grep -qi "error" "$out"; then
    echo "kv_vs_redis.sh: redis-benchmark reported errors against port $1:" >&2
    grep -i error "$out" | head -5 >&2
    exit 1
  fi
  grep "requests per second" "$out" | sed -E 's/^ *([A-Z]+): ([0-9.]+) requests per second.*/\1 \2/'
}

declare -A best_kv best_ck best_redis
for _ in $(seq "$rounds"); do
  while read -r t rps; do
    if [[ -z ${best_kv[$t]:-} ]] || awk "BEGIN{exit !($rps > ${best_kv[$t]})}"; then best_kv[$t]=$rps; fi
  done < <(bench "$kv_port")
  while read -r t rps; do
    if [[ -z ${best_ck[$t]:-} ]] || awk "BEGIN{exit !($rps > ${best_ck[$t]})}"; then best_ck[$t]=$rps; fi
  done < <(bench "$ck_port")
  while read -r t rps; do
    if [[ -z ${best_redis[$t]:-} ]] || awk "BEGIN{exit !($rps > ${best_redis[$t]})}"; then best_redis[$t]=$rps; fi
  done < <(bench "$redis_port")
done

echo "| command | redis-server (req/s) | kv-cache (req/s) | kv-cache / redis | kv-cache, checkpoints every 10 ms (req/s) | checkpointing on / off |"
echo "|---|---:|---:|---:|---:|---:|"
logsum=0
logck=0
n=0
for t in SET GET INCR; do
  k=${best_kv[$t]:?missing $t result for kv-cache}
  c=${best_ck[$t]:?missing $t result for kv-cache with checkpoints}
  r=${best_redis[$t]:?missing $t result for redis-server}
  ratio=$(awk "BEGIN{print $k / $r}")
  ck=$(awk "BEGIN{print $c / $k}")
  logsum=$(awk "BEGIN{print $logsum + log($ratio)}")
  logck=$(awk "BEGIN{print $logck + log($ck)}")
  n=$((n + 1))
  printf '| %s | %.0f | %.0f | %.2f | %.0f | %.2f |\n' "$t" "$r" "$k" "$ratio" "$c" "$ck"
done
printf '| geometric mean | | | %.2f | | %.2f |\n' "$(awk "BEGIN{print exp($logsum / $n)}")" "$(awk "BEGIN{print exp($logck / $n)}")"
echo
echo "redis-benchmark -t $tests -n $requests -c $clients, best of $rounds alternating rounds"
