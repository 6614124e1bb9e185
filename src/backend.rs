//! The one place where cargo features choose the concrete backend.
//!
//! Everything else in the crate is generic over `B: Backend` (inference) or
//! `B: AutodiffBackend` (training); the binary instantiates it with the aliases below.
//! When several backend features are enabled the most capable wins:
//! `cuda` > `wgpu` > `flex` > `ndarray`, so `--features wgpu` works on top of the default.

use anyhow::{bail, Result};
use burn::backend::Autodiff;

use crate::host_memory::{self, MemoryCheck, AVAILABLE_ENV};

#[cfg(not(any(feature = "ndarray", feature = "flex", feature = "wgpu", feature = "cuda")))]
compile_error!("burngpt needs a backend: enable one of the cargo features `ndarray` (default), `flex`, `wgpu` or `cuda`");

/// The inference backend (no autodiff) chosen by the cargo features.
#[cfg(feature = "cuda")]
pub type Inference = burn::backend::Cuda;
#[cfg(all(feature = "wgpu", not(feature = "cuda")))]
pub type Inference = burn::backend::Wgpu;
#[cfg(all(feature = "flex", not(any(feature = "wgpu", feature = "cuda"))))]
pub type Inference = burn::backend::Flex;
#[cfg(all(feature = "ndarray", not(any(feature = "flex", feature = "wgpu", feature = "cuda"))))]
pub type Inference = burn::backend::NdArray<f32>;

/// The training backend: the inference backend wrapped in autodiff.
pub type Training = Autodiff<Inference>;

/// The device the binary runs on.
pub type Device = burn::tensor::Device<Inference>;

/// The backend `generate` samples with: flex on CPU builds that include it (the default build),
/// whose low per-op overhead makes batch-1 decoding far faster than on ndarray (README, Backends); otherwise the
/// inference backend. Training and evaluation always use [`Inference`] / [`Training`].
#[cfg(all(feature = "flex-sampling", not(any(feature = "wgpu", feature = "cuda"))))]
pub type Sampling = burn::backend::Flex;
#[cfg(not(all(feature = "flex-sampling", not(any(feature = "wgpu", feature = "cuda")))))]
pub type Sampling = Inference;

/// Short name of the sampling backend, printed with generation speeds.
pub fn sampling_name() -> &'static str {
    #[cfg(all(feature = "flex-sampling", not(any(feature = "wgpu", feature = "cuda"))))]
    return "flex";
    #[cfg(not(all(feature = "flex-sampling", not(any(feature = "wgpu", feature = "cuda")))))]
    return name();
}

/// The [`Sampling`] device that goes with `device` (the same device where sampling runs on the
/// inference backend; flex's only device otherwise).
pub fn sampling_device(device: &Device) -> burn::tensor::Device<Sampling> {
    #[cfg(all(feature = "flex-sampling", not(any(feature = "wgpu", feature = "cuda"))))]
    return {
        let _ = device;
        Default::default()
    };
    #[cfg(not(all(feature = "flex-sampling", not(any(feature = "wgpu", feature = "cuda")))))]
    return device.clone();
}

/// Short name of the backend compiled in (`ndarray`, `flex`, `wgpu`, `cuda`), printed in the banner.
pub fn name() -> &'static str {
    #[cfg(feature = "cuda")]
    return "cuda";
    #[cfg(all(feature = "wgpu", not(feature = "cuda")))]
    return "wgpu";
    #[cfg(all(feature = "flex", not(any(feature = "wgpu", feature = "cuda"))))]
    return "flex";
    #[cfg(all(feature = "ndarray", not(any(feature = "flex", feature = "wgpu", feature = "cuda"))))]
    return "ndarray";
}

/// True when the compiled backend runs on the host CPU with deterministic kernels (ndarray, flex).
pub fn is_cpu() -> bool {
    matches!(name(), "ndarray" | "flex")
}

/// What the memory check compares a run's estimate with; `enforce` is false with
/// `--no-memory-check`. The CPU backends train in host memory (`MemAvailable`). On a GPU the
/// training memory is the device's, and Burn 0.21 has no query of its free memory (cubecl's CUDA
/// runtime reads the device's total once, to size its memory pages; wgpu exposes buffer-size
/// limits, not memory), so it is unknown and not checked unless [`AVAILABLE_ENV`] gives it.
pub fn memory_check(enforce: bool) -> Result<MemoryCheck> {
    let host = host_memory::available()?;
    let training = if is_cpu() || std::env::var_os(AVAILABLE_ENV).is_some() { host } else { None };
    // Only ndarray's fused cross-entropy writes the logits' gradient over them.
    Ok(MemoryCheck { enforce, host, training, logits_in_place: name() == "ndarray" })
}

