//! Input and activity files: spike tables, the segment log (phases.csv),
//! the protocol and the patterns. Their rows are read into the types
//! below (times in ms, as in the files) for the analysis, and converted
//! onto the step grid for `--replay` ([`read_input`], [`read_step_spikes`]).

use std::path::Path;

use anyhow::Result;

use super::schema::{FileSchema, INPUT_SPIKES, PATTERNS, PHASES, PROTOCOL};
use super::table::{Reader, Row, Writer};
use super::{fmt_f64, fmt_opt};
use crate::model::config::PhaseRole;
use crate::model::input::{self, Input, Schedule, SegmentKind, StepSpikes};
use crate::usage;

/// One row of protocol.csv.
#[derive(Clone, Debug, PartialEq)]
pub struct ProtocolPhase {
    pub phase: usize,
    pub name: String,
    pub role: PhaseRole,
    pub start_ms: f64,
    pub end_ms: f64,
    pub train: bool,
    pub reset: bool,
}

/// One row of phases.csv: an input segment.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub phase: usize,
    pub start_ms: f64,
    pub end_ms: f64,
    pub kind: SegmentKind,
    pub sequence: Option<usize>,
    pub pattern: Option<usize>,
    pub warp: f64,
    pub train: bool,
}

/// A spike table (spikes.csv, input_spikes.csv): parallel arrays sorted by
/// time, then id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spikes {
    pub id: Vec<u32>,
    pub time_ms: Vec<f64>,
}

impl Spikes {
    pub fn len(&self) -> usize {
        self.id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.id.is_empty()
    }

    /// Index range of the spikes with `t0 <= time < t1`.
    pub fn range(&self, t0: f64, t1: f64) -> std::ops::Range<usize> {
        let a = self.time_ms.partition_point(|&t| t < t0);
        let b = self.time_ms.partition_point(|&t| t < t1);
        a..b.max(a)
    }

    pub fn max_id(&self) -> Option<u32> {
        self.id.iter().copied().max()
    }

    /// Sorts by time, then id, unless already sorted.
    fn sort(&mut self) {
        if self.time_ms.windows(2).all(|w| w[0] <= w[1]) {
            return;
        }
        let mut idx: Vec<usize> = (0..self.len()).collect();
        idx.sort_by(|&a, &b| {
            self.time_ms[a]
                .total_cmp(&self.time_ms[b])
                .then(self.id[a].cmp(&self.id[b]))
        });
        *self = Spikes {
            id: idx.iter().map(|&k| self.id[k]).collect(),
            time_ms: idx.iter().map(|&k| self.time_ms[k]).collect(),
        };
    }
}

/// The role named in a protocol.csv cell (already checked against the schema).
fn role(name: &str) -> PhaseRole {
    match name {
        "train" => PhaseRole::Train,
        "readout_fit" => PhaseRole::ReadoutFit,
        _ => PhaseRole::Test,
    }
}

/// Writes input spikes, patterns, the segment log and the protocol.
pub fn write_input(dir: &Path, input: &Input, schedule: &Schedule, dt: f64) -> Result<()> {
    write_spikes(
        &dir.join(INPUT_SPIKES.name),
        &INPUT_SPIKES,
        &input.spikes,
        dt,
    )?;
    let mut t = Writer::create(dir, &PATTERNS)?;
    for (p, pat) in input.patterns.iter().enumerate() {
        for &(s, ch) in pat {
            t.row([p.to_string(), ch.to_string(), fmt_f64(s)])?;
        }
    }
    t.finish()?;
    let ms = |step: u64| fmt_f64(step as f64 * dt);
    let mut t = Writer::create(dir, &PHASES)?;
    for g in &input.segments {
        t.row([
            g.phase.to_string(),
            ms(g.start),
            ms(g.end),
            g.kind.as_str().into(),
            fmt_opt(g.sequence),
            fmt_opt(g.pattern),
            fmt_f64(g.warp),
            schedule.phases[g.phase].train.to_string(),
        ])?;
    }
    t.finish()?;
    let mut t = Writer::create(dir, &PROTOCOL)?;
    for (i, p) in schedule.phases.iter().enumerate() {
        t.row([
            i.to_string(),
            p.name.clone(),
            p.role.as_str().into(),
            ms(p.start),
            ms(p.end),
            p.train.to_string(),
            p.reset.to_string(),
        ])?;
    }
    t.finish()
}

/// Writes a spike table (`schema` = `SPIKES` or `INPUT_SPIKES`).
pub fn write_spikes(
    path: &Path,
    schema: &'static FileSchema,
    spikes: &StepSpikes,
    dt: f64,
) -> Result<()> {
    let mut t = Writer::create_path(path, schema)?;
    for (step, id) in spikes.events() {
        t.row([id.to_string(), fmt_f64(step as f64 * dt)])?;
    }
    t.finish()
}

