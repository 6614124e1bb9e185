//! burngpt patch: element-wise maps of large tensors on every rayon thread.
//!
//! Upstream runs every element-wise op on one thread (`mapv_into`, `&a - &b`), so on a 2-core
//! machine half the CPU idles through the non-matmul half of a training step. Element-wise maps
//! have no reductions, so splitting them across threads gives bit-identical results. These
//! helpers also avoid upstream's copy of a shared (autodiff-held) operand before an in-place map.

use crate::SharedArray;
use ndarray::Zip;

/// Below this many elements a map stays on the calling thread (rayon's dispatch costs a few
/// microseconds; 32K elements take about as long on one thread).
pub(crate) const PAR_MIN: usize = 1 << 15;

/// `f` applied to every element: in place when the buffer is not shared, else into a new array.
pub(crate) fn map_unary<E, F>(mut array: SharedArray<E>, f: F) -> SharedArray<E>
where
    E: Copy + Send + Sync,
    F: Fn(E) -> E + Send + Sync,
{
    let unique = array.is_unique();
    #[cfg(feature = "multi-threads")]
    if array.len() >= PAR_MIN {
        return if unique {
            array.par_mapv_inplace(f);
            array
        } else {
            Zip::from(&array).par_map_collect(|&a| f(a)).into_shared()
        };
    }
    if unique {
        array.mapv_inplace(f);
        array
    } else {
        Zip::from(&array).map_collect(|&a| f(a)).into_shared()
    }
}

/// `f(lhs, rhs)` element-wise where the result has `lhs`'s shape (`rhs` equal or broadcast to it);
/// `Err(lhs)` otherwise (a broadcast `lhs` stays with upstream's code).
pub(crate) fn map_binary<E, F>(
    mut lhs: SharedArray<E>,
    rhs: &SharedArray<E>,
    f: F,
) -> Result<SharedArray<E>, SharedArray<E>>
where
    E: Copy + Send + Sync,
    F: Fn(E, E) -> E + Send + Sync,
{
    let Some(rhs) = rhs.broadcast(lhs.raw_dim()) else {
        return Err(lhs);
    };
    let rhs = &rhs;
    let unique = lhs.is_unique();
    #[cfg(feature = "multi-threads")]
    if lhs.len() >= PAR_MIN {
        return Ok(if unique {
            Zip::from(&mut lhs).and(rhs).par_for_each(|a, &b| *a = f(*a, b));
            lhs
        } else {
            Zip::from(&lhs).and(rhs).par_map_collect(|&a, &b| f(a, b)).into_shared()
        });
    }
    Ok(if unique {
        Zip::from(&mut lhs).and(rhs).for_each(|a, &b| *a = f(*a, b));
        lhs
    } else {
        Zip::from(&lhs).and(rhs).map_collect(|&a, &b| f(a, b)).into_shared()
    })
}

/// `array` copied into standard (row-major) layout, on all threads when large. Upstream's
/// `as_standard_layout` walks the strided source on one thread.
pub(crate) fn to_standard_layout<E>(array: &SharedArray<E>) -> ndarray::ArrayD<E>
where
    E: Copy + Send + Sync,
{
    #[cfg(feature = "multi-threads")]
    if array.len() >= PAR_MIN {
        let mut out = ndarray::ArrayD::<E>::uninit(array.raw_dim());
        Zip::from(&mut out).and(array).par_for_each(|o, &a| {
            o.write(a);
        });
        // Safety: the zip visited every element of `out` (same shape as `array`) and wrote it.
        return unsafe { out.assume_init() };
    }
    array.as_standard_layout().into_owned()
}
