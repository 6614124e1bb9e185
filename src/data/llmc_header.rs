//! The header of an llm.c token shard, as karpathy/llm.c writes it (`dev/data/data_common.py`,
//! `write_datafile`) and reads it (`llmc/dataloader.h`): 256 little-endian int32, of which the
//! first three are the magic, the version and the token count (the rest are zero), then the ids.
//! GPT-2 shards (FineWeb10B): magic 20240520, version 1, u16 ids; llm.c's Llama 3 variant:
//! magic 20240801, version 7, u32 ids.

use std::path::Path;

use anyhow::{bail, Result};

use super::token_dtype::TokenDtype;

/// Bytes before the first token of an llm.c shard: 256 int32.
pub const LLMC_HEADER_LEN: usize = 256 * 4;
/// Magic and version of GPT-2 shards (u16 ids).
const GPT2: (i32, i32) = (20240520, 1);
/// Magic and version of llm.c's Llama 3 shards (u32 ids).
const LLAMA3: (i32, i32) = (20240801, 7);

fn i32_at(bytes: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// The magic and version llm.c writes for ids of `dtype`.
fn magic_version(dtype: TokenDtype) -> (i32, i32) {
    match dtype {
        TokenDtype::U16 => GPT2,
        TokenDtype::U32 => LLAMA3,
    }
}

/// Whether `bytes` (a file's start) has one of llm.c's two magic numbers.
pub fn has_llmc_magic(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && [GPT2.0, LLAMA3.0].contains(&i32_at(bytes, 0))
}

/// Checks the header of the shard `bytes` (the whole file, read from `path`): magic, version, and
/// a size of exactly the header plus the tokens it promises. Returns the id type and the count.
pub fn parse(bytes: &[u8], path: &Path) -> Result<(TokenDtype, usize)> {
    let shown = path.display();
    if bytes.len() < 4 || !has_llmc_magic(bytes) {
        let magic = (bytes.len() >= 4).then(|| i32_at(bytes, 0).to_string()).unwrap_or_else(|| "(none)".to_string());
        bail!(
            "{shown}: bad magic {magic}: not an llm.c token shard (expected {} for GPT-2 u16 ids or {} for Llama 3 u32 ids)",
            GPT2.0,
            LLAMA3.0
        );
    }
    if bytes.len() < LLMC_HEADER_LEN {
        bail!("{shown} is truncated: {} bytes, fewer than the {LLMC_HEADER_LEN} of an llm.c header", bytes.len());
    }
    let (magic, version, count) = (i32_at(bytes, 0), i32_at(bytes, 4), i32_at(bytes, 8));
    let dtype = if magic == GPT2.0 { TokenDtype::U16 } else { TokenDtype::U32 };
    let expected_version = magic_version(dtype).1;
    if version != expected_version {
        bail!("{shown}: llm.c shard version {version}, but magic {magic} goes with version {expected_version} (damaged header?)");
    }
    if count < 0 {
        bail!("{shown}: damaged llm.c header: a negative token count ({count})");
    }
    // count < 2^31 and width <= 4: no overflow in u64.
    let expected = LLMC_HEADER_LEN as u64 + count as u64 * dtype.bytes() as u64;
    if expected != bytes.len() as u64 {
        bail!(
            "{shown} is truncated or corrupted: its llm.c header promises {count} {} tokens ({expected} bytes) but the file has {} bytes",
            dtype.name(),
            bytes.len()
        );
    }
    Ok((dtype, count as usize))
}

/// The header of a shard of `count` ids of `dtype`; an error when `count` exceeds the int32 the
/// header holds it in.
pub fn header(dtype: TokenDtype, count: u64, path: &Path) -> Result<[u8; LLMC_HEADER_LEN]> {
    let Ok(count) = i32::try_from(count) else {
        bail!(
            "{}: {count} tokens, but an llm.c shard holds at most 2^31 - 1 (its header's count is an int32): \
             lower data.shard_tokens (--shard-tokens)",
            path.display()
        );
    };
    let (magic, version) = magic_version(dtype);
    let mut header = [0u8; LLMC_HEADER_LEN];
    for (k, value) in [magic, version, count].into_iter().enumerate() {
        header[4 * k..4 * k + 4].copy_from_slice(&value.to_le_bytes());
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 20240520 = 0x0134D888 (llm.c's GPT-2 magic), little-endian: 88 D8 34 01; version 1; 3 tokens.
    #[test]
    fn a_gpt2_header_is_magic_version_count_then_zeros() {
        let path = Path::new("x_train_000000.bin");
        let h = header(TokenDtype::U16, 3, path).expect("header");
        assert_eq!(&h[..12], &[0x88, 0xD8, 0x34, 0x01, 1, 0, 0, 0, 3, 0, 0, 0]);
        assert!(h[12..].iter().all(|&b| b == 0));
        let mut file = h.to_vec();
        file.extend_from_slice(&[1, 0, 2, 0, 3, 0]);
        assert_eq!(parse(&file, path).expect("parses"), (TokenDtype::U16, 3));
        // Llama 3: 20240801 = 0x0134D9A1, version 7, u32 ids.
        let h = header(TokenDtype::U32, 1, path).expect("header");
        assert_eq!(&h[..12], &[0xA1, 0xD9, 0x34, 0x01, 7, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(parse(&[&h[..], &[9, 0, 0, 0]].concat(), path).expect("parses"), (TokenDtype::U32, 1));
        let err = format!("{:#}", header(TokenDtype::U16, 1 << 31, path).err().expect("too many"));
        assert!(err.contains("at most 2^31 - 1") && err.contains("data.shard_tokens"), "{err}");
    }

    #[test]
    fn a_damaged_header_is_an_error_naming_the_file_and_the_fault() {
        let path = Path::new("d/fineweb_train_000001.bin");
        let good = [&header(TokenDtype::U16, 2, path).expect("header")[..], &[1, 0, 2, 0]].concat();
        let fails = |bytes: &[u8]| format!("{:#}", parse(bytes, path).err().expect("fails"));
        let mut bad = good.clone();
        bad[0] ^= 1;
        assert!(fails(&bad).contains("fineweb_train_000001.bin: bad magic 20240521: not an llm.c token shard"));
        let mut bad = good.clone();
        bad[4] = 2;
        assert!(fails(&bad).contains("llm.c shard version 2, but magic 20240520 goes with version 1"));
        assert!(fails(&good[..good.len() - 1]).contains("promises 2 u16 tokens (1028 bytes) but the file has 1027 bytes"));
        assert!(fails(&good[..100]).contains("fewer than the 1024 of an llm.c header"));
        let mut bad = good.clone();
        bad[8..12].copy_from_slice(&(-5i32).to_le_bytes());
        assert!(fails(&bad).contains("negative token count (-5)"));
    }
}
