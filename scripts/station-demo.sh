#!/usr/bin/env bash
# The live station without a webcam: Chromium's fake camera plays a video of the demo pass
# (issued by scripts/demo.sh) held up to it. With a display, a Chromium window shows the
# station's screen (close it to stop); without one, Chromium runs headless, and what the
# station announced is read back from its scan log. Needs Debian's chromium and
# fonts-wqy-zenhei (scripts/test.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || { echo "station-demo: needs chromium (apt-get install chromium fonts-wqy-zenhei)" >&2; exit 2; }

./scripts/demo.sh >/dev/null
cargo build --locked --quiet -p pass-camsim --bin camsim
out=target/demo
target/debug/camsim y4m "$out/pass.y4m" "$(cat "$out/pass.txt")"

rm -f "$out/state.bin" "$out/scanlog.sqlite"*
target/debug/pass-verifier station --listen 127.0.0.1:0 --trust keys-example/trust.toml --zone 440114 \
  --state "$out/state.bin" --log "$out/scanlog.sqlite" >"$out/station.out" &
station=$!
profile=$(mktemp -d)
browser=""
trap 'kill $station ${browser:+$browser} 2>/dev/null; wait 2>/dev/null; rm -rf "$profile"' EXIT
for _ in $(seq 100); do grep -q 'open http' "$out/station.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^checkpoint station: open //p' "$out/station.out")
camera=(--use-fake-ui-for-media-stream --use-fake-device-for-media-stream
  "--use-file-for-fake-video-capture=$PWD/$out/pass.y4m" "--user-data-dir=$profile" --no-first-run)

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "station: $url (a Chromium window plays the demo pass to it; close the window to stop)"
  chromium "${camera[@]}" --window-size=1366,768 "$url" >/dev/null 2>&1
  exit 0
fi

echo "station: $url; no display here, so Chromium runs headless with the fake camera ..."
chromium --headless=new --no-sandbox --disable-gpu --disable-quic --disable-background-networking \
  --disable-component-update --disable-sync "${camera[@]}" "$url" >/dev/null 2>&1 &
browser=$!
for _ in $(seq 120); do
  rows=$(target/debug/pass-verifier log --json --log "$out/scanlog.sqlite" 2>/dev/null || true)
  [ -n "$rows" ] && break
  sleep 0.5
done
[ -n "$rows" ] || { echo "station-demo: the station announced nothing within a minute" >&2; exit 1; }
echo "the station announced (from its scan log):"
echo "$rows" | head -1
