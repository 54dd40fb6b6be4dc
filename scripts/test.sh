#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs what Rust does not bring, builds
# the binaries the end-to-end tests drive, then runs the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Nothing outside Rust is needed yet. (Browser tests will install Debian's chromium here.)

cargo build --workspace --bins --locked
cargo test --workspace --locked
