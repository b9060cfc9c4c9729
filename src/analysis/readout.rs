//! Linear readouts of the network state and of the input traces (baseline),
//! model.md §7. See docs/analysis.md for the protocols.

use super::ridge::{choose_lambda, Decomposed};
use super::stats::pearson;
use super::traces::{sample_readout_state, step_of};
use super::{class_at, fmt_f, write_text, AnalysisOptions, AnalysisSummary, RunData, Targets};
use crate::model::config::PhaseRole;
use crate::rundir::{self, schema, ProtocolPhase, Spikes};
use anyhow::Result;
use nalgebra::DMatrix;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// The two readout protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Ridge with bias, penalty by k-fold CV on the readout_fit phase(s).
    RidgeCv,
    /// The original: plain least squares with bias, samples 19, 39, ...
    OriginalLstsq,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::RidgeCv => "ridge_cv",
            Protocol::OriginalLstsq => "original_lstsq",
        }
    }
}

/// Performance of one readout on one target.
#[derive(Clone, Debug, Serialize)]
pub struct TargetScore {
    pub target: String,
    pub r: f64,
    pub accuracy: f64,
}

/// Summary of one (protocol, features) readout.
#[derive(Clone, Debug, Serialize)]
pub struct ReadoutSummary {
    pub protocol: String,
    pub features: String,
    pub n_features: usize,
    pub n_fit_samples: usize,
    pub n_test_samples: usize,
    /// Chosen penalty (`null` for plain least squares).
    pub lambda: Option<f64>,
    pub fit_phases: Vec<usize>,
    pub test_phases: Vec<usize>,
    /// In-sample scores on the fit phase(s).
    pub fit: Vec<TargetScore>,
    /// Scores on all test phases pooled.
    pub test: Vec<TargetScore>,
    /// Multi-class accuracy on the pooled test phases (argmax incl. noise,
    /// or threshold 0.5 for a single target).
    pub test_accuracy: f64,
    /// Accuracy of always answering the most frequent class of the test data.
    pub test_accuracy_chance: f64,
}

/// Sample steps of a protocol phase: `offset, offset + stride, ...` (0-based
/// within the phase) while inside it.
pub fn phase_samples(p: &ProtocolPhase, dt_ms: f64, stride: i64, offset: i64) -> Vec<i64> {
    let a = step_of(p.start_ms, dt_ms);
    let b = step_of(p.end_ms, dt_ms);
    let mut v = Vec::new();
    let mut t = a + offset;
    while t < b {
        v.push(t);
        t += stride;
    }
    v
}

/// Target matrix of the sample steps: one column per target plus, for
/// several targets, a last `noise` column. Also returns the class per sample.
fn target_matrix(run: &RunData, targets: &Targets, steps: &[i64]) -> (DMatrix<f64>, Vec<usize>) {
    let nt = targets.len();
    let q = if nt >= 2 { nt + 1 } else { nt };
    let mut y = DMatrix::zeros(steps.len(), q);
    let mut cls = Vec::with_capacity(steps.len());
    for (i, &s) in steps.iter().enumerate() {
        let c = class_at(&run.segments, targets, s as f64 * run.constants.dt_ms);
        if c > 0 {
            y[(i, c - 1)] = 1.0;
        } else if nt >= 2 {
            y[(i, nt)] = 1.0;
        }
        cls.push(c);
    }
    (y, cls)
}

/// Predicted class of each output row.
fn classify(out: &DMatrix<f64>, nt: usize) -> Vec<usize> {
    out.row_iter()
        .map(|r| {
            if nt == 1 {
                usize::from(r[0] >= 0.5)
            } else {
                // columns 0..nt are targets (class 1+t), column nt is noise (class 0)
                let mut best = (nt, r[nt]);
                for t in 0..nt {
                    if r[t] > best.1 {
                        best = (t, r[t]);
                    }
                }
                if best.0 == nt {
                    0
                } else {
                    best.0 + 1
                }
            }
        })
        .collect()
}

/// Scores of one block of samples.
struct Scores {
    per_target: Vec<TargetScore>,
    noise: Option<TargetScore>,
    accuracy: f64,
    chance: f64,
    n: usize,
}

