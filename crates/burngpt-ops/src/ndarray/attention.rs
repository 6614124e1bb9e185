//! Causal scaled dot-product attention with its backward, one (batch, head) pair per task.
//!
//! Burn's `attention` on ndarray is the trait's fallback: a batched `q k^T`, a scale, a causal mask
//! built from integer ranges and applied with `mask_fill`, a five-pass softmax and a batched `p v`,
//! each over the whole `[batch, heads, seq_q, seq_k]` score tensor, and under autodiff every one of
//! them is a node with its own backward. Here each pair is computed in tiles of [`TILE`] query rows:
//! a tile multiplies only against the keys its last row can see (block-causal: for 128 positions
//! 62.5% of the full products), its softmax is computed row by row from the scratch scores, and
//! the probabilities `p` are written (zero where masked) for the backward pass, which is
//!
//! ```text
//! dv = p^T do        dp = do v^T        ds = scale * p * (dp - rowsum(p * dp))
//! dq = ds k          dk = ds^T q
//! ```
//!
//! (`rowsum(p * dp)` over the visible keys). The output is laid out as `[batch, seq_q, heads,
//! val_dim]` in memory and returned as a `[batch, heads, seq_q, val_dim]` view, so the usual
//! `swap_dims(1, 2)` back to `[batch, seq_q, d_model]` is a view and the reshape after it copies
//! nothing. Query `i` sees key `j` when `j <= i + seq_k - seq_q` (the fallback's bottom-right
//! alignment); a query that sees no key gets zero probabilities and a zero output, as in the
//! fallback.

use burn::tensor::ElementConversion;
use burn_ndarray::{FloatNdArrayElement, SharedArray};
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, Axis, Ix4};
use rayon::prelude::*;

use super::fast_math::FastMath;
use super::gemm_into;
use super::softmax::sum8;

/// Query rows per tile: a tile's products stop at the last key its last row sees.
const TILE: usize = 32;

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
        }
    }

    /// How many keys (a prefix) query `i` sees.
    fn visible(&self, i: usize) -> usize {
        if self.causal {
            (i + 1 + self.seq_k).saturating_sub(self.seq_q).min(self.seq_k)
        } else {
            self.seq_k
        }
    }

    /// The first query that sees key `j` (`seq_q` when none does).
    fn first_query(&self, j: usize) -> usize {
        if self.causal { (j + self.seq_q).saturating_sub(self.seq_k).min(self.seq_q) } else { 0 }
    }

    /// Row tiles `(r0, r1, keys seen by row r1 - 1)`.
    fn row_tiles(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        (0..self.seq_q).step_by(TILE).map(|r0| {
            let r1 = (r0 + TILE).min(self.seq_q);
            (r0, r1, self.visible(r1 - 1))
        })
    }

    /// Key tiles `(c0, c1, first query that sees key c0)`.
    fn key_tiles(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        (0..self.seq_k).step_by(TILE).map(|c0| (c0, (c0 + TILE).min(self.seq_k), self.first_query(c0)))
    }
}

/// `softmax(q k^T * scale) v` and the probabilities.
///
/// # Shapes
/// `q: [batch, heads, seq_q, head_dim]`, `k: [batch, heads, seq_k, head_dim]`,
/// `v: [batch, heads, seq_k, val_dim]` -> (`[batch, heads, seq_q, val_dim]`,
/// `[batch, heads, seq_q, seq_k]`)
pub(crate) fn attention_with_probs<E: FloatNdArrayElement + FastMath>(
    q: SharedArray<E>,
    k: SharedArray<E>,
    v: SharedArray<E>,
) -> (SharedArray<E>, SharedArray<E>) {
    let g = Geometry::new(&q, &k, &v);
    let (q, k, v) = (as4(&q), as4(&k), as4(&v));
    // Zero-filled: masked probabilities and the rows of queries that see no key stay zero.
    let mut out = ndarray::Array4::<E>::zeros((g.batch, g.seq_q, g.heads, g.val_dim));
    let mut probs = ndarray::Array4::<E>::zeros((g.batch, g.heads, g.seq_q, g.seq_k));
    // Each task writes its own (b, h) slices: out[b, .., h, ..] and probs[b, h, .., ..].
    out.axis_iter_mut(Axis(0)).into_par_iter().zip(probs.axis_iter_mut(Axis(0))).enumerate().for_each(
        |(b, (mut out_b, mut probs_b))| {
            out_b.axis_iter_mut(Axis(1)).into_par_iter().zip(probs_b.axis_iter_mut(Axis(0))).enumerate().for_each(
                |(h, (o, p))| {
                    let at = s![b, h, .., ..];
                    forward_pair(&g, q.slice(at), k.slice(at), v.slice(at), p, o);
                },
            );
        },
    );
    let out = out.permuted_axes([0, 2, 1, 3]).into_shared().into_dyn();
    (out, probs.into_shared().into_dyn())
}

fn forward_pair<E: FloatNdArrayElement + FastMath>(
    g: &Geometry<E>,
    q: ArrayView2<E>,
    k: ArrayView2<E>,
    v: ArrayView2<E>,
    mut p: ArrayViewMut2<E>,
    mut o: ArrayViewMut2<E>,
) {
    let mut scores = Array2::<E>::zeros((TILE, g.seq_k));
    for (r0, r1, n) in g.row_tiles() {
        if n == 0 {
            continue; // `p` and `o` stay zero
        }
        let mut tile = scores.slice_mut(s![..r1 - r0, ..n]);
        gemm(&q.slice(s![r0..r1, ..]), &k.slice(s![..n, ..]).t(), &mut tile);
        for i in r0..r1 {
            let vis = g.visible(i);
            let row = tile.row(i - r0);
            let mut p_row = p.row_mut(i);
            let (Some(x), Some(p_row)) = (row.as_slice(), p_row.as_slice_mut()) else {
                unreachable!("rows of standard-layout arrays are contiguous")
            };
            softmax_row(&x[..vis], g.scale, &mut p_row[..vis]);
        }
        gemm(&p.slice(s![r0..r1, ..n]), &v.slice(s![..n, ..]), &mut o.slice_mut(s![r0..r1, ..]));
    }
}

