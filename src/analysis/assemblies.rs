//! Assembly statistics per target (model.md §8): modulation by the pattern,
//! phase locking, split-half consistency of activation phases, per-circuit
//! rates. All from spikes.csv; methods in docs/analysis.md.

use super::stats::{circ_corr_fl, mann_whitney, nanmean, Phasor};
use super::{
    fmt_f, write_text, AnalysisOptions, AnalysisSummary, Presentation, RunData, SegKind, Targets,
};
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
        .filter(|s| s.kind == SegKind::Noise && s.start_ms >= start && s.end_ms > s.start_ms)
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
    let n = run.n_neurons;
    let mut csv = String::from("sequence,scope,id,metric,value\n");
    for t in 0..targets.len() {
        let label = &targets.labels[t];
        let w = window(run, pres, targets, t, opts.min_presentations);
        if w.pres.len() < 2 || w.noise.len() < 2 {
            summary.warnings.push(format!(
                "assemblies: target {label}: {} presentations and {} noise segments, too few for statistics",
                w.pres.len(),
                w.noise.len()
            ));
            continue;
        }
        // rates per segment (Hz), per neuron
        let mut rate_p = vec![vec![0.0; w.pres.len()]; n];
        let mut rate_n = vec![vec![0.0; w.noise.len()]; n];
        let mut per_pres = vec![vec![Phasor::default(); w.pres.len()]; n];
        let mut halves = vec![[Phasor::default(); 2]; n];
        let mut active = vec![false; n];
        let (mut pat_ms, mut noise_ms) = (0.0, 0.0);
        for (j, p) in w.pres.iter().enumerate() {
            let len = p.len_ms();
            pat_ms += len;
            for (k, c) in counts(run, p.start_ms, p.end_ms) {
                if k < n {
                    rate_p[k][j] = c * 1000.0 / len;
                }
            }
            for i in run.spikes.range(p.start_ms, p.end_ms) {
                let k = run.spikes.id[i] as usize;
                if k < n {
                    let th = 2.0 * PI * (run.spikes.time_ms[i] - p.start_ms) / len;
                    per_pres[k][j].add(th, 1.0);
                    halves[k][j % 2].add(th, 1.0);
                    active[k] = true;
                }
            }
        }
        for (j, &(a, b)) in w.noise.iter().enumerate() {
            noise_ms += b - a;
            for (k, c) in counts(run, a, b) {
                if k < n {
                    rate_n[k][j] = c * 1000.0 / (b - a);
                    active[k] = true;
                }
            }
        }
        let mut modulation = vec![0i8; n];
        let mut pval = vec![1.0; n];
        let mut locking = vec![f64::NAN; n];
        let mut chance = vec![f64::NAN; n];
        for k in 0..n {
            let (p, z) = mann_whitney(&rate_p[k], &rate_n[k]);
            pval[k] = p;
            if p < opts.alpha {
                modulation[k] = if z > 0.0 { 1 } else { -1 };
            }
            let mut r = Phasor::default();
            for ph in &per_pres[k] {
                if ph.count > 0 {
                    let a = ph.angle();
                    if a.is_finite() {
                        r.add(a, 1.0);
                    }
                }
            }
            if r.count >= 3 {
                locking[k] = r.resultant();
                chance[k] = (PI / (4.0 * r.count as f64)).sqrt();
            }
        }
        let (mut pa, mut pb) = (Vec::new(), Vec::new());
        let (mut qa, mut qb) = (Vec::new(), Vec::new());
        for (k, h) in halves.iter().enumerate() {
            if h[0].count >= 3
                && h[1].count >= 3
                && h[0].angle().is_finite()
                && h[1].angle().is_finite()
            {
                qa.push(h[0].angle());
                qb.push(h[1].angle());
                if modulation[k] != 0 {
                    pa.push(h[0].angle());
                    pb.push(h[1].angle());
                }
            }
        }
        let mean_cos = nanmean(pa.iter().zip(&pb).map(|(a, b)| (a - b).cos()));
        let nf = n.max(1) as f64;
        let spikes_in = |segs: &mut dyn Iterator<Item = (f64, f64)>| -> Vec<f64> {
            let mut c = vec![0.0; n];
            for (a, b) in segs {
                for i in run.spikes.range(a, b) {
                    let k = run.spikes.id[i] as usize;
                    if k < n {
                        c[k] += 1.0;
                    }
                }
            }
            c
        };
        let cp = spikes_in(&mut w.pres.iter().map(|p| (p.start_ms, p.end_ms)));
        let cn = spikes_in(&mut w.noise.iter().copied());
        let hz = |c: f64, ms: f64| if ms > 0.0 { c * 1000.0 / ms } else { f64::NAN };
        let s = AssemblySummary {
            target: label.clone(),
            n_presentations: w.pres.len(),
            n_noise_segments: w.noise.len(),
            window_start_ms: w.start,
            window_end_ms: w.end,
            n_active: active.iter().filter(|&&a| a).count(),
            fraction_modulated: modulation.iter().filter(|&&m| m != 0).count() as f64 / nf,
            fraction_up: modulation.iter().filter(|&&m| m > 0).count() as f64 / nf,
            fraction_down: modulation.iter().filter(|&&m| m < 0).count() as f64 / nf,
            locking_mean: nanmean(locking.iter().copied()),
            locking_mean_modulated: nanmean(
                (0..n).filter(|&k| modulation[k] != 0).map(|k| locking[k]),
            ),
            locking_chance: nanmean(chance.iter().copied()),
            n_locking: locking.iter().filter(|x| x.is_finite()).count(),
            split_half_corr: circ_corr_fl(&pa, &pb),
            split_half_mean_cos: mean_cos,
            n_split_half: pa.len(),
            split_half_corr_all: circ_corr_fl(&qa, &qb),
            rate_pattern_hz: hz(cp.iter().sum::<f64>() / nf, pat_ms),
            rate_noise_hz: hz(cn.iter().sum::<f64>() / nf, noise_ms),
        };
        let net = |csv: &mut String, m: &str, v: f64| {
            let _ = writeln!(csv, "{label},network,,{m},{}", fmt_f(v));
        };
        net(&mut csv, "n_presentations", s.n_presentations as f64);
        net(&mut csv, "n_noise_segments", s.n_noise_segments as f64);
        net(&mut csv, "window_start_ms", s.window_start_ms);
        net(&mut csv, "window_end_ms", s.window_end_ms);
        net(&mut csv, "n_active", s.n_active as f64);
        net(&mut csv, "fraction_modulated", s.fraction_modulated);
        net(&mut csv, "fraction_up", s.fraction_up);
        net(&mut csv, "fraction_down", s.fraction_down);
        net(&mut csv, "locking_mean", s.locking_mean);
        net(&mut csv, "locking_mean_modulated", s.locking_mean_modulated);
        net(&mut csv, "locking_chance", s.locking_chance);
        net(&mut csv, "n_locking", s.n_locking as f64);
        net(&mut csv, "split_half_corr", s.split_half_corr);
        net(&mut csv, "split_half_mean_cos", s.split_half_mean_cos);
        net(&mut csv, "n_split_half", s.n_split_half as f64);
        net(&mut csv, "split_half_corr_all", s.split_half_corr_all);
        net(&mut csv, "rate_pattern_hz", s.rate_pattern_hz);
        net(&mut csv, "rate_noise_hz", s.rate_noise_hz);
        // per circuit: total circuit rate (sum over its neurons)
        if !run.neuron_circuit.is_empty() {
            let nc = run
                .neuron_circuit
                .iter()
                .filter(|&&c| c != usize::MAX)
                .max()
                .map_or(0, |m| m + 1);
            let mut agg = vec![(0.0, 0.0, 0usize, 0usize); nc];
            for k in 0..n.min(run.neuron_circuit.len()) {
                let c = run.neuron_circuit[k];
                if c < nc {
                    agg[c].0 += cp[k];
                    agg[c].1 += cn[k];
                    agg[c].2 += 1;
                    agg[c].3 += usize::from(modulation[k] != 0);
                }
            }
            for (c, a) in agg.iter().enumerate() {
                let _ = writeln!(
                    csv,
                    "{label},circuit,{c},rate_pattern_hz,{}",
                    fmt_f(hz(a.0, pat_ms))
                );
                let _ = writeln!(
                    csv,
                    "{label},circuit,{c},rate_noise_hz,{}",
                    fmt_f(hz(a.1, noise_ms))
                );
                let _ = writeln!(
                    csv,
                    "{label},circuit,{c},fraction_modulated,{}",
                    fmt_f(a.3 as f64 / a.2.max(1) as f64)
                );
            }
        }
        let med_len = super::stats::median(&w.pres.iter().map(|p| p.len_ms()).collect::<Vec<_>>());
        for k in 0..n {
            let mut pooled = halves[k][0];
            pooled.re += halves[k][1].re;
            pooled.im += halves[k][1].im;
            pooled.weight += halves[k][1].weight;
            pooled.count += halves[k][1].count;
            let _ = writeln!(
                csv,
                "{label},neuron,{k},rate_pattern_hz,{}",
                fmt_f(hz(cp[k], pat_ms))
            );
            let _ = writeln!(
                csv,
                "{label},neuron,{k},rate_noise_hz,{}",
                fmt_f(hz(cn[k], noise_ms))
            );
            let _ = writeln!(csv, "{label},neuron,{k},p_value,{}", fmt_f(pval[k]));
            let _ = writeln!(csv, "{label},neuron,{k},modulation,{}", modulation[k]);
            let _ = writeln!(csv, "{label},neuron,{k},locking,{}", fmt_f(locking[k]));
            let _ = writeln!(
                csv,
                "{label},neuron,{k},phase_ms,{}",
                fmt_f(pooled.angle() / (2.0 * PI) * med_len)
            );
        }
        summary.assemblies.push(s);
    }
    write_text(dir, "assemblies.csv", &csv, &mut summary.files)?;
    Ok(())
}
