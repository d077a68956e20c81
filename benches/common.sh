# Shared by the replication benchmarks: a temporary directory removed on
# exit (KEEP=1 keeps it, with the logs), the processes started (killed on
# exit), a free port and a wait for a server's PING. Source it after
# setting `bench` to the script's name.

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [[ -n ${KEEP:-} ]]; then echo "logs kept in $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# free_port tcp|udp: a port nothing is bound to, from the kernel.
free_port() {
  python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1]=="udp" else socket.SOCK_STREAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"
}

# wait_ping PORT [SECONDS]: up to SECONDS (default 10) for a PONG.
wait_ping() {
  for _ in $(seq $(( ${2:-10} * 100 ))); do
    [[ $(redis-cli -p "$1" ping 2>/dev/null) == PONG ]] && return 0
    sleep 0.01
  done
  echo "$bench: nothing answers on port $1" >&2
  exit 1
}
