//! `bench`: training-step time, generation speed and peak memory of a config's model shape,
//! on random tokens, the way `bench/torch_gpt.py` measures PyTorch.

use std::time::Instant;

use anyhow::Result;
use burn::module::Module;
use burngpt_ops::{FusedAutodiffBackend, FusedOps};
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use crate::run::RunConfig;
use crate::data::Batch;
use crate::generate::{generate, SamplingConfig};
use crate::model::GptConfig;
use crate::train::{init_model, Learner};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchSettings {
    /// Untimed training steps before timing (allocation, autotune, caches).
    pub warmup_steps: usize,
    /// Timed training steps.
    pub steps: usize,
    /// Tokens generated per timed generation (batch 1, prompt of one token).
    pub new_tokens: usize,
    /// Timed generations per method; the median is reported.
    pub gen_repeats: usize,
    /// The CPU's (or GPU's) float32 peak in GFLOP/s, to report the achieved fraction.
    pub peak_gflops: f64,
}

/// Training figures.
#[derive(Debug, Clone, Serialize)]
pub struct TrainBench {
    pub tokens_per_step: usize,
    pub step_ms_median: f64,
    pub step_ms_p10: f64,
    pub step_ms_p90: f64,
    pub tokens_per_s: f64,
    /// `6 * parameters + 12 * layers * block_size * d_model` (PaLM's estimate, attention included).
    pub flops_per_token: f64,
    pub gflops: f64,
    pub fraction_of_peak: f64,
    pub loss_first: f64,
    pub loss_last: f64,
}

/// Generation figures (batch 1, greedy).
#[derive(Debug, Clone, Serialize)]
pub struct GenerateBench {
    /// The backend that sampled (`generate`'s: flex on default CPU builds).
    pub backend: String,
    pub new_tokens: usize,
    pub cache_tokens_per_s: f64,
    pub nocache_tokens_per_s: f64,
    /// Greedy outputs of the two paths agree (they must: the cache is exact).
    pub outputs_equal: bool,
}

/// Everything `bench` reports.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub backend: String,
    pub threads: usize,
    pub params: usize,
    pub vocab_size: usize,
    pub d_model: usize,
    pub n_layers: usize,
    pub block_size: usize,
    pub batch_size: usize,
    pub train: TrainBench,
    pub generate: GenerateBench,
    /// Peak resident memory after the training part, in MiB (`VmHWM`; Linux only).
    pub peak_rss_train_mib: Option<f64>,
}

