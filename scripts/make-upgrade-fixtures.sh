#!/usr/bin/env bash
# Makes the upgrade fixtures in tests/fixtures/<release>/ with the binaries of an earlier
# release (built from its commit), so the tests open what that release wrote with today's
# code: an office data directory with accounts, an issued and a waiting application; a
# revocation server's database with two revocations and a token; a checkpoint's state file
# synced from it; an issuing ledger with one pass. Run once per release; the files are kept.
#   ./scripts/make-upgrade-fixtures.sh /path/to/old/target/debug release-2026-12-06
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$1
out=tests/fixtures/$2
[ ! -e "$out" ] || { echo "$out exists" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/key" "$out"
cp keys-example/issuer.key keys-example/issuer.pub "$work/key/" && chmod 600 "$work/key/issuer.key"

# The office console: init, then a real session through its forms.
otp=$("$bin/pass-office" init --data "$work/office" --key "$work/key/issuer.key" --office 示例签发机关 2>/dev/null | sed -n 's/^one-time password: //p')
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin/pass-office" serve --data "$work/office" --listen "127.0.0.1:$port" 2>/dev/null &
console=$!
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$port))" 2>/dev/null && break; sleep 0.2; done
python3 scripts/fixtures/console.py "http://127.0.0.1:$port" "$otp"
kill "$console"; wait "$console" 2>/dev/null || true
mkdir -p "$out/office"
for f in office.sqlite ledger.sqlite; do
  sqlite3 "$work/office/$f" "VACUUM INTO '$out/office/$f'" 2>/dev/null || python3 -c "import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute(\"VACUUM INTO '\"+sys.argv[2]+\"'\")" "$work/office/$f" "$out/office/$f"
done
cp "$work/office/audit.anchor" "$out/office/"

# The revocation server: two revocations and an issuer token.
"$bin/pass-server" serve --data "$work/server" --authority-key keys-example/authority.key --trust keys-example/trust.toml \
  --listen 127.0.0.1:0 > "$work/server.out" 2>/dev/null &
server=$!
for _ in $(seq 50); do grep -q listening "$work/server.out" && break; sleep 0.2; done
url=$(sed -n 's/^listening on //p' "$work/server.out")
admin=$("$bin/pass-server" token add --data "$work/server" --admin | tail -1)
"$bin/pass-server" token add --data "$work/server" --issuer f3c3dcf66c87927e | tail -1 > "$out/server-issuer-token.txt"
for s in 7 9; do
  python3 -c "import sys,urllib.request; r=urllib.request.Request(sys.argv[1]+'/v1/revocations', data=b'{\"key_id\":\"f3c3dcf66c87927e\",\"serials\":['+sys.argv[3].encode()+b'],\"reason\":\"fixture\"}', headers={'Authorization':'Bearer '+sys.argv[2],'Content-Type':'application/json'}); urllib.request.urlopen(r).read()" "$url" "$admin" "$s"
done
# A checkpoint synced from it.
mkdir -p "$out/checkpoint"
"$bin/pass-verifier" sync --server "$url" --trust keys-example/trust.toml --state "$out/checkpoint/state.bin"
kill "$server"; wait "$server" 2>/dev/null || true
rm -f "$out/checkpoint/state.bin.lock"
mkdir -p "$out/server"
python3 -c "import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute(\"VACUUM INTO '\"+sys.argv[2]+\"'\")" "$work/server/checkpass-server.sqlite" "$out/server/checkpass-server.sqlite"

# An issuing ledger with one pass (its PNG kept to scan).
mkdir -p "$out/issuer" && cp keys-example/issuer.key keys-example/issuer.pub "$work/" && chmod 600 "$work/issuer.key"
"$bin/pass-issuer" issue --key "$work/issuer.key" --ledger "$work/ledger.sqlite" --plate 粤B54321 --vehicle-type light-truck \
  --holder 花都汽车零部件有限公司 --origin 440114 --destination 320500 --zone 440000 --from 2026-12-01 --until 2026-12-31 \
  --cargo 汽车零部件 --out "$out/issuer/pass.png" > /dev/null
python3 -c "import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute(\"VACUUM INTO '\"+sys.argv[2]+\"'\")" "$work/ledger.sqlite" "$out/issuer/ledger.sqlite"
echo "fixtures written to $out"
