#!/usr/bin/env bash
# Replication at real data sizes: the kv-cache example loaded with N keys
# of 100-byte values (10k, 100k, 1M by default), then redis-benchmark -c 50
# SET, GET and INCR over those keys, unreplicated, async and output commit
# at both acknowledgement levels (oc-received, oc-fsynced; replica on
# 127.0.0.1), side by side in one run. Ratios are to the
# unreplicated run of the same size; a ratio that falls as N grows is a
# cost that grows with the heap. Also: the time to load the keys, the
# epoch acknowledgement latency the primary measured while the benchmark
# ran (from two scrapes of its latency histogram), whether the
# replica promoted itself while the primary was alive (a false failover),
# and, once the primary has stopped, the failover: until the replica
# answers PING on the primary's port, and the part of it spent making the
# program runnable once the promotion was decided ("hot": the standby held
# the heap, nothing was rebuilt).
#
# Usage: benches/scale.sh   (after cargo build --release)
# Env:   SIZES="10000 100000 1000000", REQUESTS=N (default 100000), KEEP=1 (keep logs),
#        CLIENTS=N (default 50), EVERY=10ms (checkpoint interval),
#        MODES="none async oc-received oc-fsynced" (none first: the ratios' base)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$root/target/release/understudy
replica_bin=$root/target/release/understudy-replica
sizes=${SIZES:-10000 100000 1000000}
requests=${REQUESTS:-100000}
clients=${CLIENTS:-50}
every=${EVERY:-10ms}
modes=${MODES:-none async oc-received oc-fsynced}

for tool in redis-benchmark redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "scale.sh: $tool is not on PATH" >&2; exit 1; }
done
[[ -x $bin && -x $replica_bin ]] || { echo "scale.sh: build first: cargo build --release" >&2; exit 1; }

bench=scale.sh
# shellcheck source=benches/common.sh
source "$root/benches/common.sh"
"$bin" certs --out "$tmp/certs" >/dev/null

# The keys redis-benchmark -r N picks from (key:000000000042), in RESP.
keys_file() {
  local n=$1 file=$tmp/keys-$1.resp
  [[ -f $file ]] || python3 - "$n" >"$file" <<'EOF'
import sys
n = int(sys.argv[1])
value = ("0123456789abcdef" * 7)[:100]
out = sys.stdout
for i in range(n):
    key = "key:%012d" % i
    out.write("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n" % (len(key), key, value))
EOF
  echo "$file"
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# run_case SIZE MODE: prints "rps_set rps_get rps_incr|load_ms|ack|false_failover"
run_case() {
  local n=$1 mode=$2
  local port rport mport replica_pid="" args=() consistency=output-commit ack=received
  port=$(free_port tcp)
  case $mode in
    async) consistency=async ;;
    oc-fsynced) ack=fsynced ;;
  esac
  if [[ $mode != none ]]; then
    rport=$(free_port udp)
    "$replica_bin" --listen "127.0.0.1:$rport" --data-dir "$tmp/data-$n-$mode" --certs "$tmp/certs" \
      --ack "$ack" 2>"$tmp/replica-$n-$mode.log" &
    replica_pid=$!
    pids+=("$replica_pid")
    # The primary starts once the replica listens: epochs taken before
    # the link is up would count a second of reconnecting as ack latency.
    for _ in $(seq 500); do
      grep -q "replica listening" "$tmp/replica-$n-$mode.log" && break
      sleep 0.01
    done
    mport=$(free_port tcp)
    args=(--replicate-to "127.0.0.1:$rport" --certs "$tmp/certs" --consistency "$consistency"
      --checkpoint-every "$every" --metrics "127.0.0.1:$mport")
  fi
  "$bin" run "${args[@]}" "$root/examples/kv-cache/main.lua" --port "$port" \
    >/dev/null 2>"$tmp/primary-$n-$mode.log" &
  local pid=$!
  pids+=("$pid")
  wait_ping "$port"
  local file start load_ms out
  file=$(keys_file "$n")
  start=$(now_ms)
  redis-cli -p "$port" --pipe <"$file" >"$tmp/load-$n-$mode.log"
  load_ms=$(( $(now_ms) - start ))
  local cpu0 cpu1
  [[ $mode != none ]] && scrape "$mport" >"$tmp/metrics-$n-$mode.before"
  cpu0=$(cpu_ticks "$pid" "$replica_pid")
  out=$(timeout 900 redis-benchmark -p "$port" -t set,get,incr -n "$requests" -c "$clients" -r "$n" -d 100 -q 2>&1 | tr '\r' '\n')
  cpu1=$(cpu_ticks "$pid" "$replica_pid")
  local window="-"
  if [[ $mode != none ]]; then
    scrape "$mport" >"$tmp/metrics-$n-$mode.after"
    window=$(window_latency "$tmp/metrics-$n-$mode.before" "$tmp/metrics-$n-$mode.after")
  fi
  if grep -qi error <<<"$out"; then
    echo "scale.sh: errors in $n $mode: $out" >&2
    exit 1
  fi
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  local promoted=no failover="-"
  if [[ -n $replica_pid ]]; then
    local stopped
    stopped=$(now_ms)
    grep -q "promoting" "$tmp/replica-$n-$mode.log" && promoted=YES
    # The primary is gone: the replica takes over after its failure
    # timeout and serves on the same port. Failover = primary gone ->
    # PONG from the replica; resume = making the program runnable once the
    # promotion is decided (a hot standby holds the heap: nothing is rebuilt).
    wait_ping "$port" 300
    local build
    build=$(grep -o "program resumed in [0-9.]* ms ([a-z]*" "$tmp/replica-$n-$mode.log" | sed -E "s/program resumed in ([0-9.]* ms) \\((.*)/\\1 \\2/" || echo "? ms")
    failover="$(( $(now_ms) - stopped )) ms (resume $build)"
    kill -9 "$replica_pid" 2>/dev/null || true
    wait "$replica_pid" 2>/dev/null || true
  fi
  local rps
  rps=$(grep "requests per second" <<<"$out" | sed -E 's/^ *([A-Z]+): ([0-9.]+) requests.*/\2/' | tr '\n' ' ')
  # CPU of primary + replica per request, microseconds (3 tests of N).
  local cpu_us=$(( (cpu1 - cpu0) * 1000000 / $(getconf CLK_TCK) / (3 * requests) ))
  echo "$rps|$load_ms|$window|$promoted|$cpu_us|$failover"
}

