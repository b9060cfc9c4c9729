//! SVG plots of a run directory (plotters' SVG backend), written into
//! `DIR/plots/`. Entry point: [`render_plots`]. See docs/analysis.md.
//!
//! Spike rasters are drawn as one compact `<path class="spikes">` (one
//! `M x y v h` segment per spike) laid over a plotters chart, so a raster
//! of 60 000 spikes stays around 1.2 MB; above that, or when asked, the
//! window is drawn as a density image (an inline PNG, `<image class="density">`).

pub mod assemblies;
pub mod grid;
pub mod png;
pub mod raster;
pub mod readout;
pub mod synapses;

use anyhow::{anyhow, Context, Result};
use plotters::style::RGBColor;
use std::path::{Path, PathBuf};

/// Largest number of spikes drawn one by one in a raster.
pub const MAX_MARKS: usize = 60_000;
/// Length of each default raster window (ms).
pub const DEFAULT_WINDOW_MS: f64 = 3000.0;

/// Turns a plotters drawing error into anyhow.
pub(crate) fn pe<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotting failed: {e:?}")
}

/// The legend in the house style (white box, thin border, 11 px labels).
pub(crate) fn draw_legend<'a, DB, CT>(
    chart: &mut plotters::chart::ChartContext<'a, DB, CT>,
    position: plotters::chart::SeriesLabelPosition,
) -> Result<()>
where
    DB: plotters::prelude::DrawingBackend + 'a,
    CT: plotters::coord::CoordTranslate,
{
    use plotters::style::{Color, BLACK, WHITE};
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 11))
        .draw()
        .map_err(pe)
}

/// Inserts `extra` before `</svg>` and writes the file.
pub(crate) fn write_svg(path: &Path, mut svg: String, extra: &str) -> Result<()> {
    if !extra.is_empty() {
        let at = svg
            .rfind("</svg>")
            .ok_or_else(|| anyhow!("plotters produced no closing </svg>"))?;
        svg.insert_str(at, extra);
    }
    std::fs::write(path, svg).with_context(|| format!("cannot write {}", path.display()))
}

/// Qualitative colours for sequences / lines (Okabe–Ito, colour-blind safe).
pub(crate) const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];

pub(crate) fn palette(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Viridis-like sequential colour map, `v` in `[0, 1]`.
pub(crate) fn seq_color(v: f64) -> RGBColor {
    const STOPS: [(f64, [f64; 3]); 5] = [
        (0.0, [68.0, 1.0, 84.0]),
        (0.25, [59.0, 82.0, 139.0]),
        (0.5, [33.0, 145.0, 140.0]),
        (0.75, [94.0, 201.0, 98.0]),
        (1.0, [253.0, 231.0, 37.0]),
    ];
    let v = if v.is_finite() {
        v.clamp(0.0, 1.0)
    } else {
        0.0
    };
    for w in STOPS.windows(2) {
        let ((a, ca), (b, cb)) = (w[0], w[1]);
        if v <= b {
            let f = (v - a) / (b - a);
            let c = |i: usize| (ca[i] + f * (cb[i] - ca[i])).round() as u8;
            return RGBColor(c(0), c(1), c(2));
        }
    }
    RGBColor(253, 231, 37)
}

/// Raster windows: the given one, else the whole run when it is at most
/// two windows long, else the first and the last `DEFAULT_WINDOW_MS`.
pub fn default_windows(end_ms: f64, window: Option<(f64, f64)>) -> Vec<(String, f64, f64)> {
    if let Some((a, b)) = window {
        return vec![("window".into(), a, b)];
    }
    if end_ms <= 2.0 * DEFAULT_WINDOW_MS {
        vec![("all".into(), 0.0, end_ms)]
    } else {
        vec![
            ("start".into(), 0.0, DEFAULT_WINDOW_MS),
            ("end".into(), end_ms - DEFAULT_WINDOW_MS, end_ms),
        ]
    }
}

/// Renders every plot whose input files exist into `DIR/plots/` and returns
/// the written files. `window` (ms) restricts the rasters and EPSP traces;
/// by default they show the first and the last 3 s (the whole run when it
/// is at most 6 s). A plot whose source file is absent is skipped; a
/// malformed source file is an error naming it.
pub fn render_plots(dir: &Path, window: Option<(f64, f64)>) -> Result<Vec<PathBuf>> {
    if let Some((a, b)) = window {
        anyhow::ensure!(b > a, "plot window {a}..{b} ms is empty");
    }
    let out = dir.join("plots");
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut files = Vec::new();
    if dir.join("circuits.csv").exists() {
        files.extend(grid::render(dir, &out).context("grid plots")?);
    }
    files.extend(raster::render(dir, &out, window).context("raster plots")?);
    files.extend(synapses::render(dir, &out, window).context("synapse plots")?);
    if dir.join("readout_output.csv").exists() {
        files.extend(readout::render(dir, &out).context("readout plot")?);
    }
    if dir.join("assemblies.csv").exists() {
        files.extend(assemblies::render(dir, &out).context("assembly plot")?);
    }
    Ok(files)
}
