//! Intel AMX (`tdpbf16ps`: a 16 x 16 float32 tile += a 16 x 32 bfloat16 tile times a 32 x 16 one,
//! 8192 products per instruction) for the bfloat16 products, where the CPU has it and Linux grants
//! the tile state. On Xeons with AMX, `vdpbf16ps` runs at half the rate of float32 FMA, so AMX is
//! what makes bfloat16 faster there (it is what oneDNN, and so PyTorch's autocast, uses).
//!
//! Stable Rust has no AMX intrinsics: the few instructions are written with `asm!`. Tiles: C in
//! `tmm0..tmm3` (a 32 x 32 block of the output), A in `tmm4`, `tmm5` (32 rows x 16 `k` pairs), B in
//! `tmm6`, `tmm7` (16 `k` pairs x 32 columns, the packed panel's own layout). C's tiles load from
//! and store to the output itself, so a block's sums leave the tiles once per `k` block.

#[cfg(target_arch = "x86_64")]
use std::arch::asm;
use std::sync::OnceLock;

use super::NR;

/// Rows of A per AMX panel (two tiles of 16).
pub const MR_AMX: usize = 32;
/// `k` pairs per tile (64 bytes of bfloat16 pairs per row).
pub const PAIRS: usize = 16;

/// Whether AMX-BF16 can run here: the CPU has it and the kernel let this process use the tile
/// data (`arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`), asked once.
pub fn available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| std::env::var_os("BURNGPT_NO_AMX").is_none() && cpu_has_amx() && request_tile_data())
}

#[cfg(target_arch = "x86_64")]
fn cpu_has_amx() -> bool {
    // Leaf 7 exists on every CPU with AVX-512 (checked by the caller before AMX is considered).
    let leaf = std::arch::x86_64::__cpuid_count(7, 0);
    let (tile, bf16) = (leaf.edx & (1 << 24) != 0, leaf.edx & (1 << 22) != 0);
    tile && bf16
}

#[cfg(not(target_arch = "x86_64"))]
fn cpu_has_amx() -> bool {
    false
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn request_tile_data() -> bool {
    const SYS_ARCH_PRCTL: i64 = 158;
    const ARCH_REQ_XCOMP_PERM: i64 = 0x1023;
    const XFEATURE_XTILEDATA: i64 = 18;
    let ret: i64;
    // Safety: the arch_prctl system call with these arguments only changes this process's
    // permission for the AMX tile state; it clobbers rcx and r11 as every syscall does.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") SYS_ARCH_PRCTL => ret,
            in("rdi") ARCH_REQ_XCOMP_PERM,
            in("rsi") XFEATURE_XTILEDATA,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret == 0
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn request_tile_data() -> bool {
    false
}

/// The tile configuration: palette 1, eight tiles of 16 rows x 64 bytes.
#[cfg(target_arch = "x86_64")]
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

#[cfg(target_arch = "x86_64")]
impl TileConfig {
    fn new() -> Self {
        let mut cfg = [0u8; 64];
        cfg[0] = 1; // palette
        for t in 0..8 {
            cfg[16 + 2 * t] = 64; // colsb (bytes per row), little-endian u16
            cfg[48 + t] = 16; // rows
        }
        Self(cfg)
    }
}

/// Loads the tile configuration (palette 1, eight tiles of 16 rows x 64 bytes): before [`tile`],
/// on the thread that calls it; [`release`] after.
///
/// # Safety
/// [`available`] must be true.
#[cfg(target_arch = "x86_64")]
pub unsafe fn configure() {
    let cfg = TileConfig::new();
    asm!("ldtilecfg [{cfg}]", cfg = in(reg) cfg.0.as_ptr(), options(nostack, readonly));
}

/// Gives the tile state back ([`configure`] before the next [`tile`]).
///
/// # Safety
/// [`available`] must be true.
#[cfg(target_arch = "x86_64")]
pub unsafe fn release() {
    asm!("tilerelease", options(nostack, nomem));
}

/// `C[32 x 32] = (C if load, else 0) + A B` for one 32-row A panel (`a`: row-major, `stride_a`
/// words per row, `kp` pairs, a multiple of [`PAIRS`]) and one 32-column B panel (`b`: `[kp][NR]`
/// words), summed in the tiles over all `kp` pairs; `C` is float32 at `c`, `ldc` elements between
/// rows, read and written in place.
///
/// # Safety
/// [`configure`] must have run on this thread; `a` must hold 32 rows of `stride_a >= kp` words,
/// `b` `kp * NR` words, and `c` 32 rows of 32 floats.
#[cfg(target_arch = "x86_64")]
pub unsafe fn tile(a: *const u32, stride_a: usize, b: *const u32, kp: usize, c: *mut f32, ldc: isize, load: bool) {
    debug_assert!(kp % PAIRS == 0);
    let (sa, sb, sc) = (stride_a * 4, NR * 4, ldc * 4);
    let (c0, c1, c2, c3) = (c, c.add(16), c.offset(16 * ldc), c.offset(16 * ldc + 16));
    if load {
        asm!(
            "tileloadd tmm0, [{c0} + {sc}*1]",
            "tileloadd tmm1, [{c1} + {sc}*1]",
            "tileloadd tmm2, [{c2} + {sc}*1]",
            "tileloadd tmm3, [{c3} + {sc}*1]",
            c0 = in(reg) c0, c1 = in(reg) c1, c2 = in(reg) c2, c3 = in(reg) c3, sc = in(reg) sc,
            options(nostack, readonly),
        );
    } else {
        asm!("tilezero tmm0", "tilezero tmm1", "tilezero tmm2", "tilezero tmm3", options(nostack, nomem));
    }
    let a_low = a.add(16 * stride_a);
    for chunk in 0..kp / PAIRS {
        let (a0, a1) = (a.add(chunk * PAIRS), a_low.add(chunk * PAIRS));
        let b0 = b.add(chunk * PAIRS * NR);
        asm!(
            "tileloadd tmm4, [{a0} + {sa}*1]",
            "tileloadd tmm6, [{b0} + {sb}*1]",
            "tdpbf16ps tmm0, tmm4, tmm6",
            "tileloadd tmm7, [{b1} + {sb}*1]",
            "tdpbf16ps tmm1, tmm4, tmm7",
            "tileloadd tmm5, [{a1} + {sa}*1]",
            "tdpbf16ps tmm2, tmm5, tmm6",
            "tdpbf16ps tmm3, tmm5, tmm7",
            a0 = in(reg) a0,
            a1 = in(reg) a1,
            b0 = in(reg) b0,
            b1 = in(reg) b0.add(16),
            sa = in(reg) sa,
            sb = in(reg) sb,
            options(nostack, readonly),
        );
    }
    asm!(
        "tilestored [{c0} + {sc}*1], tmm0",
        "tilestored [{c1} + {sc}*1], tmm1",
        "tilestored [{c2} + {sc}*1], tmm2",
        "tilestored [{c3} + {sc}*1], tmm3",
        c0 = in(reg) c0, c1 = in(reg) c1, c2 = in(reg) c2, c3 = in(reg) c3, sc = in(reg) sc,
        options(nostack),
    );
}

/// Never called off x86_64 ([`available`] is false there).
#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn configure() {
    unreachable!("AMX exists on x86_64 only")
}

/// Never called off x86_64 ([`available`] is false there).
#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn release() {}

/// Never called off x86_64 ([`available`] is false there).
#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn tile(_: *const u32, _: usize, _: *const u32, _: usize, _: *mut f32, _: isize, _: bool) {
    unreachable!("AMX exists on x86_64 only")
}