fn score(out: &DMatrix<f64>, y: &DMatrix<f64>, cls: &[usize], targets: &Targets) -> Scores {
    let nt = targets.len();
    let pred = classify(out, nt);
    let n = cls.len();
    let acc_of = |c: usize| -> f64 {
        if n == 0 {
            return f64::NAN;
        }
        pred.iter()
            .zip(cls)
            .filter(|(p, t)| (**p == c) == (**t == c))
            .count() as f64
            / n as f64
    };
    let col = |j: usize| -> Vec<f64> { out.column(j).iter().copied().collect() };
    let tcol = |j: usize| -> Vec<f64> { y.column(j).iter().copied().collect() };
    let per_target = (0..nt)
        .map(|t| TargetScore {
            target: targets.labels[t].clone(),
            r: pearson(&col(t), &tcol(t)),
            accuracy: acc_of(t + 1),
        })
        .collect();
    let noise = (nt >= 2).then(|| TargetScore {
        target: "noise".into(),
        r: pearson(&col(nt), &tcol(nt)),
        accuracy: acc_of(0),
    });
    let accuracy = if n == 0 {
        f64::NAN
    } else {
        pred.iter().zip(cls).filter(|(p, t)| p == t).count() as f64 / n as f64
    };
    let mut counts = vec![0usize; nt + 1];
    for &c in cls {
        counts[c] += 1;
    }
    let chance = if n == 0 {
        f64::NAN
    } else {
        *counts.iter().max().unwrap() as f64 / n as f64
    };
    Scores {
        per_target,
        noise,
        accuracy,
        chance,
        n,
    }
}

fn push_scores(csv: &mut String, proto: &str, feat: &str, phase: &str, s: &Scores) {
    for t in s.per_target.iter().chain(s.noise.iter()) {
        let _ = writeln!(csv, "{proto},{feat},{phase},{},r,{}", t.target, fmt_f(t.r));
        let _ = writeln!(
            csv,
            "{proto},{feat},{phase},{},accuracy,{}",
            t.target,
            fmt_f(t.accuracy)
        );
    }
    let _ = writeln!(
        csv,
        "{proto},{feat},{phase},all,accuracy,{}",
        fmt_f(s.accuracy)
    );
    let _ = writeln!(
        csv,
        "{proto},{feat},{phase},all,accuracy_chance,{}",
        fmt_f(s.chance)
    );
    let _ = writeln!(csv, "{proto},{feat},{phase},all,n_samples,{}", s.n);
}

/// Readout_fit groups and the test phases each one scores: consecutive
/// `readout_fit` phases form a group; a test phase is scored by the latest
/// group that starts before it, or by the first group when none does (so a
/// protocol `test, train, readout_fit, test` scores the same readout before
/// and after training).
pub fn fit_groups(protocol: &[ProtocolPhase]) -> Vec<(Vec<&ProtocolPhase>, Vec<&ProtocolPhase>)> {
    let mut groups: Vec<(Vec<&ProtocolPhase>, Vec<&ProtocolPhase>)> = Vec::new();
    let mut prev_fit = false;
    for p in protocol {
        if p.role == PhaseRole::ReadoutFit {
            if prev_fit {
                groups.last_mut().unwrap().0.push(p);
            } else {
                groups.push((vec![p], Vec::new()));
            }
        }
        prev_fit = p.role == PhaseRole::ReadoutFit;
    }
    for p in protocol.iter().filter(|p| p.role == PhaseRole::Test) {
        let g = groups
            .iter()
            .rposition(|g| g.0[0].start_ms <= p.start_ms)
            .unwrap_or(0);
        if let Some(g) = groups.get_mut(g) {
            g.1.push(p);
        }
    }
    groups
}

/// A readout_fit group with the test phases it scores and their labels in
/// readout.csv (`fit`/`test`, or `fit:<g>`/`test:<g>` with several groups).
struct Group<'a> {
    fit: Vec<&'a ProtocolPhase>,
    test: Vec<&'a ProtocolPhase>,
    fit_label: String,
    test_label: String,
}

/// The sampled steps of one group for one protocol.
struct Samples {
    fit: Vec<i64>,
    /// Per test phase of the group.
    test: Vec<Vec<i64>>,
}

/// What a readout reads: the network's or the input's spike trains.
struct Features<'a> {
    name: &'static str,
    spikes: &'a Spikes,
    n: usize,
}

/// The two output tables, filled row by row.
struct Tables {
    scores: String,
    outputs: String,
}

/// Everything one readout needs besides its features.
struct Ctx<'a> {
    run: &'a RunData,
    targets: &'a Targets,
    resets: Vec<i64>,
    opts: &'a AnalysisOptions,
}

impl Ctx<'_> {
    fn state(&self, f: &Features, steps: &[i64]) -> DMatrix<f64> {
        let c = &self.run.constants;
        sample_readout_state(f.spikes, f.n, c.dt_ms, c.tau_decay_ms, &self.resets, steps)
    }
}

