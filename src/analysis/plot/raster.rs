//! Input and network spike rasters with the input phases shaded and labelled.

use super::{default_windows, palette, pe, write_svg, MAX_MARKS};
use crate::analysis::io::{self, ProtocolPhase, Spikes};
use crate::analysis::{ordering, SegKind, Segment};
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

/// Draws a raster into `path`.
pub fn draw_raster(path: &Path, r: &Raster<'_>) -> Result<RasterMode> {
    let range = r.spikes.range(r.t0, r.t1);
    let n_in = range
        .clone()
        .filter(|&i| (r.row_of)(r.spikes.id[i]).is_some())
        .count();
    let density = n_in > r.max_marks;
    let rows = r.n_rows.max(1) as f64;
    let mut buf = String::new();
    let extra;
    {
        let root = SVGBackend::with_string(&mut buf, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(pe)?;
        let title = if density {
            format!("{} — density of {n_in} spikes", r.title)
        } else {
            format!("{} — {n_in} spikes", r.title)
        };
        let mut chart = ChartBuilder::on(&root)
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
            .filter(|s| s.kind == SegKind::Pattern && s.end_ms > r.t0 && s.start_ms < r.t1)
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
        let (x0, y0, x1, y1) = (x0 as f64, y0 as f64, x1 as f64, y1 as f64);
        let px = |t: f64| x0 + (t - r.t0) / (r.t1 - r.t0) * (x1 - x0);
        let py = |row: f64| y0 + row / rows * (y1 - y0);
        let ms_per_px = (r.t1 - r.t0) / (x1 - x0).max(1.0);
        // band labels
        let lab = ("sans-serif", 11).into_font().color(&BLACK.mix(0.8));
        for s in &bands {
            let a = s.start_ms.max(r.t0);
            let b = s.end_ms.min(r.t1);
            if (b - a) / ms_per_px >= 24.0 {
                let text = match s.pattern {
                    Some(p) => format!("s{}:p{p}", s.sequence.unwrap_or(0)),
                    None => format!("s{}", s.sequence.unwrap_or(0)),
                };
                root.draw(&Text::new(
                    text,
                    (px(a) as i32 + 2, y1 as i32 + 2),
                    lab.clone(),
                ))
                .map_err(pe)?;
            }
        }
        // protocol phase boundaries and names
        let lab = ("sans-serif", 12).into_font().color(&RGBColor(150, 0, 0));
        for p in r.protocol {
            if p.start_ms >= r.t0 && p.start_ms < r.t1 {
                let x = px(p.start_ms) as i32;
                root.draw(&PathElement::new(
                    vec![(x, y0 as i32), (x, y1 as i32)],
                    RGBColor(150, 0, 0).stroke_width(2),
                ))
                .map_err(pe)?;
            }
            let (a, b) = (p.start_ms.max(r.t0), p.end_ms.min(r.t1));
            if b > a && (b - a) / ms_per_px >= 60.0 {
                root.draw(&Text::new(
                    format!("{} ({})", p.name, p.role),
                    (px(a) as i32 + 4, y0 as i32 - 16),
                    lab.clone(),
                ))
                .map_err(pe)?;
            }
        }
        for &s in &r.separators {
            let y = py(s as f64) as i32;
            root.draw(&PathElement::new(
                vec![(x0 as i32, y), (x1 as i32, y)],
                BLACK.mix(0.12),
            ))
            .map_err(pe)?;
        }
        root.present().map_err(pe)?;

        // spikes, as one compact path after plotters' elements
        let mut d = String::new();
        if !density {
            let row_px = (y0 - y1).abs() / rows;
            let h = (row_px * 0.7).max(1.0);
            let sw = if n_in > 5000 { 0.6 } else { 1.0 };
            for i in range {
                if let Some(row) = (r.row_of)(r.spikes.id[i]) {
                    let x = px(r.spikes.time_ms[i]);
                    let y = py(row as f64 + 0.5) + h / 2.0;
                    let _ = write!(d, "M{x:.1} {y:.1}v-{h:.1}");
                }
            }
            extra = format!(
                "<path class=\"spikes\" fill=\"none\" stroke=\"black\" stroke-width=\"{sw}\" d=\"{d}\"/>\n"
            );
        } else {
            // ~2 px bins; coarser when that leaves fewer than ~8 spikes per
            // bin on average (sparse counts make a noisy image)
            let mut nb_t = (((x1 - x0) / 2.0) as usize).max(1);
            let mut nb_r = r.n_rows.min((((y0 - y1).abs()) / 2.0) as usize).max(1);
            let mean = n_in as f64 / (nb_t * nb_r) as f64;
            if mean < 8.0 {
                let f = (8.0 / mean.max(1e-9)).sqrt();
                nb_t = ((nb_t as f64 / f) as usize).max(100.min(nb_t));
                nb_r = ((nb_r as f64 / f) as usize).max(50.min(nb_r));
            }
            let mut counts = vec![0u32; nb_t * nb_r];
            for i in range {
                if let Some(row) = (r.row_of)(r.spikes.id[i]) {
                    let bt =
                        (((r.spikes.time_ms[i] - r.t0) / (r.t1 - r.t0)) * nb_t as f64) as usize;
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
                        let f = ((c as f64 - lo) / (hi - lo).max(1e-9)).clamp(0.0, 1.0);
                        (30.0 + 225.0 * f).round() as u8
                    };
                    px_ga.extend_from_slice(&[0, a]);
                }
            }
            let png = super::png::encode_gray_alpha(nb_t as u32, nb_r as u32, &px_ga);
            extra = format!(
                "<image class=\"density\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64,{}\"/>\n",
                y1.min(y0),
                x1 - x0,
                (y0 - y1).abs(),
                super::png::base64(&png)
            );
        }
    }
    write_svg(path, buf, &extra)?;
    Ok(if density {
        RasterMode::Density(n_in)
    } else {
        RasterMode::Marks(n_in)
    })
}