/// Reads protocol.csv, sorted by start; phase ids must be `0..` in order.
pub fn read_protocol(dir: &Path) -> Result<Vec<ProtocolPhase>> {
    let mut r = Reader::open(dir, &PROTOCOL)?;
    let [ph, name, ro, s, e, tr, rs] = r.cols([
        "phase", "name", "role", "start_ms", "end_ms", "train", "reset",
    ]);
    let mut out: Vec<ProtocolPhase> = Vec::new();
    r.for_each(|row| {
        if row.usize(ph)? != out.len() {
            return Err(usage!("{}: phase ids must be 0, 1, ... in order", row.at()));
        }
        out.push(ProtocolPhase {
            phase: out.len(),
            name: row.str(name)?.to_string(),
            role: role(row.choice(ro)?),
            start_ms: row.f64(s)?,
            end_ms: row.f64(e)?,
            train: row.bool(tr)?,
            reset: row.bool(rs)?,
        });
        Ok(())
    })?;
    out.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
    Ok(out)
}

/// One phases.csv row; a pattern segment needs its sequence and pattern.
fn segment(row: &Row, c: &[usize; 8]) -> Result<Segment> {
    let kind = match row.choice(c[3])? {
        "pattern" => SegmentKind::Pattern,
        _ => SegmentKind::Noise,
    };
    let (sequence, pattern) = (row.opt_usize(c[4])?, row.opt_usize(c[5])?);
    if kind == SegmentKind::Pattern && (sequence.is_none() || pattern.is_none()) {
        return Err(usage!(
            "{}: pattern segment without a `sequence` or `pattern` id",
            row.at()
        ));
    }
    Ok(Segment {
        phase: row.usize(c[0])?,
        start_ms: row.f64(c[1])?,
        end_ms: row.f64(c[2])?,
        kind,
        sequence: if kind == SegmentKind::Pattern {
            sequence
        } else {
            None
        },
        pattern,
        warp: row.f64(c[6])?,
        train: row.bool(c[7])?,
    })
}

/// Reads phases.csv, sorted by start.
pub fn read_phases(dir: &Path) -> Result<Vec<Segment>> {
    let mut r = Reader::open(dir, &PHASES)?;
    let c = r.cols([
        "phase", "start_ms", "end_ms", "kind", "sequence", "pattern", "warp", "train",
    ]);
    let mut out = Vec::new();
    r.for_each(|row| {
        out.push(segment(row, &c)?);
        Ok(())
    })?;
    out.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
    Ok(out)
}

/// Reads a spike table (`schema` = `SPIKES` or `INPUT_SPIKES`), sorted by time.
pub fn read_spikes(path: &Path, schema: &'static FileSchema) -> Result<Spikes> {
    let mut r = Reader::open_path(path, schema)?;
    let [i, t] = r.cols([schema.columns[0].name, "time_ms"]);
    let mut sp = Spikes::default();
    r.for_each(|row| {
        let time = row.f64(t)?;
        if !(time.is_finite() && time >= 0.0) {
            return Err(usage!(
                "{}: spike time {time} must be finite and >= 0",
                row.at()
            ));
        }
        sp.id.push(row.u32(i)?);
        sp.time_ms.push(time);
        Ok(())
    })?;
    sp.sort();
    Ok(sp)
}

/// Largest jump between pattern ids in patterns.csv (patterns without a
/// spike have no rows).
pub const MAX_PATTERN_GAP: usize = 1 << 16;

/// Reads patterns.csv: per pattern its `(time_ms, channel)` spikes.
pub fn read_patterns(dir: &Path) -> Result<Vec<input::Pattern>> {
    let mut r = Reader::open(dir, &PATTERNS)?;
    let [p, ch, t] = r.cols(["pattern", "channel", "time_ms"]);
    let mut patterns: Vec<input::Pattern> = Vec::new();
    r.for_each(|row| {
        let p = row.usize(p)?;
        // Ids come from the config's n_patterns; a gap this large is a bad file
        // (and would allocate without bound).
        if p > patterns.len() + MAX_PATTERN_GAP {
            return Err(usage!(
                "{}: pattern id {p} is far beyond the ids so far (0..{}); pattern ids are \
                 0, 1, ... (gaps of at most {MAX_PATTERN_GAP})",
                row.at(),
                patterns.len()
            ));
        }
        if patterns.len() <= p {
            patterns.resize(p + 1, Vec::new());
        }
        patterns[p].push((row.f64(t)?, row.u32(ch)?));
        Ok(())
    })?;
    Ok(patterns)
}

/// The step of a time in a file: it must lie on the `dt` grid.
fn to_step(path: &Path, time_ms: f64, dt: f64) -> Result<u64> {
    let s = time_ms / dt;
    if !(s >= 0.0 && s.fract() == 0.0) {
        return Err(usage!(
            "{}: time {time_ms} ms is not on the {dt} ms step grid (times are step starts, >= 0)",
            path.display()
        ));
    }
    Ok(s as u64)
}

