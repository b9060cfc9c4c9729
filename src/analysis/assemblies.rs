//! Assembly statistics per target (model.md §8): modulation by the pattern,
//! phase locking, split-half consistency of activation phases, per-circuit
//! rates. All from spikes.csv; methods in docs/analysis.md.

use super::stats::{circ_corr_fl, mann_whitney, nanmean, Phasor};
use super::{
    fmt_f, write_text, AnalysisOptions, AnalysisSummary, Presentation, RunData, SegmentKind,
    Targets,
};
use crate::rundir::schema;
use anyhow::Result;
use serde::Serialize;
use std::f64::consts::PI;
use std::fmt::Write as _;
use std::path::Path;

/// Network-level statistics of one target.
#[derive(Clone, Debug, Serialize)]
pub struct AssemblySummary {
    pub target: String,
    pub n_presentations: usize,
    pub n_noise_segments: usize,
    pub window_start_ms: f64,
    pub window_end_ms: f64,
    /// Neurons with at least one spike in the window.
    pub n_active: usize,
    /// Fractions of all neurons with a significant rate difference
    /// pattern vs noise (Mann–Whitney U, two-sided, p < alpha).
    pub fraction_modulated: f64,
    pub fraction_up: f64,
    pub fraction_down: f64,
    /// Mean over neurons (active in >= 3 presentations) of the resultant
    /// length of their per-presentation activation phases.
    pub locking_mean: f64,
    pub locking_mean_modulated: f64,
    /// The same statistic expected for random phases (mean of sqrt(pi/(4 m_k))).
    pub locking_chance: f64,
    pub n_locking: usize,
    /// Circular correlation (Fisher & Lee) of the activation phases of
    /// even vs odd presentations across the modulated neurons with >= 3
    /// spikes in each half.
    pub split_half_corr: f64,
    /// Mean of cos(phase_even - phase_odd) over the same neurons.
    pub split_half_mean_cos: f64,
    pub n_split_half: usize,
    /// The circular correlation over all neurons with >= 3 spikes in each
    /// half (unmodulated neurons add noise).
    pub split_half_corr_all: f64,
    /// Mean rate per neuron (Hz) during the target's presentations / noise.
    pub rate_pattern_hz: f64,
    pub rate_noise_hz: f64,
}

struct Window<'a> {
    pres: Vec<&'a Presentation>,
    noise: Vec<(f64, f64)>,
    start: f64,
    end: f64,
}

/// Presentations used for target `t`: every complete one in a non-training
/// protocol phase; when fewer than `min`, the last `min` complete ones of the
/// run. Noise segments: all from the first used presentation to the end.
fn window<'a>(
    run: &RunData,
    pres: &'a [Presentation],
    targets: &Targets,
    t: usize,
    min: usize,
) -> Window<'a> {
    let mine: Vec<&Presentation> = pres
        .iter()
        .filter(|p| p.complete && targets.of(p) == Some(t))
        .collect();
    let role = |phase: usize| {
        run.protocol
            .iter()
            .find(|p| p.phase == phase)
            .map(|p| p.role.as_str())
            .unwrap_or("train")
    };
    let eval: Vec<&Presentation> = mine
        .iter()
        .copied()
        .filter(|p| role(p.phase) != "train")
        .collect();
    let used = if eval.len() >= min {
        eval
    } else {
        mine[mine.len().saturating_sub(min)..].to_vec()
    };
    let start = used.first().map_or(run.end_ms, |p| p.start_ms);
    let noise = run
        .segments
        .iter()
        .filter(|s| s.kind == SegmentKind::Noise && s.start_ms >= start && s.end_ms > s.start_ms)
        .map(|s| (s.start_ms, s.end_ms))
        .collect();
    Window {
        pres: used,
        noise,
        start,
        end: run.end_ms,
    }
}

