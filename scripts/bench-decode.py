#!/usr/bin/env python3
"""Decode bench (issue 4): the project's decoder side by side with zxing-cpp, the yardstick.

Reads a manifest in the format of crates/decode/tests/data/qr-photos-dev/manifest.json, runs
`pass-verifier decode --json` (release build) on every image and zxing-cpp (installed with pip
into a throwaway venv under target/, not a dependency) on the same images, and prints per set:
decoded/total, false positives, median and p90 ms, with the ratios. A code counts as read when
its text equals the expected text, reading the raw bytes as UTF-8, Shift_JIS, GB18030 or
ISO-8859-1. Ours runs twice: `--first` (stop at the first code, as a scan does) and every code
(print QA of two-up sheets). zxing-cpp is timed on a ready numpy array; each image keeps its
best time over the rounds, for both. Not a test: run it by hand.

    scripts/bench-decode.py [MANIFEST]     (default crates/decode/tests/data/qr-photos-dev/manifest.json)

CHECKPASS_EXE=path/to/pass-verifier runs that build instead of building this checkout's (an
earlier commit's build, for a before-and-after comparison).

Synthetic webcam frames of real passes (per category, plus 1920×1080 frames for the budget):

    cargo run --release -p pass-camsim -- write target/frames && scripts/bench-decode.py target/frames/manifest.json
"""
import json
import os
import statistics
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "target" / "bench-venv"
ENCODINGS = ("utf-8", "shift_jis", "gb18030", "iso-8859-1")


def texts(raw: bytes):
    out = set()
    for enc in ENCODINGS:
        try:
            out.add(raw.decode(enc))
        except UnicodeDecodeError:
            pass
    return out


def ensure_zxing():
    py = VENV / "bin" / "python"
    if not py.exists():
        venv.create(VENV, with_pip=True)
    ok = subprocess.run([py, "-c", "import zxingcpp, PIL, numpy"], capture_output=True).returncode == 0
    if not ok:
        subprocess.run([py, "-m", "pip", "install", "-q", "zxing-cpp==3.1.1", "pillow", "numpy"], check=True)
    return py


# zxing-cpp gets a ready greyscale numpy array, converted outside the timer, as our own time
# leaves out loading (handing it a PIL image would also time a conversion).
ZXING_RUNNER = r"""
import base64, json, sys, time
import numpy
import zxingcpp
from PIL import Image, ImageOps
for line in sys.stdin:
    path = line.rstrip("\n")
    img = ImageOps.exif_transpose(Image.open(path)).convert("L")
    grey = numpy.ascontiguousarray(numpy.asarray(img))
    start = time.perf_counter()
    results = zxingcpp.read_barcodes(grey, formats=zxingcpp.BarcodeFormat.QRCode)
    ms = (time.perf_counter() - start) * 1000
    codes = [base64.b64encode(r.bytes).decode() for r in results]
    print(json.dumps({"input": path, "codes": codes, "ms": ms}), flush=True)
"""


def run_ours(files, first):
    exe = os.environ.get("CHECKPASS_EXE")
    if exe is None:
        exe = ROOT / "target" / "release" / "pass-verifier"
        subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "pass-verifier"], cwd=ROOT, check=True)
    out = subprocess.run([exe, "decode", "--json", *(["--first"] if first else []), *files], capture_output=True, text=True)
    results = {}
    for line in out.stdout.splitlines():
        d = json.loads(line)
        import base64
        results[d["input"]] = ([base64.b64decode(c["bytes_b64"]) for c in d["codes"]], d["ms"])
    return results


def run_zxing(py, files):
    import base64
    out = subprocess.run([py, "-c", ZXING_RUNNER], input="\n".join(files) + "\n", capture_output=True, text=True, check=True)
    results = {}
    for line in out.stdout.splitlines():
        d = json.loads(line)
        results[d["input"]] = ([base64.b64decode(c) for c in d["codes"]], d["ms"])
    return results


