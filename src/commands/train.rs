//! `burngpt train` (and `burngpt --config FILE`): a new run, or `--resume DIR`.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};

use burngpt::backend;
use burngpt::checkpoint::Which;
use burngpt::cli::TrainArgs;
use burngpt::config::RunConfig;
use burngpt::dist::{self, Collective};
use burngpt::run_dir::RunDir;
use burngpt::train::{train, Start, StopHandle, TrainSummary};

/// Trains from `--config`, or continues the run `--resume` names. Ctrl-C (SIGINT) or SIGTERM
/// stops after the current step with a checkpoint saved; the summary then says `interrupted`
/// and the handle which signal asked (a second Ctrl-C ends the process at once).
pub fn run(args: &TrainArgs, device: Option<&str>) -> Result<(TrainSummary, StopHandle)> {
    if args.stop_at_step == Some(0) {
        bail!("--stop-at-step 0: expected a step of at least 1 (step 0 is before training)");
    }
    let (config, run_dir, start) = match (&args.resume, &args.config) {
        (Some(dir), _) => {
            let saved = RunConfig::load_saved(&RunDir::new(dir))?;
            let config = RunConfig::for_resume(&saved, &args.overrides())
                .with_context(|| format!("cannot resume {}", dir.display()))?;
            let which: Which = match &args.checkpoint {
                Some(text) => text.parse().map_err(|e: String| anyhow!("--checkpoint {e}"))?,
                None => Which::Last,
            };
            (config, dir.clone(), Start::Resume(which))
        }
        (None, Some(path)) => {
            let config = RunConfig::load(path, &args.overrides())?;
            let run_dir = config.run_dir();
            (config, run_dir, if args.start_over { Start::StartOver } else { Start::Fresh })
        }
        (None, None) => bail!("no config given: pass --config FILE (e.g. --config configs/tiny.toml) or --resume DIR"),
    };
    let stop = StopHandle::new();
    on_signals(&stop)?;
    let device = backend::device(device)?;
    let comm = dist::join()?;
    let label = format!("backend {}, device {device:?}{}", backend::name(), processes(comm.as_ref()));
    let memory = backend::memory_check(!args.no_memory_check)?;
    let host = (label.as_str(), &memory);
    let trained = train::<backend::Training>(&config, &RunDir::new(&run_dir), start, &stop, args.stop_at_step, &device, host, comm.as_ref());
    match trained {
        Ok(summary) => Ok((summary, stop)),
        // The other ranks may be waiting for this one in a collective operation: end them all.
        Err(err) if comm.size() > 1 => {
            eprintln!("error (rank {}): {err:#}", comm.rank());
            comm.abort(1)
        }
        Err(err) => Err(err),
    }
}

/// `, 2 processes (rank 0 on a, rank 1 on b), 1 thread each` on several processes, else nothing.
fn processes(comm: &dyn Collective) -> String {
    if comm.size() == 1 {
        return String::new();
    }
    let hosts = comm.hosts();
    let ranks: Vec<String> = hosts.iter().enumerate().map(|(rank, host)| format!("rank {rank} on {host}")).collect();
    let threads = rayon::current_num_threads();
    format!(", {} processes ({}), {threads} thread{} each", comm.size(), ranks.join(", "), if threads == 1 { "" } else { "s" })
}

/// SIGINT (Ctrl-C) and SIGTERM (what Slurm, Kubernetes and systemd send before SIGKILL) ask the
/// run to stop after its current step; a second SIGINT ends the process at once (exit 130).
fn on_signals(stop: &StopHandle) -> Result<()> {
    let asked = Arc::new(AtomicBool::new(false));
    // Registered first, so that it sees the flag as the previous signal left it.
    signal_hook::flag::register_conditional_shutdown(SIGINT, 128 + SIGINT, asked.clone())
        .context("cannot install the Ctrl-C handler")?;
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register(signal, asked.clone()).context("cannot install a signal handler")?;
        signal_hook::flag::register_usize(signal, stop.flag(), signal as usize).context("cannot install a signal handler")?;
    }
    Ok(())
}
