//! A checkpoint's files damaged: `state.json`, `latest.json`, `manifest.json`, `model.mpk`,
//! `optim.mpk`.

use burn::backend::{Autodiff, NdArray};
use burn::module::Module;
use burngpt::checkpoint::{load_state, open_checkpoint, read_latest, Which};
use burngpt::run::RunConfig;
use burngpt::data::Tokenizer;
use burngpt::model::load_model;
use burngpt::run_dir::{RunDir, LATEST_FILE, MANIFEST_FILE, MODEL_FILE, OPTIM_FILE, STATE_FILE};
use burngpt::train::Learner;

use super::fixture::{run_copy, STEP};
use super::mutate::check;

type B = NdArray<f32>;

#[test]
fn a_damaged_state_json_is_an_error_naming_it() {
    let (_tmp, run) = run_copy();
    let dir = RunDir::new(&run).checkpoint(STEP);
    let path = dir.join(STATE_FILE);
    let original = std::fs::read(&path).expect("state.json");
    let tally = check(&path, &original, 256, || load_state(&dir), |state, _| {
        (state.format_version >= 1 && state.format_version <= burngpt::checkpoint::FORMAT_VERSION)
            .then_some(())
            .ok_or(format!("format {}", state.format_version))
    });
    assert!(tally.errors > tally.cases / 2, "{tally:?}");
}

#[test]
fn a_damaged_latest_json_is_an_error_naming_it() {
    let (_tmp, run) = run_copy();
    let run = RunDir::new(&run);
    let path = run.checkpoints().join(LATEST_FILE);
    let original = std::fs::read(&path).expect("latest.json");
    let tally = check(&path, &original, 256, || read_latest(&run), |latest, _| {
        // What it names is then opened (and checked): never a panic, a checkpoint of that step.
        match open_checkpoint(&run, Which::Last) {
            Ok(checkpoint) if checkpoint.state.step != latest.last => Err(format!("opened step {}", checkpoint.state.step)),
            _ => Ok(()),
        }
    });
    assert!(tally.errors > tally.cases / 2, "{tally:?}");
}

#[test]
fn a_damaged_manifest_json_is_an_error_naming_it() {
    let (_tmp, run) = run_copy();
    let run = RunDir::new(&run);
    let path = run.checkpoint(STEP).join(MANIFEST_FILE);
    let original = std::fs::read(&path).expect("manifest.json");
    let intact = open_checkpoint(&run, Which::Step(STEP)).expect("the original opens").state;
    let tally = check(&path, &original, 256, || open_checkpoint(&run, Which::Step(STEP)), |checkpoint, _| {
        (checkpoint.state == intact).then_some(()).ok_or(format!("state {:?}", checkpoint.state))
    });
    assert!(tally.errors > tally.cases / 2, "{tally:?}");
}

/// The run's model architecture.
fn gpt_config(run: &std::path::Path) -> burngpt::model::GptConfig {
    let config = RunConfig::load_saved(&RunDir::new(run)).expect("config");
    let vocab = Tokenizer::load(&run.join("tokenizer.json")).expect("tokenizer").vocab_size();
    config.gpt_config(vocab).expect("vocab")
}

#[test]
fn a_damaged_model_record_is_an_error_naming_it() {
    let (_tmp, run) = run_copy();
    let dir = RunDir::new(&run).checkpoint(STEP);
    let path = dir.join(MODEL_FILE);
    let original = std::fs::read(&path).expect("model.mpk");
    let gpt = gpt_config(&run);
    let params = load_model::<B>(&gpt, &dir, &Default::default()).expect("the original loads").num_params();
    let tally = check(&path, &original, 192, || load_model::<B>(&gpt, &dir, &Default::default()), |model, _| {
        (model.num_params() == params).then_some(()).ok_or(format!("{} parameters", model.num_params()))
    });
    assert!(tally.errors > tally.cases / 4, "{tally:?}");
    tensor_checks(&tally);
}

#[test]
fn a_damaged_optimizer_record_is_an_error_naming_it() {
    let (_tmp, run) = run_copy();
    let dir = RunDir::new(&run).checkpoint(STEP);
    let path = dir.join(OPTIM_FILE);
    let original = std::fs::read(&path).expect("optim.mpk");
    let config = RunConfig::load_saved(&RunDir::new(&run)).expect("config");
    let gpt = gpt_config(&run);
    let device = Default::default();
    let model = load_model::<Autodiff<B>>(&gpt, &dir, &device).expect("model");
    let fresh = || Learner::new(model.clone(), &config.learner_config(10));
    fresh().load_optimizer(&path, &device).expect("the original loads");
    let tally = check(&path, &original, 192, || fresh().load_optimizer(&path, &device), |(), _| Ok(()));
    assert!(tally.errors > tally.cases / 4, "{tally:?}");
    tensor_checks(&tally);
}

/// Reports how many cases the tensor check caught (few: a shape is a few bytes of the file; its
/// deterministic test is in src/checkpoint/record_check.rs).
fn tensor_checks(tally: &super::mutate::Tally) {
    let caught = tally.messages.iter().filter(|m| m.contains("bytes but it holds")).count();
    eprintln!("  of which {caught} caught by the tensor check");
}