def merge(runs):
    """Codes from the first run (both readers are deterministic), best time over the runs."""
    return {path: (codes, min(run[path][1] for run in runs if path in run))
            for path, (codes, _) in runs[0].items()}


def score(manifest, base, results):
    sets = {}
    hits = set()
    for item in manifest:
        path = str(base / item["file"])
        codes, ms = results.get(path, ([], float("nan")))
        s = sets.setdefault(item["set"], {"read": 0, "total": 0, "fp": 0, "ms": []})
        s["ms"].append(ms)
        if item["negative"]:
            s["total"] += 1
            s["fp"] += 1 if codes else 0
            s["read"] += 0 if codes else 1
        else:
            s["total"] += 1
            if any(item["expected"] in texts(c) for c in codes):
                s["read"] += 1
                hits.add(item["name"])
    return sets, hits


def pct(values, q):
    values = sorted(v for v in values if v == v)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]


def main():
    manifest_path = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "crates" / "decode" / "tests" / "data" / "qr-photos-dev" / "manifest.json")
    base = manifest_path.parent
    manifest = json.loads(manifest_path.read_text())
    files = [str(base / m["file"]) for m in manifest]
    # Alternate the two readers for a few rounds and keep each image's median time, so that
    # drift in a shared machine's speed does not favour either side.
    rounds = int(os.environ.get("ROUNDS", "3"))
    py = ensure_zxing()
    ours_runs, every_runs, theirs_runs = [], [], []
    for _ in range(rounds):
        ours_runs.append(run_ours(files, first=True))
        every_runs.append(run_ours(files, first=False))
        theirs_runs.append(run_zxing(py, files))
    ours, our_hits = score(manifest, base, merge(ours_runs))
    every, every_hits = score(manifest, base, merge(every_runs))
    theirs, their_hits = score(manifest, base, merge(theirs_runs))
    print(f"decode bench: {manifest_path}  ({os.cpu_count()} cores; release build; zxing-cpp 3.1.1 via Python on a "
          f"numpy array; {rounds} alternating rounds, per-image best time)")
    print("| set | checkpass read | zxing-cpp read | checkpass FP | zxing-cpp FP | checkpass `--first` median / p90 / max ms | checkpass every code median / p90 ms | zxing-cpp median / p90 / max ms | ratio `--first` | ratio every code |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    all_ours, all_every, all_theirs = [], [], []
    for name in sorted(ours):
        o, e, t = ours[name], every[name], theirs[name]
        all_ours += o["ms"]
        all_every += e["ms"]
        all_theirs += t["ms"]
        neg = "(no code: correct = nothing found)" if name.startswith("falsepositives") or name.endswith("no-code") else ""
        om, em, tm = statistics.median(o["ms"]), statistics.median(e["ms"]), statistics.median(t["ms"])
        read = f"{o['read']}/{o['total']}" + ("" if e["read"] == o["read"] else f" (every code: {e['read']})")
        print(f"| {name} {neg} | {read} | {t['read']}/{t['total']} | {o['fp']} | {t['fp']} | "
              f"{om:.2f} / {pct(o['ms'], 0.9):.2f} / {max(o['ms']):.1f} | {em:.2f} / {pct(e['ms'], 0.9):.2f} | "
              f"{tm:.2f} / {pct(t['ms'], 0.9):.2f} / {max(t['ms']):.1f} | {om / tm:.2f}× | {em / tm:.2f}× |")
    om, em, tm = statistics.median(all_ours), statistics.median(all_every), statistics.median(all_theirs)
    print(f"| all | | | | | {om:.2f} | {em:.2f} | {tm:.2f} | {om / tm:.2f}× | {em / tm:.2f}× |")
    print("read by zxing-cpp only:", " ".join(sorted(their_hits - our_hits)) or "none")
    print("read by checkpass only:", " ".join(sorted(our_hits - their_hits)) or "none")


if __name__ == "__main__":
    main()