/// The values `--device` accepts for the compiled backend, for error messages and `--help`.
pub fn device_help() -> &'static str {
    #[cfg(feature = "cuda")]
    return "`default` or a CUDA device index (`0`, `1`, ...)";
    #[cfg(all(feature = "wgpu", not(feature = "cuda")))]
    return "`default`, `discrete:N`, `integrated:N`, `virtual:N` or `cpu` (a software Vulkan device such as lavapipe)";
    #[cfg(not(any(feature = "wgpu", feature = "cuda")))]
    return "`default` or `cpu` (this build has a CPU backend only; build with `--features wgpu` or `cuda` for a GPU)";
}

/// The device named by `--device` (`None` = the backend's default), checked to be usable.
///
/// GPU backends panic deep inside their runtime when no adapter or driver exists; the probe
/// turns that into an error that says what is missing instead of a backtrace.
pub fn device(spec: Option<&str>) -> Result<Device> {
    let spec = spec.unwrap_or("default").trim().to_ascii_lowercase();
    let device = parse_device(&spec)?;
    probe(&device)?;
    Ok(device)
}

/// The default device of the compiled backend, unchecked (tests and library callers).
pub fn default_device() -> Device {
    Device::default()
}

#[cfg(feature = "cuda")]
fn parse_device(spec: &str) -> Result<Device> {
    use burn::backend::cuda::CudaDevice;
    match spec {
        "default" | "cuda" => Ok(CudaDevice::default()),
        n => match n.strip_prefix("cuda:").unwrap_or(n).parse::<usize>() {
            Ok(index) => Ok(CudaDevice::new(index)),
            Err(_) => bail!("--device {spec}: expected {}", device_help()),
        },
    }
}

#[cfg(all(feature = "wgpu", not(feature = "cuda")))]
fn parse_device(spec: &str) -> Result<Device> {
    use burn::backend::wgpu::WgpuDevice;
    let indexed = |kind: &str| -> Option<usize> { spec.strip_prefix(kind)?.strip_prefix(':')?.parse().ok() };
    Ok(match spec {
        "default" | "gpu" => WgpuDevice::DefaultDevice,
        "cpu" => WgpuDevice::Cpu,
        _ => {
            if let Some(n) = indexed("discrete") {
                WgpuDevice::DiscreteGpu(n)
            } else if let Some(n) = indexed("integrated") {
                WgpuDevice::IntegratedGpu(n)
            } else if let Some(n) = indexed("virtual") {
                WgpuDevice::VirtualGpu(n)
            } else {
                bail!("--device {spec}: expected {}", device_help())
            }
        }
    })
}

#[cfg(not(any(feature = "wgpu", feature = "cuda")))]
fn parse_device(spec: &str) -> Result<Device> {
    match spec {
        "default" | "cpu" => Ok(Device::default()),
        _ => bail!("--device {spec}: expected {}", device_help()),
    }
}

/// Runs one tiny op on `device`, turning a runtime panic (no driver, no adapter) into an error.
fn probe(device: &Device) -> Result<()> {
    if is_cpu() {
        return Ok(());
    }
    let device = device.clone();
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(move || {
        let t = burn::tensor::Tensor::<Inference, 1>::ones([2], &device);
        t.sum().into_scalar()
    });
    std::panic::set_hook(previous_hook);
    match outcome {
        Ok(_) => Ok(()),
        Err(payload) => {
            let why = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("unknown reason");
            bail!("{}", missing_driver_message(why))
        }
    }
}

#[cfg(feature = "cuda")]
fn missing_driver_message(why: &str) -> String {
    format!(
        "the CUDA backend found no usable NVIDIA GPU ({why}): install the NVIDIA driver and CUDA toolkit, \
         or rebuild without `--features cuda` to train on the CPU"
    )
}

#[cfg(not(feature = "cuda"))]
fn missing_driver_message(why: &str) -> String {
    format!(
        "the wgpu backend found no usable GPU adapter ({why}): install a Vulkan driver \
         (a GPU vendor's driver, or Debian/Ubuntu `mesa-vulkan-drivers` + `libvulkan1` for the lavapipe software device), \
         or rebuild without `--features wgpu` to train on the CPU"
    )
}
