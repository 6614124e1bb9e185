//! The backends that take every default of [`FusedOps`](crate::FusedOps) (Burn's own ops): the
//! one place where this crate's features name concrete backends besides ndarray's kernels.
//! A GPU kernel for one of these operations goes in an override here.

#[cfg(feature = "flex")]
impl crate::FusedOps for burn::backend::Flex {
    const HOST_MEMORY: bool = true;
}

#[cfg(feature = "wgpu")]
impl crate::FusedOps for burn::backend::Wgpu {}

#[cfg(feature = "cuda")]
impl crate::FusedOps for burn::backend::Cuda {}
