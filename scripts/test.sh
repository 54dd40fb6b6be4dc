#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs what Rust does not bring, builds
# the binaries the end-to-end tests drive, then runs the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Print and station tests: headless Chromium makes the PDFs and runs the station page with a fake
# webcam, WenQuanYi Zen Hei renders the Chinese text, poppler's pdftoppm rasterises pages for
# print QA.
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
fc-list 2>/dev/null | grep -qi "WenQuanYi Zen Hei" || need+=(fonts-wqy-zenhei)
# Clock tests: a checkpoint clock set back (libfaketime).
command -v faketime >/dev/null || need+=(faketime)
# The FAT stick test: a FAT image, mounted with the kernel's vfat where it has one, else fusefat.
command -v mkfs.vfat >/dev/null || need+=(dosfstools)
command -v fusefat >/dev/null || need+=(fusefat)
# The office console behind a TLS proxy: Debian's nginx.
[ -x /usr/sbin/nginx ] || need+=(nginx)
# Test certificates for the console's own TLS and nginx's.
command -v openssl >/dev/null || need+=(openssl)
# The checkpoint on Windows: mingw-w64 cross-builds pass-verifier.exe, wine runs it.
command -v x86_64-w64-mingw32-gcc >/dev/null || need+=(gcc-mingw-w64-x86-64)
command -v wine >/dev/null || need+=(wine wine64)
# The service units' check: systemd-analyze (verify, and security --offline).
command -v systemd-analyze >/dev/null || need+=(systemd)
# The packages: built with dpkg-deb, installed into a Debian made by debootstrap, the desktop
# launcher checked by desktop-file-validate.
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v desktop-file-validate >/dev/null || need+=(desktop-file-utils)
# The console's accessibility check in the browser test: axe-core, from npm.
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} ..."
  sudo_cmd=$([ "$(id -u)" -eq 0 ] && echo "" || echo "sudo")
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# axe-core for the console's browser test (every page checked at 1366×768), pinned.
[ -f target/axe/node_modules/axe-core/axe.min.js ] ||
  npm install --prefix target/axe --no-audit --no-fund --silent axe-core@4.14.1

# aiosmtpd (PyPI) for the console's e-mail tests: a real SMTP server on 127.0.0.1, pinned.
[ -d target/pylib/aiosmtpd ] ||
  python3 -m pip install --quiet --disable-pip-version-check --target target/pylib aiosmtpd==1.4.6

# Gates that keep the code clean: formatting, the workspace's lints, documentation.
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

# The checkpoint binary carries no signing code: its normal dependency tree must not turn on
# pass-core's `sign` feature (the issuer's tree must, or this check has gone blind).
./scripts/check-no-signing.sh

# The binaries the end-to-end tests drive (the tests run these same builds again, which are
# then no-ops, so they never drive a stale binary). The checkpoint's pass-verifier is built on
# its own, in its own target directory, as its release build is: built together with the
# issuer, Cargo would link pass-core's signing code into it.
cargo build --locked --bins -p pass-issuer -p pass-server -p pass-office
cargo build --locked --bins -p pass-verifier --target-dir target/checkpoint
# The packages (release builds; zig and cargo-zigbuild from PyPI link them against glibc
# 2.28): the four .debs, which the e2e suite installs into Debian 12 and 11 chroots, and the
# Windows zip, whose pass-verifier.exe it runs under wine with the one-function
# DLL that stands in, under wine only, for the bcryptprimitives.dll Debian's wine 8 lacks.
./scripts/package.sh
mkdir -p target/windows
x86_64-w64-mingw32-gcc -shared -O2 -o target/windows/bcryptprimitives.dll packaging/windows/process-prng-shim.c -Wl,--kill-at
# A test that lacks a prerequisite of the machine fails in CI and is listed here elsewhere.
rm -f target/test-skips.txt
cargo test --workspace --locked
if [ -s target/test-skips.txt ]; then
  echo "SKIPPED for want of a prerequisite on this machine ($(wc -l < target/test-skips.txt)):"
  sed 's/^/  /' target/test-skips.txt
fi