# scrape PORT: the primary's metrics.
scrape() {
  python3 -c 'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode())' "$1"
}

# window_latency BEFORE AFTER: p50 and p99 of the epochs acknowledged
# between two scrapes, from the latency histogram (as bucket bounds).
window_latency() {
  python3 - "$1" "$2" <<'PY'
import re, sys
def buckets(path):
    out = {}
    for line in open(path):
        m = re.match(r'understudy_ack_latency_seconds_bucket\{le="([^"]+)"\} (\d+)', line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out
a, b = buckets(sys.argv[1]), buckets(sys.argv[2])
bounds = [k for k in b]
counts = [b[k] - a.get(k, 0) for k in bounds]
total = counts[-1]
if total == 0:
    print("-"); sys.exit()
def q(p):
    for k, c in zip(bounds, counts):
        if c >= p * total:
            return "> 10 s" if k == "+Inf" else "<= %g ms" % (float(k) * 1e3)
print("%d epochs, p50 %s, p99 %s" % (total, q(0.5), q(0.99)))
PY
}

# cpu_ticks PID...: user + system CPU of these processes, in clock ticks.
cpu_ticks() {
  local total=0 p f
  for p in "$@"; do
    [[ -n $p && -r /proc/$p/stat ]] || continue
    # Fields after the command name (which may hold spaces): utime is 14, stime 15.
    f=$(sed -E 's/^.*\) //' "/proc/$p/stat")
    read -r -a fields <<<"$f"
    total=$(( total + fields[11] + fields[12] ))
  done
  echo "$total"
}

echo "| keys | mode | load s | SET req/s | GET req/s | INCR req/s | ratio (geomean) | CPU µs/req | epoch ack latency during the benchmark | false failover | failover |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---|---|---|"
for n in $sizes; do
  base=""
  for mode in $modes; do
    r=$(run_case "$n" "$mode")
    IFS='|' read -r rps load_ms ack promoted cpu_us failover <<<"$r"
    read -r s g i <<<"$rps"
    [[ -z $base ]] && base="$s $g $i"
    read -r bs bg bi <<<"$base"
    ratio=$(awk "BEGIN{print exp((log($s/$bs)+log($g/$bg)+log($i/$bi))/3)}")
    promoted_col=$([[ $mode == none ]] && echo "-" || echo "$promoted")
    printf '| %s | %s | %.1f | %.0f | %.0f | %.0f | %.2f | %s | %s | %s | %s |\n' "$n" "$mode" \
      "$(awk "BEGIN{print $load_ms/1000}")" "$s" "$g" "$i" "$ratio" "$cpu_us" "$ack" "$promoted_col" "$failover"
  done
done
echo
echo "redis-benchmark -t set,get,incr -n $requests -c $clients -r KEYS -d 100 after loading KEYS keys;"
echo "checkpoint every $every; replica on the same 2-core machine (default failure timeout)"
