//! Causal scaled dot-product attention with its backward, one (batch, head) pair per task.
//!
//! Burn's `attention` on ndarray is the trait's fallback: a batched `q k^T`, a scale, a causal mask
//! built from integer ranges and applied with `mask_fill`, a five-pass softmax and a batched `p v`,
//! each over the whole `[batch, heads, seq_q, seq_k]` score tensor, and under autodiff every one of
//! them is a node with its own backward. Here each pair is computed in tiles of query rows: a tile
//! multiplies only against the keys its last row can see (block-causal: for 128 positions 62.5% of
//! the full products), and its softmax is computed row by row in a scratch tile. Nothing of size
//! `seq_q * seq_k` outlives the call: the forward pass keeps, per query row, the maximum `m` of its
//! scaled scores and `l = sum(exp(s - m))` (FlashAttention's statistics), and the backward pass
//! recomputes each tile's probabilities `p = exp(s - m) / l` from them, then
//!
//! ```text
//! dv += p^T do        dp = do v^T        ds = scale * p * (dp - rowsum(p * dp))
//! dq = ds k           dk += ds^T q
//! ```
//!
//! (`rowsum(p * dp)` over the visible keys; `dv` and `dk` are summed over the row tiles). The
//! output is laid out as `[batch, seq_q, heads, val_dim]` in memory and returned as a
//! `[batch, heads, seq_q, val_dim]` view, so the usual `swap_dims(1, 2)` back to
//! `[batch, seq_q, d_model]` is a view and the reshape after it copies nothing. Query `i` sees key
//! `j` when `j <= i + seq_k - seq_q` (the fallback's bottom-right alignment); a query that sees no
//! key gets zero probabilities and a zero output, as in the fallback. With `bf16` (float32 arrays)
//! the products go through the bfloat16 GEMM on 256-row tiles (it packs its operands per product).

use std::any::TypeId;

use burn::tensor::ElementConversion;
use burn_ndarray::{FloatNdArrayElement, SharedArray};
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, Axis, Ix4};
use rayon::prelude::*;

use super::fast_math::FastMath;
use super::softmax::sum8;
use super::bf16_gemm::{gemm_bf16, MatMut, MatRef};
use super::{gemm_add_into, gemm_into};

/// Query rows per tile of the forward pass: a tile's products stop at the last key its last row
/// sees.
const TILE: usize = 32;

/// Query rows per tile of the backward pass: its `dv` and `dk` products sum over a tile's rows,
/// and 64 rows keep those products efficient while a tile's scratch stays in the cache.
const BACKWARD_TILE: usize = 64;

/// Query rows per tile with the bfloat16 GEMM, forward and backward ([`Geometry::tile_rows`]).
const TILE_BF16: usize = 256;

/// Shapes and options shared by every (batch, head) pair.
#[derive(Clone, Copy)]
struct Geometry<E> {
    batch: usize,
    heads: usize,
    seq_q: usize,
    seq_k: usize,
    val_dim: usize,
    scale: E,
    causal: bool,
    /// Products on bfloat16-rounded operands with float32 sums (float32 arrays only).
    bf16: bool,
}

impl<E: FloatNdArrayElement> Geometry<E> {
    fn new(q: &SharedArray<E>, k: &SharedArray<E>, v: &SharedArray<E>) -> Self {
        let (qs, ks, vs) = (q.shape(), k.shape(), v.shape());
        assert!(
            qs.len() == 4 && ks.len() == 4 && vs.len() == 4,
            "attention: query, key and value must have 4 dimensions"
        );
        assert!(
            qs[..2] == ks[..2] && ks[..3] == vs[..3] && qs[3] == ks[3],
            "attention: incompatible shapes {qs:?}, {ks:?}, {vs:?}"
        );
        let scale = 1.0 / (qs[3] as f64).sqrt();
        Self {
            batch: qs[0],
            heads: qs[1],
            seq_q: qs[2],
            seq_k: ks[2],
            val_dim: vs[3],
            scale: scale.elem(),
            causal: true,
            bf16: false,
        }
    }