/// `p = softmax(x * scale)`.
fn softmax_row<E: FloatNdArrayElement + FastMath>(x: &[E], scale: E, p: &mut [E]) {
    let Some(&first) = x.first() else { return };
    let max = x.iter().fold(first * scale, |m, &v| {
        let v = v * scale;
        if v > m { v } else { m }
    });
    for (p, &v) in p.iter_mut().zip(x) {
        *p = (v * scale - max).exp_fast();
    }
    let sum = sum8(p);
    for p in p.iter_mut() {
        *p = *p / sum;
    }
}

/// Gradients with respect to `q`, `k` and `v` from the probabilities of [`attention_with_probs`]
/// and the output's gradient `grad` (`[batch, heads, seq_q, val_dim]`).
pub(crate) fn attention_backward<E: FloatNdArrayElement>(
    q: SharedArray<E>,
    k: SharedArray<E>,
    v: SharedArray<E>,
    probs: SharedArray<E>,
    grad: SharedArray<E>,
) -> (SharedArray<E>, SharedArray<E>, SharedArray<E>) {
    let g = Geometry::new(&q, &k, &v);
    let (q4, k4, v4, p4, do4) = (as4(&q), as4(&k), as4(&v), as4(&probs), as4(&grad));
    let pairs = |x: &ndarray::ArrayView4<E>| {
        let (_, _, rows, cols) = x.dim();
        ndarray::Array3::<E>::zeros((g.batch * g.heads, rows, cols))
    };
    let (mut dq, mut dk, mut dv) = (pairs(&q4), pairs(&k4), pairs(&v4));
    // Each task writes its own (b, h) pair of the three gradients.
    dq.axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(dk.axis_iter_mut(Axis(0)))
        .zip(dv.axis_iter_mut(Axis(0)))
        .enumerate()
        .for_each(|(bh, ((dq, dk), dv))| {
            let at = s![bh / g.heads, bh % g.heads, .., ..];
            let inputs = [q4.slice(at), k4.slice(at), v4.slice(at), p4.slice(at), do4.slice(at)];
            backward_pair(&g, inputs, dq, dk, dv);
        });
    let shaped = |x: ndarray::Array3<E>, like: &ndarray::ArrayView4<E>| match x.into_shape_with_order(like.raw_dim()) {
        Ok(x) => x.into_shared().into_dyn(),
        Err(_) => unreachable!("same number of elements"),
    };
    (shaped(dq, &q4), shaped(dk, &k4), shaped(dv, &v4))
}

fn backward_pair<E: FloatNdArrayElement>(
    g: &Geometry<E>,
    [q, k, v, p, d_o]: [ArrayView2<E>; 5],
    mut dq: ArrayViewMut2<E>,
    mut dk: ArrayViewMut2<E>,
    mut dv: ArrayViewMut2<E>,
) {
    // dv = p^T do, by key tiles (queries before the tile's first viewer contribute zeros).
    for (c0, c1, i0) in g.key_tiles() {
        if i0 < g.seq_q {
            gemm(&p.slice(s![i0.., c0..c1]).t(), &d_o.slice(s![i0.., ..]), &mut dv.slice_mut(s![c0..c1, ..]));
        }
    }
    // ds = scale * p * (dp - rowsum(p * dp)) with dp = do v^T; masked entries stay zero.
    let mut ds = Array2::<E>::zeros((g.seq_q, g.seq_k));
    for (r0, r1, n) in g.row_tiles() {
        if n == 0 {
            continue;
        }
        gemm(&d_o.slice(s![r0..r1, ..]), &v.slice(s![..n, ..]).t(), &mut ds.slice_mut(s![r0..r1, ..n]));
        for i in r0..r1 {
            let vis = g.visible(i);
            let p_row = p.row(i);
            let mut ds_row = ds.row_mut(i);
            let (Some(p_row), Some(ds_row)) = (p_row.as_slice(), ds_row.as_slice_mut()) else {
                unreachable!("probabilities and scratch rows are contiguous")
            };
            let (seen, unseen) = ds_row[..n].split_at_mut(vis);
            let dot = dot(&p_row[..vis], seen);
            for (d, &p) in seen.iter_mut().zip(p_row) {
                *d = g.scale * p * (*d - dot);
            }
            unseen.fill(E::zero());
        }
        gemm(&ds.slice(s![r0..r1, ..n]), &k.slice(s![..n, ..]), &mut dq.slice_mut(s![r0..r1, ..]));
    }
    // dk = ds^T q, by key tiles.
    for (c0, c1, i0) in g.key_tiles() {
        if i0 < g.seq_q {
            gemm(&ds.slice(s![i0.., c0..c1]).t(), &q.slice(s![i0.., ..]), &mut dk.slice_mut(s![c0..c1, ..]));
        }
    }
}

/// `out = lhs rhs` on the calling thread (the pairs are the parallel dimension).
fn gemm<E: FloatNdArrayElement>(lhs: &ArrayView2<E>, rhs: &ArrayView2<E>, out: &mut ArrayViewMut2<E>) {
    gemm_into(lhs, rhs, out);
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
