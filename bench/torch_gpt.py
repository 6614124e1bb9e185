#!/usr/bin/env python3
"""PyTorch reference for burngpt's `bench`: training-step time and batch-1 generation speed.

It builds, in plain PyTorch, the model nanoGPT builds, at the shape given on the command line:
token and learned position embeddings; pre-LayerNorm blocks x + attn(ln_1(x)), x + mlp(ln_2(x));
causal self-attention with one fused qkv projection (torch's scaled_dot_product_attention, or
softmax(q k^T / sqrt(head_dim)) v written out with --attn manual); an MLP d -> 4d -> d with exact
(erf) GELU; a final LayerNorm; an LM head tied to the token embedding; GPT-2 initialisation
(normal(0, 0.02), zero biases, residual projections normal(0, 0.02 / sqrt(2 * layers))). `--bias off`
removes the biases of every Linear and LayerNorm, as burngpt's configs/small.toml does.

--mode train (default): each step is forward, mean cross-entropy over every position, backward,
    one global gradient-norm clip to 1.0, AdamW (betas 0.9 / 0.999, eps 1e-8, weight decay 0.01 on
    matrices and embeddings only) at a learning rate from linear warmup then cosine decay. Batches are
    random tokens from a fixed seed, made before timing. The first --warmup-steps steps are not timed;
    each of the next --steps steps is timed on its own (time.perf_counter). Reports the median, mean,
    min, max, p10 and p90 ms/step and tokens/s (batch x ctx tokens per step over the median step).
--mode generate: greedy decoding of --new-tokens tokens from a random --prompt-len-token prompt at
    batch 1, once recomputing the whole sequence for every token (no cache) and once with a KV cache;
    an untimed warm-up of each, then --gen-repeats timed runs of each. Reports tokens/s over the median
    run. The position table is enlarged to hold prompt and output (no sliding window), as burngpt's
    `bench` does, so both paths do the same work per token on both sides.

Output: progress lines, then, as the last line, one JSON object with every figure and the settings.
bench/compare.sh reads `tokens_per_s_median` and `step_ms_median` (train), `cache_tokens_per_s` and
`nocache_tokens_per_s` (generate), and `torch`, `threads`, `attn` (both).

How to run (CPU, 2 threads; the two shapes bench/compare.sh uses):

    python3 -m venv venv && venv/bin/pip install torch numpy
    SMALL="--vocab 2000 --d-model 128 --layers 4 --heads 4 --ctx 128 --batch 16 --bias off"  # configs/small.toml
    CHAR="--vocab 65 --d-model 128 --layers 4 --heads 4 --ctx 64 --batch 12 --bias off"      # configs/shakespeare_char.toml
    venv/bin/python bench/torch_gpt.py $SMALL --steps 30 --warmup-steps 5 --threads 2 --attn sdpa
    venv/bin/python bench/torch_gpt.py $SMALL --mode generate --threads 2 --attn sdpa

On a GPU: --device cuda. Options: --compile on (torch.compile), --dtype bfloat16 (autocast).

Differences from burngpt's models that do not change the work per step measurably: positions are always
learned (configs/small.toml uses sinusoidal positions: 16K of its 1M parameters), and the initial
weights and the random batches come from torch's random generator.
"""