    /// `out = lhs rhs` (or `out += lhs rhs` when `accumulate`) on the calling thread: with `bf16`
    /// the bfloat16 GEMM (operands rounded as it packs them, float32 sums), else float32 `gemm`.
    fn gemm(&self, lhs: &ArrayView2<E>, rhs: &ArrayView2<E>, out: &mut ArrayViewMut2<E>, accumulate: bool) {
        if self.bf16 {
            assert!(TypeId::of::<E>() == TypeId::of::<f32>(), "attention: bfloat16 products on float32 only");
            let strided = |v: &ArrayView2<E>| MatRef::of(v.as_ptr().cast::<f32>(), v.shape(), v.strides());
            let c = MatMut::of(out.as_mut_ptr().cast::<f32>(), out.shape(), out.strides());
            // Safety: `E` is f32 (checked), the views are valid for their shapes and strides, and
            // `out` is a scratch tile or gradient that overlaps neither input.
            unsafe { gemm_bf16(strided(lhs), strided(rhs), c, accumulate, false) };
        } else if accumulate {
            gemm_add_into(lhs, rhs, out);
        } else {
            gemm_into(lhs, rhs, out);
        }
    }

    /// Query rows per tile: the bfloat16 GEMM packs its operands for every product, so its
    /// tiles are longer and pack the keys and values fewer times.
    fn tile_rows(&self, float32: usize) -> usize {
        if self.bf16 { TILE_BF16 } else { float32 }
    }

    /// How many keys (a prefix) query `i` sees.
    fn visible(&self, i: usize) -> usize {
        if self.causal {
            (i + 1 + self.seq_k).saturating_sub(self.seq_q).min(self.seq_k)
        } else {
            self.seq_k
        }
    }

    /// Row tiles of `tile` rows: `(r0, r1, keys seen by row r1 - 1)`.
    fn row_tiles(&self, tile: usize) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        (0..self.seq_q).step_by(tile).map(move |r0| {
            let r1 = (r0 + tile).min(self.seq_q);
            (r0, r1, self.visible(r1 - 1))
        })
    }
}

/// `softmax(q k^T * scale) v` and the rows' statistics (max, sum of exponentials).
///
/// # Shapes
/// `q: [batch, heads, seq_q, head_dim]`, `k: [batch, heads, seq_k, head_dim]`,
/// `v: [batch, heads, seq_k, val_dim]` -> (`[batch, heads, seq_q, val_dim]`,
/// `[batch, heads, seq_q, 2]`)
pub(crate) fn attention_with_stats<E: FloatNdArrayElement + FastMath>(
    q: SharedArray<E>,
    k: SharedArray<E>,
    v: SharedArray<E>,
    bf16: bool,
) -> (SharedArray<E>, SharedArray<E>) {
    let g = Geometry { bf16, ..Geometry::new(&q, &k, &v) };
    let (q, k, v) = (as4(&q), as4(&k), as4(&v));
    // Zero-filled: the rows of queries that see no key stay zero.
    let mut out = ndarray::Array4::<E>::zeros((g.batch, g.seq_q, g.heads, g.val_dim));
    let mut stats = ndarray::Array4::<E>::zeros((g.batch, g.heads, g.seq_q, 2));
    // Each task writes its own (b, h) slices: out[b, .., h, ..] and stats[b, h, .., ..].
    out.axis_iter_mut(Axis(0)).into_par_iter().zip(stats.axis_iter_mut(Axis(0))).enumerate().for_each(
        |(b, (mut out_b, mut stats_b))| {
            out_b.axis_iter_mut(Axis(1)).into_par_iter().zip(stats_b.axis_iter_mut(Axis(0))).enumerate().for_each(
                |(h, (o, m))| {
                    let at = s![b, h, .., ..];
                    forward_pair(&g, q.slice(at), k.slice(at), v.slice(at), m, o);
                },
            );
        },
    );
    let out = out.permuted_axes([0, 2, 1, 3]).into_shared().into_dyn();
    (out, stats.into_shared().into_dyn())
}

