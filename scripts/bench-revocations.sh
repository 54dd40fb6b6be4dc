#!/usr/bin/env bash
# Revocation bench (issue 3): snapshot and delta sizes, then requests/s for the signed snapshot
# (200) and for up-to-date checks (304) from pass-server and from nginx serving the same bytes,
# side by side in one run, on loopback. Not a test: run it by hand and read the table.
#   ./scripts/bench-revocations.sh [SECONDS_PER_RUN] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-3}

if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nginx-light wrk >/dev/null
fi
cargo build --release --quiet -p pass-server --bin pass-server
cargo build --release --quiet -p pass-loadtest --bin revocation-bench

work=$(mktemp -d)
trap 'kill $server_pid 2>/dev/null; nginx -c "$work/nginx.conf" -s stop 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/www/v1" && chmod 755 "$work"
./target/release/revocation-bench "$work/data" "$work/www/v1/revocations"
echo

./target/release/pass-server serve --data "$work/data" --authority-key keys-example/authority.key \
  --listen 127.0.0.1:0 --max-connections-per-address 100000 >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do grep -q listening "$work/server.out" 2>/dev/null && break; sleep 0.05; done
ours=$(sed 's/listening on //' "$work/server.out")

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  server {
    listen 127.0.0.1:$port;
    root $work/www;
    location /v1/ { default_type application/octet-stream; add_header Cache-Control "public, max-age=30, must-revalidate"; }
  }
}
CONF
mkdir -p "$work/tmp"
chmod -R a+rX "$work/www"
nginx -c "$work/nginx.conf"
theirs="http://127.0.0.1:$port"
sleep 0.3

our_etag=$(curl -sI "$ours/v1/revocations" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
their_etag=$(curl -sI "$theirs/v1/revocations" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
cmp <(curl -s "$ours/v1/revocations") <(curl -s "$theirs/v1/revocations") && echo "both serve the same $(stat -c %s "$work/www/v1/revocations") bytes"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $our_etag" "$ours/v1/revocations")" = 304 ]
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $their_etag" "$theirs/v1/revocations")" = 304 ]

rps() { # url [header]
  if [ $# -gt 1 ]; then wrk -t1 -c32 -d"${secs}s" -H "$2" "$1" ; else wrk -t1 -c32 -d"${secs}s" "$1"; fi \
    | awk '/Requests\/sec/{print $2}'
}
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
declare -A runs
for round in $(seq "$rounds"); do
  runs[ours200]+="$(rps "$ours/v1/revocations") "
  runs[nginx200]+="$(rps "$theirs/v1/revocations") "
  runs[ours304]+="$(rps "$ours/v1/revocations" "If-None-Match: $our_etag") "
  runs[nginx304]+="$(rps "$theirs/v1/revocations" "If-None-Match: $their_etag") "
done
m() { echo "${runs[$1]}" | tr ' ' '\n' | grep . | median; }
echo
echo "loopback, wrk -t1 -c32, ${secs}s x $rounds rounds, medians; $(nproc) cores, $(uname -m), nginx $(nginx -v 2>&1 | sed 's/.*\///')"
echo "| request | pass-server req/s | nginx req/s | ratio |"
echo "|---|---|---|---|"
for kind in 200 304; do
  o=$(m "ours$kind"); n=$(m "nginx$kind")
  printf '| %s | %.0f | %.0f | %.2f |\n' "$([ $kind = 200 ] && echo 'signed snapshot (200)' || echo 'up to date (304)')" "$o" "$n" "$(echo "$o / $n" | bc -l)"
done
