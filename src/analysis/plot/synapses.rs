//! Weight evolution and EPSP traces of the sampled synapses
//! (synapse_traces.csv), weight histograms before/after (synapses.csv).

use super::{palette, pe, write_svg};
use crate::rundir::{schema, Reader};
use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Largest number of synapses drawn as separate lines.
const MAX_LINES: usize = 12;
/// Largest number of points per line (evenly thinned).
const MAX_POINTS: usize = 3000;

struct Trace {
    source: usize,
    target: usize,
    t: Vec<f64>,
    w: Vec<f64>,
    epsp: Vec<f64>,
}

fn thin<T: Copy>(v: &[T]) -> Vec<T> {
    if v.len() <= MAX_POINTS {
        return v.to_vec();
    }
    let step = v.len().div_ceil(MAX_POINTS);
    v.iter().step_by(step).copied().collect()
}

fn read_traces(dir: &Path) -> Result<BTreeMap<usize, Trace>> {
    let mut f = Reader::open(dir, &schema::SYNAPSE_TRACES)?;
    let [t, syn, src, tgt, w, e] =
        f.cols(["time_ms", "synapse", "source", "target", "weight", "epsp"]);
    let mut m: BTreeMap<usize, Trace> = BTreeMap::new();
    f.for_each(|r| {
        let id = r.usize(syn)?;
        if !m.contains_key(&id) && m.len() >= MAX_LINES {
            return Ok(());
        }
        let tr = m.entry(id).or_insert_with(|| Trace {
            source: 0,
            target: 0,
            t: Vec::new(),
            w: Vec::new(),
            epsp: Vec::new(),
        });
        tr.source = r.usize(src)?;
        tr.target = r.usize(tgt)?;
        tr.t.push(r.f64(t)?);
        tr.w.push(r.f64(w)?);
        tr.epsp.push(r.f64(e)?);
        Ok(())
    })?;
    Ok(m)
}

fn bounds(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut a, mut b) = (f64::INFINITY, f64::NEG_INFINITY);
    for x in v.filter(|x| x.is_finite()) {
        a = a.min(x);
        b = b.max(x);
    }
    if !a.is_finite() {
        return (0.0, 1.0);
    }
    if b - a < 1e-9 {
        (a - 0.5, b + 0.5)
    } else {
        let pad = 0.05 * (b - a);
        (a - pad, b + pad)
    }
}

