#!/usr/bin/env bash
# Runs this project's `bench` and the PyTorch reference (bench/torch_gpt.py) on the same model
# shapes, one after the other, with the same number of threads, and prints the ratios.
#
#   bench/compare.sh [PYTHON]        # PYTHON: an interpreter with torch (default: python3)
#   THREADS=2 STEPS=30 ROUNDS=3 bench/compare.sh /path/to/venv/bin/python
#
# BIN: the burngpt binary to measure (default target/release/burngpt, built first with
# `cargo build --release`; a BIN you give is not built). BIN2: a second binary, for a before/after
# comparison in one invocation: each round then runs BIN, BIN2, PyTorch, and the table gets a column
# for BIN2 and its ratio to PyTorch. BIN2 is never built. For example:
#
#   cp target/release/burngpt /tmp/burngpt-before     # ... change the code, cargo build --release ...
#   BIN=/tmp/burngpt-before BIN2=target/release/burngpt bench/compare.sh /path/to/venv/bin/python
#
# Each shape's training benchmarks run ROUNDS times, alternating (ours, PyTorch, ours, ...), and
# each number in the table is the median over the rounds: a shared machine's speed can change by a
# third within seconds, and alternating gives both sides the same chances. PyTorch's generation runs
# once per shape, after the rounds; ours is measured in every round (`bench` does both).
#
# Shapes (SHAPES, default "small char"): `small`, the spec's model (configs/small.toml: vocab 2000,
# d_model 128, 4 layers, 4 heads, block 128, batch 16, no biases); `char`, nanoGPT's laptop char model
# (configs/shakespeare_char.toml: vocab 65, block 64, batch 12); `gpt2_124m`, GPT-2 small
# (configs/gpt2_124m.toml at vocab 50304: d_model 768, 12 layers, 12 heads, block 1024, batch 4,
# biases), 3 timed steps after 1 untimed and 32 generated tokens, since one step takes ~25 s on two
# cores:
#
#   SHAPES=gpt2_124m ROUNDS=2 bench/compare.sh /path/to/venv/bin/python
#
# PRECISION=bf16 runs ours with `--set training.precision=bf16` and PyTorch with `--dtype bfloat16
# --bf16-mode autocast` (eager autocast, float32 master weights: the same split), and, unless BIN2
# is given, each round also runs ours in float32, so the table has burngpt's own float32 beside
# its bfloat16 (README "Precision"):
#
#   PRECISION=bf16 SHAPES="gpt2_124m small" ROUNDS=3 bench/compare.sh /path/to/venv/bin/python
#
# STEPS and WARMUP, when set, override every shape's own. Peak memory is each training process's
# maximum resident set size.
# Every run's output is kept in $OUT (default artifacts/bench). TORCH_GPT overrides the PyTorch script.
set -euo pipefail

