//! jsonl corpora, plain or gzip- or zstd-compressed: one JSON object a line, whose string field
//! `data.text_field` is a document. Read line by line through a streaming decoder, so memory
//! holds one line, whatever the file's size.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};

use super::counting::{count, CountingReader};
use super::RecordReader;

/// Buffer of the file reader and of the decoder's output.
const BUFFER_BYTES: usize = 1 << 16;

/// How a jsonl file is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `.jsonl`.
    None,
    /// `.jsonl.gz` (members of a multi-member file are read in turn).
    Gzip,
    /// `.jsonl.zst` (frames are read in turn).
    Zstd,
}

/// The documents of a jsonl file.
pub struct JsonlReader {
    path: PathBuf,
    compression: Compression,
    lines: Box<dyn BufRead + Send>,
    field: String,
    /// Index of the next line (from 0).
    line: u64,
    read: Arc<AtomicU64>,
    buf: Vec<u8>,
}

impl JsonlReader {
    /// Opens `path`, skipping its first `from` lines.
    pub fn open(path: &Path, compression: Compression, field: &str, from: u64) -> Result<Self> {
        let file = File::open(path).with_context(|| format!("cannot read data file {}", path.display()))?;
        let (counting, read) = CountingReader::new(file);
        let raw = BufReader::with_capacity(BUFFER_BYTES, counting);
        let lines: Box<dyn BufRead + Send> = match compression {
            Compression::None => Box::new(raw),
            Compression::Gzip => Box::new(BufReader::with_capacity(BUFFER_BYTES, flate2::bufread::MultiGzDecoder::new(raw))),
            Compression::Zstd => {
                let decoder = zstd::stream::read::Decoder::with_buffer(raw)
                    .with_context(|| format!("{}: cannot start a zstd decoder", path.display()))?;
                Box::new(BufReader::with_capacity(BUFFER_BYTES, decoder))
            }
        };
        let mut reader =
            Self { path: path.to_path_buf(), compression, lines, field: field.to_string(), line: 0, read, buf: Vec::new() };
        while reader.line < from && reader.read_line()? {}
        Ok(reader)
    }

    /// Reads the next line into `buf`; `false` at the end of the file.
    fn read_line(&mut self) -> Result<bool> {
        self.buf.clear();
        let n = self.lines.read_until(b'\n', &mut self.buf).map_err(|e| {
            let what = match self.compression {
                Compression::None => "cannot read it",
                Compression::Gzip => "a damaged or truncated gzip stream",
                Compression::Zstd => "a damaged or truncated zstd stream",
            };
            anyhow!("{}: line {}: {what} ({e})", self.path.display(), self.line + 1)
        })?;
        self.line += 1;
        Ok(n > 0)
    }
}

impl RecordReader for JsonlReader {
    fn next_document(&mut self) -> Result<Option<(u64, String)>> {
        loop {
            if !self.read_line()? {
                return Ok(None);
            }
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue; // a blank line holds no record
            }
            let index = self.line - 1;
            let text = text_of(&self.buf, &self.field)
                .with_context(|| format!("{}: line {}", self.path.display(), index + 1))?;
            return Ok(Some((index, text)));
        }
    }

    fn bytes_read(&self) -> u64 {
        count(&self.read)
    }
}

/// The string field `field` of the JSON object `line`; an error saying what is wrong otherwise.
pub fn text_of(line: &[u8], field: &str) -> Result<String> {
    let mut de = serde_json::Deserializer::from_slice(line);
    let found = FieldOf(field).deserialize(&mut de).and_then(|found| de.end().map(|()| found));
    match found.map_err(|e| anyhow!("not a valid JSON object ({e})"))? {
        Field::Text(text) => Ok(text),
        Field::Missing => bail!("no \"{field}\" field (data.text_field, `prepare --text-field`)"),
        Field::Other(kind) => bail!("\"{field}\" is {kind}, not a string"),
    }
}

/// What an object holds under the field looked for.
enum Field {
    Missing,
    Text(String),
    Other(&'static str),
}

/// Deserializes an object keeping only the field named `.0`, and ignoring the others without
/// building them (FineWeb's records carry urls, dates and scores beside the text).
struct FieldOf<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for FieldOf<'_> {
    type Value = Field;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Field, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FieldOf<'_> {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Field, A::Error> {
        let mut found = Field::Missing;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == self.0 {
                found = match map.next_value::<serde_json::Value>()? {
                    serde_json::Value::String(text) => Field::Text(text),
                    other => Field::Other(kind(&other)),
                };
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// A JSON value's kind, for messages.
fn kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_field_is_read_and_every_other_ignored() {
        let line = br#"{"id": 3, "meta": {"text": "nested"}, "text": "caf\u00e9\nline two", "score": [1, 2.5]}"#;
        assert_eq!(text_of(line, "text").expect("text"), "café\nline two");
        assert_eq!(text_of(br#"{"content": "x"}"#, "content").expect("content"), "x");
    }

    #[test]
    fn a_missing_field_a_non_string_and_bad_json_say_so() {
        let err = |line: &[u8]| format!("{:#}", text_of(line, "text").expect_err("an error"));
        assert!(err(br#"{"body": "x"}"#).contains("no \"text\" field"));
        assert!(err(br#"{"text": 12}"#).contains("\"text\" is a number, not a string"));
        assert!(err(br#"{"text": null}"#).contains("is null"));
        assert!(err(br#"{"text": "x""#).contains("not a valid JSON object"));
        assert!(err(br#"["text"]"#).contains("not a valid JSON object"));
        assert!(err(br#"{"text": "x"} {}"#).contains("not a valid JSON object"));
    }

    /// Lines are counted from 1 in messages, blank lines included, and skipping starts at a line.
    #[test]
    fn records_are_numbered_by_line_and_can_be_skipped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a.jsonl");
        let mut f = File::create(&path).expect("create");
        write!(f, "{{\"text\": \"a\"}}\n\n{{\"text\": \"b\"}}\n{{\"text\": 1}}\n").expect("write");
        let mut r = JsonlReader::open(&path, Compression::None, "text", 0).expect("open");
        assert_eq!(r.next_document().expect("a"), Some((0, "a".to_string())));
        assert_eq!(r.next_document().expect("b"), Some((2, "b".to_string())));
        let err = format!("{:#}", r.next_document().expect_err("line 4"));
        assert!(err.contains("a.jsonl: line 4: \"text\" is a number"), "{err}");
        let mut r = JsonlReader::open(&path, Compression::None, "text", 2).expect("open");
        assert_eq!(r.next_document().expect("b"), Some((2, "b".to_string())));
    }
}
