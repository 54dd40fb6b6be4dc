#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs what Rust does not bring, builds
# the binaries the end-to-end tests drive, then runs the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Print tests: headless Chromium makes the PDFs, WenQuanYi Zen Hei renders the Chinese text,
# poppler's pdftoppm rasterises pages for print QA.
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
fc-list 2>/dev/null | grep -qi "WenQuanYi Zen Hei" || need+=(fonts-wqy-zenhei)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} ..."
  sudo_cmd=$([ "$(id -u)" -eq 0 ] && echo "" || echo "sudo")
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

cargo build --workspace --bins --locked
cargo test --workspace --locked