# Paths given relative to the caller's directory still work after the cd below.
absolute() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    */*) printf '%s/%s\n' "$PWD" "$1" ;;
    *) printf '%s\n' "$1" ;;  # a bare command name, looked up in PATH
  esac
}
PY="$(absolute "${1:-python3}")"
BIN="${BIN:-}"
BIN2="${BIN2:-}"
[ -z "$BIN" ] || BIN="$(absolute "$BIN")"
[ -z "$BIN2" ] || BIN2="$(absolute "$BIN2")"
cd "$(dirname "$0")/.."

THREADS="${THREADS:-2}"
ROUNDS="${ROUNDS:-3}"
SHAPES="${SHAPES:-small char}"
TORCH="${TORCH_GPT:-bench/torch_gpt.py}"
OUT="${OUT:-artifacts/bench}"
PRECISION="${PRECISION:-fp32}"
case "$PRECISION" in
  fp32) OURS_PRECISION=(); TORCH_PRECISION=(); SECOND="" ;;
  bf16) OURS_PRECISION=(--set training.precision=bf16); TORCH_PRECISION=(--dtype bfloat16 --bf16-mode autocast)
        SECOND="fp32" ;;
  *) echo "PRECISION must be fp32 or bf16, not: $PRECISION" >&2; exit 1 ;;
esac
[ -z "$BIN2" ] || SECOND="BIN2"
mkdir -p "$OUT"
export RAYON_NUM_THREADS="$THREADS" OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS"

if [ -z "$BIN" ]; then
  cargo build --release --quiet
  BIN=target/release/burngpt
fi
for bin in "$BIN" ${BIN2:+"$BIN2"}; do
  command -v "$bin" > /dev/null || { echo "not an executable: $bin" >&2; exit 1; }
done

# name | our config | our extra flags | torch shape flags | steps | warmup steps | generated tokens
ALL_SHAPES=(
  "small|configs/small.toml||--vocab 2000 --d-model 128 --layers 4 --heads 4 --ctx 128 --batch 16 --bias off|30|5|256"
  "char|configs/shakespeare_char.toml||--vocab 65 --d-model 128 --layers 4 --heads 4 --ctx 64 --batch 12 --bias off|30|5|256"
  "gpt2_124m|configs/gpt2_124m.toml|--vocab 50304|--vocab 50304 --d-model 768 --layers 12 --heads 12 --ctx 1024 --batch 4 --bias on|3|1|32"
)
selected=()
for want in $SHAPES; do
  found=""
  for shape in "${ALL_SHAPES[@]}"; do
    [ "${shape%%|*}" = "$want" ] && { selected+=("$shape"); found=1; }
  done
  [ -n "$found" ] || { echo "unknown shape in SHAPES: $want (known: small char gpt2_124m)" >&2; exit 1; }
done

# Runs a command with its stdout in $OUT/<tag>.log, stderr in $OUT/<tag>.err, max RSS in $OUT/<tag>.rss.
measure() {
  local tag="$1"; shift
  /usr/bin/time -f "%M" -o "$OUT/$tag.rss" "$@" > "$OUT/$tag.log" 2> "$OUT/$tag.err" || {
    echo "failed: $* (see $OUT/$tag.err)" >&2; exit 1; }
}

# ours <tag> <binary> <config> [extra flags...]
ours() {
  local tag="$1" bin="$2" config="$3"; shift 3
  measure "$tag" "$bin" bench --config "$config" "$@" --steps "$steps" --warmup-steps "$warmup" \
    --new-tokens "$new_tokens"
}

echo "BIN = $BIN${BIN2:+, BIN2 = $BIN2}, PRECISION = $PRECISION"
for shape in "${selected[@]}"; do
  IFS='|' read -r name config extra flags steps warmup new_tokens <<< "$shape"
  steps="${STEPS:-$steps}"
  warmup="${WARMUP:-$warmup}"
  echo "== $name: $config $extra vs torch_gpt.py $flags ($THREADS threads, $steps steps after $warmup)"
  for round in $(seq "$ROUNDS"); do
    # shellcheck disable=SC2086
    ours "ours_${name}_$round" "$BIN" "$config" $extra "${OURS_PRECISION[@]}"
    if [ -n "$BIN2" ]; then
      # shellcheck disable=SC2086
      ours "ours2_${name}_$round" "$BIN2" "$config" $extra "${OURS_PRECISION[@]}"
    elif [ -n "$SECOND" ]; then
      # shellcheck disable=SC2086
      ours "ours2_${name}_$round" "$BIN" "$config" $extra
    fi
    # shellcheck disable=SC2086
    measure "torch_train_${name}_$round" "$PY" "$TORCH" $flags --steps "$steps" --warmup-steps "$warmup" \
      --threads "$THREADS" --attn sdpa "${TORCH_PRECISION[@]}"
  done
  # shellcheck disable=SC2086
  measure "torch_gen_$name" "$PY" "$TORCH" $flags --mode generate --new-tokens "$new_tokens" \
    --threads "$THREADS" --attn sdpa "${TORCH_PRECISION[@]}"

  python3 - "$OUT" "$name" "$ROUNDS" "$SECOND" "$PRECISION" <<'PYEOF'
import json, statistics, sys

out, name, rounds, second, precision = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
two = second != ""

def load(tag):
    """The last JSON line a run printed, and its peak RSS in MiB."""
    with open(f"{out}/{tag}.log") as f:
        result = json.loads([line for line in f if line.startswith("{")][-1])
    with open(f"{out}/{tag}.rss") as f:
        rss = int(f.read().split()[-1]) / 1024
    return result, rss

def runs(side):
    return [load(f"{side}_{name}_{r}") for r in range(1, rounds + 1)]

med = statistics.median
def ours_column(rs):
    return [
        med(o["train"]["tokens_per_s"] for o, _ in rs),
        med(o["train"]["step_ms_median"] for o, _ in rs),
        med(o["generate"]["cache_tokens_per_s"] for o, _ in rs),
        med(o["generate"]["nocache_tokens_per_s"] for o, _ in rs),
        max(r for _, r in rs),
    ]

if second == "fp32":
    sides = {f"burngpt {precision}": runs("ours"), "burngpt fp32": runs("ours2")}
elif two:
    sides = {"BIN": runs("ours"), "BIN2": runs("ours2")}
else:
    sides = {"burngpt": runs("ours")}
torch_train = runs("torch_train")
torch_gen, _ = load(f"torch_gen_{name}")
torch_column = [
    med(t["tokens_per_s_median"] for t, _ in torch_train),
    med(t["step_ms_median"] for t, _ in torch_train),
    torch_gen["cache_tokens_per_s"],
    torch_gen["nocache_tokens_per_s"],
    max(r for _, r in torch_train),
]
labels = [
    "train tokens/s",
    "train ms/step (median)",
    "generate tokens/s, KV cache",
    "generate tokens/s, no cache",
    "peak RSS of training, MiB",
]
columns = {side: ours_column(rs) for side, rs in sides.items()}

def ms_list(rs, key):
    return ", ".join(f"{key(r):.1f}" for r, _ in rs)
print("rounds, train ms/step: " + " | ".join(
    [f"{side} {ms_list(rs, lambda o: o['train']['step_ms_median'])}" for side, rs in sides.items()]
    + [f"PyTorch {ms_list(torch_train, lambda t: t['step_ms_median'])}"]))

ratio_heads = [f"{side}/PT" for side in sides] if two else ["ratio"]
print(f"{'':32}" + "".join(f" {side:>12}" for side in sides) + f" {'PyTorch':>12}"
      + "".join(f" {h:>{max(8, len(h))}}" for h in ratio_heads))
widths = [max(8, len(h)) for h in (ratio_heads * len(sides))[:len(sides)]]
for i, label in enumerate(labels):
    ours_values = [columns[side][i] for side in sides]
    print(f"{label:32}" + "".join(f" {v:12.1f}" for v in ours_values) + f" {torch_column[i]:12.1f}"
          + "".join(f" {v / torch_column[i]:{w - 1}.2f}x" for v, w in zip(ours_values, widths)))
for side, rs in sides.items():
    o = rs[0][0]
    print(f"({side}: train {o['backend']}, {o['threads']} threads, {o['train']['gflops']:.1f} GFLOP/s; "
          f"generate {o['generate'].get('backend', '?')})")
t = torch_train[0][0]
print(f"(PyTorch {t.get('torch')}, {t.get('threads')} threads, attn {t.get('attn')}, {t.get('dtype')}"
      f"{' ' + t['bf16_mode'] if t.get('bf16_mode') else ''})")
if second == "fp32":
    low, full = (columns[side][0] for side in sides)
    print(f"burngpt {precision} / burngpt fp32, train tokens/s: {low / full:.2f}x")
PYEOF
done
