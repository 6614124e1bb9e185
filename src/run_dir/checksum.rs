//! Checksums that name a damaged file: the BLAKE3 hash of every file of a checkpoint (its
//! `manifest.json`) and of a prepared corpus (in its `data.json`), checked when it is loaded.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// `"blake3:<64 hex digits>"` of `bytes`.
pub fn hash_bytes(bytes: &[u8]) -> String {
    format!("blake3:{}", blake3::hash(bytes).to_hex())
}

/// [`hash_bytes`] of the file at `path`.
pub fn hash_file(path: &Path) -> Result<String> {
    hash_files(&[path])
}

/// [`hash_bytes`] of the files' contents concatenated in order, read in 1 MiB blocks: a memory
/// map would count the whole file in the process's resident memory, which `prepare` bounds.
pub fn hash_files(paths: &[impl AsRef<Path>]) -> Result<String> {
    let mut hasher = blake3::Hasher::new();
    for path in paths {
        let path = path.as_ref();
        let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
        hasher.update_reader(&mut reader).with_context(|| format!("cannot read {}", path.display()))?;
    }
    Ok(format!("blake3:{}", hasher.finalize().to_hex()))
}

/// File name -> checksum, for the files of one directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Manifest(BTreeMap<String, String>);

impl Manifest {
    /// Records `name` with a checksum computed already ([`hash_file`]).
    pub fn add_hash(&mut self, name: &str, hash: &str) {
        self.0.insert(name.to_string(), hash.to_string());
    }

    /// Records `name` as holding `bytes` (what the caller is about to write).
    pub fn add(&mut self, name: &str, bytes: &[u8]) {
        self.0.insert(name.to_string(), hash_bytes(bytes));
    }

    /// Records the file `dir/name` as it is on disk now.
    pub fn add_file(&mut self, dir: &Path, name: &str) -> Result<()> {
        self.0.insert(name.to_string(), hash_file(&dir.join(name))?);
        Ok(())
    }

    /// The checksum recorded for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Checks every recorded file of `dir` against its checksum; the error names the first
    /// file that is missing or damaged, and the file `recorded_in` that lists it (which may be
    /// the damaged one).
    pub fn verify(&self, dir: &Path, recorded_in: &Path) -> Result<()> {
        let listed = recorded_in.display();
        for (name, expected) in &self.0 {
            let path = dir.join(name);
            if !path.is_file() {
                bail!("{} is missing (listed in {listed})", path.display());
            }
            if &hash_file(&path)? != expected {
                bail!("{} is damaged: its contents do not match the checksum recorded in {listed} when it was written", path.display());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blake3_of_the_empty_input_and_of_abc_match_the_reference() {
        // The BLAKE3 paper's test vectors (github.com/BLAKE3-team/BLAKE3, test_vectors.json).
        assert_eq!(hash_bytes(b""), "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
        assert_eq!(hash_bytes(b"abc"), "blake3:6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85");
    }

    #[test]
    fn verify_names_a_flipped_byte_and_a_missing_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("model.mpk"), b"weights").expect("write");
        std::fs::write(dir.path().join("state.json"), b"{}").expect("write");
        let mut manifest = Manifest::default();
        manifest.add("model.mpk", b"weights");
        manifest.add_file(dir.path(), "state.json").expect("hash");
        manifest.verify(dir.path(), &dir.path().join("manifest.json")).expect("intact files pass");

        std::fs::write(dir.path().join("model.mpk"), b"weighTs").expect("flip a byte");
        let err = manifest.verify(dir.path(), &dir.path().join("manifest.json")).expect_err("a flipped byte is found").to_string();
        // The error names the manifest too: the damage may be in it (a flipped hash, a renamed file).
        assert!(err.contains("model.mpk is damaged"), "{err}");
        assert!(err.contains("the checksum recorded in") && err.contains("manifest.json when it was written"), "{err}");

        std::fs::remove_file(dir.path().join("state.json")).expect("remove");
        std::fs::write(dir.path().join("model.mpk"), b"weights").expect("restore");
        let err = manifest.verify(dir.path(), &dir.path().join("manifest.json")).expect_err("a missing file is found").to_string();
        assert!(err.contains("state.json is missing (listed in ") && err.contains("manifest.json)"), "{err}");
    }
}
