#!/usr/bin/env bash
# Builds what a bureau's IT and a checkpoint install, into target/package/:
# - four Debian packages (pass-server, pass-office, pass-issuer, pass-verifier), each program a
#   release build; the checkpoint's pass-verifier on its own, in its own target directory, so
#   that it carries no signing code. Linked with zig (cargo-zigbuild) against glibc 2.28, so
#   that they install on Debian 10 and later and the distributions built on them (UOS 20,
#   Kylin V10), not only on this machine's glibc;
# - the Windows build of pass-verifier (cross-built with Debian's mingw-w64) and a short Chinese
#   README, as a zip.
# Needs Debian's dpkg-deb (every Debian has it) and gcc-mingw-w64-x86-64; installs
# cargo-zigbuild and zig (PyPI wheels, pinned) into target/ziglang.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v dpkg-deb >/dev/null || { echo "needs dpkg-deb (Debian's dpkg)" >&2; exit 1; }
command -v x86_64-w64-mingw32-gcc >/dev/null || { echo "needs Debian's gcc-mingw-w64-x86-64" >&2; exit 1; }
[ -x target/ziglang/bin/cargo-zigbuild ] ||
  python3 -m pip install --quiet --disable-pip-version-check --target target/ziglang \
    cargo-zigbuild==0.24.0 ziglang==0.17.0
