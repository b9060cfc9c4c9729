//! Readout targets and measures of the original experiments (tasks.md §1.4):
//! XOR and delayed identity of the combined input, the multi rate targets,
//! the response reliability cc12/cc13, each for the network's traces and the
//! input traces ("stimulus", the baseline), and each in two protocols:
//!
//! - `original`: plain least squares with bias fitted on the `readout_fit`
//!   phase(s), the original's sample grids, Pearson r per test phase (and
//!   in-sample on the fit phase, as the original also reports);
//! - `ridge_cv`: ridge with the penalty chosen by contiguous 5-fold CV on the
//!   fit phase(s), scored only on held-out test phases.
//!
//! Entry point: [`task_measures`]; works from a run directory alone.

use std::path::Path;

use anyhow::{Context, Result};
use nalgebra::DMatrix;
use serde::Serialize;

use super::readout::{fit_groups, read_input_spikes};
use super::ridge::{choose_lambda, Decomposed};
use super::stats::pearson;
use super::traces::{sample_readout_state, step_of};
use super::{presentations, RunData};
use crate::model::config::{Config, Generator, PhaseRole};
use crate::model::generators::split_combined;
use crate::rundir::{self, ProtocolPhase, Segment, Spikes};

/// Which family of measures an experiment's input calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Pattern sequences: sequence readouts (analysis.json) and cc12/cc13.
    Pattern,
    /// Combined input: XOR and delayed identity.
    Xor,
    /// Rate input: r1, r2, r1*r2, delayed r1*r2.
    Multi,
}

impl Task {
    pub fn of(cfg: &Config) -> Task {
        match cfg.input.generator {
            Generator::Sequential => Task::Pattern,
            Generator::Combined => Task::Xor,
            Generator::Rate => Task::Multi,
        }
    }
}

/// One measured value (a row of reproduction.json without the run's keys).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measure {
    /// `original` or `ridge_cv`.
    pub protocol: String,
    /// `network` or `stimulus`.
    pub features: String,
    pub target: String,
    pub measure: String,
    /// Protocol phase name (`fit` rows are in-sample).
    pub phase: String,
    /// NaN (serialised as null) where undefined.
    pub value: f64,
}

/// Target, network readout and stimulus readout of one target in one test
/// phase (original protocol), for the report's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ReadoutTrace {
    pub target: String,
    pub phase: String,
    pub time_ms: Vec<f64>,
    pub target_values: Vec<f64>,
    pub network: Vec<f64>,
    pub stimulus: Vec<f64>,
}

/// Everything [`task_measures`] found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TaskResult {
    pub measures: Vec<Measure>,
    pub traces: Vec<ReadoutTrace>,
}

/// Targets on sample steps of the fit phases and of each test phase.
struct TargetSet {
    names: Vec<String>,
    fit_steps: Vec<i64>,
    fit_y: DMatrix<f64>,
    /// (phase, steps, targets) per test phase.
    tests: Vec<(String, Vec<i64>, DMatrix<f64>)>,
    fit_phase: String,
}

/// The task measures of the run directory `dir` (its config from summary.json).
pub fn task_measures(dir: &Path) -> Result<TaskResult> {
    let run = RunData::load(dir).with_context(|| format!("task analysis of {}", dir.display()))?;
    let Some(summary) = &run.summary else {
        return Err(crate::usage!(
            "{}: summary.json is needed for the task measures (it holds the config)",
            dir.display()
        ));
    };
    let cfg = &summary.config;
    let mut out = TaskResult::default();
    match Task::of(cfg) {
        Task::Pattern => out.measures = reliability_rows(dir, &run)?,
        Task::Xor | Task::Multi => {
            let input = read_input_spikes(dir, run.n_inputs)?;
            // with [input.alt], only the phases the task's generator feeds
            let own =
                |p: &&ProtocolPhase| cfg.phase_input(p.phase).generator == cfg.input.generator;
            for (mut fit, mut tests) in fit_groups(&run.protocol) {
                fit.retain(own);
                tests.retain(own);
                if fit.is_empty() {
                    continue;
                }
                let set = if Task::of(cfg) == Task::Xor {
                    xor_targets(cfg, &run, &fit, &tests)
                } else {
                    multi_targets(cfg, &run, &fit, &tests, &input)
                };
                readouts(&run, &input, &set, &mut out)?;
            }
            if cfg.input.alt.is_some() {
                out.measures.extend(reliability_rows(dir, &run)?);
            }
        }
    }
    Ok(out)
}