/// Fits and evaluates all readouts; writes `readout.csv` and `readout_output.csv`.
pub fn run_readouts(
    dir: &Path,
    run: &RunData,
    targets: &Targets,
    opts: &AnalysisOptions,
    summary: &mut AnalysisSummary,
) -> Result<()> {
    if targets.is_empty() {
        return Ok(());
    }
    let groups = groups(&run.protocol);
    if groups.is_empty() {
        summary
            .warnings
            .push("protocol.csv has no phase with role `readout_fit`: readouts skipped".into());
        return Ok(());
    }
    if !run.protocol.iter().any(|p| p.role == PhaseRole::Test) {
        summary.warnings.push(
            "protocol.csv has no phase with role `test`: readouts scored in-sample only".into(),
        );
    }
    let input_spikes = read_input_spikes(dir, run.n_inputs)?;
    let features = [
        Features {
            name: "network",
            spikes: &run.spikes,
            n: run.n_neurons,
        },
        Features {
            name: "input",
            spikes: &input_spikes,
            n: run.n_inputs,
        },
    ];
    let ctx = Ctx {
        run,
        targets,
        resets: run.reset_steps(),
        opts,
    };
    let mut protocols = vec![Protocol::RidgeCv];
    if opts.original_protocol {
        protocols.push(Protocol::OriginalLstsq);
    }
    let mut t = Tables {
        scores: schema::READOUT.header_line(),
        outputs: schema::READOUT_OUTPUT.header_line(),
    };
    for g in &groups {
        for &proto in &protocols {
            let samples = samples(&ctx, g, proto);
            for f in &features {
                if samples.fit.len() < 2 {
                    summary.warnings.push(format!(
                        "{}/{}: only {} fit samples, readout skipped",
                        proto.name(),
                        f.name,
                        samples.fit.len()
                    ));
                    continue;
                }
                let s = readout(&ctx, g, proto, f, &samples, &mut t);
                summary.readout.push(s);
            }
        }
    }
    write_text(dir, schema::READOUT.name, &t.scores, &mut summary.files)?;
    write_text(
        dir,
        schema::READOUT_OUTPUT.name,
        &t.outputs,
        &mut summary.files,
    )?;
    Ok(())
}

/// input_spikes.csv; every channel must be below `n_inputs`.
pub(crate) fn read_input_spikes(dir: &Path, n_inputs: usize) -> Result<Spikes> {
    let path = dir.join(schema::INPUT_SPIKES.name);
    let sp = rundir::read_spikes(&path, &schema::INPUT_SPIKES)?;
    if let Some(m) = sp.max_id().filter(|&m| m as usize >= n_inputs) {
        return Err(crate::usage!(
            "{}: channel {m} does not exist (the run has {n_inputs} input channels)",
            path.display()
        ));
    }
    Ok(sp)
}

/// [`fit_groups`] with their labels.
fn groups(protocol: &[ProtocolPhase]) -> Vec<Group<'_>> {
    let groups = fit_groups(protocol);
    let single = groups.len() == 1;
    groups
        .into_iter()
        .map(|(fit, test)| {
            let (fit_label, test_label) = if single {
                ("fit".to_string(), "test".to_string())
            } else {
                (
                    format!("fit:{}", fit[0].phase),
                    format!("test:{}", fit[0].phase),
                )
            };
            Group {
                fit,
                test,
                fit_label,
                test_label,
            }
        })
        .collect()
}

/// Sample steps: every `round(tau_decay/dt)` steps from the stride's last
/// step on (19, 39, ...), or every step for the ridge readout with
/// `every_step`.
fn samples(ctx: &Ctx, g: &Group, proto: Protocol) -> Samples {
    let c = &ctx.run.constants;
    let stride = ((c.tau_decay_ms / c.dt_ms).round() as i64).max(1);
    let (stride, offset) = match (proto, ctx.opts.every_step) {
        (Protocol::RidgeCv, true) => (1, 0),
        _ => (stride, stride - 1),
    };
    Samples {
        fit: g
            .fit
            .iter()
            .flat_map(|p| phase_samples(p, c.dt_ms, stride, offset))
            .collect(),
        test: g
            .test
            .iter()
            .map(|p| phase_samples(p, c.dt_ms, stride, offset))
            .collect(),
    }
}

