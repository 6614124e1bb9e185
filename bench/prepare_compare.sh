#!/usr/bin/env bash
# `burngpt prepare` beside the same tokenizer library driven from Python (bench/tokenizers_prepare.py),
# on the same corpus, BPE vocabulary 8000, the same threads, alternating; prints a table.
#
#   bench/prepare_compare.sh [PYTHON]      # PYTHON: an interpreter with `tokenizers` (default python3)
#   THREADS=2 ROUNDS=2 SIZE_MB=1024 CORPUS=artifacts/corpus-1g bench/prepare_compare.sh venv/bin/python
#
# CORPUS (default artifacts/corpus-<SIZE_MB>m) is made when missing: 8 files of the Python and Rust
# sources found on this machine (the Python standard library, the interpreter's site-packages, cargo's
# registry sources), concatenated round-robin, and cycled through again until SIZE_MB (default 1024)
# MiB are written. burngpt's figure is the whole command's wall time (reading, checksums, tokenizer,
# encoding, writing); Python's are the script's tokenizer training plus `encode_batch` and writing, and
# its whole wall time. Peak memory is each process's maximum resident set. Extra arguments for
# `burngpt prepare` go in PREPARE_ARGS (e.g. "--bpe-sample-bytes 1200000000" to train on the whole split).
set -euo pipefail

absolute() { case "$1" in /*) printf '%s\n' "$1" ;; */*) printf '%s/%s\n' "$PWD" "$1" ;; *) printf '%s\n' "$1" ;; esac; }
PY="$(absolute "${1:-python3}")"
BIN="${BIN:-}"
[ -z "$BIN" ] || BIN="$(absolute "$BIN")"
cd "$(dirname "$0")/.."
THREADS="${THREADS:-2}"
ROUNDS="${ROUNDS:-2}"
SIZE_MB="${SIZE_MB:-1024}"
CORPUS="${CORPUS:-artifacts/corpus-${SIZE_MB}m}"
OUT="${OUT:-artifacts/prepare-bench}"
PREPARE_ARGS="${PREPARE_ARGS:-}"
export RAYON_NUM_THREADS="$THREADS"
mkdir -p "$OUT"
if [ -z "$BIN" ]; then  # a BIN you give is not built
  cargo build --release --quiet
  BIN=target/release/burngpt
fi

if [ ! -d "$CORPUS" ]; then
  echo "making $CORPUS ($SIZE_MB MiB) ..."
  "$PY" - "$CORPUS" "$SIZE_MB" <<'PYEOF'
import os, sys, sysconfig
out, size = sys.argv[1], int(sys.argv[2]) << 20
roots = [sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"], os.path.expanduser("~/.cargo/registry/src")]
paths = sorted(os.path.join(d, f) for r in roots if os.path.isdir(r) for d, _, fs in os.walk(r)
               for f in fs if f.endswith((".py", ".rs")))
texts = []
for p in paths:
    try:
        with open(p, encoding="utf-8") as f:
            texts.append(f.read())
    except (UnicodeDecodeError, OSError):
        pass
if not texts:
    sys.exit("no source files found")
os.makedirs(out + ".tmp", exist_ok=True)
files = [open(os.path.join(out + ".tmp", f"part{i}.txt"), "w", encoding="utf-8") for i in range(8)]
written, i = 0, 0
while written < size:
    t = texts[i % len(texts)]
    files[i % 8].write(t)
    written += len(t.encode("utf-8"))
    i += 1
for f in files:
    f.close()
os.rename(out + ".tmp", out)
print(f"{written / 2**20:.0f} MiB in 8 files from {len(texts)} sources")
PYEOF
fi

for round in $(seq "$ROUNDS"); do
  rm -rf "$OUT/ours" "$OUT/ids.bin"
  # shellcheck disable=SC2086
  /usr/bin/time -f "%e %M" -o "$OUT/ours_$round.time" "$BIN" prepare --input "$CORPUS" --out "$OUT/ours" \
    --tokenizer bpe --vocab-size 8000 $PREPARE_ARGS > "$OUT/ours_$round.log" 2> "$OUT/ours_$round.err"
  /usr/bin/time -f "%e %M" -o "$OUT/py_$round.time" "$PY" bench/tokenizers_prepare.py "$CORPUS" \
    --vocab-size 8000 --out "$OUT/ids.bin" > "$OUT/py_$round.log" 2> "$OUT/py_$round.err"
done

python3 - "$OUT" "$ROUNDS" "$CORPUS" <<'PYEOF'
import json, re, statistics, sys
out, rounds, corpus = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def tm(tag):
    wall, rss = open(f"{out}/{tag}.time").read().split()[-2:]
    return float(wall), int(rss) / 1024
ours = [tm(f"ours_{r}") for r in range(1, rounds + 1)]
py = [tm(f"py_{r}") for r in range(1, rounds + 1)]
pyj = [json.loads(open(f"{out}/py_{r}.log").read().strip().splitlines()[-1]) for r in range(1, rounds + 1)]
log = open(f"{out}/ours_{rounds}.log").read()
tok_s = float(re.search(r"Tokenizer ready in ([0-9.]+) s", log).group(1))
enc = re.search(r"into (\d+) tokens in ([0-9.]+) s", log)
med = statistics.median
o_wall, p_wall = med(w for w, _ in ours), med(w for w, _ in py)
p_tot = med(j["total_s"] for j in pyj)
print(f"corpus {corpus}: {pyj[0]['chars']:,} characters; rounds: burngpt {[w for w, _ in ours]} s, "
      f"Python {[w for w, _ in py]} s")
print(f"{'':40} {'burngpt':>12} {'Python':>12} {'ratio':>8}")
print(f"{'tokenizer training, s (last round)':40} {tok_s:12.1f} {pyj[-1]['train_s']:12.1f}")
print(f"{'encoding + writing, s (last round)':40} {float(enc.group(2)):12.1f} {pyj[-1]['encode_s']:12.1f}")
print(f"{'tokens':40} {int(enc.group(1)):12,} {pyj[-1]['tokens']:12,}")
print(f"{'end to end, s (median wall time)':40} {o_wall:12.1f} {p_wall:12.1f} {p_wall / o_wall:7.2f}x")
print(f"{'Python train + encode only, s':40} {'':12} {p_tot:12.1f} {p_tot / o_wall:7.2f}x")
print(f"{'peak RSS, MiB':40} {max(r for _, r in ours):12.0f} {max(r for _, r in py):12.0f}")
PYEOF
