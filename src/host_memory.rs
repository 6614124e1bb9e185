//! How much memory this machine has free for a run, and whether a command checks its estimate
//! against it ([`MemoryCheck`]): read before anything large is allocated, so that an absurd size
//! is an error naming its key instead of an abort or the kernel's OOM killer.

use anyhow::{bail, Result};

/// Overrides the memory the checks see as available, in bytes (tests, or a machine whose
/// `/proc/meminfo` does not say what the process may use, such as a container with a cgroup limit).
pub const AVAILABLE_ENV: &str = "BURNGPT_MEMORY_AVAILABLE";

/// The flag that skips the checks, named in their messages.
pub const SKIP_FLAG: &str = "--no-memory-check";

/// What a command compares its memory estimates with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryCheck {
    /// Refuse what does not fit; `false` with `--no-memory-check` (the estimates are still printed).
    pub enforce: bool,
    /// Bytes available in host memory (`None`: unknown, so nothing is refused).
    pub host: Option<u64>,
    /// Bytes available where the training tensors live: host memory on the CPU backends, the
    /// device's on a GPU (`None`: unknown, so nothing is refused).
    pub training: Option<u64>,
    /// The backend's cross-entropy writes its gradient over the logits (ndarray's kernel), so the
    /// estimate counts them once; twice otherwise.
    pub logits_in_place: bool,
}

impl MemoryCheck {
    /// No check at all (library callers and tests that do not ask for one).
    pub fn off() -> Self {
        Self { enforce: false, host: None, training: None, logits_in_place: false }
    }

    /// Host memory as [`available`] reads it, for what runs on the host (data preparation).
    pub fn host(enforce: bool) -> Result<Self> {
        Ok(Self { enforce, host: available()?, ..Self::off() })
    }

    /// Whether `needed` bytes in host memory must be refused.
    pub fn refuses_host(&self, needed: u128) -> bool {
        self.enforce && self.host.is_some_and(|a| needed > u128::from(a))
    }

    /// Whether `needed` bytes where the training tensors live must be refused.
    pub fn refuses_training(&self, needed: u128) -> bool {
        self.enforce && self.training.is_some_and(|a| needed > u128::from(a))
    }
}

/// The memory available to a new process, in bytes: [`AVAILABLE_ENV`] when set, else Linux's
/// `MemAvailable` (what can be allocated without swapping, page cache included); `None` where
/// neither can be read (another OS), and the checks are then skipped.
pub fn available() -> Result<Option<u64>> {
    if let Ok(text) = std::env::var(AVAILABLE_ENV) {
        return match text.trim().parse::<u64>() {
            Ok(bytes) => Ok(Some(bytes)),
            Err(_) => bail!("{AVAILABLE_ENV}={text:?}: expected a number of bytes, e.g. 8589934592 for 8 GiB"),
        };
    }
    Ok(std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| mem_available(&text)))
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes (the file gives kB, meaning KiB).
pub fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut words = line.split_whitespace().skip(1);
    let kib: u64 = words.next()?.parse().ok()?;
    (words.next() == Some("kB")).then(|| kib.saturating_mul(1024))
}

/// `bytes` for a person: `512 B`, `38.0 MiB`, `1.2 TiB` (binary units, one decimal).
pub fn human_bytes(bytes: u128) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_available_is_read_in_bytes_from_meminfo() {
        let text = "MemTotal:       24683792 kB\nMemFree:        21820432 kB\nMemAvailable:   23056368 kB\n";
        // 23,056,368 KiB x 1024 = 23,609,720,832 bytes.
        assert_eq!(mem_available(text), Some(23_609_720_832));
        assert_eq!(mem_available("MemTotal: 1 kB\n"), None);
        assert_eq!(mem_available("MemAvailable: lots kB\n"), None);
        assert_eq!(mem_available("MemAvailable: 5 pages\n"), None);
    }

    #[test]
    fn human_bytes_uses_binary_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(38 << 20), "38.0 MiB");
        // 1.2e12 bytes / 2^40 = 1.0914 TiB.
        assert_eq!(human_bytes(1_200_000_000_000), "1.1 TiB");
        // u128::MAX / 2^60 = 2.95e20 EiB: the largest unit keeps growing.
        assert!(human_bytes(u128::MAX).ends_with(" EiB"));
    }

    #[test]
    fn a_check_refuses_only_when_enforced_and_known() {
        let check = MemoryCheck { enforce: true, host: Some(100), ..MemoryCheck::off() };
        assert!(check.refuses_host(101) && !check.refuses_host(100));
        assert!(!check.refuses_training(u128::MAX), "unknown device memory refuses nothing");
        assert!(!MemoryCheck { enforce: false, ..check }.refuses_host(u128::MAX));
        assert!(!MemoryCheck::off().refuses_host(u128::MAX));
    }
}