/// Sample steps `start + offset, start + offset + stride, ...` of a phase.
fn grid(p: &ProtocolPhase, dt: f64, offset: i64, stride: i64) -> Vec<i64> {
    super::readout::phase_samples(p, dt, stride, offset)
}

/// The segment containing step `s`.
fn segment_at(segments: &[Segment], s: i64, dt: f64) -> Option<&Segment> {
    let t = s as f64 * dt;
    let i = segments.partition_point(|g| g.start_ms <= t + 1e-9);
    segments[..i].last().filter(|g| t < g.end_ms - 1e-9)
}

/// XOR and delay targets (tasks.md §1.4): `P` = first pattern length,
/// samples `P-1, 2P-1, ...` of each phase; `xor = +1` if the halves' current
/// patterns differ, else −1; `delay` = the second half's pattern one segment
/// earlier as ±1 (pattern 1 → +1, 0 → −1), 0 in a phase's first segment.
/// The original read the labels of channels 0 and n−1, which a 2 Hz noise
/// spike in the sampled step flips (tasks.md §3); here the labels are the
/// generator's, without that artefact.
fn xor_targets(
    cfg: &Config,
    run: &RunData,
    fit: &[&ProtocolPhase],
    tests: &[&ProtocolPhase],
) -> TargetSet {
    let dt = run.constants.dt_ms;
    let p = (cfg.t_pattern_ms(0) / dt).round() as i64;
    let targets = |ph: &ProtocolPhase| {
        let seqs = cfg.phases[ph.phase].sequences(cfg.phase_input(ph.phase));
        xor_delay_targets(&run.segments, ph, seqs, p, dt)
    };
    target_set(vec!["xor".into(), "delay".into()], fit, tests, targets)
}

/// Sample steps and the `[xor, delay]` targets of one phase of a combined
/// input with segment length `p` steps and the phase's `seqs`.
pub fn xor_delay_targets(
    segments: &[Segment],
    ph: &ProtocolPhase,
    seqs: &[Vec<usize>],
    p: i64,
    dt: f64,
) -> (Vec<i64>, DMatrix<f64>) {
    let steps = grid(ph, dt, p - 1, p);
    let ids = |s: i64| -> Option<(usize, usize)> {
        if (s as f64) * dt < ph.start_ms {
            return None;
        }
        let g = segment_at(segments, s, dt)?;
        let (a, b) = split_combined(g.sequence?, seqs.len());
        Some((seqs.get(a)?[0], seqs.get(b)?[0]))
    };
    let mut y = DMatrix::zeros(steps.len(), 2);
    for (i, &s) in steps.iter().enumerate() {
        if let Some((a, b)) = ids(s) {
            y[(i, 0)] = if a != b { 1.0 } else { -1.0 };
        }
        if let Some((_, b)) = ids(s - p) {
            y[(i, 1)] = if b == 1 { 1.0 } else { -1.0 };
        }
    }
    (steps, y)
}

/// Assembles a [`TargetSet`] from per-phase targets.
fn target_set(
    names: Vec<String>,
    fit: &[&ProtocolPhase],
    tests: &[&ProtocolPhase],
    mut targets: impl FnMut(&ProtocolPhase) -> (Vec<i64>, DMatrix<f64>),
) -> TargetSet {
    let mut fit_steps = Vec::new();
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for ph in fit {
        let (s, y) = targets(ph);
        fit_steps.extend(s);
        rows.extend(y.row_iter().map(|r| r.iter().copied().collect()));
    }
    let q = names.len();
    let fit_y = DMatrix::from_fn(rows.len(), q, |i, j| rows[i][j]);
    let tests = tests
        .iter()
        .map(|ph| {
            let (s, y) = targets(ph);
            (ph.name.clone(), s, y)
        })
        .collect();
    let fit_phase = fit
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join("+");
    TargetSet {
        names,
        fit_steps,
        fit_y,
        tests,
        fit_phase,
    }
}

