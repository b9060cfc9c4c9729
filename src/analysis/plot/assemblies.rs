//! Assembly overview from assemblies.csv: per neuron its activation phase
//! within the pattern vs its phase locking, coloured by modulation (up,
//! down, none), one panel per target; and the per-circuit rates.

use super::{pe, write_svg};
use crate::rundir::{schema, Reader};
use anyhow::Result;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Largest number of neurons drawn per panel (evenly subsampled above).
const MAX_POINTS: usize = 3000;

#[derive(Default, Clone)]
struct NeuronRow {
    phase_ms: f64,
    locking: f64,
    modulation: f64,
}

type PerTarget = BTreeMap<String, (BTreeMap<usize, NeuronRow>, BTreeMap<String, f64>)>;

fn read(dir: &Path) -> Result<PerTarget> {
    let mut f = Reader::open(dir, &schema::ASSEMBLIES)?;
    let [seq, scope, id, metric, value] = f.cols(["sequence", "scope", "id", "metric", "value"]);
    let mut out: PerTarget = BTreeMap::new();
    f.for_each(|r| {
        let e = out.entry(r.str(seq)?.to_string()).or_default();
        let v = r.opt_f64(value)?.unwrap_or(f64::NAN);
        match r.str(scope)? {
            "neuron" => {
                let n = e.0.entry(r.usize(id)?).or_insert_with(|| NeuronRow {
                    phase_ms: f64::NAN,
                    locking: f64::NAN,
                    modulation: 0.0,
                });
                match r.str(metric)? {
                    "phase_ms" => n.phase_ms = v,
                    "locking" => n.locking = v,
                    "modulation" => n.modulation = v,
                    _ => {}
                }
            }
            "network" => {
                e.1.insert(r.str(metric)?.to_string(), v);
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(out)
}

pub fn render(dir: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    let data = read(dir)?;
    let panels: Vec<_> = data.iter().filter(|(_, (n, _))| !n.is_empty()).collect();
    if panels.is_empty() {
        return Ok(Vec::new());
    }
    let path = out.join("assemblies.svg");
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (1000, 420 * panels.len() as u32))
            .into_drawing_area();
        root.fill(&WHITE).map_err(pe)?;
        let areas = root.split_evenly((panels.len(), 1));
        for (area, (target, (neurons, net))) in areas.iter().zip(panels) {
            let lmax = neurons
                .values()
                .map(|n| n.phase_ms)
                .filter(|x| x.is_finite())
                .fold(1.0f64, f64::max);
            let g = |k: &str| net.get(k).copied().unwrap_or(f64::NAN);
            let title = format!(
                "Sequence {target}: {:.0} % modulated ({:.0} % up, {:.0} % down), locking {:.2} (chance {:.2}), split-half {:.2}",
                100.0 * g("fraction_modulated"),
                100.0 * g("fraction_up"),
                100.0 * g("fraction_down"),
                g("locking_mean"),
                g("locking_chance"),
                g("split_half_corr"),
            );
            let mut chart = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 14))
                .margin(12)
                .margin_right(28)
                .x_label_area_size(40)
                .y_label_area_size(55)
                .build_cartesian_2d(0.0..lmax * 1.02, 0.0..1.05)
                .map_err(pe)?;
            chart
                .configure_mesh()
                .light_line_style(BLACK.mix(0.05))
                .x_desc("activation phase within the presentation (ms)")
                .y_desc("phase locking across presentations")
                .draw()
                .map_err(pe)?;
            let step = neurons.len().div_ceil(MAX_POINTS).max(1);
            let pts: Vec<&NeuronRow> = neurons
                .values()
                .step_by(step)
                .filter(|n| n.phase_ms.is_finite() && n.locking.is_finite())
                .collect();
            for (m, color, label) in [
                (0.0, RGBColor(160, 160, 160), "not modulated"),
                (-1.0, RGBColor(0, 114, 178), "rate down in pattern"),
                (1.0, RGBColor(213, 94, 0), "rate up in pattern"),
            ] {
                chart
                    .draw_series(
                        pts.iter()
                            .filter(|n| n.modulation == m)
                            .map(|n| Circle::new((n.phase_ms, n.locking), 2, color.filled())),
                    )
                    .map_err(pe)?
                    .label(label)
                    .legend(move |(x, y)| Circle::new((x + 6, y), 3, color.filled()));
            }
            super::draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        }
        root.present().map_err(pe)?;
    }
    write_svg(&path, buf, "")?;
    Ok(vec![path])
}