/// Fits one readout on the group's fit samples, scores it in-sample and on
/// every test phase, and writes its rows.
fn readout(
    ctx: &Ctx,
    g: &Group,
    proto: Protocol,
    f: &Features,
    samples: &Samples,
    t: &mut Tables,
) -> ReadoutSummary {
    let (pname, feat) = (proto.name(), f.name);
    let x_fit = ctx.state(f, &samples.fit);
    let (y_fit, cls_fit) = target_matrix(ctx.run, ctx.targets, &samples.fit);
    let (fit, lambda) = match proto {
        Protocol::RidgeCv => {
            let cv = choose_lambda(&x_fit, &y_fit, ctx.opts.cv_folds);
            let dec = Decomposed::new(&x_fit, &y_fit);
            let label = &g.fit_label;
            let _ = writeln!(
                t.scores,
                "{pname},{feat},{label},all,lambda,{}",
                fmt_f(cv.lambda)
            );
            let _ = writeln!(t.scores, "{pname},{feat},{label},all,cv_folds,{}", cv.folds);
            (dec.solve(Some(cv.lambda)), Some(cv.lambda))
        }
        Protocol::OriginalLstsq => (Decomposed::new(&x_fit, &y_fit).solve(None), None),
    };
    let _ = writeln!(
        t.scores,
        "{pname},{feat},{},all,n_features,{}",
        g.fit_label, f.n
    );
    let fit_scores = score(&fit.predict(&x_fit), &y_fit, &cls_fit, ctx.targets);
    push_scores(&mut t.scores, pname, feat, &g.fit_label, &fit_scores);
    let (test_scores, n_test) = test(ctx, g, proto, f, samples, &fit, y_fit.ncols(), t);
    ReadoutSummary {
        protocol: pname.into(),
        features: feat.into(),
        n_features: f.n,
        n_fit_samples: samples.fit.len(),
        n_test_samples: n_test,
        lambda,
        fit_phases: g.fit.iter().map(|p| p.phase).collect(),
        test_phases: g.test.iter().map(|p| p.phase).collect(),
        fit: fit_scores.per_target,
        test: test_scores.per_target,
        test_accuracy: test_scores.accuracy,
        test_accuracy_chance: test_scores.chance,
    }
}

/// Scores a fitted readout on each test phase of the group and on all of
/// them pooled; writes the score rows and every output sample. Returns the
/// pooled scores and the number of test samples.
#[allow(clippy::too_many_arguments)]
fn test(
    ctx: &Ctx,
    g: &Group,
    proto: Protocol,
    f: &Features,
    samples: &Samples,
    fit: &super::ridge::LinearFit,
    q: usize,
    t: &mut Tables,
) -> (Scores, usize) {
    let (pname, feat) = (proto.name(), f.name);
    let dt = ctx.run.constants.dt_ms;
    let mut pooled_out: Vec<DMatrix<f64>> = Vec::new();
    let mut pooled_y: Vec<DMatrix<f64>> = Vec::new();
    let mut pooled_cls: Vec<usize> = Vec::new();
    for (p, steps) in g.test.iter().zip(&samples.test) {
        if steps.is_empty() {
            continue;
        }
        let x = ctx.state(f, steps);
        let (y, cls) = target_matrix(ctx.run, ctx.targets, steps);
        let out = fit.predict(&x);
        let s = score(&out, &y, &cls, ctx.targets);
        push_scores(&mut t.scores, pname, feat, &p.phase.to_string(), &s);
        for (i, &st) in steps.iter().enumerate() {
            let t_ms = st as f64 * dt;
            for j in 0..y.ncols() {
                let label = ctx.targets.labels.get(j).map_or("noise", String::as_str);
                let _ = writeln!(
                    t.outputs,
                    "{pname},{feat},{},{},{label},{},{}",
                    p.phase,
                    fmt_f(t_ms),
                    y[(i, j)],
                    fmt_f(out[(i, j)])
                );
            }
        }
        pooled_out.push(out);
        pooled_y.push(y);
        pooled_cls.extend(cls);
    }
    let scores = score(
        &stack(&pooled_out, q),
        &stack(&pooled_y, q),
        &pooled_cls,
        ctx.targets,
    );
    if !pooled_cls.is_empty() {
        push_scores(&mut t.scores, pname, feat, &g.test_label, &scores);
    }
    (scores, pooled_cls.len())
}

/// The matrices stacked row-wise (`q` columns).
fn stack(ms: &[DMatrix<f64>], q: usize) -> DMatrix<f64> {
    let rows: usize = ms.iter().map(|m| m.nrows()).sum();
    let mut all = DMatrix::zeros(rows, q);
    let mut r0 = 0;
    for m in ms {
        all.rows_mut(r0, m.nrows()).copy_from(m);
        r0 += m.nrows();
    }
    all
}
