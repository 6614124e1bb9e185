//! A Burn record's tensors checked before Burn reads it: Burn's loader turns each tensor's bytes
//! into a tensor of the recorded shape without comparing the two. When a damaged file makes them
//! disagree, burn-ndarray builds the array with `ArrayD::from_shape_vec_unchecked` (a tensor of 4
//! elements over the memory of 3: reads and writes past its end, no error, no panic), or panics
//! when the byte count is not a multiple of the element size.

use std::fmt;

use burn::module::ParamId;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Deeper than any record Burn writes (a module's nesting plus a tensor's fields).
const MAX_DEPTH: usize = 64;

/// A record's MessagePack as a tree, a byte string kept as its length only (no copy).
enum Node {
    Str(String),
    Bytes(usize),
    Int(u128),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Other,
}

/// Reads one [`Node`] at `depth`.
struct Reader {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Reader {
    type Value = Node;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        if self.depth > MAX_DEPTH {
            return Err(de::Error::custom(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Reader {
    type Value = Node;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a MessagePack value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(u128::try_from(v).map_or(Node::Other, Node::Int))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Int(v.into()))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Node, E> {
        Ok(Node::Bytes(v.len()))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Reader { depth: self.depth + 1 }.deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Reader { depth: self.depth + 1 }.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Reader { depth: self.depth + 1 })? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key_seed(Reader { depth: self.depth + 1 })? {
            entries.push((key, map.next_value_seed(Reader { depth: self.depth + 1 })?));
        }
        Ok(Node::Map(entries))
    }
}

/// Bytes per element of a Burn `DType` by its name; `None` for the kinds not checked here.
fn element_bytes(dtype: &str) -> Option<u128> {
    match dtype {
        "F64" | "I64" | "U64" => Some(8),
        "F32" | "Flex32" | "I32" | "U32" => Some(4),
        "F16" | "BF16" | "I16" | "U16" => Some(2),
        "I8" | "U8" => Some(1),
        _ => None,
    }
}

/// Checks that every tensor of the MessagePack record `bytes` (a map with `bytes`, `shape` and
/// `dtype`, as Burn's `TensorData`) holds exactly the bytes its shape and element type need. The
/// error names the tensor by its path of keys.
pub(super) fn check_tensors(bytes: &[u8]) -> Result<(), String> {
    let mut deserializer = rmp_serde::Deserializer::from_read_ref(bytes);
    let root = Reader { depth: 0 }.deserialize(&mut deserializer).map_err(|e| e.to_string())?;
    check_node(&root, "")
}

fn check_node(node: &Node, path: &str) -> Result<(), String> {
    match node {
        Node::Map(entries) => {
            let field = |name: &str| entries.iter().find(|(k, _)| matches!(k, Node::Str(s) if s == name)).map(|(_, v)| v);
            if let (Some(Node::Bytes(len)), Some(Node::Seq(shape)), Some(Node::Str(dtype))) =
                (field("bytes"), field("shape"), field("dtype"))
            {
                return check_tensor(*len, shape, dtype, path);
            }
            if let (Some(id), Some(_)) = (field("id"), field("param")) {
                check_id(id, &format!("{path}.id"))?;
            }
            // A map keyed by parameter ids (an optimizer's state): one key that is an id as Burn
            // writes them (13 characters) marks it, and then every key must be one.
            let is_id = |k: &Node| matches!(k, Node::Str(s) if s.len() == 13 && ParamId::try_deserialize(s).is_some());
            if entries.iter().any(|(k, _)| is_id(k)) {
                entries.iter().try_for_each(|(k, _)| check_id(k, &format!("{path} key")))?;
            }
            for (key, value) in entries {
                let name = match key {
                    Node::Str(s) => s.clone(),
                    Node::Int(i) => i.to_string(),
                    _ => "?".to_string(),
                };
                check_node(value, &format!("{path}.{name}"))?;
            }
            Ok(())
        }
        Node::Seq(items) => items.iter().enumerate().try_for_each(|(i, item)| check_node(item, &format!("{path}[{i}]"))),
        _ => Ok(()),
    }
}

/// Burn panics on a parameter id that is neither base32 nor a uuid ("Invalid id."), and on a
/// base32 one of more than 8 bytes (a slice copy), both in `ParamId::deserialize`.
fn check_id(id: &Node, path: &str) -> Result<(), String> {
    let valid = match id {
        // More than 13 base32 characters is more than 8 bytes; a uuid has `-`, which is not base32.
        Node::Str(s) if s.len() <= 13 || s.contains('-') => ParamId::try_deserialize(s).is_some(),
        _ => false,
    };
    if !valid {
        let shown = match id {
            Node::Str(s) => format!("{s:?}"),
            _ => "not a string".to_string(),
        };
        return Err(format!("{path}: parameter id {shown} is not one"));
    }
    Ok(())
}

fn check_tensor(len: usize, shape: &[Node], dtype: &str, path: &str) -> Result<(), String> {
    let Some(width) = element_bytes(dtype) else { return Ok(()) };
    let mut dims = Vec::with_capacity(shape.len());
    for dim in shape {
        match dim {
            Node::Int(d) => dims.push(*d),
            _ => return Err(format!("tensor {path}: a shape of non-integers")),
        }
    }
    let needed = dims.iter().try_fold(width, |n, &d| n.checked_mul(d));
    if needed != Some(len as u128) {
        let needed = needed.map_or_else(|| "more than 2^128".to_string(), |n| n.to_string());
        return Err(format!("tensor {path}: shape {dims:?} of {dtype} needs {needed} bytes but it holds {len}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use burn::backend::NdArray;
    use burn::module::{Module, Param};
    use burn::tensor::Tensor;

    use crate::checkpoint::{load_record, record_bytes};
    use crate::test_util::TwoParams;

    type B = NdArray<f32>;

    fn two_params() -> TwoParams<B> {
        let device = Default::default();
        TwoParams {
            g1: Param::from_tensor(Tensor::from_floats([1.0, 2.0, 3.0], &device)),
            g2: Param::from_tensor(Tensor::from_floats([[1.0, 2.0], [3.0, 4.0]], &device)),
        }
    }

    /// `g1`'s shape [3] made [4] in the file (its 12 bytes unchanged): Burn loaded it, a tensor of
    /// 4 elements over the memory of 3 (burn-ndarray's `from_shape_vec_unchecked`). Now an error
    /// naming the file and the tensor.
    #[test]
    fn a_shape_that_disagrees_with_the_bytes_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("model.mpk");
        let bytes = record_bytes::<B, _>(two_params().into_record()).expect("record");
        std::fs::write(&path, &bytes).expect("write");
        let loaded = load_record::<B, <TwoParams<B> as Module<B>>::Record>(&path, &Default::default()).expect("intact");
        assert_eq!(two_params().load_record(loaded).g1.val().into_data().to_vec::<f32>().expect("f32"), [1.0, 2.0, 3.0]);

        let shape = b"shape\x91\x03";
        let at = bytes.windows(shape.len()).position(|w| w == shape).expect("g1's shape in the record");
        let mut damaged = bytes.clone();
        damaged[at + shape.len() - 1] = 4;
        std::fs::write(&path, &damaged).expect("write");
        let err = load_record::<B, <TwoParams<B> as Module<B>>::Record>(&path, &Default::default()).err().expect("fails");
        let err = format!("{err:#}");
        assert!(err.contains("model.mpk: not a valid record: tensor .item.g1.param: shape [4] of F32 needs 16 bytes but it holds 12"), "{err}");
    }

    /// A parameter id damaged (`g1`'s, one character made `!`): Burn panicked ("Invalid id.").
    #[test]
    fn a_damaged_parameter_id_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("model.mpk");
        let record = two_params().into_record();
        let id = record.g1.id.serialize();
        let mut bytes = record_bytes::<B, _>(record).expect("record");
        let at = bytes.windows(id.len()).position(|w| w == id.as_bytes()).expect("g1's id in the record");
        bytes[at] = b'!';
        std::fs::write(&path, &bytes).expect("write");
        let err = load_record::<B, <TwoParams<B> as Module<B>>::Record>(&path, &Default::default()).err().expect("fails");
        let err = format!("{err:#}");
        assert!(err.contains("model.mpk: not a valid record: .item.g1.id: parameter id \"!"), "{err}");
    }

    /// Random bytes nested 1,000 deep (fixarrays of one element) are refused at depth 64.
    #[test]
    fn deep_nesting_is_refused() {
        let err = super::check_tensors(&[0x91; 1000]).expect_err("too deep");
        assert!(err.contains("nested deeper than 64 levels"), "{err}");
    }
}