fn forward_pair<E: FloatNdArrayElement + FastMath>(
    g: &Geometry<E>,
    q: ArrayView2<E>,
    k: ArrayView2<E>,
    v: ArrayView2<E>,
    mut stats: ArrayViewMut2<E>,
    mut o: ArrayViewMut2<E>,
) {
    let tile_rows = g.tile_rows(TILE);
    let mut scores = Array2::<E>::zeros((tile_rows, g.seq_k));
    for (r0, r1, n) in g.row_tiles(tile_rows) {
        if n == 0 {
            stats.slice_mut(s![r0..r1, 0]).fill(f32::MIN.elem()); // `o` stays zero
            continue;
        }
        let mut tile = scores.slice_mut(s![..r1 - r0, ..n]);
        g.gemm(&q.slice(s![r0..r1, ..]), &k.slice(s![..n, ..]).t(), &mut tile, false);
        for i in r0..r1 {
            let vis = g.visible(i);
            let (max, sum) = softmax_row(&mut row_slice(&mut tile, i - r0)[..n], vis, g.scale);
            stats[[i, 0]] = max;
            stats[[i, 1]] = sum;
        }
        g.gemm(&tile.view(), &v.slice(s![..n, ..]), &mut o.slice_mut(s![r0..r1, ..]), false);
    }
}

/// Overwrites the scores `x[..vis]` with `p = exp(x * scale - max) / sum` and `x[vis..]` with
/// zeros; returns `(max, sum)`.
fn softmax_row<E: FloatNdArrayElement + FastMath>(x: &mut [E], vis: usize, scale: E) -> (E, E) {
    let (seen, unseen) = x.split_at_mut(vis);
    unseen.fill(E::zero());
    let Some(&first) = seen.first() else { return (f32::MIN.elem(), E::zero()) };
    let max = seen.iter().fold(first * scale, |m, &v| {
        let v = v * scale;
        if v > m { v } else { m }
    });
    for p in seen.iter_mut() {
        *p = (*p * scale - max).exp_fast();
    }
    let sum = sum8(seen);
    for p in seen.iter_mut() {
        *p = *p / sum;
    }
    (max, sum)
}

/// Overwrites the scores `x[..vis]` with the probabilities `exp(x * scale - max) / sum` of
/// statistics saved by [`softmax_row`] (the same arithmetic) and `x[vis..]` with zeros.
fn probabilities_row<E: FloatNdArrayElement + FastMath>(x: &mut [E], vis: usize, scale: E, max: E, sum: E) {
    let (seen, unseen) = x.split_at_mut(vis);
    unseen.fill(E::zero());
    for p in seen.iter_mut() {
        *p = (*p * scale - max).exp_fast() / sum;
    }
}

/// Row `i` of a tile whose rows are contiguous (a column range of a standard-layout array).
fn row_slice<'a, E>(tile: &'a mut ArrayViewMut2<E>, i: usize) -> &'a mut [E] {
    match tile.row_mut(i).into_slice() {
        Some(row) => row,
        None => unreachable!("rows of standard-layout arrays are contiguous"),
    }
}

/// Gradients with respect to `q`, `k` and `v` from the inputs, the rows' statistics of
/// [`attention_with_stats`] and the output's gradient `grad` (`[batch, heads, seq_q, val_dim]`).
pub(crate) fn attention_backward<E: FloatNdArrayElement + FastMath>(
    q: SharedArray<E>,
    k: SharedArray<E>,
    v: SharedArray<E>,
    stats: SharedArray<E>,
    grad: SharedArray<E>,
    bf16: bool,
) -> (SharedArray<E>, SharedArray<E>, SharedArray<E>) {
    let g = Geometry { bf16, ..Geometry::new(&q, &k, &v) };
    let (q4, k4, v4, m4, do4) = (as4(&q), as4(&k), as4(&v), as4(&stats), as4(&grad));
    let pairs = |x: &ndarray::ArrayView4<E>| {
        let (_, _, rows, cols) = x.dim();
        ndarray::Array3::<E>::zeros((g.batch * g.heads, rows, cols))
    };
    // Zero-filled: `dv` and `dk` are sums over row tiles, and keys no query sees get zeros.
    let (mut dq, mut dk, mut dv) = (pairs(&q4), pairs(&k4), pairs(&v4));
    // Each task writes its own (b, h) pair of the three gradients.
    dq.axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(dk.axis_iter_mut(Axis(0)))
        .zip(dv.axis_iter_mut(Axis(0)))
        .enumerate()
        .for_each(|(bh, ((dq, dk), dv))| {
            let at = s![bh / g.heads, bh % g.heads, .., ..];
            let inputs = [q4.slice(at), k4.slice(at), v4.slice(at), m4.slice(at), do4.slice(at)];
            backward_pair(&g, inputs, dq, dk, dv);
        });
    let shaped = |x: ndarray::Array3<E>, like: &ndarray::ArrayView4<E>| match x.into_shape_with_order(like.raw_dim()) {
        Ok(x) => x.into_shared().into_dyn(),
        Err(_) => unreachable!("same number of elements"),
    };
    (shaped(dq, &q4), shaped(dk, &k4), shaped(dv, &v4))
}

