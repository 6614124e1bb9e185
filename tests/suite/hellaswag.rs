//! `eval --hellaswag` and `eval --hf` against `transformers`: tests/fixtures/hellaswag/make_fixture.py
//! scored its 120 examples with the random GPT-2 of tests/fixtures/hf_gpt2 by llm.c's method
//! (karpathy/llm.c dev/data/hellaswag.py, rows cut to the model's 64 positions), and measured the
//! loss `eval --hf --data` reports on the first 5,000 characters of tinyshakespeare.
// CPU builds only (CI's lavapipe run skips it): scoring is host arithmetic over the model's losses; parity checks the model on each backend.
#![cfg(not(feature = "wgpu"))]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> String {
    root().join("tests/fixtures").join(name).display().to_string()
}

fn examples() -> String {
    fixture("hellaswag/examples.jsonl")
}

fn burngpt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_burngpt")).current_dir(root()).args(args).output().expect("the binary runs")
}

fn ok(args: &[&str]) -> String {
    let out = burngpt(args);
    assert!(out.status.success(), "burngpt {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(args: &[&str]) -> String {
    let out = burngpt(args);
    assert!(!out.status.success(), "burngpt {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One line of `--out`, or one example of expected.json (whose extra fields are ignored here).
#[derive(Debug, Deserialize, PartialEq)]
struct Scored {
    ind: u64,
    label: usize,
    pred: usize,
    pred_norm: usize,
    losses: [f64; 4],
}

#[derive(Deserialize)]
struct Expected {
    loss_chars: usize,
    val_loss: f64,
    val_bpb: f64,
    examples: usize,
    acc: f64,
    acc_norm: f64,
    truncated_examples: usize,
    min_margin: f64,
    min_margin_norm: f64,
    results: Vec<Scored>,
}

fn expected() -> Expected {
    let text = std::fs::read_to_string(fixture("hellaswag/expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("expected.json parses")
}

fn read_out(path: &Path) -> Vec<Scored> {
    let text = std::fs::read_to_string(path).expect("--out is written");
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("--out line {l}: {e}"))).collect()
}

fn last_line(stdout: &str) -> &str {
    stdout.lines().last().unwrap_or("")
}

#[test]
fn hellaswag_on_the_fixture_equals_transformers() {
    let want = expected();
    // The fixture exercises the cut to 64 positions, and no prediction is a near-tie that float
    // error could flip: the closest best-vs-second gaps are 9.9e-3 (sum) and 1.6e-3 (mean), against
    // float32 differences of about 1e-4 on sums of ~200 nats.
    assert_eq!(want.examples, 120);
    assert!(want.truncated_examples > 0);
    assert!(want.min_margin > 1e-3 && want.min_margin_norm > 1e-3, "{} {}", want.min_margin, want.min_margin_norm);

    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("scored.jsonl");
    let stdout = ok(&["eval", "--hf", &fixture("hf_gpt2"), "--hellaswag", &examples(), "--out", out.to_str().expect("utf-8")]);
    // transformers: acc 25/120, acc_norm 28/120.
    assert_eq!(((want.acc * 120.0).round(), (want.acc_norm * 120.0).round()), (25.0, 28.0));
    assert_eq!(last_line(&stdout), "hellaswag: 120 examples | acc 0.2083 | acc_norm 0.2333", "{stdout}");

    let got = read_out(&out);
    assert_eq!(got.len(), want.results.len());
    for (g, w) in got.iter().zip(&want.results) {
        assert_eq!((g.ind, g.label, g.pred, g.pred_norm), (w.ind, w.label, w.pred, w.pred_norm), "example {}", w.ind);
        for (a, b) in g.losses.iter().zip(&w.losses) {
            assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "example {}: losses {:?} vs {:?}", w.ind, g.losses, w.losses);
        }
    }
    // Lines without "ind" get their 0-based position (make_fixture.py drops it from every tenth from 3).
    assert_eq!((got[3].ind, got[13].ind, got[4].ind), (3, 13, 1004));
}

#[test]
fn eval_hf_measures_the_loss_of_data_and_needs_something_to_score() {
    let want = expected();
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(root().join("data/tinyshakespeare.txt")).expect("tinyshakespeare");
    let data = dir.path().join("head.txt");
    std::fs::write(&data, text.chars().take(want.loss_chars).collect::<String>()).expect("write");
    let stdout = ok(&["eval", "--hf", &fixture("hf_gpt2"), "--data", data.to_str().expect("utf-8")]);
    assert!(stdout.contains("54 windows of 65 tokens in 7 batches"), "{stdout}");
    let number = |marker: &str| -> f64 {
        stdout
            .split(marker)
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("{marker} in {stdout}"))
    };
    // Printed to 4 decimals: transformers' 7.054077 and 7.235405.
    let (loss, bpb) = (number("val loss "), number("bpb "));
    assert!((loss - want.val_loss).abs() <= 6e-5, "{loss} vs {}", want.val_loss);
    assert!((bpb - want.val_bpb).abs() <= 6e-5, "{bpb} vs {}", want.val_bpb);

    let err = fails(&["eval", "--hf", &fixture("hf_gpt2")]);
    assert!(err.contains("eval --hf needs --data FILE"), "{err}");
    let err = fails(&["eval", "--hf", &fixture("hf_gpt2"), "--hellaswag", &examples(), "--limit", "0"]);
    assert!(err.contains("--limit 0"), "{err}");
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"ctx\": \"a\", \"endings\": [\"b\", \"c\", \"d\", \"e\"], \"label\": 0}\n{\"ctx\": \"a\"}\n").expect("write");
    let err = fails(&["eval", "--hf", &fixture("hf_gpt2"), "--hellaswag", bad.to_str().expect("utf-8")]);
    assert!(err.contains(&format!("{}:2: not a HellaSwag example", bad.display())) && err.contains("missing field `endings`"), "{err}");
}

