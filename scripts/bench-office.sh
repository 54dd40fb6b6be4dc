#!/usr/bin/env bash
# The office console's bench: a ledger of 100,000 passes and 10,000 applications; the review
# queue, searches by plate, pass number and enterprise, a page of the list and an application
# page (p95, goal under 50 ms), the export of every pass as CSV and .xlsx (goal under 5 s), and
# a 200-truck application approved until its PDF is ready (goal under 30 s). Prints a table.
# Not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --locked -q -p pass-office --example bench
