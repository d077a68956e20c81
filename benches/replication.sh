#!/usr/bin/env bash
# Throughput of the kv-cache example under redis-benchmark, without
# replication and replicating to an understudy-replica on 127.0.0.1 at
# 10/50/100 ms checkpoint intervals in both consistency modes, side by side
# in one run; ratios are to the run without replication. Also the epoch
# acknowledgement latency the primary measured, and the failover time
# (SIGKILL of the primary to the first PONG from the promoted replica).
#
# Usage: benches/replication.sh   (after cargo build --release)
# Env:   REQUESTS=N (default 50000), CLIENTS=N (default 50)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$root/target/release/understudy
replica_bin=$root/target/release/understudy-replica
requests=${REQUESTS:-50000}
clients=${CLIENTS:-50}

for tool in redis-benchmark redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "replication.sh: $tool is not on PATH" >&2; exit 1; }
done
[[ -x $bin && -x $replica_bin ]] || { echo "replication.sh: build first: cargo build --release" >&2; exit 1; }

bench=replication.sh
# shellcheck source=benches/common.sh
source "$root/benches/common.sh"
"$bin" certs --out "$tmp/certs" >/dev/null

# run_case NAME [understudy run options...]: prints "NAME set get incr ack"
run_case() {
  local name=$1
  shift
  local port rport
  port=$(free_port tcp)
  local replica_pid=""
  if [[ $# -gt 0 ]]; then
    rport=$(free_port udp)
    "$replica_bin" --listen "127.0.0.1:$rport" --data-dir "$tmp/data-$name" --certs "$tmp/certs" \
      --failure-timeout 2s 2>"$tmp/replica-$name.log" &
    replica_pid=$!
    pids+=("$replica_pid")
    set -- --replicate-to "127.0.0.1:$rport" --certs "$tmp/certs" "$@"
  fi
  "$bin" run "$@" "$root/examples/kv-cache/main.lua" --port "$port" >/dev/null 2>"$tmp/primary-$name.log" &
  local pid=$!
  pids+=("$pid")
  wait_ping "$port"
  local out
  out=$(redis-benchmark -p "$port" -t set,get,incr -n "$requests" -c "$clients" -q 2>&1 | tr '\r' '\n')
  if grep -qi error <<<"$out"; then
    echo "replication.sh: errors in $name" >&2
    exit 1
  fi
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  if [[ -n $replica_pid ]]; then
    kill -9 "$replica_pid" 2>/dev/null || true
    wait "$replica_pid" 2>/dev/null || true
  fi
  local rps
  rps=$(grep "requests per second" <<<"$out" | sed -E 's/^ *([A-Z]+): ([0-9.]+) requests.*/\2/' | tr '\n' ' ')
  local ack
  ack=$(grep -o "ack latency median [0-9.]* ms, p99 [0-9.]* ms" "$tmp/primary-$name.log" || echo "-")
  echo "$name $rps|$ack"
}

results=()
results+=("$(run_case none)")
for every in 10ms 50ms 100ms; do
  results+=("$(run_case "async-$every" --consistency async --checkpoint-every "$every")")
  results+=("$(run_case "output-commit-$every" --consistency output-commit --checkpoint-every "$every")")
done

read -r _ base_set base_get base_incr _ <<<"${results[0]%%|*}"
echo "| configuration | SET req/s | GET req/s | INCR req/s | ratio (geomean) | epoch ack latency |"
echo "|---|---:|---:|---:|---:|---|"
for r in "${results[@]}"; do
  read -r name s g i <<<"${r%%|*}"
  ack=${r#*|}
  ratio=$(awk "BEGIN{print exp((log($s/$base_set)+log($g/$base_get)+log($i/$base_incr))/3)}")
  printf '| %s | %.0f | %.0f | %.0f | %.2f | %s |\n' "$name" "$s" "$g" "$i" "$ratio" "$ack"
done

# Failover: SIGKILL the primary, time to the first PONG on its address.
port=$(free_port tcp)
rport=$(free_port udp)
"$replica_bin" --listen "127.0.0.1:$rport" --data-dir "$tmp/data-failover" --certs "$tmp/certs" \
  --failure-timeout 300ms 2>"$tmp/replica-failover.log" &
pids+=($!)
"$bin" run --replicate-to "127.0.0.1:$rport" --certs "$tmp/certs" \
  "$root/examples/kv-cache/main.lua" --port "$port" >/dev/null 2>&1 &
primary=$!
pids+=("$primary")
wait_ping "$port"
redis-benchmark -p "$port" -t set -n 2000 -c 10 -q >/dev/null 2>&1
start=$(date +%s%N)
kill -9 "$primary"
wait "$primary" 2>/dev/null || true
wait_ping "$port"
end=$(date +%s%N)
echo
echo "failover (replica --failure-timeout 300ms): $(( (end - start) / 1000000 )) ms from SIGKILL to the first PONG"
grep -o "program resumed in [0-9.]* ms ([a-z]*" "$tmp/replica-failover.log" || true
echo "redis-benchmark -t set,get,incr -n $requests -c $clients; replica on the same 2-core machine"
