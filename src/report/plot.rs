//! `loss.png` and `loss.svg`: train and val loss against step, the lr schedule below.

use std::sync::Once;

use anyhow::{anyhow, Context, Result};
use image::codecs::png::PngEncoder;
use image::{ColorType, ImageEncoder};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::metrics::{read_metrics, MetricsRow};
use crate::run_dir::{write_atomic, RunDir};

/// Width and height of both plots, in pixels.
const SIZE: (u32, u32) = (1000, 750);

/// DejaVu Sans (Bitstream Vera license, `assets/DejaVuSans-LICENSE.txt`), embedded so
/// plots render the same everywhere without system fonts.
pub(super) static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Reads the run's metrics.csv and writes `loss.png` and `loss.svg` beside it. The lr panel
/// draws `lr_at(step)` at every step up to the last logged one when the schedule is given (the
/// logged rows alone miss most of a short warmup), else the logged values.
pub fn plot_run(run: &RunDir, lr_at: Option<&dyn Fn(usize) -> f64>) -> Result<()> {
    let rows = read_metrics(&run.metrics())?.rows;
    register_font();
    let [png, svg] = run.plots();
    // Rendered into memory and written beside each file, then renamed over it: a link planted at
    // either name is replaced, never written through, and a crash leaves no torn plot.
    let png_bytes = render_png(|root| draw(root, &rows, lr_at)).with_context(|| format!("cannot draw {}", png.display()))?;
    write_atomic(&png, &png_bytes)?;
    let svg_text = render_svg(|root| draw(root, &rows, lr_at)).with_context(|| format!("cannot draw {}", svg.display()))?;
    write_atomic(&svg, svg_text.as_bytes())
}

/// Registers the embedded font as "sans-serif", once per process.
pub(super) fn register_font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // An embedded, valid TTF: registration cannot fail.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// `draw` rendered into a PNG image of [`SIZE`] (bytes of the file).
pub(super) fn render_png(
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<()>,
) -> Result<Vec<u8>> {
    let (width, height) = SIZE;
    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, SIZE).into_drawing_area();
        draw(&root)?;
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    let mut png_bytes = Vec::new();
    PngEncoder::new(&mut png_bytes)
        .write_image(&pixels, width, height, ColorType::Rgb8)
        .map_err(|e| anyhow!("cannot encode a PNG image: {e}"))?;
    Ok(png_bytes)
}

/// `draw` rendered as an SVG document of [`SIZE`].
pub(super) fn render_svg(draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>) -> Result<String> {
    let mut svg_text = String::new();
    {
        let root = SVGBackend::with_string(&mut svg_text, SIZE).into_drawing_area();
        draw(&root)?;
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    Ok(svg_text)
}

pub(super) type Series = Vec<(f64, f64)>;

pub(super) fn series(rows: &[MetricsRow], value: impl Fn(&MetricsRow) -> Option<f64>) -> Series {
    rows.iter()
        .filter_map(|r| value(r).filter(|v| v.is_finite()).map(|v| (r.step as f64, v)))
        .collect()
}

pub(super) fn bounds(all: &[&Series]) -> (f64, f64, f64, f64) {
    let points = all.iter().flat_map(|s| s.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return (0.0, 1.0, 0.0, 1.0);
    }
    let pad = ((y1 - y0) * 0.05).max(1e-12);
    (x0, x1.max(x0 + 1.0), (y0 - pad).max(0.0), y1 + pad)
}

/// The lr panel's points: `lr_at` at steps `0..=last logged step`, or the logged values.
fn lr_series(rows: &[MetricsRow], lr_at: Option<&dyn Fn(usize) -> f64>) -> Series {
    match (lr_at, rows.iter().map(|r| r.step).max()) {
        (Some(lr_at), Some(last)) => (0..=last).map(|s| (s as f64, lr_at(s))).collect(),
        _ => series(rows, |r| r.lr),
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    rows: &[MetricsRow],
    lr_at: Option<&dyn Fn(usize) -> f64>,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let (top, bottom) = root.split_vertically(500);
    let train = series(rows, |r| r.train_loss);
    let val = series(rows, |r| r.val_loss);
    let lr = lr_series(rows, lr_at);

    let (x0, x1, y0, y1) = bounds(&[&train, &val]);
    let mut chart = ChartBuilder::on(&top)
        .caption("Loss", ("sans-serif", 24))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc("cross-entropy (nats)")
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .draw_series(LineSeries::new(train, BLUE.stroke_width(2)))
        .map_err(|e| anyhow!("{e}"))?
        .label("train")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(val.clone(), RED.stroke_width(2)))
        .map_err(|e| anyhow!("{e}"))?
        .label("val")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
    chart
        .draw_series(val.iter().map(|&p| Circle::new(p, 3, RED.filled())))
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;

    let (lx0, lx1, ly0, ly1) = bounds(&[&lr]);
    let mut chart = ChartBuilder::on(&bottom)
        .caption("Learning rate", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(lx0.min(x0)..lx1.max(x1), ly0..ly1)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_label_formatter(&|v| format!("{v:.1e}"))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .draw_series(LineSeries::new(lr, GREEN.stroke_width(2)))
        .map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: usize, lr: f64) -> MetricsRow {
        MetricsRow { step, lr: Some(lr), ..MetricsRow::default() }
    }

    #[test]
    fn the_lr_panel_has_every_step_of_the_schedule_when_given() {
        // logged every 20 steps: a 10-step warmup would show only its end
        let rows = [row(20, 1.0), row(40, 1.0)];
        let warmup = |s: usize| (s as f64 / 10.0).min(1.0);
        let lr = lr_series(&rows, Some(&warmup));
        assert_eq!(lr.len(), 41);
        assert_eq!((lr[0], lr[5], lr[40]), ((0.0, 0.0), (5.0, 0.5), (40.0, 1.0)));
        assert_eq!(lr_series(&rows, None), vec![(20.0, 1.0), (40.0, 1.0)]);
    }
}
