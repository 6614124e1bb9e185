//! The integration tests that can share one process, linked into one binary (Burn makes each
//! test binary slow to link). `gradcheck` stays separate: it uses
//! `NdArray<f64>`, and Burn fixes a device's default float type at its first use in a process.
//! `parity` stays separate so CI can run it alone for each backend feature.

#[path = "../common/mod.rs"]
mod common;

mod abuse;
mod corpora;
mod adamw_fused;
mod bpb;
mod cli;
mod components;
mod crash;
mod data;
mod generate;
mod grad_accum;
mod hellaswag;
mod hf;
mod hostile;
mod llama;
mod llama_model;
mod llmc;
mod loaders;
mod memory;
mod model;
mod muon;
mod nanogpt_lockstep;
mod precision;
mod ndarray_ops;
mod resume;
mod safety;
mod samples;
