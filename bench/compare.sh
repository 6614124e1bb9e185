#!/usr/bin/env bash
# Runs this project's `bench` and the PyTorch reference (../shared/bench/torch_gpt.py) on the
# same model shapes, one after the other, with the same number of threads, and prints the ratios.
#
#   bench/compare.sh [PYTHON]        # PYTHON: an interpreter with torch (default: python3)
#   THREADS=2 STEPS=30 ROUNDS=3 bench/compare.sh /path/to/venv/bin/python
#
# Each shape's training benchmarks run ROUNDS times, alternating (ours, PyTorch, ours, ...), and
# each number in the table is the median over the rounds: a shared machine's speed can change by a
# third within seconds, and alternating gives both sides the same chances.
#
# Shapes: the spec's model (configs/small.toml: vocab 2000, d_model 128, 4 layers, 4 heads, block 128,
# batch 16, no biases) and nanoGPT's laptop char model (configs/shakespeare_char.toml: vocab 65,
# block 64, batch 12). Peak memory is each training process's maximum resident set size.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-python3}"
THREADS="${THREADS:-2}"
STEPS="${STEPS:-30}"
ROUNDS="${ROUNDS:-3}"
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
  ours=() torch_train=()
  for round in $(seq "$ROUNDS"); do
    ours+=("$(measure "ours_${name}_$round" "$BIN" bench --config "$config" --steps "$STEPS" --warmup-steps 5 --new-tokens 256)")
    # shellcheck disable=SC2086
    torch_train+=("$(measure "torch_train_${name}_$round" "$PY" "$TORCH" $flags --steps "$STEPS" --warmup-steps 5 --threads "$THREADS" --attn sdpa)")
  done
  # shellcheck disable=SC2086
  torch_gen=$(measure "torch_gen_$name" "$PY" "$TORCH" $flags --mode generate --threads "$THREADS" --attn sdpa)
  python3 - "$ROUNDS" "${ours[@]}" "${torch_train[@]}" "$torch_gen" <<'PYEOF'
import json, statistics, sys
def split(s):
    j, rss = s.rsplit("\t", 1)
    return json.loads(j), int(rss) / 1024
n = int(sys.argv[1])
ours = [split(s) for s in sys.argv[2:2 + n]]
tt = [split(s) for s in sys.argv[2 + n:2 + 2 * n]]
tg, _ = split(sys.argv[2 + 2 * n])
med = lambda xs: statistics.median(xs)
rows = [
    ("train tokens/s", med(o["train"]["tokens_per_s"] for o, _ in ours), med(t["tokens_per_s_median"] for t, _ in tt)),
    ("train ms/step (median)", med(o["train"]["step_ms_median"] for o, _ in ours), med(t["step_ms_median"] for t, _ in tt)),
    ("generate tokens/s, KV cache", med(o["generate"]["cache_tokens_per_s"] for o, _ in ours), tg["cache_tokens_per_s"]),
    ("generate tokens/s, no cache", med(o["generate"]["nocache_tokens_per_s"] for o, _ in ours), tg["nocache_tokens_per_s"]),
    ("peak RSS of training, MiB", max(r for _, r in ours), max(r for _, r in tt)),
]
print("rounds, train ms/step: burngpt " + ", ".join(f"{o['train']['step_ms_median']:.1f}" for o, _ in ours)
      + " | PyTorch " + ", ".join(f"{t['step_ms_median']:.1f}" for t, _ in tt))
ours, tt = ours[0][0], tt[0][0]
print(f"{'':32} {'burngpt':>12} {'PyTorch':>12} {'ratio':>8}")
for label, a, b in rows:
    print(f"{label:32} {a:12.1f} {b:12.1f} {a / b:8.2f}x")
print(f"(burngpt: {ours['backend']}, {ours['threads']} threads, {ours['train']['gflops']:.1f} GFLOP/s; "
      f"PyTorch {tt.get('torch')} {tt.get('threads')} threads, attn {tt.get('attn')})")
PYEOF
done
