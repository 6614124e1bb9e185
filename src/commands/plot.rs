//! `burngpt plot`: redraw a run's loss plots from its metrics.csv.

use anyhow::Result;

use burngpt::cli::PlotArgs;
use burngpt::run_dir::RunDir;

/// Writes loss.png and loss.svg into the run directory.
pub fn run(args: &PlotArgs) -> Result<()> {
    let run = RunDir::new(&args.run);
    burngpt::report::plot_run(&run, None)?;
    let [png, svg] = run.plots();
    burngpt::outln!("Wrote {} and {}", png.display(), svg.display());
    Ok(())
}
