#!/usr/bin/env bash
# Fails when pass-verifier, built on its own as the README's release build does it, would link
# pass-core's signing code. Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

features() { cargo tree --locked -p "$1" -e normal,features --prefix none --no-dedupe; }

if ! features pass-issuer | grep -q '^pass-core feature "sign"'; then
  echo "check-no-signing: cargo tree no longer shows pass-core's features; fix this check" >&2
  exit 1
fi
if features pass-verifier | grep -q '^pass-core feature "sign"'; then
  echo "check-no-signing: pass-verifier turns on pass-core's \"sign\" feature through:" >&2
  cargo tree --locked -p pass-verifier -e normal,features -i pass-core >&2
  exit 1
fi
echo "check-no-signing: pass-verifier links pass-core without signing code"

# The office console signs only through pass-issuer, and carries no checkpoint or authority code.
if cargo tree --locked -p pass-office -e normal --prefix none | grep -Eq '^pass-(verifier|server) '; then
  echo "check-no-signing: pass-office depends on pass-verifier or pass-server:" >&2
  cargo tree --locked -p pass-office -e normal -i pass-verifier -i pass-server >&2 || true
  exit 1
fi
if ! cargo tree --locked -p pass-office -e normal --prefix none | grep -q '^pass-issuer '; then
  echo "check-no-signing: cargo tree no longer shows pass-office's dependencies; fix this check" >&2
  exit 1
fi
echo "check-no-signing: pass-office depends on pass-issuer, not on pass-verifier or pass-server"
