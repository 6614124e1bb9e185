//! `burngpt plot`: redraw a run's loss plots from its metrics.csv, or draw several runs'
//! validation curves in one picture (`--out`).

use anyhow::{bail, Result};

use burngpt::cli::PlotArgs;
use burngpt::report::{plot_comparison, read_metrics, Curve};
use burngpt::run_dir::RunDir;

/// Writes loss.png and loss.svg into the run directory, or the comparison picture `--out`.
pub fn run(args: &PlotArgs) -> Result<()> {
    match (&args.out, args.run.as_slice()) {
        (None, [one]) => {
            let run = RunDir::new(one);
            burngpt::report::plot_run(&run, None)?;
            let [png, svg] = run.plots();
            burngpt::outln!("Wrote {} and {}", png.display(), svg.display());
        }
        (None, _) => bail!("--run given {} times: name the comparison picture with --out FILE.svg", args.run.len()),
        (Some(out), runs) => {
            let mut curves = Vec::new();
            for dir in runs {
                let rows = read_metrics(&RunDir::new(dir).metrics())?.rows;
                let label = dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
                curves.push(Curve { label, rows });
            }
            plot_comparison(&curves, out)?;
            burngpt::outln!("Wrote {}", out.display());
        }
    }
    Ok(())
}
