//! Input and network spike rasters with the input phases shaded and labelled.

use super::{default_windows, palette, pe, write_svg, MAX_MARKS};
use crate::analysis::{ordering, SegmentKind};
use crate::rundir::{self, schema, ProtocolPhase, Segment, Spikes, Summary};
use anyhow::{Context, Result};
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What to draw in one raster.
pub struct Raster<'a> {
    pub title: String,
    pub y_desc: String,
    pub n_rows: usize,
    /// Row of a sender (None: not drawn).
    pub row_of: &'a dyn Fn(u32) -> Option<usize>,
    pub spikes: &'a Spikes,
    pub t0: f64,
    pub t1: f64,
    pub segments: &'a [Segment],
    pub protocol: &'a [ProtocolPhase],
    /// Draw a density image when more spikes than this fall in the window.
    pub max_marks: usize,
    /// Rows at which to draw thin separators (e.g. circuit boundaries).
    pub separators: Vec<usize>,
}

/// How a raster was drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RasterMode {
    Marks(usize),
    Density(usize),
}

const W: u32 = 1100;
const H: u32 = 600;

/// Where the plot area lies in SVG pixels, and the mapping onto it.
#[derive(Clone, Copy)]
struct Frame {
    t0: f64,
    t1: f64,
    rows: f64,
    /// Pixel of `(t0, row 0)` and of `(t1, rows)`.
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Frame {
    fn px(&self, t: f64) -> f64 {
        self.x0 + (t - self.t0) / (self.t1 - self.t0) * (self.x1 - self.x0)
    }
    fn py(&self, row: f64) -> f64 {
        self.y0 + row / self.rows * (self.y1 - self.y0)
    }
    fn ms_per_px(&self) -> f64 {
        (self.t1 - self.t0) / (self.x1 - self.x0).max(1.0)
    }
}

/// Draws a raster into `path`.
pub fn draw_raster(path: &Path, r: &Raster<'_>) -> Result<RasterMode> {
    let range = r.spikes.range(r.t0, r.t1);
    let n_in = range
        .clone()
        .filter(|&i| (r.row_of)(r.spikes.id[i]).is_some())
        .count();
    let density = n_in > r.max_marks;
    let mut buf = String::new();
    let frame = {
        let root = SVGBackend::with_string(&mut buf, (W, H)).into_drawing_area();
        let frame = draw_frame(&root, r, n_in, density)?;
        root.present().map_err(pe)?;
        frame
    };
    // spikes, as one compact path (or image) after plotters' elements
    let extra = if density {
        density_image(r, range, &frame, n_in)
    } else {
        marks_path(r, range, &frame, n_in)
    };
    write_svg(path, buf, &extra)?;
    Ok(if density {
        RasterMode::Density(n_in)
    } else {
        RasterMode::Marks(n_in)
    })
}

type Root<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// The chart without the spikes: title, axes, shaded pattern segments with
/// their labels, protocol phase boundaries and names, row separators.
fn draw_frame(root: &Root, r: &Raster<'_>, n_in: usize, density: bool) -> Result<Frame> {
    let rows = r.n_rows.max(1) as f64;
    root.fill(&WHITE).map_err(pe)?;
    let title = if density {
        format!("{} — density of {n_in} spikes", r.title)
    } else {
        format!("{} — {n_in} spikes", r.title)
    };
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .margin_right(28)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(r.t0..r.t1, 0.0..rows)
        .map_err(pe)?;
    // input phases: shaded bands, one colour per sequence
    let bands: Vec<&Segment> = r
        .segments
        .iter()
        .filter(|s| s.kind == SegmentKind::Pattern && s.end_ms > r.t0 && s.start_ms < r.t1)
        .collect();
    chart
        .draw_series(bands.iter().map(|s| {
            Rectangle::new(
                [(s.start_ms.max(r.t0), 0.0), (s.end_ms.min(r.t1), rows)],
                palette(s.sequence.unwrap_or(0)).mix(0.18).filled(),
            )
        }))
        .map_err(pe)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("time (ms)")
        .y_desc(r.y_desc.as_str())
        .draw()
        .map_err(pe)?;
    let (x0, y0) = chart.backend_coord(&(r.t0, 0.0));
    let (x1, y1) = chart.backend_coord(&(r.t1, rows));
    let f = Frame {
        t0: r.t0,
        t1: r.t1,
        rows,
        x0: x0 as f64,
        y0: y0 as f64,
        x1: x1 as f64,
        y1: y1 as f64,
    };
    draw_band_labels(root, r, &bands, &f)?;
    draw_protocol(root, r, &f)?;
    for &s in &r.separators {
        let y = f.py(s as f64) as i32;
        root.draw(&PathElement::new(
            vec![(f.x0 as i32, y), (f.x1 as i32, y)],
            BLACK.mix(0.12),
        ))
        .map_err(pe)?;
    }
    Ok(f)
}

/// `s<sequence>:p<pattern>` under every band wide enough for it.
fn draw_band_labels(root: &Root, r: &Raster<'_>, bands: &[&Segment], f: &Frame) -> Result<()> {
    let lab = ("sans-serif", 11).into_font().color(&BLACK.mix(0.8));
    for s in bands {
        let a = s.start_ms.max(r.t0);
        let b = s.end_ms.min(r.t1);
        if (b - a) / f.ms_per_px() >= 24.0 {
            let text = match s.pattern {
                Some(p) => format!("s{}:p{p}", s.sequence.unwrap_or(0)),
                None => format!("s{}", s.sequence.unwrap_or(0)),
            };
            root.draw(&Text::new(
                text,
                (f.px(a) as i32 + 2, f.y1 as i32 + 2),
                lab.clone(),
            ))
            .map_err(pe)?;
        }
    }
    Ok(())
}

/// Protocol phase starts as red lines, their names above the plot.
fn draw_protocol(root: &Root, r: &Raster<'_>, f: &Frame) -> Result<()> {
    let red = RGBColor(150, 0, 0);
    let lab = ("sans-serif", 12).into_font().color(&red);
    for p in r.protocol {
        if p.start_ms >= r.t0 && p.start_ms < r.t1 {
            let x = f.px(p.start_ms) as i32;
            root.draw(&PathElement::new(
                vec![(x, f.y0 as i32), (x, f.y1 as i32)],
                red.stroke_width(2),
            ))
            .map_err(pe)?;
        }
        let (a, b) = (p.start_ms.max(r.t0), p.end_ms.min(r.t1));
        if b > a && (b - a) / f.ms_per_px() >= 60.0 {
            root.draw(&Text::new(
                format!("{} ({})", p.name, p.role.as_str()),
                (f.px(a) as i32 + 4, f.y0 as i32 - 16),
                lab.clone(),
            ))
            .map_err(pe)?;
        }
    }
    Ok(())
}

/// One `M x y v h` segment per spike in one `<path class="spikes">`.
fn marks_path(r: &Raster<'_>, range: std::ops::Range<usize>, f: &Frame, n_in: usize) -> String {
    let row_px = (f.y0 - f.y1).abs() / f.rows;
    let h = (row_px * 0.7).max(1.0);
    let sw = if n_in > 5000 { 0.6 } else { 1.0 };
    let mut d = String::new();
    for i in range {
        if let Some(row) = (r.row_of)(r.spikes.id[i]) {
            let x = f.px(r.spikes.time_ms[i]);
            let y = f.py(row as f64 + 0.5) + h / 2.0;
            let _ = write!(d, "M{x:.1} {y:.1}v-{h:.1}");
        }
    }
    format!(
        "<path class=\"spikes\" fill=\"none\" stroke=\"black\" stroke-width=\"{sw}\" d=\"{d}\"/>\n"
    )
}

/// The window as a density image: an inline grey + alpha PNG.
fn density_image(r: &Raster<'_>, range: std::ops::Range<usize>, f: &Frame, n_in: usize) -> String {
    // ~2 px bins; coarser when that leaves fewer than ~8 spikes per
    // bin on average (sparse counts make a noisy image)
    let mut nb_t = (((f.x1 - f.x0) / 2.0) as usize).max(1);
    let mut nb_r = r.n_rows.min((((f.y0 - f.y1).abs()) / 2.0) as usize).max(1);
    let mean = n_in as f64 / (nb_t * nb_r) as f64;
    if mean < 8.0 {
        let s = (8.0 / mean.max(1e-9)).sqrt();
        nb_t = ((nb_t as f64 / s) as usize).max(100.min(nb_t));
        nb_r = ((nb_r as f64 / s) as usize).max(50.min(nb_r));
    }
    let mut counts = vec![0u32; nb_t * nb_r];
    for i in range {
        if let Some(row) = (r.row_of)(r.spikes.id[i]) {
            let bt = (((r.spikes.time_ms[i] - r.t0) / (r.t1 - r.t0)) * nb_t as f64) as usize;
            let br = row * nb_r / r.n_rows.max(1);
            counts[bt.min(nb_t - 1) * nb_r + br.min(nb_r - 1)] += 1;
        }
    }
    // contrast from the spread of the counts: the 2nd..99.5th
    // percentile of the non-empty bins maps to alpha 30..255
    let mut nz: Vec<u32> = counts.iter().copied().filter(|&c| c > 0).collect();
    nz.sort_unstable();
    let pct = |q: f64| {
        nz.get(((nz.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(1) as f64
    };
    let (lo, hi) = (pct(0.02), pct(0.995));
    let lo = if hi > lo { lo } else { 0.0 };
    // grey + alpha image, row 0 of the image = top row of the plot;
    // empty bins transparent so the phase shading shows through
    let mut px_ga = Vec::with_capacity(nb_t * nb_r * 2);
    for br in (0..nb_r).rev() {
        for bt in 0..nb_t {
            let c = counts[bt * nb_r + br];
            let a = if c == 0 {
                0
            } else {
                let v = ((c as f64 - lo) / (hi - lo).max(1e-9)).clamp(0.0, 1.0);
                (30.0 + 225.0 * v).round() as u8
            };
            px_ga.extend_from_slice(&[0, a]);
        }
    }
    let png = super::png::encode_gray_alpha(nb_t as u32, nb_r as u32, &px_ga);
    format!(
        "<image class=\"density\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64,{}\"/>\n",
        f.x0,
        f.y1.min(f.y0),
        f.x1 - f.x0,
        (f.y0 - f.y1).abs(),
        super::png::base64(&png)
    )
}

/// End of the run: protocol / phases / summary, else the last spike.
fn run_end(
    summary: Option<&Summary>,
    protocol: &[ProtocolPhase],
    segments: &[Segment],
    spikes: &[&Spikes],
) -> f64 {
    let mut end = protocol
        .iter()
        .map(|p| p.end_ms)
        .chain(segments.iter().map(|s| s.end_ms))
        .fold(summary.map_or(0.0, |s| s.simulated_ms), f64::max);
    for sp in spikes {
        if let Some(&t) = sp.time_ms.last() {
            end = end.max(t + 1.0);
        }
    }
    end
}

/// What every raster of a run shares.
struct Common {
    segments: Vec<Segment>,
    protocol: Vec<ProtocolPhase>,
    windows: Vec<(String, f64, f64)>,
}

impl Common {
    fn raster<'a>(
        &'a self,
        title: String,
        y_desc: &str,
        n_rows: usize,
        row_of: &'a dyn Fn(u32) -> Option<usize>,
        spikes: &'a Spikes,
        (t0, t1): (f64, f64),
    ) -> Raster<'a> {
        Raster {
            title,
            y_desc: y_desc.into(),
            n_rows,
            row_of,
            spikes,
            t0,
            t1,
            segments: &self.segments,
            protocol: &self.protocol,
            max_marks: MAX_MARKS,
            separators: Vec::new(),
        }
    }
}

/// A file of the run directory if it exists.
fn optional<T>(dir: &Path, name: &str, read: impl FnOnce() -> Result<T>) -> Result<Option<T>> {
    if dir.join(name).exists() {
        read().map(Some)
    } else {
        Ok(None)
    }
}

pub fn render(dir: &Path, out: &Path, window: Option<(f64, f64)>) -> Result<Vec<PathBuf>> {
    let summary = rundir::read_summary_if_present(dir)?;
    let segments = optional(dir, schema::PHASES.name, || rundir::read_phases(dir))?;
    let protocol = optional(dir, schema::PROTOCOL.name, || rundir::read_protocol(dir))?;
    let input_path = dir.join(schema::INPUT_SPIKES.name);
    let inputs = optional(dir, schema::INPUT_SPIKES.name, || {
        rundir::read_spikes(&input_path, &schema::INPUT_SPIKES)
    })?;
    let net_path = dir.join(schema::SPIKES.name);
    let net = optional(dir, schema::SPIKES.name, || {
        rundir::read_spikes(&net_path, &schema::SPIKES)
    })?;
    let (segments, protocol) = (segments.unwrap_or_default(), protocol.unwrap_or_default());
    let all: Vec<&Spikes> = inputs.iter().chain(net.iter()).collect();
    let end = run_end(summary.as_ref(), &protocol, &segments, &all);
    let common = Common {
        windows: default_windows(end, window),
        segments,
        protocol,
    };
    let mut files = Vec::new();
    if let Some(inp) = &inputs {
        let n = crate::analysis::n_inputs_of(dir, summary.as_ref(), &mut Vec::new())?
            .max(inp.max_id().map_or(0, |m| m as usize + 1));
        for (label, a, b) in &common.windows {
            let path = out.join(format!("input_raster_{label}.svg"));
            let title = format!("Input spikes, {a:.0}–{b:.0} ms");
            let row_of = |c: u32| Some(c as usize);
            draw_raster(
                &path,
                &common.raster(title, "input channel", n, &row_of, inp, (*a, *b)),
            )?;
            files.push(path);
        }
    }
    if let Some(net) = &net {
        files.extend(network_rasters(dir, out, &common, net)?);
    }
    Ok(files)
}

/// The network rasters: by neuron id (circuit boundaries as lines) and by
/// rank in the ordering of each target.
fn network_rasters(dir: &Path, out: &Path, common: &Common, net: &Spikes) -> Result<Vec<PathBuf>> {
    let circuits =
        optional(dir, schema::CIRCUITS.name, || rundir::read_circuits(dir))?.unwrap_or_default();
    let n = circuits
        .iter()
        .map(|c| c.first_neuron + c.k)
        .max()
        .unwrap_or(0)
        .max(net.max_id().map_or(0, |m| m as usize + 1));
    let separators: Vec<usize> = if circuits.len() <= 200 {
        circuits.iter().skip(1).map(|c| c.first_neuron).collect()
    } else {
        Vec::new()
    };
    let mut files = Vec::new();
    let by_id = |k: u32| Some(k as usize);
    for (label, a, b) in &common.windows {
        let path = out.join(format!("network_raster_{label}.svg"));
        let title = format!("Network spikes by neuron id, {a:.0}–{b:.0} ms");
        let mut r = common.raster(
            title,
            "neuron (id; lines: circuits)",
            n,
            &by_id,
            net,
            (*a, *b),
        );
        r.separators = separators.clone();
        draw_raster(&path, &r)?;
        files.push(path);
    }
    // ordered rasters: ordering.csv, else computed now
    let orders = ordering_of(dir)?;
    for (ti, (target, order)) in orders.iter().enumerate() {
        let mut rank = vec![usize::MAX; n.max(order.iter().map(|&k| k + 1).max().unwrap_or(0))];
        for (r, &k) in order.iter().enumerate() {
            rank[k] = r;
        }
        let suffix = if ti == 0 {
            String::new()
        } else {
            format!("_seq{}", target.replace('+', "_"))
        };
        let row_of = |k: u32| rank.get(k as usize).copied().filter(|&r| r != usize::MAX);
        for (label, a, b) in &common.windows {
            let path = out.join(format!("network_raster_ordered{suffix}_{label}.svg"));
            let title = format!(
                "Network spikes ordered by activation phase in sequence {target}, {a:.0}–{b:.0} ms"
            );
            let r = common.raster(
                title,
                "neuron rank (by phase)",
                order.len(),
                &row_of,
                net,
                (*a, *b),
            );
            draw_raster(&path, &r)?;
            files.push(path);
        }
    }
    Ok(files)
}

/// Orderings from ordering.csv, or computed from the run when it is absent
/// (none without protocol.csv and phases.csv: like every plot whose source
/// files are absent, the ordered raster is then skipped).
fn ordering_of(dir: &Path) -> Result<Vec<(String, Vec<usize>)>> {
    if dir.join(schema::ORDERING.name).exists() {
        return Ok(ordering::read_ordering(dir)?.into_iter().collect());
    }
    if !(dir.join(schema::PROTOCOL.name).exists() && dir.join(schema::PHASES.name).exists()) {
        return Ok(Vec::new());
    }
    let run = crate::analysis::RunData::load(dir).context("loading the run for the ordering")?;
    let pres = crate::analysis::presentations(&run.segments);
    let targets = crate::analysis::Targets::from_presentations(&pres, run.target_grouping());
    let mut warnings = Vec::new();
    let ords = ordering::compute(
        dir,
        &run,
        &pres,
        &targets,
        &crate::analysis::AnalysisOptions::default(),
        &mut warnings,
    )?;
    Ok(ords.into_iter().map(|o| (o.target, o.order)).collect())
}
