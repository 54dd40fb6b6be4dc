#!/usr/bin/env bash
# Station bench (issue 10): frames/s through the whole station path (WebSocket frame in →
# decode → verdict out) for 1280×720 frames, pinned to one core, and the latency from frame
# received to answer sent. Not a test: run it by hand and read the table.
#   ./scripts/bench-station.sh [FRAMES_PER_MODE]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet -p pass-verifier --example station-bench
taskset -c 0 ./target/release/examples/station-bench "${1:-300}"
