#!/usr/bin/env bash
# Issuing bench (issue 5): passes/s for signing and for sign + QR + PNG, pages/s for the PDF
# with print QA. Not a test: run it by hand and read the table.   ./scripts/bench-issue.sh [PAGES]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null && command -v pdftoppm >/dev/null || {
  apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium poppler-utils fonts-wqy-zenhei >/dev/null
}
cargo build --release --quiet -p pass-issuer --example issue-bench
./target/release/examples/issue-bench "${1:-50}"
