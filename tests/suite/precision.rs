//! `training.precision = "bf16"` through the binary: bit for bit when repeated and across a resume,
//! float32 checkpoints that resume in either precision, and losses near float32's.

use crate::resume::{burngpt, final_params, ok, tiny_args, train_losses};

fn args(out_dir: &std::path::Path, name: &str, precision: &str) -> Vec<String> {
    let mut args = tiny_args(out_dir, name);
    args.extend(["--set".to_string(), format!("training.precision={precision}")]);
    args
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn a_bf16_run_repeats_and_resumes_bit_for_bit_and_stays_near_float32() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["bf16_a", "bf16_b"] {
        ok(&strs(&args(dir.path(), name, "bf16")));
    }
    ok(&strs(&args(dir.path(), "fp32", "fp32")));
    let mut split = args(dir.path(), "split", "bf16");
    split.extend(["--stop-at-step".to_string(), "10".to_string()]);
    let out = burngpt(&strs(&split));
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let split = dir.path().join("split");
    ok(&["--resume", split.to_str().expect("utf8")]);

    let (a, b) = (train_losses(&dir.path().join("bf16_a")), train_losses(&dir.path().join("bf16_b")));
    assert_eq!(a.len(), 20);
    assert_eq!(a, b, "a repeated bf16 run is bit for bit the same");
    assert_eq!(train_losses(&split), a, "and so is one resumed from step 10");
    assert_eq!(final_params(&dir.path().join("bf16_a")), final_params(&split));

    // Products on bfloat16 operands change the losses, but only at bfloat16's precision (8 bits of
    // significand: relative rounding 2^-9 per operand): tiny's 20 steps stay within 1% of float32's.
    let fp32 = train_losses(&dir.path().join("fp32"));
    assert_ne!(a, fp32, "bf16 computes something else than float32");
    for ((step, x), (_, y)) in a.iter().zip(&fp32) {
        let (x, y): (f64, f64) = (x.parse().expect("loss"), y.parse().expect("loss"));
        assert!((x - y).abs() <= 0.01 * y.abs(), "step {step}: bf16 {x} vs fp32 {y}");
    }
}

#[test]
fn a_float32_checkpoint_resumes_in_bf16() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut first = args(dir.path(), "run", "fp32");
    first.extend(["--stop-at-step".to_string(), "10".to_string()]);
    let out = burngpt(&strs(&first));
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let run = dir.path().join("run");
    ok(&["--resume", run.to_str().expect("utf8"), "--set", "training.precision=bf16"]);
    assert_eq!(train_losses(&run).len(), 20, "the resumed steps ran in bf16 from the float32 checkpoint");
    let saved = std::fs::read_to_string(run.join("config.toml")).expect("config.toml");
    assert!(saved.contains("precision = \"bf16\""), "the run records the precision it continued in:\n{saved}");
}

/// A GPU backend whose device has no bfloat16 (lavapipe, on CI's wgpu build) refuses a bf16 run
/// before training, naming the key and the way out; the CPU backends (host memory) always train it.
#[test]
fn bf16_is_refused_by_name_where_the_device_has_no_bfloat16() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut run = args(dir.path(), "run", "bf16");
    run.extend(["--max-steps".to_string(), "5".to_string()]);
    let out = burngpt(&strs(&run));
    let stderr = String::from_utf8_lossy(&out.stderr);
    if cfg!(feature = "wgpu") && !out.status.success() {
        assert!(
            stderr.contains("training.precision = \"bf16\"") && stderr.contains("use training.precision = \"fp32\""),
            "the refusal names the key and the way out:\n{stderr}"
        );
        assert!(!dir.path().join("run").join("checkpoints").exists(), "nothing trained");
    } else {
        assert!(out.status.success(), "{stderr}");
    }
}
