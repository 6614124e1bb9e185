//! Element-wise maps of large arrays on every rayon thread (GELU and its derivative).

use burn_ndarray::SharedArray;
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
    match (unique, array.len() >= PAR_MIN) {
        (true, true) => {
            array.par_mapv_inplace(f);
            array
        }
        (true, false) => {
            array.mapv_inplace(f);
            array
        }
        (false, true) => Zip::from(&array).par_map_collect(|&a| f(a)).into_shared(),
        (false, false) => Zip::from(&array).map_collect(|&a| f(a)).into_shared(),
    }
}

/// `f(lhs, rhs)` element-wise where the result has `lhs`'s shape (`rhs` equal or broadcast to it);
/// `Err(lhs)` otherwise.
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
    Ok(match (lhs.is_unique(), lhs.len() >= PAR_MIN) {
        (true, true) => {
            Zip::from(&mut lhs).and(rhs).par_for_each(|a, &b| *a = f(*a, b));
            lhs
        }
        (true, false) => {
            Zip::from(&mut lhs).and(rhs).for_each(|a, &b| *a = f(*a, b));
            lhs
        }
        (false, true) => Zip::from(&lhs).and(rhs).par_map_collect(|&a, &b| f(a, b)).into_shared(),
        (false, false) => Zip::from(&lhs).and(rhs).map_collect(|&a, &b| f(a, b)).into_shared(),
    })
}
