//! The tensors of a Hugging Face directory: `model.safetensors`, or the shards a
//! `model.safetensors.index.json` lists; any float dtype is read as f32.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use burn::tensor::{bf16, f16};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::Deserialize;

use super::dir::{HF_INDEX_FILE, HF_MODEL_FILE};

/// One tensor: name, shape (row-major) and values.
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

/// The bytes of the safetensors files of a directory, read into memory.
pub struct TensorFiles {
    files: Vec<(PathBuf, Vec<u8>)>,
}

/// `model.safetensors.index.json`: which shard holds each tensor.
#[derive(Deserialize)]
struct ShardIndex {
    weight_map: HashMap<String, String>,
}

impl TensorFiles {
    /// `dir/model.safetensors`, else every shard named by `dir/model.safetensors.index.json`.
    pub fn open(dir: &Path) -> Result<Self> {
        let single = dir.join(HF_MODEL_FILE);
        if single.is_file() {
            let bytes = std::fs::read(&single).with_context(|| format!("cannot read {}", single.display()))?;
            return Ok(Self::from_bytes(single, bytes));
        }
        let index = dir.join(HF_INDEX_FILE);
        if !index.is_file() {
            bail!("{} is missing (and there is no {HF_INDEX_FILE}): the Hugging Face directory has no weights", single.display());
        }
        let text = std::fs::read_to_string(&index).with_context(|| format!("cannot read {}", index.display()))?;
        let parsed: ShardIndex =
            serde_json::from_str(&text).map_err(|e| anyhow!("{}: not a safetensors index: {e}", index.display()))?;
        let shards: BTreeSet<&String> = parsed.weight_map.values().collect();
        let mut files = Vec::with_capacity(shards.len());
        for shard in shards {
            // A shard is a file of this directory: a name with a separator (or `..`) is refused.
            if shard.is_empty() || shard.contains(['/', '\\']) || shard == ".." || shard == "." {
                bail!("{}: weight_map names {shard:?}, expected a file name in the same directory", index.display());
            }
            let path = dir.join(shard);
            let bytes = std::fs::read(&path)
                .with_context(|| format!("cannot read {} (a shard named by {})", path.display(), index.display()))?;
            files.push((path, bytes));
        }
        Ok(Self { files })
    }

    /// One file's bytes, read from `path`.
    pub fn from_bytes(path: PathBuf, bytes: Vec<u8>) -> Self {
        Self { files: vec![(path, bytes)] }
    }

    /// The files parsed (headers only: the data stays where it is).
    pub fn parse(&self) -> Result<Tensors<'_>> {
        let files = self.files.iter().map(|(path, bytes)| Tensors::from_bytes(path, bytes)).collect::<Result<Vec<_>>>()?;
        Ok(Tensors { files: files.into_iter().flat_map(|t| t.files).collect() })
    }

    /// What errors about these files start with: the file, or the first shard and their count.
    pub fn describe(&self) -> String {
        match self.files.as_slice() {
            [(path, _)] => path.display().to_string(),
            [(path, _), ..] => format!("{} (and the other {} shards)", path.display(), self.files.len() - 1),
            [] => "(no safetensors file)".to_string(),
        }
    }
}

/// The tensors of one or more parsed safetensors files.
pub struct Tensors<'a> {
    files: Vec<(&'a Path, SafeTensors<'a>)>,
}

impl<'a> Tensors<'a> {
    /// The tensors of one safetensors file's `bytes`, read from `path`.
    pub fn from_bytes(path: &'a Path, bytes: &'a [u8]) -> Result<Self> {
        let file = SafeTensors::deserialize(bytes).with_context(|| format!("{}: not a safetensors file", path.display()))?;
        Ok(Self { files: vec![(path, file)] })
    }