export PATH="$PWD/target/ziglang/bin:$PATH" PYTHONPATH="$PWD/target/ziglang${PYTHONPATH:+:$PYTHONPATH}"
linux=x86_64-unknown-linux-gnu
rustup target list --installed | grep -q "^$linux\$" || rustup target add "$linux"

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
arch=$(dpkg --print-architecture)
# The packages' date: the last commit's (the same every build of one commit), else now.
released=$(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")
out=target/package
mkdir -p "$out"

cargo zigbuild --locked --release --target "$linux.2.28" -p pass-server -p pass-office -p pass-issuer \
  --bin pass-server --bin pass-office --bin pass-issuer
cargo zigbuild --locked --release --target "$linux.2.28" -p pass-verifier --bin pass-verifier \
  --target-dir target/checkpoint
./scripts/check-no-signing.sh >/dev/null

# The C library a binary needs: the newest GLIBC_ symbol version it links against; and GCC's
# runtime (libgcc-s1 since Debian 11, libgcc1 in Debian 10 and the systems built on it).
glibc() {
  local v
  v=$(objdump -T "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
  echo "libc6 (>= $v), libgcc-s1 | libgcc1"
}

# Printing: headless Chromium lays out the PDFs and e-passes, poppler's pdftoppm checks every
# page, WenQuanYi Zen Hei renders the Chinese.
printing="chromium | chromium-browser | google-chrome-stable, poppler-utils, fonts-wqy-zenhei"

# deb NAME SECTION DEPENDS RECOMMENDS SUMMARY DESCRIPTION: builds $out/NAME_VERSION_ARCH.deb
# from the tree staged in $stage.
deb() {
  local name=$1 section=$2 depends=$3 recommends=$4 summary=$5 description=$6
  install -d -m 0755 "$stage/DEBIAN" "$stage/usr/share/doc/$name"
  install -m 0644 LICENSE-APACHE "$stage/usr/share/doc/$name/LICENSE-APACHE"
  install -m 0644 LICENSE-MIT "$stage/usr/share/doc/$name/LICENSE-MIT"
  cat > "$stage/usr/share/doc/$name/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: checkpass
Source: https://example.invalid/checkpass

Files: *
Copyright: 2022-2026 the checkpass developers
License: Apache-2.0 or MIT
 The texts are LICENSE-APACHE and LICENSE-MIT in this directory.
EOF
  gzip -9n < CHANGELOG.md > "$stage/usr/share/doc/$name/CHANGELOG.md.gz"
  {
    echo "$name ($version) unstable; urgency=medium"
    echo
    echo "  * checkpass $version: what changed is in CHANGELOG.md.gz beside this file."
    echo
    echo " -- checkpass developers <checkpass@example.invalid>  $released"
  } | gzip -9n > "$stage/usr/share/doc/$name/changelog.gz"
  local script
  for script in postinst prerm postrm; do
    if [ -f "packaging/debian/$name.$script" ]; then
      install -m 0755 "packaging/debian/$name.$script" "$stage/DEBIAN/$script"
    fi
  done
  if [ -d "$stage/etc" ]; then
    (cd "$stage" && find etc -type f | sed 's|^|/|' | sort) > "$stage/DEBIAN/conffiles"
  fi
  {
    echo "Package: $name"
    echo "Version: $version"
    echo "Architecture: $arch"
    echo "Maintainer: checkpass developers <checkpass@example.invalid>"
    echo "Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
    echo "Depends: $depends"
    if [ -n "$recommends" ]; then echo "Recommends: $recommends"; fi
    echo "Section: $section"
    echo "Priority: optional"
    echo "Homepage: https://example.invalid/checkpass"
    echo "Description: $summary"
    echo "$description" | fold -s -w 78 | sed 's/ *$//; s/^/ /'
  } > "$stage/DEBIAN/control"
  local file="$out/${name}_${version}_${arch}.deb"
  dpkg-deb --root-owner-group -Zxz --build "$stage" "$file.partial" >/dev/null
  mv "$file.partial" "$file"
  echo "$file"
}

# stage NAME BINARY: a fresh staging tree with the program in /usr/bin.
stage_for() {
  stage="target/package/stage/$1"
  rm -rf "$stage"
  install -d -m 0755 "$stage/usr/bin"
  install -m 0755 "$2" "$stage/usr/bin/$1"
}

stage_for pass-server "target/$linux/release/pass-server"
install -d -m 0755 "$stage/lib/systemd/system" "$stage/etc/checkpass" "$stage/usr/share/doc/pass-server/examples"
install -m 0644 packaging/systemd/checkpass-server.service packaging/systemd/checkpass-server-backup.service \
  packaging/systemd/checkpass-server-backup.timer packaging/systemd/checkpass-mirror.service \
  packaging/systemd/checkpass-mirror.timer "$stage/lib/systemd/system/"
install -m 0644 packaging/etc/server.toml packaging/etc/mirror.env "$stage/etc/checkpass/"
install -m 0644 docs/OPERATIONS.md docs/FORMAT.md "$stage/usr/share/doc/pass-server/"
install -m 0644 docs/nginx-static.conf docs/nginx-cache.conf "$stage/usr/share/doc/pass-server/examples/"
deb pass-server net "$(glibc "$stage/usr/bin/pass-server")" "" \
  "checkpass revocation and trust-list server" \
  "The authority's server: takes revocations from issuing offices and serves signed revocation data and the trust list to checkpoints, which verify passes offline. Also the national root's list tools and a mirror. Runs as the services checkpass-server and checkpass-mirror (a timer), configured in /etc/checkpass."

stage_for pass-office "target/$linux/release/pass-office"
install -d -m 0755 "$stage/lib/systemd/system" "$stage/etc/checkpass" "$stage/usr/share/doc/pass-office/examples"
install -m 0644 packaging/systemd/checkpass-office.service packaging/systemd/checkpass-office-backup.service \
  packaging/systemd/checkpass-office-backup.timer "$stage/lib/systemd/system/"
install -m 0644 packaging/etc/office.env "$stage/etc/checkpass/"
install -m 0644 docs/OPERATIONS.md "$stage/usr/share/doc/pass-office/"
install -m 0644 docs/nginx-office.conf "$stage/usr/share/doc/pass-office/examples/"
deb pass-office web "$(glibc "$stage/usr/bin/pass-office"), $printing" "" \
  "checkpass issuing office web console" \
  "Enterprises apply for vehicle passes, clerks enter them, two reviewers approve, and the office prints signed QR passes (A4 PDFs) and phone e-passes. Runs as the service checkpass-office, configured in /etc/checkpass/office.env."

stage_for pass-issuer "target/$linux/release/pass-issuer"
deb pass-issuer utils "$(glibc "$stage/usr/bin/pass-issuer"), $printing" "" \
  "checkpass issuing office command line" \
  "Makes office and authority keys, issues and prints signed QR passes (one, or a spreadsheet of trucks), lists the ledger and sends revocations to the authority's server."

stage_for pass-verifier "target/checkpoint/$linux/release/pass-verifier"
install -d -m 0755 "$stage/etc/checkpass" "$stage/usr/share/applications" "$stage/usr/share/icons/hicolor/scalable/apps"
install -m 0755 packaging/desktop/checkpass-station "$stage/usr/bin/"
install -m 0644 packaging/desktop/checkpass-station.desktop "$stage/usr/share/applications/"
install -m 0644 packaging/desktop/checkpass-station.svg "$stage/usr/share/icons/hicolor/scalable/apps/"
install -m 0644 packaging/etc/station.env "$stage/etc/checkpass/"
deb pass-verifier utils "$(glibc "$stage/usr/bin/pass-verifier")" "xdg-utils" \
  "checkpass checkpoint verifier (no signing code)" \
  "Checks signed QR vehicle passes offline: the live station reads passes held up to the laptop camera and fills the screen with the verdict; scan and check work on photos and text. Syncs revocations and the trust list from the authority's server or a USB stick. The desktop launcher starts the station with the settings in /etc/checkpass/station.env."
rm -rf target/package/stage

# The Windows checkpoint.
rustup target list --installed | grep -q '^x86_64-pc-windows-gnu$' || rustup target add x86_64-pc-windows-gnu
cargo build --locked --release -p pass-verifier --target x86_64-pc-windows-gnu --target-dir target/checkpoint
zip=$out/pass-verifier-$version-windows-x86_64.zip
python3 - "$zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1] + ".partial", "w", zipfile.ZIP_DEFLATED) as z:
    z.write("target/checkpoint/x86_64-pc-windows-gnu/release/pass-verifier.exe", "checkpass/pass-verifier.exe")
    z.write("packaging/windows/README.txt", "checkpass/README.txt")
    z.write("keys-example/trust.toml", "checkpass/trust-example.toml")
import os; os.replace(sys.argv[1] + ".partial", sys.argv[1])
PY
echo "$zip"