#[allow(clippy::too_many_arguments)]
fn line_plot(
    path: &Path,
    title: &str,
    y_desc: &str,
    traces: &BTreeMap<usize, Trace>,
    t0: f64,
    t1: f64,
    value: &dyn Fn(&Trace) -> &Vec<f64>,
) -> Result<()> {
    let (ya, yb) = bounds(traces.values().flat_map(|tr| {
        tr.t.iter()
            .zip(value(tr))
            .filter(|(t, _)| **t >= t0 && **t <= t1)
            .map(|(_, v)| *v)
    }));
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (1000, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(pe)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(t0..t1, ya..yb)
            .map_err(pe)?;
        chart
            .configure_mesh()
            .light_line_style(BLACK.mix(0.05))
            .x_desc("time (ms)")
            .y_desc(y_desc)
            .draw()
            .map_err(pe)?;
        for (i, (id, tr)) in traces.iter().enumerate() {
            let pts: Vec<(f64, f64)> =
                tr.t.iter()
                    .zip(value(tr))
                    .filter(|(t, _)| **t >= t0 && **t <= t1)
                    .map(|(t, v)| (*t, *v))
                    .collect();
            let color = palette(i);
            chart
                .draw_series(LineSeries::new(thin(&pts), color.stroke_width(1)))
                .map_err(pe)?
                .label(format!("syn {id} ({}→{})", tr.source, tr.target))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        super::draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        root.present().map_err(pe)?;
    }
    write_svg(path, buf, "")
}

/// `kind -> (w_initial, w_final)` from synapses.csv (`w_final` NaN when empty).
type Weights = BTreeMap<String, (Vec<f64>, Vec<f64>)>;

fn read_weights(dir: &Path) -> Result<Weights> {
    let mut f = Reader::open(dir, &schema::SYNAPSES)?;
    let [kind, wi, wf] = f.cols(["kind", "w_initial", "w_final"]);
    let mut by_kind = Weights::new();
    f.for_each(|r| {
        let e = by_kind.entry(r.choice(kind)?.to_string()).or_default();
        e.0.push(r.f64(wi)?);
        e.1.push(r.opt_f64(wf)?.unwrap_or(f64::NAN));
        Ok(())
    })?;
    Ok(by_kind)
}

fn histograms(dir: &Path, path: &Path) -> Result<bool> {
    let by_kind = read_weights(dir)?;
    if by_kind.is_empty() {
        return Ok(false);
    }
    let mut buf = String::new();
    {
        let panels = by_kind.len();
        let root =
            SVGBackend::with_string(&mut buf, (1000, 380 * panels as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(pe)?;
        let areas = root.split_evenly((panels, 1));
        for (area, (k, (a, b))) in areas.iter().zip(&by_kind) {
            histogram_panel(area, k, a, b)?;
        }
        root.present().map_err(pe)?;
    }
    write_svg(path, buf, "")?;
    Ok(true)
}

/// One panel: histograms of the initial (`a`) and final (`b`) weights of
/// the synapses of one kind.
fn histogram_panel(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    kind: &str,
    a: &[f64],
    b: &[f64],
) -> Result<()> {
    let (lo, hi) = bounds(a.iter().chain(b.iter()).copied());
    let nb = 60usize;
    let bw = (hi - lo) / nb as f64;
    let hist = |v: &[f64]| -> Vec<u32> {
        let mut h = vec![0u32; nb];
        for &x in v.iter().filter(|x| x.is_finite()) {
            h[(((x - lo) / bw) as usize).min(nb - 1)] += 1;
        }
        h
    };
    let (mut ha, hb) = (hist(a), hist(b));
    // all initial weights equal (the default: 0): a labelled line
    // instead of one bar that would flatten the final histogram
    let const_init = a.len() > 1 && a.iter().all(|&x| x == a[0]);
    if const_init {
        ha.iter_mut().for_each(|c| *c = 0);
    }
    let ymax = ha
        .iter()
        .chain(hb.iter())
        .copied()
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{kind} synapses ({}): weight before and after", a.len()),
            ("sans-serif", 15),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(lo..hi, 0.0..ymax * 1.05)
        .map_err(pe)?;
    chart
        .configure_mesh()
        .light_line_style(BLACK.mix(0.05))
        .x_desc("weight w")
        .y_desc("synapses")
        .draw()
        .map_err(pe)?;
    for (h, color, name) in [
        (&ha, RGBColor(120, 120, 120), "w_initial"),
        (&hb, palette(0), "w_final"),
    ] {
        chart
            .draw_series(h.iter().enumerate().filter(|(_, c)| **c > 0).map(|(i, c)| {
                let x = lo + i as f64 * bw;
                Rectangle::new([(x, 0.0), (x + bw, *c as f64)], color.mix(0.5).filled())
            }))
            .map_err(pe)?
            .label(name)
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.mix(0.5).filled())
            });
    }
    if const_init {
        let x = a[0];
        chart
            .draw_series(LineSeries::new(
                [(x, 0.0), (x, ymax)],
                RGBColor(120, 120, 120).stroke_width(2),
            ))
            .map_err(pe)?;
        let side = if x > 0.5 * (lo + hi) {
            HPos::Right
        } else {
            HPos::Left
        };
        chart
            .draw_series([Text::new(
                format!("all {} initial weights = {x}", a.len()),
                (x, ymax * 1.02),
                TextStyle::from(("sans-serif", 12).into_font()).pos(Pos::new(side, VPos::Top)),
            )])
            .map_err(pe)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(pe)
}

pub fn render(dir: &Path, out: &Path, window: Option<(f64, f64)>) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    if dir.join(schema::SYNAPSE_TRACES.name).exists() {
        let traces = read_traces(dir)?;
        if !traces.is_empty() {
            // exact recorded time range (no padding)
            let times = || traces.values().flat_map(|t| t.t.iter().copied());
            let t0 = times().fold(f64::INFINITY, f64::min).max(0.0);
            let t1 = times().fold(f64::NEG_INFINITY, f64::max);
            let t1 = if t1 > t0 { t1 } else { t0 + 1.0 };
            let path = out.join("synapse_weights.svg");
            let (wa, wb) = window.unwrap_or((t0, t1));
            line_plot(
                &path,
                &format!("Weights of {} sampled synapses", traces.len()),
                "weight w",
                &traces,
                wa,
                wb,
                &|t| &t.w,
            )?;
            files.push(path);
            // EPSPs are fast: a short window at the end of the recording (the
            // given window if any): 1 s, or 100 samples when sampled coarsely
            let (ea, eb) = match window {
                Some(w) => w,
                None => {
                    let first = traces
                        .values()
                        .next()
                        .map(|t| t.t.clone())
                        .unwrap_or_default();
                    let mut d: Vec<f64> = first
                        .windows(2)
                        .map(|w| w[1] - w[0])
                        .filter(|d| *d > 0.0)
                        .collect();
                    d.sort_by(|a, b| a.total_cmp(b));
                    let dt = d.get(d.len() / 2).copied().unwrap_or(1.0);
                    ((t1 - (100.0 * dt).max(1000.0)).max(t0), t1)
                }
            };
            let path = out.join("synapse_epsp.svg");
            line_plot(
                &path,
                &format!(
                    "Unweighted EPSP Y of the sources of {} sampled synapses, {ea:.0}–{eb:.0} ms",
                    traces.len()
                ),
                "EPSP Y",
                &traces,
                ea,
                eb,
                &|t| &t.epsp,
            )?;
            files.push(path);
        }
    }
    if dir.join(schema::SYNAPSES.name).exists() {
        let path = out.join("weight_histograms.svg");
        if histograms(dir, &path)? {
            files.push(path);
        }
    }
    Ok(files)
}