/// Spike counts per neuron in `[a, b)`.
fn counts(run: &RunData, a: f64, b: f64) -> Vec<(usize, f64)> {
    let mut m = std::collections::BTreeMap::new();
    for i in run.spikes.range(a, b) {
        *m.entry(run.spikes.id[i] as usize).or_insert(0.0) += 1.0;
    }
    m.into_iter().collect()
}

/// Per-neuron activity of one target's window.
struct Activity {
    /// Rate (Hz) of each neuron in each presentation / noise segment.
    rate_p: Vec<Vec<f64>>,
    rate_n: Vec<Vec<f64>>,
    /// Activation phase of each neuron in each presentation.
    per_pres: Vec<Vec<Phasor>>,
    /// Pooled activation phase of each neuron in even / odd presentations.
    halves: Vec<[Phasor; 2]>,
    active: Vec<bool>,
    /// Spike counts of each neuron over all presentations / noise segments.
    count_p: Vec<f64>,
    count_n: Vec<f64>,
    /// Total duration (ms) of the presentations / noise segments.
    pat_ms: f64,
    noise_ms: f64,
}

impl Activity {
    fn collect(run: &RunData, w: &Window) -> Activity {
        let n = run.n_neurons;
        let mut a = Activity {
            rate_p: vec![vec![0.0; w.pres.len()]; n],
            rate_n: vec![vec![0.0; w.noise.len()]; n],
            per_pres: vec![vec![Phasor::default(); w.pres.len()]; n],
            halves: vec![[Phasor::default(); 2]; n],
            active: vec![false; n],
            count_p: vec![0.0; n],
            count_n: vec![0.0; n],
            pat_ms: 0.0,
            noise_ms: 0.0,
        };
        for (j, p) in w.pres.iter().enumerate() {
            let len = p.len_ms();
            a.pat_ms += len;
            for (k, c) in counts(run, p.start_ms, p.end_ms) {
                a.rate_p[k][j] = c * 1000.0 / len;
                a.count_p[k] += c;
            }
            for i in run.spikes.range(p.start_ms, p.end_ms) {
                let k = run.spikes.id[i] as usize;
                let th = 2.0 * PI * (run.spikes.time_ms[i] - p.start_ms) / len;
                a.per_pres[k][j].add(th, 1.0);
                a.halves[k][j % 2].add(th, 1.0);
                a.active[k] = true;
            }
        }
        for (j, &(s, e)) in w.noise.iter().enumerate() {
            a.noise_ms += e - s;
            for (k, c) in counts(run, s, e) {
                a.rate_n[k][j] = c * 1000.0 / (e - s);
                a.count_n[k] += c;
                a.active[k] = true;
            }
        }
        a
    }
}

/// Per-neuron test results.
struct NeuronStats {
    /// +1 / -1 for a significant rate increase / decrease, else 0.
    modulation: Vec<i8>,
    p_value: Vec<f64>,
    /// Resultant length of the per-presentation phases (NaN: fewer than 3).
    locking: Vec<f64>,
    /// Its expected value for random phases.
    chance: Vec<f64>,
}

impl NeuronStats {
    fn test(a: &Activity, alpha: f64) -> NeuronStats {
        let n = a.rate_p.len();
        let mut s = NeuronStats {
            modulation: vec![0; n],
            p_value: vec![1.0; n],
            locking: vec![f64::NAN; n],
            chance: vec![f64::NAN; n],
        };
        for k in 0..n {
            let (p, z) = mann_whitney(&a.rate_p[k], &a.rate_n[k]);
            s.p_value[k] = p;
            if p < alpha {
                s.modulation[k] = if z > 0.0 { 1 } else { -1 };
            }
            let mut r = Phasor::default();
            for ph in &a.per_pres[k] {
                if ph.count > 0 {
                    let angle = ph.angle();
                    if angle.is_finite() {
                        r.add(angle, 1.0);
                    }
                }
            }
            if r.count >= 3 {
                s.locking[k] = r.resultant();
                s.chance[k] = (PI / (4.0 * r.count as f64)).sqrt();
            }
        }
        s
    }
}

