//! Neuron ordering by mean activation phase (model.md §7).
//!
//! For each target (sequence content), over its last complete presentation
//! of length `L`: `phase_k = angle(sum_t a_k(t) e^{2πi t/L})` mapped to
//! `[0, L)`, with `a_k = rho_k` from `neuron_traces.csv` when that file
//! has samples of every neuron inside that presentation. Otherwise `a_k` is the
//! spike train, pooled over the last `ordering_presentations` complete
//! presentations (each spike at relative phase `(t - start_p) / L_p`, so time
//! warps are handled), because a single presentation holds too few spikes
//! per neuron. Neurons without activity get no phase and are ranked last.

use super::stats::Phasor;
use super::{fmt_f, write_text, AnalysisOptions, AnalysisSummary, Presentation, RunData, Targets};
use crate::rundir::{self, schema, RhoSamples};
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::f64::consts::PI;
use std::fmt::Write as _;
use std::path::Path;

/// Ordering of one target.
#[derive(Clone, Debug, Serialize)]
pub struct TargetOrdering {
    pub target: String,
    /// `rho` (neuron_traces.csv) or `spikes`.
    pub source: String,
    pub presentations_used: usize,
    /// The last complete presentation (the phase reference).
    pub start_ms: f64,
    pub end_ms: f64,
    /// Neurons in rank order.
    #[serde(skip)]
    pub order: Vec<usize>,
    /// Per neuron (indexed by neuron id): phase in ms within `[0, L)`, NaN if none.
    #[serde(skip)]
    pub phase_ms: Vec<f64>,
    /// Per neuron: mean resultant length.
    #[serde(skip)]
    pub resultant: Vec<f64>,
    pub n_with_phase: usize,
    pub mean_resultant_length: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct OrderingSummary {
    pub targets: Vec<TargetOrdering>,
}

/// Complete presentations of each target that lie inside the run, sorted
/// by start; warns for a target without one.
fn complete_presentations<'a>(
    run: &RunData,
    pres: &'a [Presentation],
    targets: &Targets,
    warnings: &mut Vec<String>,
) -> Vec<(usize, Vec<&'a Presentation>)> {
    let mut per_target = Vec::new();
    for t in 0..targets.len() {
        let mut ps: Vec<&Presentation> = pres
            .iter()
            .filter(|p| p.complete && targets.of(p) == Some(t) && p.end_ms <= run.end_ms + 1e-9)
            .collect();
        ps.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
        if ps.is_empty() {
            warnings.push(format!(
                "ordering: target {} has no complete presentation",
                targets.labels[t]
            ));
            continue;
        }
        per_target.push((t, ps));
    }
    per_target
}

/// `rho` samples of the reference presentations (the last complete one of
/// each target) when neuron_traces.csv records every neuron in each of them.
fn rho_samples(
    dir: &Path,
    n: usize,
    per_target: &[(usize, Vec<&Presentation>)],
    warnings: &mut Vec<String>,
) -> Result<Option<RhoSamples>> {
    if !dir.join(schema::NEURON_TRACES.name).exists() || per_target.is_empty() {
        return Ok(None);
    }
    let windows: Vec<(f64, f64)> = per_target
        .iter()
        .filter_map(|(_, ps)| ps.last().map(|p| (p.start_ms, p.end_ms)))
        .collect();
    let r = rundir::read_rho_window(dir, &windows).context("reading neuron_traces.csv")?;
    // every neuron must have samples inside each reference window
    let covered = |a: f64, b: f64| {
        let mut seen = vec![false; n];
        for i in 0..r.time_ms.len() {
            if r.time_ms[i] >= a && r.time_ms[i] < b && (r.sender[i] as usize) < n {
                seen[r.sender[i] as usize] = true;
            }
        }
        seen.iter().filter(|&&x| x).count()
    };
    let worst = windows
        .iter()
        .map(|&(a, b)| covered(a, b))
        .min()
        .unwrap_or(0);
    if worst >= n {
        return Ok(Some(r));
    }
    warnings.push(format!(
        "ordering: neuron_traces.csv records {worst} of {n} neurons in the reference presentation, using spike trains"
    ));
    Ok(None)
}