#[test]
fn eval_run_with_limit_scores_as_its_hf_export() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(root().join("data/tinyshakespeare.txt")).expect("tinyshakespeare");
    let data = dir.path().join("corpus.txt");
    std::fs::write(&data, text.chars().take(50_000).collect::<String>()).expect("write");
    // A tiny model trained from scratch for two steps, with a 300-token BPE and 32 positions (so
    // most rows are cut).
    let (data_set, out_set) = (format!("data.path={}", data.display()), format!("training.out_dir={}", dir.path().display()));
    #[rustfmt::skip]
    ok(&["--config", "configs/tiny.toml", "--set", &data_set, "--set", &out_set, "--set", "training.run_name=ft",
        "--set", "data.tokenizer=bpe", "--set", "data.vocab_size=300", "--set", "training.max_steps=2",
        "--set", "schedule.warmup_steps=1", "--set", "training.eval_every=2", "--set", "training.checkpoint_every=2",
        "--set", "training.eval_batches=1", "--set", "training.batch_size=4", "--set", "training.log_every=1"]);
    let run = dir.path().join("ft");
    let run_s = run.to_str().expect("utf-8");

    let from_run = dir.path().join("run.jsonl");
    let stdout = ok(&["eval", "--run", run_s, "--checkpoint", "last", "--hellaswag", &examples(), "--limit", "10", "--out", from_run.to_str().expect("utf-8")]);
    assert!(last_line(&stdout).starts_with("hellaswag: 10 examples | acc "), "{stdout}");
    let from_run = read_out(&from_run);
    assert_eq!(from_run.len(), 10);

    // The same weights through `export` and --hf: the same file, to the bit.
    let hf = dir.path().join("hf");
    ok(&["export", "--run", run_s, "--checkpoint", "last", "--out", hf.to_str().expect("utf-8")]);
    let from_hf = dir.path().join("hf.jsonl");
    ok(&["eval", "--hf", hf.to_str().expect("utf-8"), "--hellaswag", &examples(), "--limit", "10", "--out", from_hf.to_str().expect("utf-8")]);
    assert_eq!(from_run, read_out(&from_hf));
    assert!(from_run.iter().all(|s| s.losses.iter().all(|l| l.is_finite() && *l > 0.0)), "{from_run:?}");
}
