#!/usr/bin/env bash
# Builds what goes to a checkpoint's Windows laptop into target/package/: the Windows build of
# pass-verifier (cross-built with Debian's mingw-w64; no signing code) and a short Chinese
# README, as a zip. The Debian packages of issue 34 are not written yet.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v x86_64-w64-mingw32-gcc >/dev/null || { echo "needs Debian's gcc-mingw-w64-x86-64" >&2; exit 1; }
rustup target list --installed | grep -q '^x86_64-pc-windows-gnu$' || rustup target add x86_64-pc-windows-gnu
cargo build --locked --release -p pass-verifier --target x86_64-pc-windows-gnu --target-dir target/checkpoint
mkdir -p target/package
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
zip=target/package/pass-verifier-$version-windows-x86_64.zip
python3 - "$zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1] + ".partial", "w", zipfile.ZIP_DEFLATED) as z:
    z.write("target/checkpoint/x86_64-pc-windows-gnu/release/pass-verifier.exe", "checkpass/pass-verifier.exe")
    z.write("packaging/windows/README.txt", "checkpass/README.txt")
    z.write("keys-example/trust.toml", "checkpass/trust-example.toml")
import os; os.replace(sys.argv[1] + ".partial", sys.argv[1])
PY
echo "$zip"
