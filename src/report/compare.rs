//! `burngpt plot --run A --run B --out FILE`: the validation curves of several runs in one picture,
//! against step (top) and against wall-clock seconds (bottom), e.g. two recipes on the same data.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::metrics::MetricsRow;
use super::plot::{bounds, register_font, render_png, render_svg, series, Series};
use crate::run_dir::write_atomic;

/// One run's curve: its label and its metrics rows.
pub struct Curve {
    /// The legend's text (the run directory's name).
    pub label: String,
    /// The run's metrics.csv rows.
    pub rows: Vec<MetricsRow>,
}

/// Draws the validation loss of every curve against step and against elapsed seconds into `out`,
/// a `.png` or `.svg` file (written atomically).
pub fn plot_comparison(curves: &[Curve], out: &Path) -> Result<()> {
    register_font();
    let bytes = match out.extension().and_then(|e| e.to_str()) {
        Some("png") => render_png(|root| draw(root, curves))?,
        Some("svg") => render_svg(|root| draw(root, curves))?.into_bytes(),
        _ => bail!("--out {}: name a .png or .svg file", out.display()),
    };
    write_atomic(out, &bytes).with_context(|| format!("cannot write {}", out.display()))
}

/// The run's validation losses against elapsed seconds.
fn by_time(rows: &[MetricsRow]) -> Series {
    rows.iter().filter_map(|r| r.val_loss.filter(|v| v.is_finite()).map(|v| (r.elapsed_s, v))).collect()
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, curves: &[Curve]) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let (top, bottom) = root.split_vertically(375);
    let by_step: Vec<Series> = curves.iter().map(|c| series(&c.rows, |r| r.val_loss)).collect();
    let by_secs: Vec<Series> = curves.iter().map(|c| by_time(&c.rows)).collect();
    for (area, all, x_desc) in [(&top, &by_step, "step"), (&bottom, &by_secs, "seconds")] {
        let (x0, x1, y0, y1) = bounds(&all.iter().collect::<Vec<_>>());
        let mut chart = ChartBuilder::on(area)
            .caption(format!("Validation loss by {x_desc}"), ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc("cross-entropy (nats)")
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        for (i, (curve, points)) in curves.iter().zip(all).enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(|e| anyhow!("{e}"))?
                .label(curve.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: usize, val_loss: Option<f64>, elapsed_s: f64) -> MetricsRow {
        MetricsRow { step, val_loss, elapsed_s, ..MetricsRow::default() }
    }

    /// Two runs drawn into an SVG with both legends; an unknown extension is refused naming the flag.
    #[test]
    fn two_runs_in_one_picture() {
        let dir = tempfile::tempdir().expect("temp dir");
        let curves = [
            Curve { label: "small".into(), rows: vec![row(0, Some(7.6), 0.0), row(10, None, 1.0), row(100, Some(6.0), 9.0)] },
            Curve { label: "modern_small".into(), rows: vec![row(0, Some(7.6), 0.0), row(100, Some(5.0), 10.0)] },
        ];
        let out = dir.path().join("compare.svg");
        plot_comparison(&curves, &out).expect("drawn");
        let svg = std::fs::read_to_string(&out).expect("written");
        assert!(svg.contains("modern_small") && svg.contains("small") && svg.contains("by seconds"));
        // the train-only row has no point: its val loss is missing
        assert_eq!(by_time(&curves[0].rows), vec![(0.0, 7.6), (9.0, 6.0)]);
        let err = plot_comparison(&curves, &dir.path().join("x.pdf")).expect_err("pdf").to_string();
        assert!(err.contains("--out") && err.contains(".png or .svg"), "{err}");
    }
}
