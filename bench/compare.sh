#!/usr/bin/env bash
# Runs this project's `bench` and the PyTorch reference (../shared/bench/torch_gpt.py) on the
# same model shapes, one after the other, with the same number of threads, and prints the ratios.
#
#   bench/compare.sh [PYTHON]        # PYTHON: an interpreter with torch (default: python3)
#   THREADS=2 STEPS=30 bench/compare.sh /path/to/venv/bin/python
#
# Shapes: the spec's model (configs/small.toml: vocab 2000, d_model 128, 4 layers, 4 heads, block 128,
# batch 16, no biases) and nanoGPT's laptop char model (configs/shakespeare_char.toml: vocab 65,
# block 64, batch 12). Peak memory is each training process's maximum resident set size.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-python3}"
THREADS="${THREADS:-2}"
STEPS="${STEPS:-30}"
TORCH="${TORCH_GPT:-../shared/bench/torch_gpt.py}"
OUT="${OUT:-artifacts/bench}"
mkdir -p "$OUT"
export RAYON_NUM_THREADS="$THREADS" OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS"

cargo build --release --quiet
BIN=target/release/burngpt

# name | our config | torch shape flags
SHAPES=(
  "small|configs/small.toml|--vocab 2000 --d-model 128 --layers 4 --heads 4 --ctx 128 --batch 16 --bias off"
  "char|configs/shakespeare_char.toml|--vocab 65 --d-model 128 --layers 4 --heads 4 --ctx 64 --batch 12 --bias off"
)

# Runs a command, keeps its stdout in $OUT/<name>.log, prints "<last JSON line>\t<max RSS KiB>".
measure() {
  local name="$1"; shift
  /usr/bin/time -f "%M" -o "$OUT/$name.rss" "$@" > "$OUT/$name.log" 2> "$OUT/$name.err" || {
    echo "failed: $* (see $OUT/$name.err)" >&2; exit 1; }
  printf '%s\t%s\n' "$(grep '^{' "$OUT/$name.log" | tail -1)" "$(tail -1 "$OUT/$name.rss")"
}

for shape in "${SHAPES[@]}"; do
  IFS='|' read -r name config flags <<< "$shape"
  echo "== $name: $config vs torch_gpt.py $flags ($THREADS threads)"
  ours=$(measure "ours_$name" "$BIN" bench --config "$config" --steps "$STEPS" --warmup-steps 5 --new-tokens 256)
  # shellcheck disable=SC2086
  torch_train=$(measure "torch_train_$name" "$PY" "$TORCH" $flags --steps "$STEPS" --warmup-steps 5 --threads "$THREADS" --attn sdpa)
  # shellcheck disable=SC2086
  torch_gen=$(measure "torch_gen_$name" "$PY" "$TORCH" $flags --mode generate --threads "$THREADS" --attn sdpa)
  python3 - "$ours" "$torch_train" "$torch_gen" <<'PYEOF'
import json, sys
def split(s):
    j, rss = s.rsplit("\t", 1)
    return json.loads(j), int(rss) / 1024
ours, ours_rss = split(sys.argv[1])
tt, tt_rss = split(sys.argv[2])
tg, _ = split(sys.argv[3])
rows = [
    ("train tokens/s", ours["train"]["tokens_per_s"], tt["tokens_per_s_median"]),
    ("train ms/step (median)", ours["train"]["step_ms_median"], tt["step_ms_median"]),
    ("generate tokens/s, KV cache", ours["generate"]["cache_tokens_per_s"], tg["cache_tokens_per_s"]),
    ("generate tokens/s, no cache", ours["generate"]["nocache_tokens_per_s"], tg["nocache_tokens_per_s"]),
    ("peak RSS of training, MiB", ours_rss, tt_rss),
]
print(f"{'':32} {'burngpt':>12} {'PyTorch':>12} {'ratio':>8}")
for label, a, b in rows:
    print(f"{label:32} {a:12.1f} {b:12.1f} {a / b:8.2f}x")
print(f"(burngpt: {ours['backend']}, {ours['threads']} threads, {ours['train']['gflops']:.1f} GFLOP/s; "
      f"PyTorch {tt.get('torch')} {tt.get('threads')} threads, attn {tt.get('attn')})")
PYEOF
done