/// Activation phasors of every neuron for one target: from `rho` in the
/// reference presentation `last`, else from the spikes of the last
/// `ordering_presentations` complete presentations. Returns the phasors,
/// their source and the number of presentations used.
fn activation(
    run: &RunData,
    ps: &[&Presentation],
    rho: Option<&RhoSamples>,
    opts: &AnalysisOptions,
    label: &str,
    warnings: &mut Vec<String>,
) -> (Vec<Phasor>, &'static str, usize) {
    let n = run.n_neurons;
    let last = ps[ps.len() - 1];
    let l = last.len_ms();
    let mut acc = vec![Phasor::default(); n];
    if let Some(r) = rho {
        let mut any = false;
        for i in 0..r.time_ms.len() {
            let tm = r.time_ms[i];
            if tm >= last.start_ms && tm < last.end_ms && (r.sender[i] as usize) < n {
                acc[r.sender[i] as usize].add(2.0 * PI * (tm - last.start_ms) / l, r.rho[i]);
                any = true;
            }
        }
        if any {
            return (acc, "rho", 1);
        }
        warnings.push(format!(
            "ordering: neuron_traces.csv has no sample inside the last presentation of target {label}, using spike trains"
        ));
    }
    let k = opts.ordering_presentations.max(1);
    let take = &ps[ps.len().saturating_sub(k)..];
    for p in take {
        let lp = p.len_ms();
        for i in run.spikes.range(p.start_ms, p.end_ms) {
            let s = run.spikes.id[i] as usize;
            acc[s].add(2.0 * PI * (run.spikes.time_ms[i] - p.start_ms) / lp, 1.0);
        }
    }
    (acc, "spikes", take.len())
}

/// Neurons by phase; those without a phase last, by id.
fn rank_by_phase(phase_ms: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..phase_ms.len()).collect();
    order.sort_by(|&a, &b| {
        let (pa, pb) = (phase_ms[a], phase_ms[b]);
        match (pa.is_nan(), pb.is_nan()) {
            (false, false) => pa.total_cmp(&pb).then(a.cmp(&b)),
            (true, true) => a.cmp(&b),
            (false, true) => std::cmp::Ordering::Less,
            (true, false) => std::cmp::Ordering::Greater,
        }
    });
    order
}

/// Computes the ordering of every target; pushes warnings for targets
/// without a complete presentation.
pub fn compute(
    dir: &Path,
    run: &RunData,
    pres: &[Presentation],
    targets: &Targets,
    opts: &AnalysisOptions,
    warnings: &mut Vec<String>,
) -> Result<Vec<TargetOrdering>> {
    let per_target = complete_presentations(run, pres, targets, warnings);
    let rho = rho_samples(dir, run.n_neurons, &per_target, warnings)?;
    let mut out = Vec::new();
    for (t, ps) in per_target {
        let label = &targets.labels[t];
        let (acc, source, used) = activation(run, &ps, rho.as_ref(), opts, label, warnings);
        let last = ps[ps.len() - 1];
        let l = last.len_ms();
        let phase_ms: Vec<f64> = acc.iter().map(|a| a.angle() / (2.0 * PI) * l).collect();
        let resultant: Vec<f64> = acc.iter().map(|a| a.resultant()).collect();
        let with: Vec<usize> = (0..acc.len()).filter(|&k| !phase_ms[k].is_nan()).collect();
        out.push(TargetOrdering {
            target: label.clone(),
            source: source.into(),
            presentations_used: used,
            start_ms: last.start_ms,
            end_ms: last.end_ms,
            n_with_phase: with.len(),
            mean_resultant_length: super::stats::nanmean(with.iter().map(|&k| resultant[k])),
            order: rank_by_phase(&phase_ms),
            phase_ms,
            resultant,
        });
    }
    Ok(out)
}

/// Runs the ordering and writes `ordering.csv`.
pub fn run_ordering(
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
    let ords = compute(dir, run, pres, targets, opts, &mut summary.warnings)?;
    let mut csv = schema::ORDERING.header_line();
    for o in &ords {
        for (rank, &k) in o.order.iter().enumerate() {
            let _ = writeln!(
                csv,
                "{},{rank},{k},{},{}",
                o.target,
                fmt_f(o.phase_ms[k]),
                fmt_f(o.resultant[k])
            );
        }
    }
    write_text(dir, schema::ORDERING.name, &csv, &mut summary.files)?;
    summary.ordering = Some(OrderingSummary { targets: ords });
    Ok(())
}

/// Reads `ordering.csv`: target label -> neurons in rank order.
pub fn read_ordering(dir: &Path) -> Result<BTreeMap<String, Vec<usize>>> {
    let mut f = rundir::Reader::open(dir, &schema::ORDERING)?;
    let [s, r, k] = f.cols(["sequence", "rank", "neuron"]);
    let mut rows: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    f.for_each(|row| {
        rows.entry(row.str(s)?.to_string())
            .or_default()
            .push((row.usize(r)?, row.usize(k)?));
        Ok(())
    })?;
    Ok(rows
        .into_iter()
        .map(|(t, mut v)| {
            v.sort();
            (t, v.into_iter().map(|x| x.1).collect())
        })
        .collect())
}