/// Empirical rates of the multi task: per step, for each of the first two
/// rate groups, the sum over its channels of `count(last W steps) / W`
/// (Hz; the window includes the step and is never cleared, as in the
/// original).
pub fn windowed_group_rates(
    input: &Spikes,
    groups: [std::ops::Range<usize>; 2],
    n_steps: usize,
    window_steps: usize,
    dt_ms: f64,
) -> [Vec<f64>; 2] {
    let mut per_step = [vec![0.0f64; n_steps], vec![0.0f64; n_steps]];
    for (&id, &t) in input.id.iter().zip(&input.time_ms) {
        let s = step_of(t, dt_ms);
        for (g, r) in groups.iter().enumerate() {
            if r.contains(&(id as usize)) && s >= 0 && (s as usize) < n_steps {
                per_step[g][s as usize] += 1.0;
            }
        }
    }
    let w_s = window_steps as f64 * dt_ms * 1e-3;
    per_step.map(|c| {
        let mut out = vec![0.0; n_steps];
        let mut acc = 0.0;
        for i in 0..n_steps {
            acc += c[i];
            if i >= window_steps {
                acc -= c[i - window_steps];
            }
            out[i] = acc / w_s;
        }
        out
    })
}

/// The multi targets (tasks.md §1.4): `r1`, `r2`, `r1*r2` and
/// `r1*r2(t-H)` (H = hold; 0 in a phase's first H steps); fit samples
/// every 20 steps from 10, test samples in the middle of each hold interval.
/// `[r1, r2, r1*r2, r1*r2(t - delay)]` at step `s` (the delayed product is 0
/// before `start + delay`, the phase's first `delay` steps).
pub fn multi_values(rates: &[Vec<f64>; 2], s: i64, delay: i64, start: i64) -> [f64; 4] {
    let at = |x: i64| [rates[0][x as usize], rates[1][x as usize]];
    let [a, b] = at(s);
    let d = if s - delay >= start {
        let [c, e] = at(s - delay);
        c * e
    } else {
        0.0
    };
    [a, b, a * b, d]
}

fn multi_targets(
    cfg: &Config,
    run: &RunData,
    fit: &[&ProtocolPhase],
    tests: &[&ProtocolPhase],
    input: &Spikes,
) -> TargetSet {
    let dt = run.constants.dt_ms;
    let r = &cfg.input.rate;
    let hold = (r.hold_ms / dt).round() as i64;
    let window = (r.window_ms / dt).round() as usize;
    let n_steps = (run.end_ms / dt).round() as usize;
    let g = |k: usize| crate::model::generators::rate_group(cfg, k);
    let rates = windowed_group_rates(input, [g(0), g(1.min(r.n_groups - 1))], n_steps, window, dt);
    let targets = |ph: &ProtocolPhase, fit_grid: bool| -> (Vec<i64>, DMatrix<f64>) {
        let (o, st) = if fit_grid { (10, 20) } else { (hold / 2, hold) };
        let steps = grid(ph, dt, o, st);
        let start = step_of(ph.start_ms, dt);
        let mut y = DMatrix::zeros(steps.len(), 4);
        for (i, &s) in steps.iter().enumerate() {
            for (j, v) in multi_values(&rates, s, hold, start).into_iter().enumerate() {
                y[(i, j)] = v;
            }
        }
        (steps, y)
    };
    let names = ["r1", "r2", "r1*r2", "r1*r2(t-H)"]
        .map(String::from)
        .to_vec();
    let fit_set = target_set(names.clone(), fit, &[], |p| targets(p, true));
    let test_set = target_set(names, &[], tests, |p| targets(p, false));
    TargetSet {
        tests: test_set.tests,
        ..fit_set
    }
}