import argparse
import json
import math
import platform
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# ------------------------------------------------------------------------------------------- model


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model, heads, ctx, bias, dropout, attn):
        super().__init__()
        assert d_model % heads == 0, "d_model must be a multiple of heads"
        self.heads = heads
        self.head_dim = d_model // heads
        self.dropout = dropout
        self.attn = attn
        self.c_attn = nn.Linear(d_model, 3 * d_model, bias=bias)  # fused q, k, v
        self.c_proj = nn.Linear(d_model, d_model, bias=bias)
        self.attn_drop = nn.Dropout(dropout)
        self.resid_drop = nn.Dropout(dropout)
        # True where query row i may see key column j (j <= i); used by --attn manual.
        self.register_buffer("causal", torch.tril(torch.ones(ctx, ctx, dtype=torch.bool)), persistent=False)

    def forward(self, x, cache=None, pos=0):
        """x: (B, T, C). With `cache` = (k_buf, v_buf) of shape (B, H, max_len, head_dim), the new keys and
        values are written at positions pos..pos+T and the queries attend to positions 0..pos+T."""
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.heads, self.head_dim).transpose(1, 2) for t in self.c_attn(x).split(C, dim=2))
        if cache is not None:
            k_buf, v_buf = cache
            k_buf[:, :, pos : pos + T] = k
            v_buf[:, :, pos : pos + T] = v
            k, v = k_buf[:, :, : pos + T], v_buf[:, :, : pos + T]
        S = k.shape[2]
        # Generation feeds either a whole prefix from position 0 (T == S) or one new token (T == 1).
        assert T == S or T == 1, "a multi-token chunk after position 0 is not supported"

        if self.attn == "sdpa":
            p = self.dropout if self.training else 0.0
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=T > 1)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
            att = att.masked_fill(~self.causal[S - T : S, :S], float("-inf"))
            y = self.attn_drop(F.softmax(att, dim=-1)) @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_drop(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, d_model, bias, dropout):
        super().__init__()
        self.c_fc = nn.Linear(d_model, 4 * d_model, bias=bias)
        self.gelu = nn.GELU()  # exact (erf) GELU
        self.c_proj = nn.Linear(4 * d_model, d_model, bias=bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return self.drop(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, d_model, heads, ctx, bias, dropout, attn):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model, bias=bias)
        self.attn = CausalSelfAttention(d_model, heads, ctx, bias, dropout, attn)
        self.ln_2 = nn.LayerNorm(d_model, bias=bias)
        self.mlp = MLP(d_model, bias, dropout)

    def forward(self, x, cache=None, pos=0):
        x = x + self.attn(self.ln_1(x), cache, pos)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab, d_model, layers, heads, ctx, bias, dropout, attn):
        super().__init__()
        self.ctx, self.d_model, self.layers, self.heads = ctx, d_model, layers, heads
        self.wte = nn.Embedding(vocab, d_model)
        self.wpe = nn.Embedding(ctx, d_model)
        self.drop = nn.Dropout(dropout)
        self.h = nn.ModuleList(Block(d_model, heads, ctx, bias, dropout, attn) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d_model, bias=bias)
        self.lm_head = nn.Linear(d_model, vocab, bias=False)
        self.lm_head.weight = self.wte.weight  # tied

        # GPT-2 initialisation.
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * layers))

    def forward(self, idx, caches=None, pos=0):
        T = idx.shape[1]
        assert pos + T <= self.ctx, f"position {pos + T} is past the position table ({self.ctx})"
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(pos, pos + T, device=idx.device)))
        for i, block in enumerate(self.h):
            x = block(x, None if caches is None else caches[i], pos)
        return self.lm_head(self.ln_f(x))

    def param_counts(self):
        total = sum(p.numel() for p in self.parameters())  # the tied matrix once
        return total, total - self.wte.weight.numel() - self.wpe.weight.numel()


def build_model(args, device, ctx):
    torch.manual_seed(args.seed)
    model = GPT(args.vocab, args.d_model, args.layers, args.heads, ctx,
                bias=args.bias == "on", dropout=args.dropout, attn=args.attn).to(device)
    if args.dtype == "bfloat16" and args.bf16_mode == "pure":
        model = model.to(torch.bfloat16)
    return model


# ----------------------------------------------------------------------------------------- helpers


def lr_at(step, lr_max, warmup, total, lr_min):
    """Linear warmup from 0 over `warmup` steps, then cosine from lr_max down to lr_min at `total`."""
    if step < warmup:
        return lr_max * step / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return lr_min + (lr_max - lr_min) * 0.5 * (1.0 + math.cos(math.pi * progress))


def quantile(xs, q):
    """The q quantile by linear interpolation between order statistics (as burngpt's bench)."""
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def autocast(args, device):
    on = args.dtype == "bfloat16" and args.bf16_mode == "autocast"
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=on)


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


# ------------------------------------------------------------------------------------------- train


