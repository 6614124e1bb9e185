//! Data parallelism's one exchange per step: every gradient of the model, flattened into one host
//! buffer of float32 with a few scalars appended, summed across the ranks by a [`Collective`]
//! (one call per 64 Mi floats), divided by the world size, and put back as gradients.

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Device, Tensor, TensorData};

use anyhow::{bail, Result};

use crate::dist::Collective;

/// Replaces each rank's gradients by their mean over the ranks (each rank's are the mean over its
/// own equal share of the step's tokens, so this is the mean over all of them). `scalars` are
/// summed along with them, not divided (a loss to average, a stop flag to count).
pub fn all_reduce_grads<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: GradientsParams,
    scalars: &mut [f32],
    comm: &dyn Collective,
) -> GradientsParams {
    let mut flat = Flatten::<B> { grads: &grads, buffer: Vec::new(), device: None };
    module.visit(&mut flat);
    let Flatten { mut buffer, device, .. } = flat;
    let n_grads = buffer.len();
    buffer.extend_from_slice(scalars);
    comm.sum_f32(&mut buffer);
    scalars.copy_from_slice(&buffer[n_grads..]);
    let scale = 1.0 / comm.size() as f32;
    buffer.truncate(n_grads);
    buffer.iter_mut().for_each(|g| *g *= scale);
    let Some(device) = device else { return grads };
    let mut restore = Restore::<B> { grads, buffer: &buffer, offset: 0, device };
    module.visit(&mut restore);
    restore.grads
}

/// Fails unless every rank holds the same parameters: a checksum of their values, compared as
/// the minimum and maximum over the ranks. `when` says at which point, for the message.
pub fn check_agreement<B: AutodiffBackend, M: AutodiffModule<B>>(module: &M, comm: &dyn Collective, when: &str) -> Result<()> {
    if comm.size() == 1 {
        return Ok(());
    }
    let mut hasher = blake3::Hasher::new();
    for (_, values) in crate::model::named_values::<B::InnerBackend, _>(&module.valid()) {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        hasher.update(&bytes);
    }
    let mut first = [0u8; 8];
    first.copy_from_slice(&hasher.finalize().as_bytes()[..8]);
    let (min, max) = comm.min_max_u64(u64::from_le_bytes(first));
    if min != max {
        bail!(
            "the {} processes hold different parameters {when}: their updates went apart (a reduction that is not \
             bit-identical on every rank, or different builds); stop and report it",
            comm.size()
        );
    }
    Ok(())
}

/// Appends each parameter's gradient to `buffer`, in the module's visiting order (the same on
/// every rank).
struct Flatten<'a, B: AutodiffBackend> {
    grads: &'a GradientsParams,
    buffer: Vec<f32>,
    device: Option<Device<B::InnerBackend>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Flatten<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
            self.device.get_or_insert_with(|| g.device());
            self.buffer.extend(g.into_data().iter::<f32>());
        }
    }
}

/// Puts the reduced values back, in the same order, as each parameter's gradient.
struct Restore<'a, B: AutodiffBackend> {
    grads: GradientsParams,
    buffer: &'a [f32],
    offset: usize,
    device: Device<B::InnerBackend>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Restore<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            let shape = g.dims();
            let n: usize = shape.iter().product();
            let values = self.buffer[self.offset..self.offset + n].to_vec();
            self.offset += n;
            let reduced = Tensor::<B::InnerBackend, D>::from_data(TensorData::new(values, shape), &self.device);
            self.grads.register::<B::InnerBackend, D>(param.id, reduced);
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::{Autodiff, NdArray};
    use burn::module::Param;
    use burn::optim::GradientsParams;
    use burn::tensor::Tensor;

    use super::all_reduce_grads;
    use crate::dist::Collective;
    use crate::test_util::TwoParams;

    type NB = NdArray<f32>;
    type AB = Autodiff<NB>;

    /// Three ranks in one process: rank 1 and rank 2 hold `others` times this rank's values.
    struct ThreeRanks {
        others: f32,
    }

    impl Collective for ThreeRanks {
        fn rank(&self) -> usize {
            0
        }
        fn size(&self) -> usize {
            3
        }
        fn sum_f32(&self, values: &mut [f32]) {
            values.iter_mut().for_each(|v| *v += 2.0 * self.others * *v);
        }
        fn min_max_u64(&self, value: u64) -> (u64, u64) {
            (value, value)
        }
        fn barrier(&self) {}
        fn hosts(&self) -> Vec<String> {
            vec!["a".into(); 3]
        }
        fn abort(&self, code: i32) -> ! {
            panic!("abort({code})")
        }
    }

    #[test]
    fn gradients_become_the_mean_over_ranks_and_scalars_the_sum() {
        let dev = Default::default();
        let module = TwoParams::<AB> {
            g1: Param::from_tensor(Tensor::from_floats([1.0, 2.0], &dev)),
            g2: Param::from_tensor(Tensor::from_floats([[3.0, 4.0]], &dev)),
        };
        // d/dg1 = [2, 0], d/dg2 = [[0, 6]].
        let loss = (module.g1.val() * Tensor::from_floats([2.0, 0.0], &dev)).sum()
            + (module.g2.val() * Tensor::from_floats([[0.0, 6.0]], &dev)).sum();
        let grads = GradientsParams::from_grads::<AB, _>(loss.backward(), &module);
        // The other two ranks have twice these gradients: the mean is (1 + 2 + 2) / 3 = 5/3 of them.
        let mut scalars = [1.5f32, 1.0];
        let grads = all_reduce_grads::<AB, _>(&module, grads, &mut scalars, &ThreeRanks { others: 2.0 });
        let a: Vec<f32> = grads.get::<NB, 1>(module.g1.id).expect("g1").into_data().iter::<f32>().collect();
        let b: Vec<f32> = grads.get::<NB, 2>(module.g2.id).expect("g2").into_data().iter::<f32>().collect();
        let third = 1.0f32 / 3.0;
        assert_eq!(a, vec![10.0 * third, 0.0]);
        assert_eq!(b, vec![0.0, 30.0 * third]);
        assert_eq!(scalars, [7.5, 5.0], "summed, not averaged");
    }
}