/// Rate in Hz of `c` spikes in `ms`.
fn hz(c: f64, ms: f64) -> f64 {
    if ms > 0.0 {
        c * 1000.0 / ms
    } else {
        f64::NAN
    }
}

/// The network-level statistics of one target.
fn network_summary(label: &str, w: &Window, a: &Activity, s: &NeuronStats) -> AssemblySummary {
    let n = a.active.len();
    // split-half phases: modulated neurons (pa, pb) and all neurons (qa, qb)
    // with >= 3 spikes in each half
    let (mut pa, mut pb) = (Vec::new(), Vec::new());
    let (mut qa, mut qb) = (Vec::new(), Vec::new());
    for (k, h) in a.halves.iter().enumerate() {
        if h[0].count >= 3
            && h[1].count >= 3
            && h[0].angle().is_finite()
            && h[1].angle().is_finite()
        {
            qa.push(h[0].angle());
            qb.push(h[1].angle());
            if s.modulation[k] != 0 {
                pa.push(h[0].angle());
                pb.push(h[1].angle());
            }
        }
    }
    let nf = n.max(1) as f64;
    let frac = |f: &dyn Fn(i8) -> bool| s.modulation.iter().filter(|&&m| f(m)).count() as f64 / nf;
    AssemblySummary {
        target: label.to_string(),
        n_presentations: w.pres.len(),
        n_noise_segments: w.noise.len(),
        window_start_ms: w.start,
        window_end_ms: w.end,
        n_active: a.active.iter().filter(|&&x| x).count(),
        fraction_modulated: frac(&|m| m != 0),
        fraction_up: frac(&|m| m > 0),
        fraction_down: frac(&|m| m < 0),
        locking_mean: nanmean(s.locking.iter().copied()),
        locking_mean_modulated: nanmean(
            (0..n)
                .filter(|&k| s.modulation[k] != 0)
                .map(|k| s.locking[k]),
        ),
        locking_chance: nanmean(s.chance.iter().copied()),
        n_locking: s.locking.iter().filter(|x| x.is_finite()).count(),
        split_half_corr: circ_corr_fl(&pa, &pb),
        split_half_mean_cos: nanmean(pa.iter().zip(&pb).map(|(a, b)| (a - b).cos())),
        n_split_half: pa.len(),
        split_half_corr_all: circ_corr_fl(&qa, &qb),
        rate_pattern_hz: hz(a.count_p.iter().sum::<f64>() / nf, a.pat_ms),
        rate_noise_hz: hz(a.count_n.iter().sum::<f64>() / nf, a.noise_ms),
    }
}

fn write_network_rows(csv: &mut String, label: &str, s: &AssemblySummary) {
    let rows = [
        ("n_presentations", s.n_presentations as f64),
        ("n_noise_segments", s.n_noise_segments as f64),
        ("window_start_ms", s.window_start_ms),
        ("window_end_ms", s.window_end_ms),
        ("n_active", s.n_active as f64),
        ("fraction_modulated", s.fraction_modulated),
        ("fraction_up", s.fraction_up),
        ("fraction_down", s.fraction_down),
        ("locking_mean", s.locking_mean),
        ("locking_mean_modulated", s.locking_mean_modulated),
        ("locking_chance", s.locking_chance),
        ("n_locking", s.n_locking as f64),
        ("split_half_corr", s.split_half_corr),
        ("split_half_mean_cos", s.split_half_mean_cos),
        ("n_split_half", s.n_split_half as f64),
        ("split_half_corr_all", s.split_half_corr_all),
        ("rate_pattern_hz", s.rate_pattern_hz),
        ("rate_noise_hz", s.rate_noise_hz),
    ];
    for (m, v) in rows {
        let _ = writeln!(csv, "{label},network,,{m},{}", fmt_f(v));
    }
}

