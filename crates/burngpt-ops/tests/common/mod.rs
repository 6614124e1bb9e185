//! The backends each test runs on: every one compiled in (ndarray: the crate's kernels; flex and
//! wgpu: the defaults built from Burn's ops), each under `Autodiff`.

/// One `#[test]` per backend feature, each calling `$check::<Autodiff<Backend>>(name)`.
#[macro_export]
macro_rules! backend_tests {
    ($check:ident) => {
        #[cfg(feature = "ndarray")]
        #[test]
        fn ndarray_kernels() {
            $check::<burn::backend::Autodiff<burn::backend::NdArray<f32>>>("ndarray");
        }

        #[cfg(feature = "flex")]
        #[test]
        fn flex_defaults() {
            $check::<burn::backend::Autodiff<burn::backend::Flex>>("flex");
        }

        #[cfg(feature = "wgpu")]
        #[test]
        fn wgpu_defaults() {
            $check::<burn::backend::Autodiff<burn::backend::Wgpu>>("wgpu");
        }
    };
}

/// A smooth, sign-changing test input of `n` values (not every test file uses it).
#[allow(dead_code)]
pub fn host(n: usize, phase: f32) -> Vec<f32> {
    (0..n).map(|i| ((i as f32) * 0.731 + phase).sin() * 3.0 + 0.01).collect()
}
