//! The `burngpt` binary: parse, run, print the error chain once, set the exit code.

mod commands;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use burngpt::cli::{Cli, Command, TrainArgs};
use burngpt::{console, errln};

/// mimalloc instead of the system allocator. A training step frees and allocates the same
/// few-MiB tensors hundreds of times. glibc, even with its mmap threshold pinned and trimming
/// off, unmapped and re-faulted them (tens of thousands of page faults per short bench), and how
/// fast a step ran depended on the order of its allocations. mimalloc keeps and reuses the
/// buffers (docs/performance.md has the measurements). Transparent huge pages are turned off
/// for the process ([`no_transparent_huge_pages`]).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The exit code of a training run stopped early by `--stop-at-step` or Ctrl-C with its
/// checkpoint saved: 128 + SIGINT, as a shell reports a process ended by Ctrl-C (after SIGTERM,
/// 128 + 15 = 143).
const INTERRUPTED: u8 = 130;

fn main() -> ExitCode {
    no_transparent_huge_pages();
    let cli = Cli::parse();
    match run_in_compute_pool(|| run(cli)) {
        // Its reader went away (`generate | head -1`): end quietly, as Unix tools do.
        Ok(_) if console::closed() => ExitCode::from(console::CLOSED_EXIT),
        Ok(code) => code,
        Err(err) if console::is_broken_pipe(&err) => ExitCode::from(console::CLOSED_EXIT),
        Err(err) => {
            errln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Asks Linux for no transparent huge pages in this process (`PR_SET_THP_DISABLE`; other systems:
/// nothing). mimalloc returns freed memory to the system after a second and takes it back as the
/// next step allocates; on huge pages every such fault clears 2 MiB, and at GPT-2 124M that
/// clearing was over half of a step's time (docs/performance.md: 29-34 s -> 13.6-14.7 s per step,
/// peak RSS unchanged). A failure leaves the system's setting, which only costs speed.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // Safety: PR_SET_THP_DISABLE takes one integer argument and changes only this process's flag.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Runs the command (training when none is given) and says how the process exits.
fn run(cli: Cli) -> Result<ExitCode> {
    let device = cli.device.as_deref();
    match cli.command {
        None => train(&cli.train, device),
        Some(Command::Train(args)) => train(&args, device),
        Some(Command::Prepare(args)) => commands::prepare::run(&args).map(|()| ExitCode::SUCCESS),
        Some(Command::Plot(args)) => commands::plot::run(&args).map(|()| ExitCode::SUCCESS),
        Some(Command::Generate(args)) => commands::generate::run(&args, device).map(|()| ExitCode::SUCCESS),
        Some(Command::Eval(args)) => commands::eval::run(&args, device).map(|()| ExitCode::SUCCESS),
        Some(Command::Bench(args)) => commands::bench::run(&args, device).map(|()| ExitCode::SUCCESS),
        Some(Command::Export(args)) => commands::export::run(&args).map(|()| ExitCode::SUCCESS),
    }
}

/// Trains; a run stopped before its last step exits with 128 + the signal that stopped it, or
/// [`INTERRUPTED`] for `--stop-at-step`.
fn train(args: &TrainArgs, device: Option<&str>) -> Result<ExitCode> {
    let (summary, stop) = commands::train::run(args, device)?;
    Ok(match (summary.interrupted, stop.signal()) {
        (false, _) => ExitCode::SUCCESS,
        (true, Some(signal)) => ExitCode::from(128 + signal as u8),
        (true, None) => ExitCode::from(INTERRUPTED),
    })
}

/// Threads of the compute pool: `RAYON_NUM_THREADS` when set (0 = rayon's choice), else the
/// cores divided among the processes of this run on this machine (`mpirun -np 2` on 16 cores: 8
/// each).
fn threads() -> usize {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return 0;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / burngpt::dist::local_size()).max(1)
}

/// Runs `f` (a whole command) on a thread of the rayon pool that the CPU backends compute on.
///
/// Called from outside the pool, every parallel op of burn-ndarray hands its work to the pool's
/// threads and puts the caller to sleep until they finish: two context switches per op, thousands
/// per training step. From a pool thread, the caller takes part in the work and the other threads
/// steal from it (docs/performance.md). The pool has
/// [`threads`] threads, with the main thread's 8 MiB stacks.
fn run_in_compute_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    // Fails only if the pool already exists, which then serves as it is.
    let _ = rayon::ThreadPoolBuilder::new().stack_size(8 << 20).num_threads(threads()).build_global();
    rayon::scope(|_| f())
}
