//! Parquet corpora (FineWeb's and FineWeb-Edu's shards): one document a row, the string column
//! named `data.text_field`. Read a row group at a time, a page at a time within it, through the
//! parquet crate's column reader (no arrow), so memory holds a page and a batch of values.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use parquet::basic::{ConvertedType, LogicalType, Type as PhysicalType};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{ByteArray, ByteArrayType};
use parquet::file::reader::{FileReader, SerializedFileReader};

use super::RecordReader;

/// Rows decoded at once.
const BATCH_ROWS: usize = 256;

/// A row group: its first row in the file, its rows, and the file's bytes up to its end (about).
#[derive(Debug, Clone, Copy)]
struct Group {
    first_row: u64,
    rows: u64,
    bytes_through: u64,
}

/// The documents of a Parquet file.
pub struct ParquetReader {
    path: PathBuf,
    file: SerializedFileReader<File>,
    column: usize,
    field: String,
    groups: Vec<Group>,
    /// The row group being read, and its reader (`None` before its first batch).
    group: usize,
    reader: Option<ColumnReaderImpl<ByteArrayType>>,
    /// The rows of the batch decoded last, as values and definition levels (0: a null).
    values: Vec<ByteArray>,
    levels: Vec<i16>,
    nullable: bool,
    /// Next level and next value of the batch to hand out.
    next_level: usize,
    next_value: usize,
    /// Row index (in the file) of the next document.
    row: u64,
}

impl ParquetReader {
    /// Opens `path` and finds its string column `field`, positioned at row `from` (the row groups
    /// before the one that holds it are not read).
    pub fn open(path: &Path, field: &str, from: u64) -> Result<Self> {
        let handle = File::open(path).with_context(|| format!("cannot read data file {}", path.display()))?;
        let file = SerializedFileReader::new(handle)
            .map_err(|e| anyhow!("{}: not a readable Parquet file ({})", path.display(), describe(&e)))?;
        let schema = file.metadata().file_metadata().schema_descr_ptr();
        let names: Vec<String> = schema.columns().iter().map(|c| c.path().string()).collect();
        let column = names.iter().position(|n| n == field).ok_or_else(|| {
            anyhow!(
                "{}: no column \"{field}\" (data.text_field, `prepare --text-field`); its columns: {}",
                path.display(),
                names.join(", ")
            )
        })?;
        let descr = schema.column(column);
        let string = descr.physical_type() == PhysicalType::BYTE_ARRAY
            && descr.max_rep_level() == 0
            && (matches!(descr.logical_type_ref(), Some(LogicalType::String)) || descr.converted_type() == ConvertedType::UTF8);
        if !string {
            bail!(
                "{}: column \"{field}\" holds {} values, not strings",
                path.display(),
                match descr.logical_type_ref() {
                    Some(logical) => format!("{logical:?}"),
                    None => format!("{}", descr.physical_type()),
                }
            );
        }
        let nullable = descr.max_def_level() > 0;
        let (mut groups, mut first_row, mut bytes) = (Vec::new(), 0u64, 0u64);
        for g in file.metadata().row_groups() {
            let rows = g.num_rows().max(0) as u64;
            bytes += g.compressed_size().max(0) as u64;
            groups.push(Group { first_row, rows, bytes_through: bytes });
            first_row += rows;
        }
        let group = groups.iter().position(|g| from < g.first_row + g.rows).unwrap_or(groups.len());
        let mut reader = Self {
            path: path.to_path_buf(),
            file,
            column,
            field: field.to_string(),
            groups,
            group,
            reader: None,
            values: Vec::new(),
            levels: Vec::new(),
            nullable,
            next_level: 0,
            next_value: 0,
            row: from,
        };
        if let Some(g) = reader.groups.get(group).copied() {
            let skip = (from - g.first_row) as usize;
            let mut column_reader = reader.open_group()?;
            let skipped = column_reader.skip_records(skip).map_err(|e| reader.damaged(e))?;
            if skipped != skip {
                bail!("{}: row group {group} has {skipped} rows, its metadata says {}", path.display(), g.rows);
            }
            reader.reader = Some(column_reader);
        }
        Ok(reader)
    }

    /// The column reader of the current row group.
    fn open_group(&self) -> Result<ColumnReaderImpl<ByteArrayType>> {
        let group = self.file.get_row_group(self.group).map_err(|e| self.damaged(e))?;
        match group.get_column_reader(self.column).map_err(|e| self.damaged(e))? {
            ColumnReader::ByteArrayColumnReader(reader) => Ok(reader),
            _ => bail!("{}: row group {}: column \"{}\" is not a string column", self.path.display(), self.group, self.field),
        }
    }

    /// An error of the current row group.
    fn damaged(&self, e: parquet::errors::ParquetError) -> anyhow::Error {
        anyhow!("{}: row group {}: cannot read column \"{}\" ({})", self.path.display(), self.group, self.field, describe(&e))
    }

    /// Decodes the next batch of rows, moving to the next row group when one ends; `false`
    /// after the last row group.
    fn next_batch(&mut self) -> Result<bool> {
        while self.group < self.groups.len() {
            let mut reader = match self.reader.take() {
                Some(reader) => reader,
                None => self.open_group()?,
            };
            self.values.clear();
            self.levels.clear();
            let (rows, _, _) = reader
                .read_records(BATCH_ROWS, Some(&mut self.levels), None, &mut self.values)
                .map_err(|e| self.damaged(e))?;
            if rows > 0 {
                if !self.nullable {
                    self.levels = vec![0; rows]; // no levels: every row holds a value
                }
                (self.next_level, self.next_value) = (0, 0);
                self.reader = Some(reader);
                return Ok(true);
            }
            let group = self.groups[self.group];
            if self.row != group.first_row + group.rows {
                bail!(
                    "{}: row group {}: {} rows read, its metadata says {}",
                    self.path.display(),
                    self.group,
                    self.row - group.first_row,
                    group.rows
                );
            }
            self.group += 1;
        }
        Ok(false)
    }
}

/// The parquet crate's message, without its "Parquet error: " prefix (the error chain says
/// "error:" once).
fn describe(e: &parquet::errors::ParquetError) -> String {
    let text = e.to_string();
    text.strip_prefix("Parquet error: ").map_or(text.clone(), str::to_string)
}

impl RecordReader for ParquetReader {
    fn next_document(&mut self) -> Result<Option<(u64, String)>> {
        if self.next_level >= self.levels.len() && !self.next_batch()? {
            return Ok(None);
        }
        let level = self.levels[self.next_level];
        self.next_level += 1;
        let (row, group) = (self.row, self.group);
        self.row += 1;
        let at = || format!("{}: row group {group}, row {row}", self.path.display());
        if self.nullable && level == 0 {
            bail!("{}: \"{}\" is null, not a string", at(), self.field);
        }
        let value = self.values.get(self.next_value).ok_or_else(|| anyhow!("{}: a value is missing", at()))?;
        self.next_value += 1;
        let text = std::str::from_utf8(value.data()).map_err(|e| anyhow!("{}: \"{}\" is not UTF-8 ({e})", at(), self.field))?;
        Ok(Some((row, text.to_string())))
    }

    fn bytes_read(&self) -> u64 {
        self.groups.get(self.group).or(self.groups.last()).map_or(0, |g| g.bytes_through)
    }
}