/// Fits both protocols on both feature sets and scores every target.
fn readouts(run: &RunData, input: &Spikes, set: &TargetSet, out: &mut TaskResult) -> Result<()> {
    let c = &run.constants;
    let resets = run.reset_steps();
    let state = |sp: &Spikes, n: usize, steps: &[i64]| {
        sample_readout_state(sp, n, c.dt_ms, c.tau_decay_ms, &resets, steps)
    };
    let mut outputs: Vec<(String, Vec<DMatrix<f64>>)> = Vec::new();
    for (feat, spikes, n) in [
        ("network", &run.spikes, run.n_neurons),
        ("stimulus", input, run.n_inputs),
    ] {
        let x_fit = state(spikes, n, &set.fit_steps);
        let x_tests: Vec<DMatrix<f64>> = set.tests.iter().map(|t| state(spikes, n, &t.1)).collect();
        let dec = Decomposed::new(&x_fit, &set.fit_y);
        for proto in ["original", "ridge_cv"] {
            let fit = if proto == "original" {
                dec.solve(None)
            } else {
                dec.solve(Some(choose_lambda(&x_fit, &set.fit_y, 5).lambda))
            };
            let mut push = |phase: &str, y: &DMatrix<f64>, o: &DMatrix<f64>| {
                for (j, name) in set.names.iter().enumerate() {
                    let a: Vec<f64> = y.column(j).iter().copied().collect();
                    let b: Vec<f64> = o.column(j).iter().copied().collect();
                    out.measures.push(Measure {
                        protocol: proto.into(),
                        features: feat.into(),
                        target: name.clone(),
                        measure: "r".into(),
                        phase: phase.into(),
                        value: pearson(&a, &b),
                    });
                }
            };
            if proto == "original" {
                push(
                    &format!("{} (in-sample)", set.fit_phase),
                    &set.fit_y,
                    &fit.predict(&x_fit),
                );
            }
            let mut outs = Vec::new();
            for (t, x) in set.tests.iter().zip(&x_tests) {
                let o = fit.predict(x);
                push(&t.0, &t.2, &o);
                outs.push(o);
            }
            if proto == "original" {
                outputs.push((feat.into(), outs));
            }
        }
    }
    add_traces(run, set, &outputs, out);
    Ok(())
}

/// The first test phase's targets and original-protocol outputs.
fn add_traces(
    run: &RunData,
    set: &TargetSet,
    outputs: &[(String, Vec<DMatrix<f64>>)],
    out: &mut TaskResult,
) {
    let (Some(test), [(_, net), (_, stim)]) = (set.tests.first(), outputs) else {
        return;
    };
    let (Some(net), Some(stim)) = (net.first(), stim.first()) else {
        return;
    };
    for (j, name) in set.names.iter().enumerate() {
        out.traces.push(ReadoutTrace {
            target: name.clone(),
            phase: test.0.clone(),
            time_ms: test
                .1
                .iter()
                .map(|&s| s as f64 * run.constants.dt_ms)
                .collect(),
            target_values: test.2.column(j).iter().copied().collect(),
            network: net.column(j).iter().copied().collect(),
            stimulus: stim.column(j).iter().copied().collect(),
        });
    }
}

