//! `burngpt train` (and `burngpt --config FILE`): a new run, or `--resume DIR`.

use std::io::Write;

use anyhow::{anyhow, bail, Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use burngpt::backend;
use burngpt::checkpoint::Which;
use burngpt::cli::TrainArgs;
use burngpt::dist::{self, Collective};
use burngpt::run_dir::RunDir;
use burngpt::run::{train, RunConfig, Start, StopHandle, TrainSummary};

/// Trains from `--config`, or continues the run `--resume` names. Ctrl-C (SIGINT) or SIGTERM
/// stops after the current step with a checkpoint saved; the summary then says `interrupted`
/// and the handle which signal asked (a third Ctrl-C ends the process at once, [`on_signals`]).
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
            burngpt::errln!("error (rank {}): {err:#}", comm.rank());
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

/// The exit code of a run ended by a third Ctrl-C without saving (README "What is safe"): not
/// 130, which says that a checkpoint was saved at the stop.
pub const FORCED_EXIT: i32 = 3;

/// SIGINT (Ctrl-C) and SIGTERM (what Slurm, Kubernetes and systemd send before SIGKILL) ask the
/// run to stop after its current step and save a checkpoint; so does a second Ctrl-C (saving
/// takes a fraction of a step). A third ends the process at once without saving, saying which
/// steps are lost, with [`FORCED_EXIT`]. The signals are read on a thread of their own, so these
/// messages are ordinary writes.
fn on_signals(stop: &StopHandle) -> Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM]).context("cannot install the signal handlers")?;
    let stop = stop.clone();
    let watch = move || {
        let mut interrupts = 0;
        for signal in signals.forever() {
            stop.request_by(signal as usize);
            if signal != SIGINT {
                continue;
            }
            interrupts += 1;
            let mut stderr = std::io::stderr();
            if interrupts == 2 {
                let _ = writeln!(stderr, "\nStopping: a checkpoint is saved after the current step (Ctrl-C once more quits without saving)");
            } else if interrupts >= 3 {
                let lost = match stop.last_saved() {
                    Some(step) => format!("the steps after the last checkpoint (step {step}) are lost"),
                    None => "no checkpoint was saved: the run's steps so far are lost".to_string(),
                };
                let _ = writeln!(stderr, "\nQuit without saving (exit {FORCED_EXIT}): {lost}");
                std::process::exit(FORCED_EXIT);
            }
        }
    };
    std::thread::Builder::new().name("signals".into()).spawn(watch).context("cannot start the signal thread")?;
    Ok(())
}
