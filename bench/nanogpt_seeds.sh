#!/usr/bin/env bash
# nanoGPT's laptop char run and configs/shakespeare_char.toml side by side over several seeds:
# each side's printed 20-batch val loss at step 2000 and its loss on the whole validation split
# (every non-overlapping 65-token window: 1,716 of them), then means and standard deviations.
#
#   NANOGPT=/path/to/nanoGPT bench/nanogpt_seeds.sh [PYTHON]     # PYTHON: torch + numpy
#   SEEDS="1337 1 2" STEPS=2000 ...
#
# nanoGPT runs its README's CPU command; the only change to its train.py (written to a copy,
# train_seed.py) is that the seed comes from $SEED and the eval at the last step also prints the
# whole-split loss. Its data is prepared from this repository's data/tinyshakespeare.txt (the
# same text its prepare.py downloads). Each run takes about 80 s per side on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-python3}"
NANOGPT="${NANOGPT:?set NANOGPT to a nanoGPT checkout (git clone https://github.com/karpathy/nanoGPT)}"
SEEDS="${SEEDS:-1337 1 2 3 4 5 6 7}"
STEPS="${STEPS:-2000}"
OUT="${OUT:-artifacts/nanogpt_seeds}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
export RAYON_NUM_THREADS="${THREADS:-2}" OMP_NUM_THREADS="${THREADS:-2}"
ROOT="$PWD"

cargo build --release --quiet
BIN="$ROOT/target/release/burngpt"
DATA="$NANOGPT/data/shakespeare_char"
if [ ! -f "$DATA/val.bin" ]; then
    cp data/tinyshakespeare.txt "$DATA/input.txt"
    (cd "$DATA" && "$PY" prepare.py > /dev/null)
fi
"$PY" - "$NANOGPT/train.py" "$NANOGPT/train_seed.py" <<'PATCH'
import sys
s = open(sys.argv[1]).read()
seed = "torch.manual_seed(1337 + seed_offset)"
line = """        print(f"step {iter_num}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")"""
assert seed in s and line in s, "unexpected train.py: update bench/nanogpt_seeds.sh"
s = s.replace(seed, "torch.manual_seed(int(os.environ.get('SEED', '1337')) + seed_offset)")
s = s.replace(line, line + """
        if iter_num == max_iters:  # the whole validation split, in non-overlapping windows
            vd = np.memmap(os.path.join(data_dir, 'val.bin'), dtype=np.uint16, mode='r')
            w = block_size + 1
            n = len(vd) // w
            model.eval(); total = 0.0
            with torch.no_grad():
                for b0 in range(0, n, 64):
                    rows = range(b0, min(n, b0 + 64))
                    x = torch.stack([torch.from_numpy(vd[i*w:i*w+block_size].astype(np.int64)) for i in rows])
                    y = torch.stack([torch.from_numpy(vd[i*w+1:i*w+w].astype(np.int64)) for i in rows])
                    _, l = model(x, y); total += l.item() * len(rows)
            model.train()
            print(f"FULLVAL {total / n:.4f} windows {n}")""")
open(sys.argv[2], "w").write(s)
PATCH

printf 'seed\tours_20batch\tours_whole\tnanogpt_20batch\tnanogpt_whole\n' > "$OUT/table.tsv"
for s in $SEEDS; do
    # --start-over: a rerun of this script replaces its own earlier runs under $OUT
    "$BIN" --config configs/shakespeare_char.toml --seed "$s" --max-steps "$STEPS" --start-over \
        --set training.out_dir="$OUT/runs_$s" > "$OUT/ours_$s.log"
    ours20=$(grep -o 'val loss [0-9.]*' "$OUT/ours_$s.log" | tail -1 | cut -d' ' -f3)
    oursw=$("$BIN" eval --run "$OUT/runs_$s/shakespeare_char" --checkpoint last | grep -o 'val loss [0-9.]*' | cut -d' ' -f3)
    (cd "$NANOGPT" && SEED="$s" "$PY" train_seed.py config/train_shakespeare_char.py --device=cpu --compile=False \
        --eval_iters=20 --log_interval=100 --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 \
        --max_iters="$STEPS" --lr_decay_iters="$STEPS" --dropout=0.0 --out_dir="$OUT/nanogpt_out_$s") \
        > "$OUT/nanogpt_$s.log" 2>&1
    nano20=$(grep -o "step $STEPS: train loss [0-9.]*, val loss [0-9.]*" "$OUT/nanogpt_$s.log" | grep -o '[0-9.]*$')
    nanow=$(grep -o 'FULLVAL [0-9.]*' "$OUT/nanogpt_$s.log" | cut -d' ' -f2)
    printf '%s\t%s\t%s\t%s\t%s\n' "$s" "$ours20" "$oursw" "$nano20" "$nanow" | tee -a "$OUT/table.tsv"
done
"$PY" - "$OUT/table.tsv" <<'SUMMARY'
import statistics as st, sys
rows = [line.split("\t") for line in open(sys.argv[1]).read().split("\n")[1:] if line]
for col, name in enumerate(["burngpt 20-batch", "burngpt whole split", "nanoGPT 20-batch", "nanoGPT whole split"], 1):
    v = [float(r[col]) for r in rows]
    sd = st.stdev(v) if len(v) > 1 else float("nan")
    print(f"{name:20s} mean {st.mean(v):.4f}  sd {sd:.4f}  min {min(v):.4f}  <= 1.88 in {sum(x <= 1.88 for x in v)} of {len(v)}")
SUMMARY
