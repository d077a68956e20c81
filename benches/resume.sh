#!/usr/bin/env bash
# Recovery from a local checkpoint directory after a long run of writes:
# the kv-cache example checkpointing into a directory (its default
# interval) is loaded with N keys of 100-byte values, then takes
# redis-benchmark SETs over those keys for DURATION seconds, and is killed
# with SIGKILL. Then `understudy resume` of that directory, timed until it
# answers PING (and checked to hold every key), and `understudy inspect`
# of it, timed. The store compacts itself in the background during the
# run, so what resume reads stays bounded by the base, not the run's
# length.
#
# Usage: benches/resume.sh   (after cargo build --release)
# Env:   SIZES="1000000" (keys), DURATION=600 (seconds of writes), KEEP=1
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$root/target/release/understudy
sizes=${SIZES:-1000000}
duration=${DURATION:-600}
for tool in redis-benchmark redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "resume.sh: $tool is not on PATH" >&2; exit 1; }
done
[[ -x $bin ]] || { echo "resume.sh: build first: cargo build --release" >&2; exit 1; }
bench=resume.sh
# shellcheck source=benches/common.sh
source "$root/benches/common.sh"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

echo "| keys | writes | SETs done | directory | frames | resume → PONG | keys after resume | inspect |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in $sizes; do
  dir=$tmp/ck-$n
  port=$(free_port tcp)
  "$bin" run --checkpoint-dir "$dir" "$root/examples/kv-cache/main.lua" --port "$port" \
    >/dev/null 2>"$tmp/run-$n.log" &
  pid=$!
  pids+=("$pid")
  wait_ping "$port"
  python3 - "$n" <<'PY' | redis-cli -p "$port" --pipe >/dev/null
import sys
n = int(sys.argv[1])
value = ("0123456789abcdef" * 7)[:100]
out = sys.stdout
for i in range(n):
    key = "key:%012d" % i
    out.write("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n" % (len(key), key, value))
PY
  echo "resume.sh: $n keys loaded; writing for ${duration}s" >&2
  timeout "$duration" redis-benchmark -p "$port" -t set -n 1000000000 -c 50 -r "$n" -d 100 -q \
    >"$tmp/bench-$n.log" 2>&1 || true
  # Its progress line gives the overall rate: SETs done = rate x duration.
  rate=$(tr '\r' '\n' <"$tmp/bench-$n.log" | grep -o "rps=[0-9.]* (overall: [0-9.]*)" | tail -1 |
    grep -o "overall: [0-9.]*" | cut -d' ' -f2)
  sets=$(awk "BEGIN{printf \"%d\", ${rate:-0} * $duration}")
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  size=$(du -sh "$dir" | cut -f1)
  start=$(now_ms)
  RUST_LOG=info "$bin" resume "$dir" >/dev/null 2>"$tmp/resume-$n.log" &
  rpid=$!
  pids+=("$rpid")
  wait_ping "$port" 300
  resume_ms=$(( $(now_ms) - start ))
  keys=$(redis-cli -p "$port" dbsize)
  kill -TERM "$rpid"
  wait "$rpid" 2>/dev/null || true
  frames=$(grep -o "([0-9]* frames)" "$tmp/resume-$n.log" | tr -dc 0-9 || echo "?")
  start=$(now_ms)
  "$bin" inspect "$dir" >"$tmp/inspect-$n.txt"
  inspect_ms=$(( $(now_ms) - start ))
  printf '| %s | %s s | %s | %s | %s | %s ms | %s | %s ms |\n' "$n" "$duration" "$sets" \
    "$size" "$frames" "$resume_ms" "$keys" "$inspect_ms"
done
