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

    /// One process's share when `processes` share this machine: the memory available divided
    /// among them (at least one).
    pub fn per_process(&self, processes: usize) -> Self {
        let share = |bytes: Option<u64>| bytes.map(|a| a / processes.max(1) as u64);
        Self { host: share(self.host), training: share(self.training), ..*self }
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

/// mimalloc's `purge_delay` in the environment: when set, the user's choice stands.
pub const PURGE_DELAY_ENV: &str = "MIMALLOC_PURGE_DELAY";

/// mimalloc's `mi_option_purge_delay`: its index in `mi_option_t` (v2 and v3 alike), just before
/// `use_numa_nodes`; libmimalloc-sys names no constant for it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = libmimalloc_sys::mi_option_use_numa_nodes - 1;

/// Whether a run estimated at `needed` bytes leaves room for the allocator to keep the memory it
/// frees: `available` is at least half as much again (what keeping costs at GPT-2 124M is 17% of
/// the estimate; docs/memory.md). Unknown availability: no.
pub fn room_to_keep_freed(needed: u128, available: Option<u64>) -> bool {
    available.is_some_and(|a| u128::from(a).saturating_mul(2) >= needed.saturating_mul(3))
}

/// Asks mimalloc, the `burngpt` binary's allocator, to keep the memory a training step frees for
/// the next step (`purge_delay = -1`) instead of returning it to the system after a second
/// (mimalloc v3's default), unless [`PURGE_DELAY_ENV`] is set; says whether it did. Returned memory
/// comes back through page faults that clear every page: at GPT-2 124M in bf16 that was a fifth
/// to a third of a step (docs/performance.md). A program whose global allocator is another one
/// changes nothing by calling this.
pub fn keep_freed_memory() -> bool {
    if std::env::var_os(PURGE_DELAY_ENV).is_some() {
        return false;
    }
    // Safety: sets one of mimalloc's global options, which it reads at each purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    true
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
    fn freed_memory_is_kept_only_with_half_as_much_again_available() {
        assert!(room_to_keep_freed(200, Some(300)) && !room_to_keep_freed(200, Some(299)));
        assert!(!room_to_keep_freed(1, None), "unknown availability keeps nothing");
        assert!(!room_to_keep_freed(u128::MAX, Some(u64::MAX)));
    }

    #[test]
    fn the_purge_delay_index_is_mimallocs_purge_delay() {
        // mimalloc v3's options.c: `{ 1000, UNINIT, MI_OPTION_LEGACY(purge_delay, reset_delay) }`;
        // its neighbours default to 1 (eager_commit_delay) and 0 (use_numa_nodes). No unit test
        // of this binary calls keep_freed_memory.
        if std::env::var_os(PURGE_DELAY_ENV).is_none() {
            // Safety: reads one of mimalloc's global options.
            assert_eq!(unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }, 1000);
        }
    }

    #[test]
    fn a_check_refuses_only_when_enforced_and_known() {
        let check = MemoryCheck { enforce: true, host: Some(100), ..MemoryCheck::off() };
        assert!(check.refuses_host(101) && !check.refuses_host(100));
        assert!(!check.refuses_training(u128::MAX), "unknown device memory refuses nothing");
        assert!(!MemoryCheck { enforce: false, ..check }.refuses_host(u128::MAX));
        assert!(!MemoryCheck::off().refuses_host(u128::MAX));
    }

    #[test]
    fn a_process_gets_its_share_of_the_machine() {
        let check = MemoryCheck { enforce: true, host: Some(100), training: Some(30), logits_in_place: true };
        // 100 / 3 = 33 and 30 / 3 = 10 (whole bytes); no processes counts as one.
        assert_eq!(check.per_process(3), MemoryCheck { host: Some(33), training: Some(10), ..check });
        assert_eq!(check.per_process(0), check);
        assert_eq!(MemoryCheck::off().per_process(4), MemoryCheck::off());
    }
}