fn backward_pair<E: FloatNdArrayElement + FastMath>(
    g: &Geometry<E>,
    [q, k, v, stats, d_o]: [ArrayView2<E>; 5],
    mut dq: ArrayViewMut2<E>,
    mut dk: ArrayViewMut2<E>,
    mut dv: ArrayViewMut2<E>,
) {
    let tile_rows = g.tile_rows(BACKWARD_TILE);
    let mut p_scratch = Array2::<E>::zeros((tile_rows, g.seq_k));
    let mut ds_scratch = Array2::<E>::zeros((tile_rows, g.seq_k));
    for (r0, r1, n) in g.row_tiles(tile_rows) {
        if n == 0 {
            continue; // these queries see no key: zero gradients
        }
        let (rows, q_t, do_t) = (s![r0..r1, ..], q.slice(s![r0..r1, ..]), d_o.slice(s![r0..r1, ..]));
        let (k_n, v_n) = (k.slice(s![..n, ..]), v.slice(s![..n, ..]));
        // p, recomputed from the scores and the saved statistics.
        let mut p = p_scratch.slice_mut(s![..r1 - r0, ..n]);
        g.gemm(&q_t, &k_n.t(), &mut p, false);
        for i in r0..r1 {
            probabilities_row(row_slice(&mut p, i - r0), g.visible(i), g.scale, stats[[i, 0]], stats[[i, 1]]);
        }
        g.gemm(&p.t(), &do_t, &mut dv.slice_mut(s![..n, ..]), true); // dv += p^T do
        // ds = scale * p * (dp - rowsum(p * dp)), written over dp = do v^T; masked entries zero.
        let mut ds = ds_scratch.slice_mut(s![..r1 - r0, ..n]);
        g.gemm(&do_t, &v_n.t(), &mut ds, false);
        for i in r0..r1 {
            let vis = g.visible(i);
            let p_row = &row_slice(&mut p, i - r0)[..vis];
            let (seen, unseen) = row_slice(&mut ds, i - r0).split_at_mut(vis);
            let dot = dot(p_row, seen);
            for (d, &p) in seen.iter_mut().zip(p_row) {
                *d = g.scale * p * (*d - dot);
            }
            unseen.fill(E::zero());
        }
        g.gemm(&ds.view(), &k_n, &mut dq.slice_mut(rows), false); // dq = ds k
        g.gemm(&ds.t(), &q_t, &mut dk.slice_mut(s![..n, ..]), true); // dk += ds^T q
    }
}

/// A `[.., .., .., ..]` view of a 4-dimensional array.
fn as4<E: FloatNdArrayElement>(x: &SharedArray<E>) -> ndarray::ArrayView4<'_, E> {
    match x.view().into_dimensionality::<Ix4>() {
        Ok(view) => view,
        Err(_) => unreachable!("checked to have 4 dimensions"),
    }
}

/// `sum(a * b)` in eight interleaved partial sums.
fn dot<E: FloatNdArrayElement>(a: &[E], b: &[E]) -> E {
    let mut acc = [E::zero(); 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail = ca.remainder().iter().zip(cb.remainder()).fold(E::zero(), |s, (&x, &y)| s + x * y);
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}
