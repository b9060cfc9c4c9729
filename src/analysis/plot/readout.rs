//! Readout output vs target over a test phase (readout_output.csv): the
//! first one scored by the last readout fit.

use super::{palette, pe, write_svg};
use crate::rundir::{self, schema, Reader};
use anyhow::Result;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

type Series = BTreeMap<String, Vec<(f64, f64, f64)>>; // label -> (t, target, output)

/// `(protocol, features, phase) -> label -> (t, target, output)`.
type Panels = BTreeMap<(String, String, String), Series>;

/// The rows of readout_output.csv of the first test phase scored by the
/// last readout fit (after training; the first phase seen without protocol.csv).
fn read(dir: &Path) -> Result<Panels> {
    let mut f = Reader::open(dir, &schema::READOUT_OUTPUT)?;
    let [pr, fe, ph, t, seq, tg, o] = f.cols([
        "protocol", "features", "phase", "time_ms", "sequence", "target", "output",
    ]);
    // features -> label -> points, for protocol ridge_cv (else the first seen)
    let mut data = Panels::new();
    // the first test phase scored by the last readout fit (after training)
    let mut first_phase: Option<String> = None;
    if dir.join(schema::PROTOCOL.name).exists() {
        let prot = rundir::read_protocol(dir)?;
        let groups = crate::analysis::readout::fit_groups(&prot);
        if let Some(p) = groups.last().and_then(|g| g.1.first()) {
            first_phase = Some(p.phase.to_string());
        }
    }
    f.for_each(|r| {
        let phase = r.str(ph)?.to_string();
        let fp = first_phase.get_or_insert_with(|| phase.clone());
        if *fp != phase {
            return Ok(());
        }
        data.entry((r.str(pr)?.into(), r.str(fe)?.into(), phase))
            .or_default()
            .entry(r.str(seq)?.to_string())
            .or_default()
            .push((r.f64(t)?, r.f64(tg)?, r.opt_f64(o)?.unwrap_or(f64::NAN)));
        Ok(())
    })?;
    Ok(data)
}

pub fn render(dir: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    let data = read(dir)?;
    let proto = if data.keys().any(|k| k.0 == "ridge_cv") {
        "ridge_cv".to_string()
    } else {
        match data.keys().next() {
            Some(k) => k.0.clone(),
            None => return Ok(Vec::new()),
        }
    };
    let mut panels: Vec<(&(String, String, String), &Series)> =
        data.iter().filter(|(k, _)| k.0 == proto).collect();
    // network first, then the input baseline
    panels.sort_by_key(|(k, _)| (k.1 != "network", k.1.clone()));
    let path = out.join("readout.svg");
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (1000, 330 * panels.len() as u32))
            .into_drawing_area();
        root.fill(&WHITE).map_err(pe)?;
        let areas = root.split_evenly((panels.len(), 1));
        for (area, ((_, feat, phase), series)) in areas.iter().zip(panels) {
            panel(area, &proto, feat, phase, series)?;
        }
        root.present().map_err(pe)?;
    }
    write_svg(&path, buf, "")?;
    Ok(vec![path])
}

/// One panel: the readout output of each target over time, its target
/// shaded, the 0.5 threshold.
fn panel(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    proto: &str,
    feat: &str,
    phase: &str,
    series: &Series,
) -> Result<()> {
    let all: Vec<&(f64, f64, f64)> = series.values().flatten().collect();
    let t0 = all.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let t1 = all.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let (t0, t1) = if t1 > t0 { (t0, t1) } else { (t0, t0 + 1.0) };
    let omin = all
        .iter()
        .map(|p| p.2)
        .filter(|v| v.is_finite())
        .fold(-0.2, f64::min);
    let omax = all
        .iter()
        .map(|p| p.2)
        .filter(|v| v.is_finite())
        .fold(1.2, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("Readout ({proto}) of the {feat} state vs target, test phase {phase}"),
            ("sans-serif", 15),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(t0..t1, omin..omax)
        .map_err(pe)?;
    chart
        .configure_mesh()
        .light_line_style(BLACK.mix(0.05))
        .x_desc("time (ms)")
        .y_desc("readout output")
        .draw()
        .map_err(pe)?;
    for (i, (label, pts)) in series.iter().enumerate() {
        if label == "noise" && series.len() > 1 {
            continue;
        }
        let color = palette(i);
        let step = pts
            .windows(2)
            .map(|w| w[1].0 - w[0].0)
            .fold(f64::INFINITY, f64::min);
        let step = if step.is_finite() { step } else { 1.0 };
        chart
            .draw_series(
                pts.iter().filter(|p| p.1 > 0.5).map(|p| {
                    Rectangle::new([(p.0 - step, 0.0), (p.0, 1.0)], color.mix(0.15).filled())
                }),
            )
            .map_err(pe)?;
        chart
            .draw_series(LineSeries::new(
                pts.iter().filter(|p| p.2.is_finite()).map(|p| (p.0, p.2)),
                color.stroke_width(2),
            ))
            .map_err(pe)?
            .label(format!("sequence {label}"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
    }
    chart
        .draw_series(LineSeries::new(
            [(t0, 0.5), (t1, 0.5)],
            BLACK.mix(0.4).stroke_width(1),
        ))
        .map_err(pe)?;
    super::draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    Ok(())
}