/// Reads a spike table onto the step grid (for `--replay` and
/// `--forced-spikes`); ids must be below `n_ids`, times on the grid and
/// before the end of the run.
pub fn read_step_spikes(
    path: &Path,
    schema: &'static FileSchema,
    n_ids: usize,
    n_steps: u64,
    dt: f64,
) -> Result<StepSpikes> {
    let sp = read_spikes(path, schema)?;
    let mut events = Vec::with_capacity(sp.len());
    for (&id, &time) in sp.id.iter().zip(&sp.time_ms) {
        if id as usize >= n_ids {
            return Err(usage!(
                "{}: {} {id} does not exist (there are {n_ids})",
                path.display(),
                schema.columns[0].name
            ));
        }
        let step = to_step(path, time, dt)?;
        if step >= n_steps {
            return Err(usage!(
                "{}: spike at {time} ms lies after the end of the run ({} ms)",
                path.display(),
                n_steps as f64 * dt
            ));
        }
        events.push((step, id));
    }
    Ok(StepSpikes::from_events(n_ids, n_steps, events))
}

/// Reads the input of a run directory for `--replay`: input spikes, the
/// segment log (on the step grid, phases of `schedule`) and the patterns.
pub fn read_input(dir: &Path, n_channels: usize, schedule: &Schedule, dt: f64) -> Result<Input> {
    let spikes = read_step_spikes(
        &dir.join(INPUT_SPIKES.name),
        &INPUT_SPIKES,
        n_channels,
        schedule.n_steps(),
        dt,
    )?;
    let path = dir.join(PHASES.name);
    let patterns = read_patterns(dir)?;
    check_patterns(dir, &patterns, n_channels)?;
    let mut segments = Vec::new();
    for g in read_phases(dir)? {
        if g.phase >= schedule.phases.len() {
            return Err(usage!(
                "{}: segment at {} ms belongs to phase {}, but the config has {} phases",
                path.display(),
                g.start_ms,
                g.phase,
                schedule.phases.len()
            ));
        }
        segments.push(input::Segment {
            phase: g.phase,
            start: to_step(&path, g.start_ms, dt)?,
            end: to_step(&path, g.end_ms, dt)?,
            kind: g.kind,
            sequence: g.sequence,
            pattern: g.pattern,
            warp: g.warp,
        });
    }
    check_segments(&path, &segments, schedule, patterns.len(), dt)?;
    Ok(Input {
        spikes,
        segments,
        patterns,
    })
}

/// Pattern spikes on existing channels at finite times >= 0.
fn check_patterns(dir: &Path, patterns: &[input::Pattern], n_channels: usize) -> Result<()> {
    for (p, pat) in patterns.iter().enumerate() {
        if let Some(&(t, ch)) = pat
            .iter()
            .find(|&&(t, ch)| !(t.is_finite() && t >= 0.0) || ch as usize >= n_channels)
        {
            return Err(usage!(
                "{}: pattern {p} has a spike on channel {ch} at {t} ms; channels are 0..{n_channels}, \
                 times finite and >= 0",
                dir.join(PATTERNS.name).display()
            ));
        }
    }
    Ok(())
}

/// The segment log of a replay: non-empty, segments in order and back to
/// back from 0, each inside its protocol phase, naming existing patterns,
/// with finite warps; it must cover the protocol exactly (see
/// `--extend-replay` for running past its end).
fn check_segments(
    path: &Path,
    segments: &[input::Segment],
    schedule: &Schedule,
    n_patterns: usize,
    dt: f64,
) -> Result<()> {
    let at =
        |g: &input::Segment| format!("{}: segment at {} ms", path.display(), g.start as f64 * dt);
    if segments.is_empty() {
        return Err(usage!(
            "{}: has no segments; a replay needs the input's segment log",
            path.display()
        ));
    }
    let mut next = 0;
    for g in segments {
        let ph = &schedule.phases[g.phase];
        if g.start != next || g.end <= g.start {
            return Err(usage!(
                "{}: segments must follow each other without gaps from 0 ms, each with \
                 start < end (expected start {} ms, got {}..{} ms)",
                at(g),
                next as f64 * dt,
                g.start as f64 * dt,
                g.end as f64 * dt
            ));
        }
        if g.start < ph.start || g.end > ph.end {
            return Err(usage!(
                "{}: lies outside its phase {} ({}..{} ms of the protocol); the protocol \
                 (phases[].duration_ms, --train, --test) must match the replayed run's \
                 protocol.csv",
                at(g),
                g.phase,
                ph.start as f64 * dt,
                ph.end as f64 * dt
            ));
        }
        if g.pattern.is_some_and(|p| p >= n_patterns)
            || (g.kind == SegmentKind::Pattern && !(g.warp.is_finite() && g.warp > 0.0))
        {
            return Err(usage!(
                "{}: pattern {:?} with warp {} does not exist in patterns.csv ({n_patterns} \
                 patterns) or has a warp that is not > 0",
                at(g),
                g.pattern,
                g.warp
            ));
        }
        next = g.end;
    }
    Ok(())
}
