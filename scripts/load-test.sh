#!/usr/bin/env bash
# Load test (issue 12): 2,000 checkpoints syncing (snapshot, delta, 304), 4 offices posting
# 10,000 revocations in batches of 100, 1,000 idle connections and a /healthz probe, all at
# once against a release pass-server on loopback. Not a test: bounded in time, prints a table.
#   ./scripts/load-test.sh [SECONDS]      (default 60)
#   ./scripts/load-test.sh nationwide [SECONDS]   (default 60)
# The nationwide run (issue 26): 10,000 checkpoints syncing 34 authorities once every 10 s (5
# minutes, compressed) from a mirror's published directory served by Debian's nginx
# (docs/nginx-static.conf); see crates/loadtest/src/bin/nationwide-load.rs.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = nationwide ]; then
  secs=${2:-60}
  if [ ! -x /usr/sbin/nginx ]; then
    sudo_cmd=$([ "$(id -u)" -eq 0 ] && echo "" || echo "sudo")
    $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq nginx >/dev/null
  fi
  cargo build --release --quiet -p pass-loadtest --bin nationwide-load
  ulimit -n "$(ulimit -Hn)"
  work=$(mktemp -d)
  chmod 755 "$work"
  mkdir -p "$work/mirror" "$work/nginx"
  chmod 777 "$work/nginx"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  sed -e "s|@PREFIX@|$work/nginx|g" -e "s|@LISTEN@|127.0.0.1:$port|g" -e "s|@ROOT@|$work/mirror|g" \
    docs/nginx-static.conf >"$work/nginx/nginx.conf"
  /usr/sbin/nginx -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
  nginx_pid=$!
  trap 'kill $nginx_pid 2>/dev/null; wait $nginx_pid 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
  echo "nginx $(/usr/sbin/nginx -v 2>&1 | sed 's/.*\///') on 127.0.0.1:$port; $(nproc) cores, $(uname -m); open files limit $(ulimit -n)"
  ./target/release/nationwide-load "$work/mirror" "http://127.0.0.1:$port" "$secs"
  exit
fi

secs=${1:-60}

cargo build --release --quiet -p pass-server --bin pass-server
cargo build --release --quiet -p pass-loadtest --bin load-test
# Room for 1,000 idle connections plus the requests in flight, on both sides.
ulimit -n 8192

work=$(mktemp -d)
trap 'kill $server_pid 2>/dev/null; wait $server_pid 2>/dev/null; rm -rf "$work"' EXIT
server=./target/release/pass-server
tokens=()
for n in 1 2 3 4; do
  key=$(printf '10ad00000000000%d' "$n")
  token=$("$server" token add --data "$work/data" --issuer "$key" 2>/dev/null)
  printf '%s %s\n' "$token" "$key" >"$work/office$n.token"
  tokens+=("$work/office$n.token")
done
install -m 600 keys-example/authority.key "$work/authority.key"
"$server" serve --data "$work/data" --authority-key "$work/authority.key" --listen 127.0.0.1:0 --max-connections-per-address 100000 \
  >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do grep -q listening "$work/server.out" 2>/dev/null && break; sleep 0.05; done
url=$(sed 's/listening on //' "$work/server.out")

echo "pass-server $url; $(nproc) cores, $(uname -m); open files limit $(ulimit -n)"
./target/release/load-test "$url" keys-example/authority.pub "$secs" "${tokens[@]}"
echo
echo "server log: $(grep -c . "$work/server.log") lines, $(grep -ci 'error\|warn' "$work/server.log" || true) warnings or errors"
grep -i 'error\|warn' "$work/server.log" | head -5 || true
echo "server peak memory: $(awk '/VmHWM/{print $2, $3}' /proc/$server_pid/status)"
