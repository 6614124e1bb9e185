//! The file formats a corpus is read from: plain text (one document a file), and records (one
//! document each) in jsonl, gzip- or zstd-compressed jsonl, and Parquet.

mod counting;
mod jsonl;
mod parquet;

use std::path::Path;

use anyhow::Result;

pub use self::jsonl::{JsonlReader, Compression};
pub use self::parquet::ParquetReader;

/// The extensions a directory's files are taken by, for messages.
pub const SUPPORTED: &str = ".txt, .jsonl, .jsonl.gz, .jsonl.zst, .parquet";

/// How a corpus file holds its documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The whole file is one document of UTF-8 text.
    Text,
    /// One JSON object a line; the document is its `data.text_field` string.
    Jsonl(Compression),
    /// One row a document: the string column named `data.text_field`.
    Parquet,
}

impl Format {
    /// The format a file's name says, when it is one of [`SUPPORTED`].
    pub fn of(path: &Path) -> Option<Self> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        [
            (".txt", Self::Text),
            (".jsonl", Self::Jsonl(Compression::None)),
            (".jsonl.gz", Self::Jsonl(Compression::Gzip)),
            (".jsonl.zst", Self::Jsonl(Compression::Zstd)),
            (".parquet", Self::Parquet),
        ]
        .into_iter()
        .find_map(|(ext, format)| name.ends_with(ext).then_some(format))
    }
}

/// A file's documents, read one at a time.
pub trait RecordReader {
    /// The next document: its record index in the file (a jsonl line's index from 0, a Parquet
    /// row's) and its text; `None` after the last.
    fn next_document(&mut self) -> Result<Option<(u64, String)>>;
    /// Bytes of the file read so far (about: decoders and row groups read ahead), for progress.
    fn bytes_read(&self) -> u64;
}

/// Opens the records of `path` (a [`Format`] with records), positioned at record `from`: the
/// documents before it are skipped (a jsonl file is decoded from its start; Parquet seeks to the
/// row group that holds it).
pub fn open_records(path: &Path, format: Format, text_field: &str, from: u64) -> Result<Box<dyn RecordReader + Send>> {
    Ok(match format {
        Format::Jsonl(compression) => Box::new(JsonlReader::open(path, compression, text_field, from)?),
        Format::Parquet => Box::new(ParquetReader::open(path, text_field, from)?),
        Format::Text => anyhow::bail!("{}: a text file holds no records", path.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_the_file_name() {
        let of = |name: &str| Format::of(Path::new(name));
        assert_eq!(of("a/b.txt"), Some(Format::Text));
        assert_eq!(of("x.jsonl"), Some(Format::Jsonl(Compression::None)));
        assert_eq!(of("x.JSONL.GZ"), Some(Format::Jsonl(Compression::Gzip)));
        assert_eq!(of("x.jsonl.zst"), Some(Format::Jsonl(Compression::Zstd)));
        assert_eq!(of("000_00000.parquet"), Some(Format::Parquet));
        assert_eq!(of("data.json"), None);
        assert_eq!(of("x.gz"), None);
    }
}
