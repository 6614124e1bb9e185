//! The one place where cargo features choose the concrete backend.
//!
//! Everything else in the crate is generic over `B: Backend` (inference) or
//! `B: AutodiffBackend` (training); the binary instantiates it with the aliases below.

use burn::backend::Autodiff;

#[cfg(not(any(feature = "ndarray", feature = "wgpu")))]
compile_error!("burngpt needs a backend: enable the `ndarray` (default) or `wgpu` cargo feature");

/// The inference backend (no autodiff) chosen by the cargo features; `wgpu` wins over `ndarray`.
#[cfg(feature = "wgpu")]
pub type Inference = burn::backend::Wgpu;
/// The inference backend (no autodiff) chosen by the cargo features.
#[cfg(all(feature = "ndarray", not(feature = "wgpu")))]
pub type Inference = burn::backend::NdArray<f32>;

/// The training backend: the inference backend wrapped in autodiff.
pub type Training = Autodiff<Inference>;

/// The device the binary runs on.
pub type Device = burn::tensor::Device<Inference>;

/// Human-readable name of the backend compiled in, printed in the run banner.
pub fn name() -> &'static str {
    #[cfg(feature = "wgpu")]
    return "wgpu";
    #[cfg(all(feature = "ndarray", not(feature = "wgpu")))]
    return "ndarray (CPU)";
}

/// The default device of the compiled backend.
pub fn default_device() -> Device {
    Device::default()
}
