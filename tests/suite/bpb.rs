//! Bits per byte: in metrics.csv, on the validation log line and in `eval`'s result.
// CPU builds only (CI's lavapipe run skips it): the figures are host arithmetic over eval's per-target losses; parity checks the losses on each backend.
#![cfg(not(feature = "wgpu"))]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use burngpt::data::Tokenizer;
use burngpt::report::read_metrics;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn burngpt(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_burngpt")).current_dir(root()).args(args).output().expect("the binary runs");
    assert!(out.status.success(), "{args:?} failed: {}\n{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    out
}

fn number_after(text: &str, marker: &str) -> f64 {
    let rest = &text[text.rfind(marker).unwrap_or_else(|| panic!("no {marker:?} in {text}")) + marker.len()..];
    let token: String = rest.trim_start().chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    token.parse().unwrap_or_else(|_| panic!("no number after {marker:?}"))
}

/// Trains configs/tiny.toml for 20 steps into `out` with `extra` overrides; returns the run.
fn train(out: &Path, extra: &[&str]) -> PathBuf {
    let corpus = root().join("data/tinyshakespeare.txt");
    let mut args = vec!["--config".to_string(), "configs/tiny.toml".to_string()];
    for set in [
        format!("data.path={}", corpus.display()),
        format!("training.out_dir={}", out.display()),
        "training.max_steps=20".to_string(),
        "training.eval_every=10".to_string(),
        "training.eval_batches=2".to_string(),
    ]
    .iter()
    .chain(&extra.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    {
        args.extend(["--set".to_string(), set.clone()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out_text = burngpt(&args);
    let stdout = String::from_utf8_lossy(&out_text.stdout);
    assert!(stdout.contains("| Val bpb: "), "{stdout}");
    out.join("tiny")
}

/// A char model of ASCII text: every token is one byte, so bits per byte is the loss in bits,
/// val loss / ln 2, in every evaluated row of metrics.csv and in `eval`.
#[test]
fn on_a_char_run_of_ascii_text_bpb_is_val_loss_over_ln_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = train(dir.path(), &[]);
    let rows = read_metrics(&run.join("metrics.csv")).expect("metrics").rows;
    let evaluated: Vec<_> = rows.iter().filter(|r| r.val_loss.is_some()).collect();
    assert_eq!(evaluated.iter().map(|r| r.step).collect::<Vec<_>>(), [0, 10, 20]);
    for row in evaluated {
        let (loss, bpb) = (row.val_loss.expect("loss"), row.val_bpb.expect("bpb"));
        assert!((bpb - loss / std::f64::consts::LN_2).abs() <= 1e-6 * bpb, "step {}: bpb {bpb}, loss {loss}", row.step);
    }
    let out = burngpt(&["eval", "--run", run.to_str().expect("utf8"), "--checkpoint", "last"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (loss, bpb) = (number_after(&stdout, "val loss"), number_after(&stdout, "| bpb"));
    // Both printed to 4 decimals.
    assert!((bpb - loss / std::f64::consts::LN_2).abs() < 2e-4, "{stdout}");
}

/// A BPE model: `eval --data FILE` scores every window of block_size + 1 tokens; bpb is the
/// summed loss of the windows' targets over ln 2 times the bytes those targets decode to,
/// computed here from the run's own tokenizer.json. Batch size 1, so the printed mean loss
/// times the number of targets is their summed loss.
#[test]
fn on_a_bpe_run_bpb_matches_the_decoded_bytes_of_the_targets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = train(dir.path(), &["data.tokenizer=bpe", "data.vocab_size=400", "training.batch_size=1"]);
    let text: String = std::fs::read_to_string(root().join("data/tinyshakespeare.txt")).expect("corpus").chars().take(6000).collect();
    let file = dir.path().join("eval.txt");
    std::fs::write(&file, &text).expect("write");
    let out = burngpt(&["eval", "--run", run.to_str().expect("utf8"), "--checkpoint", "last", "--data", file.to_str().expect("utf8")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (loss, bpb) = (number_after(&stdout, "val loss"), number_after(&stdout, "| bpb"));

    let tokenizer = Tokenizer::load(&run.join("tokenizer.json")).expect("tokenizer");
    let ids = tokenizer.encode(&text).expect("encode");
    let window = 32 + 1;
    let windows = ids.len() / window;
    let bytes: usize = (0..windows).map(|w| tokenizer.decode(&ids[w * window + 1..(w + 1) * window]).expect("decode").len()).sum();
    let targets = windows * (window - 1);
    assert_eq!(number_after(&stdout, &format!("{}:", file.display())) as usize, windows, "{stdout}");
    let hand = loss * targets as f64 / (std::f64::consts::LN_2 * bytes as f64);
    // The loss is printed to 4 decimals: hand carries its rounding (5e-5) times bytes/token < 1.
    assert!((bpb - hand).abs() < 2e-4, "bpb {bpb}, by hand {hand} ({targets} targets, {bytes} bytes)\n{stdout}");
    // BPE tokens hold more than one byte: bpb is well below the loss in bits.
    assert!(bytes as f64 / targets as f64 > 1.5 && bpb < 0.8 * loss / std::f64::consts::LN_2, "{bytes} bytes");
}