    /// The tensor called `name`, if a file has it.
    pub fn view(&self, name: &str) -> Option<TensorView<'a>> {
        self.files.iter().find_map(|(_, file)| file.tensor(name).ok())
    }

    /// Every tensor name, sorted.
    pub fn names(&self) -> BTreeSet<String> {
        self.files.iter().flat_map(|(_, file)| file.names().into_iter().map(str::to_string)).collect()
    }

    /// Shape and f32 values of tensor `name`; the error names the tensor.
    pub fn get(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), String> {
        let view = self.view(name).ok_or_else(|| format!("tensor {name} is missing"))?;
        Ok((view.shape().to_vec(), to_f32(name, &view)?))
    }
}

/// The values of `view` as f32: float32 as is, float16 / bfloat16 / float64 converted (every
/// float16 and bfloat16 value is exact in f32). Other dtypes are an error naming the tensor.
pub fn to_f32(name: &str, view: &TensorView) -> Result<Vec<f32>, String> {
    let data = view.data();
    Ok(match view.dtype() {
        Dtype::F32 => data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        Dtype::F16 => data.chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        Dtype::BF16 => data.chunks_exact(2).map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        Dtype::F64 => data.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f32).collect(),
        other => return Err(format!("tensor {name} has dtype {other:?}, expected F32, F16, BF16 or F64")),
    })
}

/// The transpose of a row-major `rows x cols` matrix.
pub fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..cols).flat_map(|c| (0..rows).map(move |r| values[r * cols + c])).collect()
}

/// The bytes of a float32 `model.safetensors` file holding `tensors`.
pub fn serialize(tensors: Vec<NamedTensor>) -> Result<Vec<u8>> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(name, shape, values)| (name, shape, values.iter().flat_map(|v| v.to_le_bytes()).collect()))
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(Dtype::F32, shape.clone(), data).map(|view| (name.clone(), view)).map_err(|e| anyhow!("{name}: {e}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, Some(metadata)).map_err(|e| anyhow!("cannot serialize safetensors: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_of_a_2x3_matrix() {
        // [[1, 2, 3], [4, 5, 6]]^T = [[1, 4], [2, 5], [3, 6]]
        assert_eq!(transpose(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }

    /// Written by `serialize`, read back by `get`: names, shapes and values unchanged, and an
    /// integer tensor refused by name.
    #[test]
    fn serialized_tensors_read_back_and_integer_dtypes_are_refused() {
        let bytes = serialize(vec![("a.weight".to_string(), vec![2, 1], vec![0.5, -3.0])]).expect("serialize");
        let files = TensorFiles::from_bytes(PathBuf::from("x.safetensors"), bytes);
        let tensors = files.parse().expect("parse");
        assert_eq!(tensors.get("a.weight"), Ok((vec![2, 1], vec![0.5, -3.0])));
        assert_eq!(tensors.get("b.weight"), Err("tensor b.weight is missing".to_string()));
        let ints = [7u8, 0, 0, 0];
        let view = TensorView::new(Dtype::I32, vec![1], &ints).expect("view");
        assert_eq!(to_f32("ids", &view), Err("tensor ids has dtype I32, expected F32, F16, BF16 or F64".to_string()));
    }

    /// Hand-encoded half-precision bits: f16 0x3C00 = 1.0, 0xC100 = -2.5, 0x0001 = 2^-24 (the
    /// smallest subnormal); bf16 0x3F80 = 1.0, 0xC020 = -2.5, 0x0001 = 2^-133.
    #[test]
    fn half_precision_bits_convert_exactly() {
        let f16_bits: Vec<u8> = [0x3C00u16, 0xC100, 0x0001].iter().flat_map(|b| b.to_le_bytes()).collect();
        let view = TensorView::new(Dtype::F16, vec![3], &f16_bits).expect("view");
        assert_eq!(to_f32("h", &view), Ok(vec![1.0, -2.5, 2f32.powi(-24)]));
        let bf16_bits: Vec<u8> = [0x3F80u16, 0xC020, 0x0001].iter().flat_map(|b| b.to_le_bytes()).collect();
        let view = TensorView::new(Dtype::BF16, vec![3], &bf16_bits).expect("view");
        assert_eq!(to_f32("b", &view), Ok(vec![1.0, -2.5, 2f32.powi(-133)]));
    }
}
