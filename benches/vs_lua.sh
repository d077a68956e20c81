#!/usr/bin/env bash
# Times every benches/programs/*.lua under lua5.4 and under understudy (and luajit,
# when installed) and prints a markdown table of the best wall times.
#
# Usage: benches/vs_lua.sh [UNDERSTUDY_BIN]   (default: target/release/understudy)
# Env:   RUNS=N  runs per interpreter and program (default 3); the minimum is kept.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${1:-$root/target/release/understudy}
runs=${RUNS:-3}

if [[ ! -x $bin ]]; then
  echo "vs_lua.sh: understudy binary not found or not executable: $bin" >&2
  echo "vs_lua.sh: build it with 'cargo build --release' or pass its path as the first argument" >&2
  exit 1
fi
if ! command -v lua5.4 >/dev/null; then
  echo "vs_lua.sh: lua5.4 is not on PATH (apt-get install lua5.4)" >&2
  exit 1
fi
if ! [[ $runs =~ ^[1-9][0-9]*$ ]]; then
  echo "vs_lua.sh: RUNS must be a positive integer, got '$runs'" >&2
  exit 1
fi
have_luajit=false
if command -v luajit >/dev/null; then
  have_luajit=true
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# time_ns OUT CMD...: runs CMD with stdout in OUT and prints its wall time in
# nanoseconds, or "fail" if it exits non-zero.
time_ns() {
  local out=$1 start end
  shift
  start=$(date +%s%N)
  if ! "$@" >"$out" 2>"$out.err"; then
    echo fail
    return
  fi
  end=$(date +%s%N)
  echo $((end - start))
}

# min_ns CURRENT NEW: the smaller time; "fail" is sticky.
min_ns() {
  if [[ $1 == fail || $2 == fail ]]; then
    echo fail
  elif [[ -z $1 || $2 -lt $1 ]]; then
    echo "$2"
  else
    echo "$1"
  fi
}

secs() { awk -v ns="$1" 'BEGIN { printf "%.3f", ns / 1e9 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

header="| program | lua5.4 (s) | understudy (s) | ratio |"
rule="|---|---:|---:|---:|"
if $have_luajit; then
  header+=" luajit (s) |"
  rule+="---:|"
fi
echo "$header"
echo "$rule"

# Per-program best times of valid rows, for the geometric means.
lua_times=()
us_times=()
for prog in "$root"/benches/programs/*.lua; do
  name=$(basename "$prog" .lua)
  best_lua="" best_us="" best_jit=""
  # Alternate interpreters within each round so drift in machine load hits both alike.
  for ((i = 1; i <= runs; i++)); do
    best_lua=$(min_ns "$best_lua" "$(time_ns "$tmp/lua.out" lua5.4 "$prog")")
    best_us=$(min_ns "$best_us" "$(time_ns "$tmp/us.out" "$bin" run "$prog")")
    if $have_luajit; then
      # Many programs use 5.4-only syntax (//, <<); luajit then shows n/a.
      best_jit=$(min_ns "$best_jit" "$(time_ns "$tmp/jit.out" luajit "$prog")")
    fi
  done

  lua_cell=FAIL us_cell=FAIL ratio_cell=-
  if [[ $best_lua != fail ]]; then lua_cell=$(secs "$best_lua"); fi
  if [[ $best_us != fail ]]; then us_cell=$(secs "$best_us"); fi
  if [[ $best_lua != fail && $best_us != fail ]]; then
    ratio_cell=$(ratio "$best_us" "$best_lua")
    if cmp -s "$tmp/lua.out" "$tmp/us.out"; then
      lua_times+=("$best_lua")
      us_times+=("$best_us")
    else
      ratio_cell="$ratio_cell MISMATCH"
    fi
  fi
  row="| $name | $lua_cell | $us_cell | $ratio_cell |"
  if $have_luajit; then
    jit_cell=n/a
    if [[ $best_jit != fail ]]; then jit_cell=$(secs "$best_jit"); fi
    row+=" $jit_cell |"
  fi
  echo "$row"
done

# Geometric means over the programs where both interpreters agreed.
if ((${#lua_times[@]} > 0)); then
  read -r gm_lua gm_us gm_ratio < <(
    paste -d ' ' <(printf '%s\n' "${lua_times[@]}") <(printf '%s\n' "${us_times[@]}") |
      awk '{ l += log($1 / 1e9); u += log($2 / 1e9); n++ }
        END { printf "%.3f %.3f %.2f\n", exp(l / n), exp(u / n), exp((u - l) / n) }'
  )
  row="| geometric mean (${#lua_times[@]} matching) | $gm_lua | $gm_us | $gm_ratio |"
else
  row="| geometric mean (0 matching) | - | - | - |"
fi
if $have_luajit; then row+=" |"; fi
echo "$row"