/// Per circuit: total rate (sum over its neurons) and fraction modulated.
fn write_circuit_rows(csv: &mut String, label: &str, run: &RunData, a: &Activity, s: &NeuronStats) {
    if run.neuron_circuit.is_empty() {
        return;
    }
    let nc = run
        .neuron_circuit
        .iter()
        .filter(|&&c| c != usize::MAX)
        .max()
        .map_or(0, |m| m + 1);
    let mut agg = vec![(0.0, 0.0, 0usize, 0usize); nc];
    for k in 0..run.n_neurons.min(run.neuron_circuit.len()) {
        let c = run.neuron_circuit[k];
        if c < nc {
            agg[c].0 += a.count_p[k];
            agg[c].1 += a.count_n[k];
            agg[c].2 += 1;
            agg[c].3 += usize::from(s.modulation[k] != 0);
        }
    }
    for (c, g) in agg.iter().enumerate() {
        let _ = writeln!(
            csv,
            "{label},circuit,{c},rate_pattern_hz,{}",
            fmt_f(hz(g.0, a.pat_ms))
        );
        let _ = writeln!(
            csv,
            "{label},circuit,{c},rate_noise_hz,{}",
            fmt_f(hz(g.1, a.noise_ms))
        );
        let _ = writeln!(
            csv,
            "{label},circuit,{c},fraction_modulated,{}",
            fmt_f(g.3 as f64 / g.2.max(1) as f64)
        );
    }
}

/// Per neuron: rates, test result, locking and pooled activation phase (in
/// ms of the median presentation length).
fn write_neuron_rows(csv: &mut String, label: &str, w: &Window, a: &Activity, s: &NeuronStats) {
    let med_len = super::stats::median(&w.pres.iter().map(|p| p.len_ms()).collect::<Vec<_>>());
    for k in 0..a.active.len() {
        let mut pooled = a.halves[k][0];
        pooled.re += a.halves[k][1].re;
        pooled.im += a.halves[k][1].im;
        pooled.weight += a.halves[k][1].weight;
        pooled.count += a.halves[k][1].count;
        let rows = [
            ("rate_pattern_hz", fmt_f(hz(a.count_p[k], a.pat_ms))),
            ("rate_noise_hz", fmt_f(hz(a.count_n[k], a.noise_ms))),
            ("p_value", fmt_f(s.p_value[k])),
            ("modulation", s.modulation[k].to_string()),
            ("locking", fmt_f(s.locking[k])),
            ("phase_ms", fmt_f(pooled.angle() / (2.0 * PI) * med_len)),
        ];
        for (m, v) in rows {
            let _ = writeln!(csv, "{label},neuron,{k},{m},{v}");
        }
    }
}

pub fn run_assemblies(
    dir: &Path,
    run: &RunData,
    pres: &[Presentation],
    targets: &Targets,
    opts: &AnalysisOptions,
    summary: &mut AnalysisSummary,
) -> Result<()> {
    if targets.is_empty() {
        return Ok(());
    }
    let mut csv = schema::ASSEMBLIES.header_line();
    for (t, label) in targets.labels.iter().enumerate() {
        let w = window(run, pres, targets, t, opts.min_presentations);
        if w.pres.len() < 2 || w.noise.len() < 2 {
            summary.warnings.push(format!(
                "assemblies: target {label}: {} presentations and {} noise segments, too few for statistics",
                w.pres.len(),
                w.noise.len()
            ));
            continue;
        }
        let a = Activity::collect(run, &w);
        let s = NeuronStats::test(&a, opts.alpha);
        let net = network_summary(label, &w, &a, &s);
        write_network_rows(&mut csv, label, &net);
        write_circuit_rows(&mut csv, label, run, &a, &s);
        write_neuron_rows(&mut csv, label, &w, &a, &s);
        summary.assemblies.push(net);
    }
    write_text(dir, schema::ASSEMBLIES.name, &csv, &mut summary.files)?;
    Ok(())
}
