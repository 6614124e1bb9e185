//! Burn's AdamW update in one pass over each parameter (float32 host buffers).
//!
//! Burn's `AdamW::step` is fifteen tensor ops per parameter (moments, bias corrections, square
//! root, division, decay, update), each a pass over the parameter with its own allocation.
//! [`adamw_update`] does the same float32 operations, in the same order, per element, so its
//! results equal Burn's bit for bit (tested against Burn's `AdamW`).

use rayon::prelude::*;

use crate::AdamWStep;

/// Elements per task when an update is split across threads.
const CHUNK: usize = 1 << 14;

/// One AdamW update: `m` and `v` (zeros before the first step) are updated in place and the new
/// weights written to `out`:
///
/// ```text
/// m = beta1 m + (1 - beta1) g          v = beta2 v + (1 - beta2) g^2
/// out = w (1 - lr wd) - lr (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
/// ```
///
/// # Panics
/// If the five slices differ in length.
pub(crate) fn adamw_update(step: &AdamWStep, w: &[f32], g: &[f32], m: &mut [f32], v: &mut [f32], out: &mut [f32]) {
    let n = w.len();
    assert!(g.len() == n && m.len() == n && v.len() == n && out.len() == n, "AdamW buffers differ in length");
    let s = Scalars::of(step);
    if n < 2 * CHUNK {
        update_chunk(&s, w, g, m, v, out);
        return;
    }
    out.par_chunks_mut(CHUNK)
        .zip(m.par_chunks_mut(CHUNK))
        .zip(v.par_chunks_mut(CHUNK))
        .zip(w.par_chunks(CHUNK).zip(g.par_chunks(CHUNK)))
        .for_each(|(((out, m), v), (w, g))| update_chunk(&s, w, g, m, v, out));
}

/// The scalars Burn 0.21's `AdamW` derives from a step's hyperparameters, in float32 as it
/// computes them.
struct Scalars {
    beta1: f32,
    beta2: f32,
    /// `1 - beta1`, `1 - beta2`.
    factor1: f32,
    factor2: f32,
    /// `1 - beta^t`.
    correction1: f32,
    correction2: f32,
    eps: f32,
    /// `1 - lr * weight_decay` (`None` when the decay is 0: the weight is not multiplied).
    keep: Option<f32>,
    lr: f32,
}

impl Scalars {
    fn of(step: &AdamWStep) -> Self {
        let decay_rate = step.lr * step.weight_decay as f64;
        Self {
            beta1: step.beta1,
            beta2: step.beta2,
            factor1: 1.0 - step.beta1,
            factor2: 1.0 - step.beta2,
            correction1: 1.0 - step.beta1.powi(step.time as i32),
            correction2: 1.0 - step.beta2.powi(step.time as i32),
            eps: step.eps,
            keep: (decay_rate != 0.0).then_some((1.0 - decay_rate) as f32),
            lr: step.lr as f32,
        }
    }
}

fn update_chunk(s: &Scalars, w: &[f32], g: &[f32], m: &mut [f32], v: &mut [f32], out: &mut [f32]) {
    for ((((out, m), v), &w), &g) in out.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(w).zip(g) {
        // Burn: moment_1.mul_scalar(beta_1).add(grad.mul_scalar(factor_1)); moment_2 likewise with
        // grad.square(); the first step's `g * factor` equals `0 * beta + g * factor` exactly.
        *m = *m * s.beta1 + g * s.factor1;
        *v = *v * s.beta2 + (g * g) * s.factor2;
        // Burn: m.div_scalar(c1).div(v.div_scalar(c2).sqrt().add_scalar(eps)), then
        // tensor.mul_scalar(1 - decay_rate) - delta.mul_scalar(lr).
        let delta = (*m / s.correction1) / ((*v / s.correction2).sqrt() + s.eps);
        let decayed = match s.keep {
            Some(keep) => w * keep,
            None => w,
        };
        *out = decayed - delta * s.lr;
    }
}
