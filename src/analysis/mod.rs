//! Analyses of a finished run directory (model.md §7, docs/analysis.md).
//!
//! Everything here works from the CSV files of a run directory alone
//! (docs/formats.md), so it serves every backend and copied runs.
//! Entry point: [`analyse_run`].

pub mod assemblies;
pub mod data;
pub mod ordering;
pub mod plot;
pub mod readout;
pub mod report;
pub mod ridge;
pub mod stats;
pub mod tasks;
pub mod traces;

use crate::model::config::TargetGrouping;
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

pub use crate::model::input::SegmentKind;
pub use crate::rundir::{ProtocolPhase, Segment, Spikes};
pub use data::{n_inputs_of, RunConstants, RunData};

/// Options of [`analyse_run`]. `Default` is the documented default protocol.
/// Deserialisable with every field optional (e.g. from an `[analysis]` table).
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalysisOptions {
    /// Sample the readout state every step instead of every `tau_decay/dt`
    /// steps (steps 19, 39, ... of each phase by default).
    pub every_step: bool,
    /// Folds of the cross-validation choosing the ridge penalty.
    pub cv_folds: usize,
    /// Also run the original protocol (plain least squares, sample steps
    /// 19, 39, ...) for comparison.
    pub original_protocol: bool,
    /// Significance level of the per-neuron modulation test.
    pub alpha: f64,
    /// Minimum number of presentations per sequence used by the assembly
    /// statistics (taken backwards from the end of the run).
    pub min_presentations: usize,
    /// Number of last complete presentations pooled for the spike-based
    /// ordering (the rho-based ordering uses only the last one).
    pub ordering_presentations: usize,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        Self {
            every_step: false,
            cv_folds: 5,
            original_protocol: true,
            alpha: 0.01,
            min_presentations: 40,
            ordering_presentations: 10,
        }
    }
}

/// What [`analyse_run`] found; serialisable (NaN becomes `null`), meant to
/// be merged into `summary.json` under `"analysis"`.
#[derive(Clone, Debug, Serialize)]
pub struct AnalysisSummary {
    pub constants: RunConstants,
    pub options: AnalysisOptions,
    pub n_neurons: usize,
    pub n_inputs: usize,
    /// Target label per distinct sequence content (`"0"`, `"0+1"` when
    /// sequences 0 and 1 have identical content).
    pub targets: Vec<String>,
    pub readout: Vec<readout::ReadoutSummary>,
    pub ordering: Option<ordering::OrderingSummary>,
    pub assemblies: Vec<assemblies::AssemblySummary>,
    /// Files written into the run directory (names relative to it).
    pub files: Vec<String>,
    /// Analyses skipped or degraded, and why.
    pub warnings: Vec<String>,
}

/// One presentation of a sequence: consecutive pattern segments of the same
/// sequence inside one protocol phase.
#[derive(Clone, Debug, PartialEq)]
pub struct Presentation {
    pub sequence: usize,
    pub phase: usize,
    pub start_ms: f64,
    pub end_ms: f64,
    pub patterns: Vec<Option<usize>>,
    pub warp: f64,
    /// All patterns of the sequence's content, not cut short.
    pub complete: bool,
}

impl Presentation {
    pub fn len_ms(&self) -> f64 {
        self.end_ms - self.start_ms
    }
}

/// Groups pattern segments into presentations and marks the complete ones
/// (content equal to the sequence's most frequent content, and duration
/// divided by warp at least 99 % of the median).
pub fn presentations(segments: &[Segment]) -> Vec<Presentation> {
    let mut out: Vec<Presentation> = Vec::new();
    let mut prev_end = f64::NAN;
    for s in segments {
        if s.kind != SegmentKind::Pattern {
            prev_end = s.end_ms;
            continue;
        }
        let seq = s.sequence.unwrap_or(0);
        let contiguous = (s.start_ms - prev_end).abs() < 1e-6;
        match out.last_mut() {
            Some(p)
                if contiguous
                    && p.sequence == seq
                    && p.phase == s.phase
                    && p.end_ms == prev_end =>
            {
                p.end_ms = s.end_ms;
                p.patterns.push(s.pattern);
            }
            _ => out.push(Presentation {
                sequence: seq,
                phase: s.phase,
                start_ms: s.start_ms,
                end_ms: s.end_ms,
                patterns: vec![s.pattern],
                warp: s.warp,
                complete: false,
            }),
        }
        prev_end = s.end_ms;
    }
    let contents = sequence_contents(&out);
    let mut norm_len: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for p in &out {
        if Some(&p.patterns) == contents.get(&p.sequence) {
            norm_len
                .entry(p.sequence)
                .or_default()
                .push(p.len_ms() / p.warp.max(1e-9));
        }
    }
    let med: BTreeMap<usize, f64> = norm_len
        .iter()
        .map(|(k, v)| (*k, stats::median(v)))
        .collect();
    for p in &mut out {
        p.complete = Some(&p.patterns) == contents.get(&p.sequence)
            && p.len_ms() / p.warp.max(1e-9) >= 0.99 * med.get(&p.sequence).copied().unwrap_or(0.0);
    }
    out
}

/// Most frequent pattern content of each sequence id.
fn sequence_contents(pres: &[Presentation]) -> BTreeMap<usize, Vec<Option<usize>>> {
    type Counted = Vec<(Vec<Option<usize>>, usize)>;
    let mut counts: BTreeMap<usize, Counted> = BTreeMap::new();
    for p in pres {
        let e = counts.entry(p.sequence).or_default();
        match e.iter_mut().find(|(c, _)| *c == p.patterns) {
            Some(x) => x.1 += 1,
            None => e.push((p.patterns.clone(), 1)),
        }
    }
    counts
        .into_iter()
        .map(|(k, v)| {
            let best = v
                .iter()
                .enumerate()
                .max_by_key(|(i, (_, n))| (*n, usize::MAX - i))
                .map(|(_, (c, _))| c.clone())
                .unwrap_or_default();
            (k, best)
        })
        .collect()
}