def make_optimizer(model, args):
    """AdamW; matrices and embeddings are decayed, biases and LayerNorm weights are not (nanoGPT, burngpt)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": args.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    impl = {"default": {}, "single": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}
    return torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, **impl[args.optim_impl])


def run_train(args, device, info):
    model = build_model(args, device, args.ctx)
    info["params"], info["params_non_embedding"] = model.param_counts()
    print(f"parameters: {info['params']:,} (non-embedding {info['params_non_embedding']:,})", flush=True)
    optimizer = make_optimizer(model, args)
    forward = torch.compile(model) if args.compile == "on" else model

    gen = torch.Generator().manual_seed(args.seed + 1)
    data = torch.randint(0, args.vocab, (args.data_batches, args.batch, args.ctx + 1), generator=gen).to(device)

    total = args.warmup_steps + args.steps
    lr_warmup = args.lr_warmup_iters if args.lr_warmup_iters is not None else max(1, total // 10)
    tokens_per_step = args.batch * args.ctx

    model.train()
    warm_ms, step_ms, losses, gnorms = [], [], [], []
    t_start = time.perf_counter()
    for step in range(total):
        batch = data[step % args.data_batches]
        x, y = batch[:, :-1], batch[:, 1:]
        lr = lr_at(step, args.lr, lr_warmup, total, args.min_lr)
        for group in optimizer.param_groups:
            group["lr"] = lr

        sync(device)
        t0 = time.perf_counter()
        with autocast(args, device):
            logits = forward(x)
            loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), y.reshape(-1))
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync(device)
        ms = (time.perf_counter() - t0) * 1e3

        timed = step >= args.warmup_steps
        (step_ms if timed else warm_ms).append(ms)
        losses.append(loss.item())
        gnorms.append(float(gnorm))
        if args.verbose or step in (0, total - 1) or (step + 1) % args.log_every == 0:
            print(f"step {step:4d} [{'timed ' if timed else 'warmup'}] {ms:9.2f} ms  loss {losses[-1]:.4f}  "
                  f"gnorm {gnorms[-1]:.4f}  lr {lr:.3e}", flush=True)
    wall_s = time.perf_counter() - t_start
    if not step_ms:
        raise SystemExit("no timed steps: --steps must be at least 1")

    median, mean = statistics.median(step_ms), statistics.fmean(step_ms)
    info.update({
        "tokens_per_step": tokens_per_step,
        "timed_steps": len(step_ms),
        "warmup_steps": args.warmup_steps,
        "lr_warmup_iters": lr_warmup,
        "step_ms_median": median,
        "step_ms_mean": mean,
        "step_ms_min": min(step_ms),
        "step_ms_max": max(step_ms),
        "step_ms_p10": quantile(step_ms, 0.10),
        "step_ms_p90": quantile(step_ms, 0.90),
        "tokens_per_s_median": tokens_per_step / (median / 1e3),
        "tokens_per_s_mean": tokens_per_step / (mean / 1e3),
        "warmup_ms": warm_ms,
        "first_step_s": warm_ms[0] / 1e3 if warm_ms else None,
        # with --compile on, the first step includes tracing and code generation
        "compile_first_step_s": warm_ms[0] / 1e3 if args.compile == "on" and warm_ms else None,
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "gnorm_first": gnorms[0],
        "gnorm_last": gnorms[-1],
        "wall_s": wall_s,
    })
    if args.dump_steps:
        info["step_ms_all"], info["loss_all"] = step_ms, losses
    print(f"train: median {median:.2f} ms/step, mean {mean:.2f}, min {min(step_ms):.2f}, max {max(step_ms):.2f} "
          f"({len(step_ms)} timed steps of {tokens_per_step} tokens); {info['tokens_per_s_median']:.1f} tokens/s "
          f"at the median", flush=True)


# ---------------------------------------------------------------------------------------- generate


@torch.inference_mode()
def generate_nocache(model, prompt, n):
    """Greedy; every new token runs the model over the whole sequence so far."""
    idx = prompt
    for _ in range(n):
        nxt = model(idx)[:, -1, :].argmax(dim=-1, keepdim=True)
        idx = torch.cat([idx, nxt], dim=1)
    return idx[:, prompt.shape[1]:]


@torch.inference_mode()
def generate_cache(model, forward, prompt, n, max_len, dtype):
    """Greedy; the prompt fills a preallocated KV cache, then each new token runs one position."""
    shape = (prompt.shape[0], model.heads, max_len, model.d_model // model.heads)
    caches = [(torch.empty(shape, device=prompt.device, dtype=dtype),
               torch.empty(shape, device=prompt.device, dtype=dtype)) for _ in range(model.layers)]
    nxt = forward(prompt, caches, 0)[:, -1, :].argmax(dim=-1, keepdim=True)
    out, pos = [nxt], prompt.shape[1]
    for _ in range(n - 1):
        nxt = forward(nxt, caches, pos)[:, -1, :].argmax(dim=-1, keepdim=True)
        out.append(nxt)
        pos += 1
    return torch.cat(out, dim=1)


def run_generate(args, device, info):
    longest = args.prompt_len + args.new_tokens - 1  # the longest sequence the model sees
    gen_ctx = max(args.ctx, longest)
    if gen_ctx > args.ctx:
        print(f"note: position table enlarged from {args.ctx} to {gen_ctx} for {args.prompt_len} prompt + "
              f"{args.new_tokens} new tokens (no sliding window)", flush=True)
    model = build_model(args, device, gen_ctx).eval()
    info["params"], info["params_non_embedding"] = model.param_counts()
    info["gen_ctx"] = gen_ctx
    print(f"parameters: {info['params']:,} (non-embedding {info['params_non_embedding']:,}) at ctx {gen_ctx}",
          flush=True)
    forward = torch.compile(model, dynamic=True) if args.compile == "on" else model
    cache_dtype = torch.bfloat16 if args.dtype == "bfloat16" else torch.float32

    gen = torch.Generator().manual_seed(args.seed + 2)
    with torch.inference_mode():
        prompt = torch.randint(0, args.vocab, (1, args.prompt_len), generator=gen).to(device)

    def nocache(n):
        return generate_nocache(forward, prompt, n)

    def cache(n):
        return generate_cache(model, forward, prompt, n, gen_ctx, cache_dtype)

    def seconds(fn, n):
        sync(device)
        t0 = time.perf_counter()
        with autocast(args, device):
            out = fn(n)
        sync(device)
        return time.perf_counter() - t0, out

    n_warm = args.new_tokens if args.gen_warmup_tokens is None else min(args.new_tokens, args.gen_warmup_tokens)
    info["gen_warmup_tokens"] = n_warm
    info["gen_warmup_nocache_s"], _ = seconds(nocache, n_warm)
    info["gen_warmup_cache_s"], _ = seconds(cache, n_warm)

    runs_nc = [seconds(nocache, args.new_tokens) for _ in range(args.gen_repeats)]
    runs_c = [seconds(cache, args.new_tokens) for _ in range(args.gen_repeats)]
    t_nc, t_c = [s for s, _ in runs_nc], [s for s, _ in runs_c]
    same = (runs_nc[-1][1] == runs_c[-1][1]).squeeze(0).tolist()
    prefix = next((i for i, s in enumerate(same) if not s), len(same))
    med_nc, med_c = statistics.median(t_nc), statistics.median(t_c)
    info.update({
        "new_tokens": args.new_tokens,
        "prompt_len": args.prompt_len,
        "gen_repeats": args.gen_repeats,
        "nocache_s_all": t_nc,
        "cache_s_all": t_c,
        "nocache_s_median": med_nc,
        "cache_s_median": med_c,
        "nocache_tokens_per_s": args.new_tokens / med_nc,
        "cache_tokens_per_s": args.new_tokens / med_c,
        "kv_speedup": med_nc / med_c,
        "greedy_tokens_equal": sum(same),
        "greedy_equal_prefix": prefix,
    })
    print(f"generate: {info['nocache_tokens_per_s']:.1f} tokens/s without cache, "
          f"{info['cache_tokens_per_s']:.1f} with KV cache ({info['kv_speedup']:.2f}x); greedy outputs equal at "
          f"{sum(same)}/{len(same)} positions", flush=True)


# -------------------------------------------------------------------------------------------- main


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a = ap.add_argument
    a("--mode", choices=["train", "generate"], default="train")
    a("--name", default="", help="a label copied into the JSON")
    # shape
    a("--vocab", type=int, default=65)
    a("--d-model", type=int, default=128)
    a("--layers", type=int, default=4)
    a("--heads", type=int, default=4)
    a("--ctx", type=int, default=128, help="block size (positions)")
    a("--batch", type=int, default=16)
    a("--bias", choices=["on", "off"], default="on", help="biases in every Linear and LayerNorm")
    a("--dropout", type=float, default=0.0)
    # execution
    a("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    a("--device", choices=["cpu", "cuda"], default="cpu")
    a("--dtype", choices=["float32", "bfloat16"], default="float32")
    a("--bf16-mode", choices=["autocast", "pure"], default="autocast",
      help="bfloat16 through torch.autocast (float32 weights) or the whole model cast to bfloat16")
    a("--compile", choices=["on", "off"], default="off", help="torch.compile")
    a("--attn", choices=["sdpa", "manual"], default="sdpa",
      help="scaled_dot_product_attention, or softmax(q k^T / sqrt(d)) v written out")
    a("--tf32", choices=["on", "off"], default="off", help="TF32 matrix products on CUDA")
    a("--seed", type=int, default=1337)
    # training
    a("--steps", type=int, default=20, help="timed training steps")
    a("--warmup-steps", type=int, default=3, help="untimed training steps before them (optimizer included)")
    a("--lr", type=float, default=3e-4)
    a("--min-lr", type=float, default=0.0)
    a("--lr-warmup-iters", type=int, default=None, help="learning-rate warmup (default: 10%% of all steps)")
    a("--weight-decay", type=float, default=0.01)
    a("--optim-impl", choices=["default", "single", "foreach", "fused"], default="default",
      help="torch's AdamW implementation (default: torch's choice)")
    a("--data-batches", type=int, default=8, help="distinct random batches, cycled through")
    a("--log-every", type=int, default=10)
    a("--verbose", action="store_true", help="print every step")
    a("--dump-steps", action="store_true", help="every step's time and loss in the JSON")
    # generation
    a("--new-tokens", type=int, default=256)
    a("--prompt-len", type=int, default=1)
    a("--gen-repeats", type=int, default=3, help="timed runs per method; the median is reported")
    a("--gen-warmup-tokens", type=int, default=None, help="tokens in each untimed warm-up (default: --new-tokens)")
    return ap.parse_args()


def main():
    args = parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
        try:
            torch.set_num_interop_threads(args.threads)
        except RuntimeError:  # already set, or work has started
            pass
    device = torch.device(args.device)
    if device.type == "cuda":
        assert torch.cuda.is_available(), "--device cuda, but torch sees no CUDA device"
        torch.backends.cuda.matmul.allow_tf32 = args.tf32 == "on"
        torch.backends.cudnn.allow_tf32 = args.tf32 == "on"

    info = {
        "name": args.name,
        "mode": args.mode,
        "config": {"vocab": args.vocab, "d_model": args.d_model, "layers": args.layers, "heads": args.heads,
                   "ctx": args.ctx, "batch": args.batch, "bias": args.bias, "dropout": args.dropout},
        "device": args.device,
        "device_name": torch.cuda.get_device_name() if device.type == "cuda" else cpu_name(),
        "dtype": args.dtype,
        "bf16_mode": args.bf16_mode if args.dtype == "bfloat16" else None,
        "compile": args.compile,
        "attn": args.attn,
        "optim_impl": args.optim_impl,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "seed": args.seed,
        "loadavg_start": loadavg(),
    }
    print(f"torch {torch.__version__} | {info['device_name']} | {info['threads']} threads | {args.dtype} | "
          f"compile {args.compile} | attn {args.attn} | mode {args.mode}", flush=True)
    (run_train if args.mode == "train" else run_generate)(args, device, info)
    info["loadavg_end"] = loadavg()
    print(json.dumps(info))


if __name__ == "__main__":
    main()
