#!/usr/bin/env bash
# The main job on embedded defaults: issue a pass with the example key, print it as a QR code
# PNG, then scan the PNG as a checkpoint would — one accepted, one rejected case. No setup.
set -euo pipefail
cd "$(dirname "$0")/.."

# The first build compiles every dependency (a few minutes on a laptop): cargo shows its progress.
cargo build --locked --bins -p pass-issuer -p pass-verifier
bin=target/debug
out=target/demo
rm -rf "$out" && mkdir -p "$out"

today=$(TZ=Asia/Shanghai date +%F)
until=$(TZ=Asia/Shanghai date -d '+30 days' +%F)

# The example key is public, and git does not keep file modes: a private copy with mode 0600,
# as a real key is kept (the issuer warns about a key others can read).
install -m 600 keys-example/issuer.key "$out/issuer.key"
cp keys-example/issuer.pub "$out/issuer.pub"

echo "== Issuing office: sign a pass with keys-example/issuer.key (DEMO KEY) =="
"$bin/pass-issuer" issue --key "$out/issuer.key" --ledger "$out/ledger.sqlite" \
  --plate 粤A12345 --vehicle-type heavy-truck --holder 东风日产乘用车公司花都工厂 --driver 张三 \
  --origin 440114 --destination 310115 --zone 440114 --zone 310000 --zone 320500 \
  --cargo 汽车零部件 --from "$today" --until "$until" --out "$out/pass.png" --svg "$out/pass.svg" \
  | tee "$out/issued.txt"
grep '^CP:' "$out/issued.txt" >"$out/pass.txt"
echo

echo "== Checkpoint in Huadu (440114): scan $out/pass.png =="
"$bin/pass-verifier" scan "$out/pass.png" --trust keys-example/trust.toml --zone 440114 && echo "exit status 0: accepted"
echo

echo "== Checkpoint in Beijing Dongcheng (110101): the same pass =="
set +e
"$bin/pass-verifier" scan "$out/pass.png" --trust keys-example/trust.toml --zone 110101
status=$?
set -e
echo "exit status $status: rejected"
[ "$status" -eq 1 ]