/// Readout targets: sequences with identical content form one target.
#[derive(Clone, Debug, PartialEq)]
pub struct Targets {
    pub labels: Vec<String>,
    /// sequence id -> target index
    pub of_sequence: BTreeMap<usize, usize>,
}

impl Targets {
    /// The targets of a run: `Merged` groups sequences by their (most
    /// frequent) content, `PerSequence` keeps every sequence id apart.
    pub fn from_presentations(pres: &[Presentation], grouping: TargetGrouping) -> Self {
        let contents = sequence_contents(pres);
        let mut groups: Vec<(Vec<Option<usize>>, Vec<usize>)> = Vec::new();
        for (seq, c) in &contents {
            let merge = grouping == TargetGrouping::Merged;
            match groups.iter_mut().find(|(gc, _)| merge && gc == c) {
                Some(g) => g.1.push(*seq),
                None => groups.push((c.clone(), vec![*seq])),
            }
        }
        let mut of_sequence = BTreeMap::new();
        let mut labels = Vec::new();
        for (t, (_, seqs)) in groups.iter().enumerate() {
            for s in seqs {
                of_sequence.insert(*s, t);
            }
            labels.push(
                seqs.iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join("+"),
            );
        }
        Self {
            labels,
            of_sequence,
        }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Target index of a presentation.
    pub fn of(&self, p: &Presentation) -> Option<usize> {
        self.of_sequence.get(&p.sequence).copied()
    }
}

/// Class of each time (0 = noise / nothing, `1 + target` while a sequence of
/// that target is presented), looked up in the sorted segment list.
pub fn class_at(segments: &[Segment], targets: &Targets, time_ms: f64) -> usize {
    let i = segments.partition_point(|s| s.start_ms <= time_ms);
    if i == 0 {
        return 0;
    }
    let s = &segments[i - 1];
    if time_ms < s.end_ms && s.kind == SegmentKind::Pattern {
        if let Some(t) = s.sequence.and_then(|q| targets.of_sequence.get(&q)) {
            return 1 + t;
        }
    }
    0
}

/// Writes a CSV file atomically enough (write then rename) and records its name.
pub(crate) fn write_text(
    dir: &Path,
    name: &str,
    text: &str,
    files: &mut Vec<String>,
) -> Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(name);
    {
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(text.as_bytes())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    files.push(name.to_string());
    Ok(())
}

/// CSV cell of a float: shortest round-trip form, empty for NaN/inf.
pub(crate) fn fmt_f(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        String::new()
    }
}

/// Runs every analysis on the run directory `dir`, writes `readout.csv`,
/// `readout_output.csv`, `ordering.csv` and `assemblies.csv` into it and
/// returns the summary. Parts whose inputs are missing (no `readout_fit`
/// phase, no pattern presentations) are skipped with a warning; unreadable
/// or malformed files are errors naming the file and the problem.
pub fn analyse_run(dir: &Path, opts: &AnalysisOptions) -> Result<AnalysisSummary> {
    let run = RunData::load(dir).with_context(|| format!("analysing run {}", dir.display()))?;
    let pres = presentations(&run.segments);
    let targets = Targets::from_presentations(&pres, run.target_grouping());
    let mut summary = AnalysisSummary {
        constants: run.constants.clone(),
        options: opts.clone(),
        n_neurons: run.n_neurons,
        n_inputs: run.n_inputs,
        targets: targets.labels.clone(),
        readout: Vec::new(),
        ordering: None,
        assemblies: Vec::new(),
        files: Vec::new(),
        warnings: run.warnings.clone(),
    };
    if targets.is_empty() {
        summary.warnings.push(
            "phases.csv has no pattern presentation: no readout, ordering or assembly analysis"
                .into(),
        );
    }
    readout::run_readouts(dir, &run, &targets, opts, &mut summary)
        .with_context(|| format!("readout analysis of {}", dir.display()))?;
    ordering::run_ordering(dir, &run, &pres, &targets, opts, &mut summary)
        .with_context(|| format!("ordering analysis of {}", dir.display()))?;
    assemblies::run_assemblies(dir, &run, &pres, &targets, opts, &mut summary)
        .with_context(|| format!("assembly analysis of {}", dir.display()))?;
    summary.files.push("analysis.json".into());
    let json =
        serde_json::to_string_pretty(&summary).context("serialising the analysis summary")?;
    write_text(dir, "analysis.json", &json, &mut Vec::new())?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(sequence: usize, patterns: &[usize], at: f64) -> Presentation {
        Presentation {
            sequence,
            phase: 0,
            start_ms: at,
            end_ms: at + 100.0,
            patterns: patterns.iter().map(|&p| Some(p)).collect(),
            warp: 1.0,
            complete: true,
        }
    }

    #[test]
    fn targets_merge_identical_sequences_unless_asked_per_sequence() {
        // sequences 0 and 2 show the same pattern
        let pres = [
            shown(0, &[1], 0.0),
            shown(1, &[0], 200.0),
            shown(2, &[1], 400.0),
        ];
        let merged = Targets::from_presentations(&pres, TargetGrouping::Merged);
        assert_eq!(merged.labels, ["0+2", "1"]);
        assert_eq!(merged.of(&pres[2]), Some(0));
        let apart = Targets::from_presentations(&pres, TargetGrouping::PerSequence);
        assert_eq!(apart.labels, ["0", "1", "2"]);
        assert_eq!(apart.of(&pres[2]), Some(2));
    }
}
