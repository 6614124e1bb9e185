//! `optimizer.kind = "muon"` and `schedule.kind = "wsd"` through the binary: exact resume, the
//! learning rates the run logs, the keys a resumed run may not change, and validation.

use burngpt::report::read_metrics;

use crate::resume::{burngpt, fails_with, final_params, ok, tiny_args, train_losses};

/// tiny.toml (20 steps, warmup 5) with Muon, an untied head (so that every group has a
/// parameter: block matrices, embeddings, head, norms and biases) and WSD decaying over the last
/// half of the steps.
fn muon_args(out_dir: &std::path::Path, name: &str) -> Vec<String> {
    let mut args = tiny_args(out_dir, name);
    for set in [
        "optimizer.kind=muon",
        "optimizer.muon_lr=0.02",
        "optimizer.embedding_lr=0.006",
        "optimizer.head_lr=0.002",
        "model.tie_embeddings=false",
        "schedule.kind=wsd",
        "schedule.decay_fraction=0.5",
    ] {
        args.extend(["--set".to_string(), set.to_string()]);
    }
    args
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn a_muon_run_resumes_bit_for_bit() {
    let dir = tempfile::tempdir().expect("tempdir");
    ok(&strs(&muon_args(dir.path(), "whole")));
    let mut split = muon_args(dir.path(), "split");
    split.extend(["--stop-at-step".to_string(), "10".to_string()]);
    let out = burngpt(&strs(&split));
    assert_eq!(out.status.code(), Some(130), "stopping early exits like an interrupt: {}", String::from_utf8_lossy(&out.stderr));
    let split = dir.path().join("split");
    let split_s = split.to_str().expect("utf8");
    // Neither kind may change on resume: the run's trajectory depends on both.
    fails_with(&["--resume", split_s, "--set", "optimizer.kind=adamw"], &["cannot change optimizer.kind"]);
    fails_with(&["--resume", split_s, "--set", "schedule.kind=cosine"], &["cannot change schedule.kind"]);
    fails_with(&["--resume", split_s, "--set", "schedule.decay_fraction=0.2"], &["cannot change schedule.decay_fraction"]);
    ok(&["--resume", split_s]);

    let whole = train_losses(&dir.path().join("whole"));
    assert_eq!(whole.len(), 20);
    assert_eq!(train_losses(&split), whole, "every step's loss, printed with full precision, is identical");
    assert_eq!(final_params(&dir.path().join("whole")), final_params(&split), "final parameters are identical");
    let first: f64 = whole[0].1.parse().expect("loss");
    let last: f64 = whole[19].1.parse().expect("loss");
    assert!(last < first - 0.5, "Muon trains: loss {first} -> {last}");

    // The logged lr is the schedule's (the `optimizer.lr` group's): WSD with lr 3e-3, min_lr 3e-4,
    // warmup 5 of 20 steps, decay_fraction 0.5: decay_start = 20 - round(0.5 * 20) = 10, so
    // step 2: 3e-3 * 2 / 5 = 1.2e-3; steps 5 to 10: 3e-3; step 15: 3e-3 - 2.7e-3 * 5 / 10 =
    // 1.65e-3; step 19: 3e-3 - 2.7e-3 * 9 / 10 = 5.7e-4; step 20: min_lr.
    let metrics = read_metrics(&split.join("metrics.csv")).expect("metrics");
    let lr = |step: usize| metrics.rows.iter().find(|r| r.step == step).and_then(|r| r.lr).expect("a logged lr");
    for (step, expected) in [(2, 1.2e-3), (5, 3e-3), (10, 3e-3), (15, 1.65e-3), (19, 5.7e-4), (20, 3e-4)] {
        assert!((lr(step) - expected).abs() < 1e-12, "step {step}: lr {} expected {expected}", lr(step));
    }
}

/// Keys of the Muon run are checked, each error naming its key.
#[test]
fn muon_keys_are_validated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = muon_args(dir.path(), "bad");
    for (set, needle) in [
        ("optimizer.muon_lr=0", "optimizer.muon_lr"),
        ("optimizer.muon_momentum=1", "optimizer.muon_momentum"),
        ("optimizer.muon_ns_steps=0", "optimizer.muon_ns_steps"),
        ("optimizer.muon_weight_decay=-1", "optimizer.muon_weight_decay"),
        ("optimizer.head_lr=-1", "optimizer.head_lr"),
        ("schedule.decay_fraction=1.5", "schedule.decay_fraction"),
        ("optimizer.kind=sgd", "optimizer.kind"),
    ] {
        let mut args = base.clone();
        args.extend(["--set".to_string(), set.to_string()]);
        fails_with(&strs(&args), &[needle]);
    }
    // embedding_lr and head_lr belong to the Muon run: with AdamW they would be ignored.
    let mut args = tiny_args(dir.path(), "adamw");
    args.extend(["--set".to_string(), "optimizer.embedding_lr=0.01".to_string()]);
    fails_with(&strs(&args), &["optimizer.embedding_lr applies only with optimizer.kind = \"muon\""]);
}