/// Times training steps (on `B`) and generation (on `S`, the backend `generate` uses) of
/// `config`'s model with a vocabulary of `vocab_size`; `devices` and `names` are `B`'s and `S`'s.
pub fn run<B: FusedAutodiffBackend, S: FusedOps>(
    config: &RunConfig,
    vocab_size: usize,
    settings: &BenchSettings,
    (device, sampling_device): (&B::Device, &S::Device),
    (backend, sampling_backend): (&str, &str),
) -> Result<BenchReport> {
    let gpt = config.gpt_config(vocab_size)?;
    let t = &config.training;
    let total = settings.warmup_steps + settings.steps;
    crate::model::check_precision::<B>(t.precision, device)?;
    let model = init_model::<B>(&gpt, t.seed, device).with_precision(t.precision);
    let params = model.num_params();
    let mut learner = Learner::new(model, &config.learner_config(total.max(config.schedule.warmup_steps + 1)));

    // Eight distinct random batches, built before timing and cycled (as the PyTorch reference).
    let mut rng = rand::rngs::StdRng::seed_from_u64(t.seed);
    let window = gpt.block_size + 1;
    let batches = (0..8)
        .map(|_| {
            let ids: Vec<u32> = (0..t.batch_size * window).map(|_| rng.random_range(0..vocab_size as u32)).collect();
            let starts: Vec<usize> = (0..t.batch_size).map(|r| r * window).collect();
            Batch::<B>::from_ids(&ids, &starts, gpt.block_size, device)
        })
        .collect::<Result<Vec<_>>>()?;

    let mut step_ms = Vec::with_capacity(settings.steps);
    let mut losses = Vec::with_capacity(total);
    for step in 1..=total {
        let start = Instant::now();
        let out = learner.train_step(step, vec![batches[step % batches.len()].clone()]);
        losses.push(out.loss()); // reading the loss waits for the step to finish
        if step > settings.warmup_steps {
            step_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    let peak_rss_train_mib = peak_rss_mib();
    let tokens_per_step = t.batch_size * gpt.block_size;
    let median = percentile(&step_ms, 0.5);
    let tokens_per_s = tokens_per_step as f64 / (median / 1e3);
    let flops_per_token = 6.0 * params as f64 + 12.0 * (gpt.n_layers * gpt.block_size * gpt.d_model) as f64;
    let gflops = flops_per_token * tokens_per_s / 1e9;
    let train = TrainBench {
        tokens_per_step,
        step_ms_median: median,
        step_ms_p10: percentile(&step_ms, 0.1),
        step_ms_p90: percentile(&step_ms, 0.9),
        tokens_per_s,
        flops_per_token,
        gflops,
        fraction_of_peak: gflops / settings.peak_gflops,
        loss_first: losses.first().copied().unwrap_or(f64::NAN),
        loss_last: losses.last().copied().unwrap_or(f64::NAN),
    };
    drop(learner);
    let generate = bench_generate::<S>(&gpt, t.seed, settings, sampling_device, sampling_backend)?;
    Ok(BenchReport {
        backend: backend.to_string(),
        threads: threads(),
        params,
        vocab_size,
        d_model: gpt.d_model,
        n_layers: gpt.n_layers,
        block_size: gpt.block_size,
        batch_size: t.batch_size,
        train,
        generate,
        peak_rss_train_mib,
    })
}

/// Batch-1 greedy generation of `new_tokens` from a one-token prompt, with and without the KV
/// cache. As in the PyTorch reference, the position table is enlarged to hold prompt and output
/// (no sliding window), so both paths do the same work per token as there.
fn bench_generate<S: FusedOps>(
    gpt: &GptConfig,
    seed: u64,
    settings: &BenchSettings,
    device: &S::Device,
    backend: &str,
) -> Result<GenerateBench> {
    let config = GptConfig { block_size: gpt.block_size.max(settings.new_tokens + 1), ..gpt.clone() };
    let model = init_model::<S>(&config, seed, device);
    let greedy = SamplingConfig { temperature: 1.0, top_k: None, top_p: None, greedy: true };
    let prompt = [1u32];
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut timed = |use_cache: bool| -> Result<(f64, Vec<u32>)> {
        generate(&model, &prompt, settings.new_tokens, &greedy, &mut rng, use_cache, |_| Ok(()))?; // warm-up
        let mut seconds = Vec::new();
        let mut tokens = Vec::new();
        for _ in 0..settings.gen_repeats.max(1) {
            let (out, stats) = generate(&model, &prompt, settings.new_tokens, &greedy, &mut rng, use_cache, |_| Ok(()))?;
            seconds.push(stats.seconds);
            tokens = out;
        }
        Ok((settings.new_tokens as f64 / percentile(&seconds, 0.5), tokens))
    };
    let (cache_tokens_per_s, with_cache) = timed(true)?;
    let (nocache_tokens_per_s, without_cache) = timed(false)?;
    Ok(GenerateBench {
        backend: backend.to_string(),
        new_tokens: settings.new_tokens,
        cache_tokens_per_s,
        nocache_tokens_per_s,
        outputs_equal: with_cache == without_cache,
    })
}

/// The `q` quantile (0..=1) by linear interpolation between order statistics.
pub fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Peak resident set size of this process in MiB, from `/proc/self/status` (Linux).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Worker threads of the CPU backends (`RAYON_NUM_THREADS`, else the number of cores).
fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

/// The human-readable table.
pub fn table(r: &BenchReport, peak_gflops: f64) -> String {
    let t = &r.train;
    let g = &r.generate;
    let rss = r.peak_rss_train_mib.map_or("n/a".to_string(), |m| format!("{m:.0} MiB"));
    format!(
        "backend {} | {} threads | {} params | vocab {} | d_model {} | {} layers | block {} | batch {}\n\
         train     {:>9.1} ms/step median (p10 {:.1}, p90 {:.1}) | {:>8.0} tokens/s | {:.1} GFLOP/s = {:.1}% of {peak_gflops} GFLOP/s\n\
         generate  {:>9.1} tokens/s with KV cache | {:.1} tokens/s without | {} new tokens, batch 1, on {} | outputs equal: {}\n\
         memory    peak RSS after training {rss}",
        r.backend,
        r.threads,
        r.params,
        r.vocab_size,
        r.d_model,
        r.n_layers,
        r.block_size,
        r.batch_size,
        t.step_ms_median,
        t.step_ms_p10,
        t.step_ms_p90,
        t.tokens_per_s,
        t.gflops,
        100.0 * t.fraction_of_peak,
        g.cache_tokens_per_s,
        g.nocache_tokens_per_s,
        g.new_tokens,
        g.backend,
        g.outputs_equal,
    )
}
