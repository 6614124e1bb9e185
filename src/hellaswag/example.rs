//! HellaSwag's jsonl: one example per line with `ctx`, `endings` (four strings) and `label`
//! (0 to 3); `ind` when present; other fields ignored.

use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// One multiple-choice example.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The dataset's `ind`, or the example's 0-based position in the file when it has none.
    pub ind: u64,
    /// The context the endings continue.
    pub ctx: String,
    /// The four candidate endings.
    pub endings: [String; 4],
    /// Index of the right ending.
    pub label: usize,
    /// 1-based line of the file, for messages.
    pub line: usize,
}

#[derive(Deserialize)]
struct Line {
    ctx: String,
    endings: Vec<String>,
    label: usize,
    ind: Option<u64>,
}

/// The first `limit` examples of `path` (all of them with `None`); blank lines are skipped. A line
/// that is not such an example is an error naming the file and the line.
pub fn read_examples(path: &Path, limit: Option<usize>) -> Result<Vec<Example>> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open the HellaSwag file {}", path.display()))?;
    let mut examples = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        if limit.is_some_and(|n| examples.len() >= n) {
            break;
        }
        let line_no = i + 1;
        let line = line.with_context(|| format!("{}:{line_no}: cannot be read (not UTF-8?)", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let example = parse(&line, examples.len() as u64, line_no)
            .with_context(|| format!("{}:{line_no}: not a HellaSwag example", path.display()))?;
        examples.push(example);
    }
    if examples.is_empty() {
        bail!("{} holds no HellaSwag example (expected one JSON object per line)", path.display());
    }
    Ok(examples)
}

fn parse(text: &str, position: u64, line: usize) -> Result<Example> {
    let raw: Line = serde_json::from_str(text)
        .context("expected a JSON object with \"ctx\" (string), \"endings\" (4 strings) and \"label\" (0 to 3)")?;
    let endings: [String; 4] = raw
        .endings
        .try_into()
        .map_err(|e: Vec<String>| anyhow::anyhow!("\"endings\" has {} strings, expected 4", e.len()))?;
    if raw.label > 3 {
        bail!("\"label\" is {}, expected 0 to 3", raw.label);
    }
    Ok(Example { ind: raw.ind.unwrap_or(position), ctx: raw.ctx, endings, label: raw.label, line })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(f.path(), text).expect("write");
        f
    }

    #[test]
    fn reads_examples_ignoring_other_fields_and_blank_lines() {
        let f = file(
            "{\"ind\": 24, \"ctx\": \"A man\", \"endings\": [\"a\", \"b\", \"c\", \"d\"], \"label\": 3, \"split\": \"val\"}\n\n\
             {\"ctx\": \"B\", \"endings\": [\"e\", \"f\", \"g\", \"h\"], \"label\": 0}\n",
        );
        let got = read_examples(f.path(), None).expect("reads");
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].ind, got[0].ctx.as_str(), got[0].label, got[0].line), (24, "A man", 3, 1));
        // No `ind`: the example's position in the file.
        assert_eq!((got[1].ind, got[1].endings[3].as_str(), got[1].line), (1, "h", 3));
        assert_eq!(read_examples(f.path(), Some(1)).expect("reads").len(), 1);
    }

    #[test]
    fn a_bad_line_is_named() {
        let good = "{\"ctx\": \"c\", \"endings\": [\"a\", \"b\", \"c\", \"d\"], \"label\": 1}\n";
        for (bad, why) in [
            ("{\"ctx\": \"c\", \"endings\": [\"a\", \"b\", \"c\"], \"label\": 1}", "has 3 strings, expected 4"),
            ("{\"ctx\": \"c\", \"endings\": [\"a\", \"b\", \"c\", \"d\"], \"label\": 4}", "\"label\" is 4"),
            ("{\"endings\": [\"a\", \"b\", \"c\", \"d\"], \"label\": 1}", "missing field `ctx`"),
            ("not json", "expected a JSON object"),
        ] {
            let f = file(&format!("{good}{bad}\n"));
            let err = format!("{:#}", read_examples(f.path(), None).expect_err("bad line"));
            assert!(err.contains(&format!("{}:2: not a HellaSwag example", f.path().display())), "{err}");
            assert!(err.contains(why), "{err}");
        }
        let empty = file("\n");
        assert!(format!("{:#}", read_examples(empty.path(), None).expect_err("empty")).contains("holds no HellaSwag example"));
    }
}