/// End of the run: protocol / phases / summary, else the last spike.
fn run_end(
    dir: &Path,
    protocol: &[ProtocolPhase],
    segments: &[Segment],
    spikes: &[&Spikes],
) -> Result<f64> {
    let mut end = protocol
        .iter()
        .map(|p| p.end_ms)
        .chain(segments.iter().map(|s| s.end_ms))
        .fold(0.0f64, f64::max);
    if let Some(s) = io::read_summary(dir)? {
        end = end.max(
            s.get("simulated_ms")
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0),
        );
    }
    for sp in spikes {
        if let Some(&t) = sp.time_ms.last() {
            end = end.max(t + 1.0);
        }
    }
    Ok(end)
}

pub fn render(dir: &Path, out: &Path, window: Option<(f64, f64)>) -> Result<Vec<PathBuf>> {
    let segments = if dir.join("phases.csv").exists() {
        io::read_phases(dir)?
    } else {
        Vec::new()
    };
    let protocol = if dir.join("protocol.csv").exists() {
        io::read_protocol(dir)?
    } else {
        Vec::new()
    };
    let inputs = if dir.join("input_spikes.csv").exists() {
        Some(io::read_spikes(dir, "input_spikes.csv", "channel")?)
    } else {
        None
    };
    let net = if dir.join("spikes.csv").exists() {
        Some(io::read_spikes(dir, "spikes.csv", "sender")?)
    } else {
        None
    };
    let all: Vec<&Spikes> = inputs.iter().chain(net.iter()).collect();
    let end = run_end(dir, &protocol, &segments, &all)?;
    let windows = default_windows(end, window);
    let mut files = Vec::new();

    if let Some(inp) = &inputs {
        let summary = io::read_summary(dir)?;
        let n = crate::analysis::n_inputs_of(dir, summary.as_ref())?
            .max(inp.max_id().map_or(0, |m| m as usize + 1));
        for (label, a, b) in &windows {
            let path = out.join(format!("input_raster_{label}.svg"));
            draw_raster(
                &path,
                &Raster {
                    title: format!("Input spikes, {a:.0}–{b:.0} ms"),
                    y_desc: "input channel".into(),
                    n_rows: n,
                    row_of: &|c| Some(c as usize),
                    spikes: inp,
                    t0: *a,
                    t1: *b,
                    segments: &segments,
                    protocol: &protocol,
                    max_marks: MAX_MARKS,
                    separators: Vec::new(),
                },
            )?;
            files.push(path);
        }
    }

    let Some(net) = &net else {
        return Ok(files);
    };
    // network size and circuit boundaries
    let circuits = if dir.join("circuits.csv").exists() {
        io::read_circuits(dir)?
    } else {
        Vec::new()
    };
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
    for (label, a, b) in &windows {
        let path = out.join(format!("network_raster_{label}.svg"));
        draw_raster(
            &path,
            &Raster {
                title: format!("Network spikes by neuron id, {a:.0}–{b:.0} ms"),
                y_desc: "neuron (id; lines: circuits)".into(),
                n_rows: n,
                row_of: &|k| Some(k as usize),
                spikes: net,
                t0: *a,
                t1: *b,
                segments: &segments,
                protocol: &protocol,
                max_marks: MAX_MARKS,
                separators: separators.clone(),
            },
        )?;
        files.push(path);
    }
    // ordered rasters: ordering.csv, else computed now
    let orders = match ordering_of(dir) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("note: no ordered raster: {e:#}");
            Vec::new()
        }
    };
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
        for (label, a, b) in &windows {
            let path = out.join(format!("network_raster_ordered{suffix}_{label}.svg"));
            draw_raster(
                &path,
                &Raster {
                    title: format!(
                        "Network spikes ordered by activation phase in sequence {target}, {a:.0}–{b:.0} ms"
                    ),
                    y_desc: "neuron rank (by phase)".into(),
                    n_rows: order.len(),
                    row_of: &|k| rank.get(k as usize).copied().filter(|&r| r != usize::MAX),
                    spikes: net,
                    t0: *a,
                    t1: *b,
                    segments: &segments,
                    protocol: &protocol,
                    max_marks: MAX_MARKS,
                    separators: Vec::new(),
                },
            )?;
            files.push(path);
        }
    }
    Ok(files)
}

/// Orderings from ordering.csv, or computed from the run when it is absent.
fn ordering_of(dir: &Path) -> Result<Vec<(String, Vec<usize>)>> {
    if dir.join("ordering.csv").exists() {
        return Ok(ordering::read_ordering(dir)?.into_iter().collect());
    }
    let run = crate::analysis::RunData::load(dir).context("loading the run for the ordering")?;
    let pres = crate::analysis::presentations(&run.segments);
    let targets = crate::analysis::Targets::from_presentations(&pres);
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