/// Response reliability (tasks.md §1.4): `rates[i]` is `steps x neurons`
/// (Hz) of the i-th of three presentations. Each is linearly interpolated
/// to the longest length; for every neuron whose maximum exceeds
/// `threshold_hz` in both responses compared, the Pearson correlation over
/// time; `cc12` = mean over those neurons of R1 vs R2, `cc13` of R1 vs R3
/// (NaN if none qualifies).
pub fn spike_correlation(rates: [&DMatrix<f64>; 3], threshold_hz: f64) -> (f64, f64) {
    let l = rates.iter().map(|r| r.nrows()).max().unwrap_or(0);
    let rs: Vec<DMatrix<f64>> = rates.iter().map(|r| interpolate(r, l)).collect();
    let cc = |a: &DMatrix<f64>, b: &DMatrix<f64>| -> f64 {
        let mut v = Vec::new();
        for k in 0..a.ncols().min(b.ncols()) {
            let (x, y): (Vec<f64>, Vec<f64>) = (
                a.column(k).iter().copied().collect(),
                b.column(k).iter().copied().collect(),
            );
            let max = |z: &[f64]| z.iter().copied().fold(f64::MIN, f64::max);
            if max(&x) > threshold_hz && max(&y) > threshold_hz {
                let c = pearson(&x, &y);
                if c.is_finite() {
                    v.push(c);
                }
            }
        }
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    (cc(&rs[0], &rs[1]), cc(&rs[0], &rs[2]))
}

/// Rows of `m` linearly interpolated at `linspace(0, rows - 1, l)`.
fn interpolate(m: &DMatrix<f64>, l: usize) -> DMatrix<f64> {
    let n = m.nrows();
    DMatrix::from_fn(l, m.ncols(), |i, k| {
        if n == 0 {
            return f64::NAN;
        }
        let x = if l > 1 {
            i as f64 * (n - 1) as f64 / (l - 1) as f64
        } else {
            0.0
        };
        let a = x.floor() as usize;
        let b = (a + 1).min(n - 1);
        let f = x - a as f64;
        m[(a, k)] * (1.0 - f) + m[(b, k)] * f
    })
}

/// cc12/cc13 of every test phase with recorded neuron traces, from the first three complete
/// presentations inside it (rates `R_max * rho` from neuron_traces.csv);
/// fewer than three give NaN (the original reported 0).
fn reliability_rows(dir: &Path, run: &RunData) -> Result<Vec<Measure>> {
    let Some(summary) = &run.summary else {
        return Ok(Vec::new());
    };
    let r_max = summary.config.model.r_max_hz;
    let dt_rec = summary.config.record.dt_rec_ms;
    let cfg = &summary.config;
    // only the pattern generator's segments: with [input.alt] the other
    // generator reuses the sequence ids with other contents
    let pattern_fed = |k: usize| cfg.phase_input(k).generator == Generator::Sequential;
    let own: Vec<Segment> = run
        .segments
        .iter()
        .filter(|g| pattern_fed(g.phase))
        .cloned()
        .collect();
    let pres = presentations(&own);
    let mut rows = Vec::new();
    let recorded = |ph: &ProtocolPhase| {
        cfg.phases
            .get(ph.phase)
            .and_then(|p| p.record_neurons)
            .unwrap_or(cfg.record.phases.contains(&ph.role))
    };
    for ph in run.protocol.iter().filter(|p| {
        p.role == PhaseRole::Test
            && recorded(p)
            && cfg.phase_input(p.phase).generator == Generator::Sequential
    }) {
        let inside: Vec<_> = pres
            .iter()
            .filter(|p| p.phase == ph.phase && p.complete && p.end_ms <= ph.end_ms)
            .take(3)
            .collect();
        let (cc12, cc13) = if inside.len() < 3
            || !dir.join(rundir::schema::NEURON_TRACES.name).exists()
        {
            (f64::NAN, f64::NAN)
        } else {
            let windows: Vec<(f64, f64)> = inside.iter().map(|p| (p.start_ms, p.end_ms)).collect();
            let rho = rundir::read_rho_window(dir, &windows)?;
            let mats: Vec<DMatrix<f64>> = windows
                .iter()
                .map(|&(a, b)| rate_matrix(&rho, a, b, dt_rec, run.n_neurons, r_max))
                .collect();
            spike_correlation([&mats[0], &mats[1], &mats[2]], 90.0)
        };
        for (name, v) in [("cc12", cc12), ("cc13", cc13)] {
            rows.push(Measure {
                protocol: "original".into(),
                features: "network".into(),
                target: "reliability".into(),
                measure: name.into(),
                phase: ph.name.clone(),
                value: v,
            });
        }
    }
    Ok(rows)
}

/// `steps x neurons` rates (Hz) from the rho samples in `[a, b)`.
fn rate_matrix(
    rho: &rundir::RhoSamples,
    a: f64,
    b: f64,
    dt_rec: f64,
    n: usize,
    r_max: f64,
) -> DMatrix<f64> {
    let rows = ((b - a) / dt_rec).round().max(0.0) as usize;
    let mut m = DMatrix::zeros(rows, n);
    for ((&t, &s), &r) in rho.time_ms.iter().zip(&rho.sender).zip(&rho.rho) {
        if t >= a && t < b && (s as usize) < n {
            let i = ((t - a) / dt_rec).round() as usize;
            if i < rows {
                m[(i, s as usize)] = r * r_max;
            }
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spike_correlation_on_planted_responses() {
        // neuron 0 fires a bump at the same relative time in R1 and R3 (R3
        // stretched to twice the length), at another time in R2; neuron 1
        // stays below threshold and is ignored.
        let bump = |len: usize, at: f64| {
            DMatrix::from_fn(len, 2, |i, k| {
                let x = i as f64 / (len - 1) as f64;
                if k == 0 {
                    100.0 * (-((x - at) / 0.05).powi(2)).exp()
                } else {
                    50.0 * x
                }
            })
        };
        let (r1, r2, r3) = (bump(100, 0.3), bump(100, 0.7), bump(200, 0.3));
        let (cc12, cc13) = spike_correlation([&r1, &r2, &r3], 90.0);
        assert!(cc13 > 0.99, "{cc13}");
        assert!(cc12 < 0.1, "{cc12}");
        // nothing above threshold: NaN
        let low = DMatrix::from_element(10, 2, 10.0);
        let (a, b) = spike_correlation([&low, &low, &low], 90.0);
        assert!(a.is_nan() && b.is_nan());
    }

    #[test]
    fn xor_truth_table_and_delay_from_planted_segments() {
        let seqs = vec![vec![0], vec![1]];
        // four 50 ms segments: (a, b) = (0,0), (0,1), (1,0), (1,1)
        let segments: Vec<Segment> = [(0, 0), (0, 1), (1, 0), (1, 1)]
            .iter()
            .enumerate()
            .map(|(i, &(a, b))| Segment {
                phase: 0,
                start_ms: 50.0 * i as f64,
                end_ms: 50.0 * (i + 1) as f64,
                kind: crate::model::input::SegmentKind::Pattern,
                sequence: Some(crate::model::generators::combined_sequence(a, b, 2)),
                pattern: None,
                warp: 1.0,
                train: false,
            })
            .collect();
        let ph = ProtocolPhase {
            phase: 0,
            name: "test".into(),
            role: PhaseRole::Test,
            start_ms: 0.0,
            end_ms: 200.0,
            train: false,
            reset: true,
        };
        let (steps, y) = xor_delay_targets(&segments, &ph, &seqs, 50, 1.0);
        assert_eq!(steps, vec![49, 99, 149, 199]);
        let xor: Vec<f64> = y.column(0).iter().copied().collect();
        assert_eq!(xor, vec![-1.0, 1.0, 1.0, -1.0]);
        // the second half's previous pattern: none, 0, 1, 0
        let delay: Vec<f64> = y.column(1).iter().copied().collect();
        assert_eq!(delay, vec![0.0, -1.0, 1.0, -1.0]);
    }

    #[test]
    fn multi_targets_are_products_and_delayed_products() {
        let rates = [
            vec![1.0, 2.0, 3.0, 4.0, 5.0],
            vec![10.0, 20.0, 30.0, 40.0, 50.0],
        ];
        assert_eq!(multi_values(&rates, 1, 2, 0), [2.0, 20.0, 40.0, 0.0]);
        assert_eq!(multi_values(&rates, 3, 2, 0), [4.0, 40.0, 160.0, 40.0]);
        // the delay does not reach back before the phase start
        assert_eq!(multi_values(&rates, 3, 2, 2)[3], 0.0);
        assert_eq!(multi_values(&rates, 4, 2, 2)[3], 90.0);
    }

    #[test]
    fn windowed_rates_count_the_last_window() {
        let sp = Spikes {
            id: vec![0, 1, 2, 0],
            time_ms: vec![0.0, 5.0, 5.0, 30.0],
        };
        let [r1, r2] = windowed_group_rates(&sp, [0..2, 2..4], 60, 20, 1.0);
        assert_eq!(r1[0], 50.0); // one spike / 20 ms
        assert_eq!(r1[5], 100.0);
        assert_eq!(r1[19], 100.0);
        assert_eq!(r1[20], 50.0); // the step-0 spike left the window
        assert_eq!(r1[24], 50.0);
        assert_eq!(r1[25], 0.0); // the step-5 spike left it too
        assert_eq!(r1[30], 50.0);
        assert_eq!(r2[5], 50.0);
        assert_eq!(r2[25], 0.0);
    }
}
