//! Input generation (model.md §5) and the phase protocol (§6): noise phases of
//! random length alternate with pattern sequences; every phase is logged.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp};

use crate::model::config::{Config, Generator, PhaseRole, SequenceMode, WarpRounding};
use crate::model::rng::{self, Stream};

/// One protocol phase on the step axis.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtocolPhase {
    pub name: String,
    pub role: PhaseRole,
    pub start: u64,
    pub end: u64,
    /// STDP on.
    pub train: bool,
    /// Traces and STP state are reset at `start`.
    pub reset: bool,
}

/// The phase protocol of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub phases: Vec<ProtocolPhase>,
}

impl Schedule {
    pub fn from_config(cfg: &Config) -> Schedule {
        let mut start = 0u64;
        let phases = cfg
            .phases
            .iter()
            .map(|p| {
                let steps = (p.duration_ms / cfg.model.dt_ms).round() as u64;
                let ph = ProtocolPhase {
                    name: p.name.clone(),
                    role: p.role,
                    start,
                    end: start + steps,
                    train: p.learns(),
                    reset: cfg.model.reset_at_test && p.role != PhaseRole::Train,
                };
                start += steps;
                ph
            })
            .collect();
        Schedule { phases }
    }

    pub fn n_steps(&self) -> u64 {
        self.phases.last().map_or(0, |p| p.end)
    }

    /// Steps at which a reset happens.
    pub fn reset_steps(&self) -> Vec<u64> {
        self.phases
            .iter()
            .filter(|p| p.reset)
            .map(|p| p.start)
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentKind {
    Noise,
    Pattern,
}

impl SegmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SegmentKind::Noise => "noise",
            SegmentKind::Pattern => "pattern",
        }
    }
}

/// One logged input segment `[start, end)` (steps).
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub phase: usize,
    pub start: u64,
    pub end: u64,
    pub kind: SegmentKind,
    pub sequence: Option<usize>,
    pub pattern: Option<usize>,
    pub warp: f64,
}

/// Spike trains on the step grid, stored per step (CSR): the channels (or
/// senders) that spike in step `t` are `ids[offsets[t]..offsets[t+1]]`,
/// ascending, at most one spike per id and step.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepSpikes {
    pub n_ids: usize,
    pub offsets: Vec<usize>,
    pub ids: Vec<u32>,
}

impl StepSpikes {
    /// From unsorted `(step, id)` events; duplicates within a step merge (OR).
    pub fn from_events(n_ids: usize, n_steps: u64, mut events: Vec<(u64, u32)>) -> StepSpikes {
        events.sort_unstable();
        events.dedup();
        let mut offsets = Vec::with_capacity(n_steps as usize + 1);
        let mut ids = Vec::with_capacity(events.len());
        let mut it = events.into_iter().peekable();
        offsets.push(0);
        for t in 0..n_steps {
            while let Some(&(s, id)) = it.peek() {
                if s != t {
                    break;
                }
                ids.push(id);
                it.next();
            }
            offsets.push(ids.len());
        }
        StepSpikes {
            n_ids,
            offsets,
            ids,
        }
    }

    pub fn n_steps(&self) -> u64 {
        self.offsets.len().saturating_sub(1) as u64
    }

    pub fn at(&self, t: u64) -> &[u32] {
        let t = t as usize;
        &self.ids[self.offsets[t]..self.offsets[t + 1]]
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// All events as `(step, id)`, in time order.
    pub fn events(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        (0..self.n_steps()).flat_map(move |t| self.at(t).iter().map(move |&i| (t, i)))
    }
}

/// A frozen pattern: spikes `(time_ms, channel)` relative to the pattern start.
pub type Pattern = Vec<(f64, u32)>;

/// Everything the input side of a run consists of.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub spikes: StepSpikes,
    pub segments: Vec<Segment>,
    pub patterns: Vec<Pattern>,
}

/// Poisson spike times in `[0, duration)` at `rate_hz`, by cumulative sums of
/// exponential intervals.
pub(crate) fn poisson_times(rng: &mut ChaCha8Rng, rate_hz: f64, duration_ms: f64) -> Vec<f64> {
    let mut out = Vec::new();
    if rate_hz <= 0.0 {
        return out;
    }
    let exp = Exp::new(rate_hz / 1000.0).expect("positive rate");
    let mut t = exp.sample(rng);
    while t < duration_ms {
        out.push(t);
        t += exp.sample(rng);
    }
    out
}

/// Adds Poisson noise at `rate_hz` on channels `[ch0, ch0 + n_channels)` over
/// steps `[start, end)`.
pub(crate) fn add_noise(
    rng: &mut ChaCha8Rng,
    events: &mut Vec<(u64, u32)>,
    channels: std::ops::Range<usize>,
    rate_hz: f64,
    start: u64,
    end: u64,
    dt: f64,
) {
    let len_ms = (end - start) as f64 * dt;
    for ch in channels {
        for s in poisson_times(rng, rate_hz, len_ms) {
            events.push((start + (s / dt).floor() as u64, ch as u32));
        }
    }
}

/// Frozen patterns on channels `[ch0, ch0 + n_ch)` drawn from `rng`.
pub(crate) fn draw_patterns(
    rng: &mut ChaCha8Rng,
    cfg: &Config,
    channels: std::ops::Range<usize>,
) -> Vec<Pattern> {
    (0..cfg.input.n_patterns)
        .map(|p| {
            let mut spikes: Pattern = Vec::new();
            for ch in channels.clone() {
                for s in poisson_times(rng, cfg.input.r_input_hz, cfg.t_pattern_ms(p)) {
                    spikes.push((s, ch as u32));
                }
            }
            spikes.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            spikes
        })
        .collect()
}

/// Generates the frozen patterns from the `Patterns` stream.
pub fn make_patterns(cfg: &Config) -> Vec<Pattern> {
    let mut rng = rng::stream(cfg.seed, Stream::Patterns);
    draw_patterns(&mut rng, cfg, 0..cfg.network.n_inputs)
}

/// Chooses the next sequence to present (tasks.md §1.3). The choice state
/// (`current`) persists across phases; a phase may force its first pick.
#[derive(Default)]
pub(crate) struct SequenceChooser {
    current: Option<usize>,
    next_alternating: usize,
    forced: Option<usize>,
}

/// How one phase chooses its sequences.
#[derive(Clone, Copy)]
pub(crate) struct Choice<'a> {
    pub n: usize,
    pub mode: SequenceMode,
    pub p_switch: f64,
    /// `random_independent` probabilities (used when one per sequence).
    pub probs: &'a [f64],
}

impl SequenceChooser {
    /// At a phase start: alternation restarts at `first` (default 0), and
    /// `first` (if any) is the phase's first pick.
    pub(crate) fn start_phase(&mut self, first: Option<usize>) {
        self.next_alternating = first.unwrap_or(0);
        self.forced = first;
    }

    pub(crate) fn next(&mut self, rng: &mut ChaCha8Rng, c: Choice) -> usize {
        let n = c.n;
        let pick = match (self.forced.take(), c.mode) {
            (Some(f), _) => f,
            (None, SequenceMode::Alternating) => self.next_alternating % n,
            (None, SequenceMode::RandomIndependent) => pick_independent(rng, n, c.probs),
            (None, SequenceMode::RandomSwitching) => match self.current.filter(|&c| c < n) {
                None => rng.random_range(0..n),
                Some(cur) if n > 1 && rng.random::<f64>() < c.p_switch => {
                    // Uniform over the other sequences.
                    let other = rng.random_range(0..n - 1);
                    if other >= cur {
                        other + 1
                    } else {
                        other
                    }
                }
                Some(cur) => cur,
            },
        };
        self.next_alternating = pick + 1;
        self.current = Some(pick);
        pick
    }
}

fn pick_independent(rng: &mut ChaCha8Rng, n: usize, probs: &[f64]) -> usize {
    if probs.len() != n {
        return rng.random_range(0..n);
    }
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (i, p) in probs.iter().enumerate() {
        acc += p;
        if u < acc {
            return i;
        }
    }
    n - 1
}

/// Steps of pattern `p` at warp `w` (`round` or `floor` of `w * T / dt`, >= 1).
pub(crate) fn pattern_steps(cfg: &Config, p: usize, warp: f64) -> u64 {
    let x = cfg.t_pattern_ms(p) * warp / cfg.model.dt_ms;
    let steps = match cfg.input.warp_rounding {
        WarpRounding::Round => x.round(),
        WarpRounding::Floor => x.floor(),
    };
    (steps as u64).max(1)
}

/// Pattern spikes of one presentation starting at `t`, cut at `end`: a
/// channel spikes in step `k` if a frozen spike time `st` has
/// `k <= st * w / dt < k + 1`.
pub(crate) fn emit_pattern(
    events: &mut Vec<(u64, u32)>,
    pattern: &Pattern,
    t: u64,
    end: u64,
    warp: f64,
    dt: f64,
) {
    for &(s, ch) in pattern {
        let step = (s * warp / dt).floor() as u64;
        if t + step < end {
            events.push((t + step, ch));
        }
    }
}

/// What a generator writes into while it runs.
pub(crate) struct Sink {
    pub events: Vec<(u64, u32)>,
    pub segments: Vec<Segment>,
}

impl Sink {
    pub(crate) fn segment(&mut self, phase: usize, start: u64, end: u64, kind: SegmentKind) {
        self.segments.push(Segment {
            phase,
            start,
            end,
            kind,
            sequence: None,
            pattern: None,
            warp: 1.0,
        });
    }

    /// A pattern segment (its pattern spikes already emitted): the noise
    /// on top of it (`r_noise_hz` on every channel), then its log entry.
    pub(crate) fn pattern_segment(
        &mut self,
        rng: &mut ChaCha8Rng,
        r_noise_hz: f64,
        n_ch: usize,
        seg: Segment,
        dt: f64,
    ) {
        add_noise(
            rng,
            &mut self.events,
            0..n_ch,
            r_noise_hz,
            seg.start,
            seg.end,
            dt,
        );
        self.segments.push(seg);
    }
}

/// A noise segment of random length from `range` (ms) at `r_input_hz`,
/// starting at `t`, cut at `end`; returns its end.
pub(crate) fn noise_phase(
    rng: &mut ChaCha8Rng,
    cfg: &Config,
    sink: &mut Sink,
    (pi, t, end): (usize, u64, u64),
    range: [f64; 2],
) -> u64 {
    let dt = cfg.model.dt_ms;
    let len_ms = range[0] + (range[1] - range[0]) * rng.random::<f64>();
    let stop = (t + (len_ms / dt).floor() as u64).min(end);
    if stop > t {
        let n = cfg.network.n_inputs;
        add_noise(
            rng,
            &mut sink.events,
            0..n,
            cfg.input.r_input_hz,
            t,
            stop,
            dt,
        );
        sink.segment(pi, t, stop, SegmentKind::Noise);
    }
    stop
}

/// Builds the input of the whole run from the config: the generator it
/// names, or the spike file. Errors name the file and the problem.
pub fn build(cfg: &Config, schedule: &Schedule) -> anyhow::Result<Input> {
    match &cfg.input.spike_file {
        Some(path) => super::generators::from_spike_file(cfg, schedule, path),
        None => Ok(generate(cfg, schedule)),
    }
}

/// Generates the input of the whole run with the configured generator
/// (not the spike file; see [`build`]).
pub fn generate(cfg: &Config, schedule: &Schedule) -> Input {
    if cfg.input.alt.is_some() {
        return super::generators::switchable(cfg, schedule);
    }
    generate_one(cfg, schedule)
}

/// The input of `cfg.input`'s generator alone, over `schedule` (whose phases
/// pair up with `cfg.phases`).
pub(crate) fn generate_one(cfg: &Config, schedule: &Schedule) -> Input {
    match cfg.input.generator {
        Generator::Sequential => sequential(cfg, schedule),
        Generator::Combined => super::generators::combined(cfg, schedule),
        Generator::Rate => super::generators::rate(cfg, schedule),
    }
}

/// The sequential generator (model.md §5): phase by phase, a noise segment
/// of random length (when embedded), then one whole sequence presentation,
/// and so on; segments are cut at phase ends. Noise-only phases are one
/// noise segment.
fn sequential(cfg: &Config, schedule: &Schedule) -> Input {
    let patterns = make_patterns(cfg);
    let mut rng = rng::stream(cfg.seed, Stream::Input);
    let dt = cfg.model.dt_ms;
    let n_ch = cfg.network.n_inputs;
    let inp = &cfg.input;
    let mut sink = Sink {
        events: Vec::new(),
        segments: Vec::new(),
    };
    let mut chooser = SequenceChooser::default();
    for (pi, (phase, pc)) in schedule.phases.iter().zip(&cfg.phases).enumerate() {
        let seqs = pc.sequences(inp);
        let choice = Choice {
            n: seqs.len(),
            mode: pc.mode.unwrap_or(inp.mode),
            p_switch: inp.p_switch,
            probs: &inp.sequence_probabilities,
        };
        let noise_range = pc.t_noise_range_ms.unwrap_or(inp.t_noise_range_ms);
        let warp_range = pc.time_warp_range.unwrap_or(inp.time_warp_range);
        chooser.start_phase(pc.first_sequence);
        if pc.noise_only == Some(true) {
            add_noise(
                &mut rng,
                &mut sink.events,
                0..n_ch,
                inp.r_input_hz,
                phase.start,
                phase.end,
                dt,
            );
            sink.segment(pi, phase.start, phase.end, SegmentKind::Noise);
            continue;
        }
        let mut t = phase.start;
        while t < phase.end {
            if inp.embedded {
                t = noise_phase(&mut rng, cfg, &mut sink, (pi, t, phase.end), noise_range);
                if t >= phase.end {
                    break;
                }
            }
            let seq = chooser.next(&mut rng, choice);
            let warp = warp_range[0] + (warp_range[1] - warp_range[0]) * rng.random::<f64>();
            for &p in &seqs[seq] {
                if t >= phase.end {
                    break;
                }
                let end = (t + pattern_steps(cfg, p, warp)).min(phase.end);
                emit_pattern(&mut sink.events, &patterns[p], t, end, warp, dt);
                let seg = Segment {
                    phase: pi,
                    start: t,
                    end,
                    kind: SegmentKind::Pattern,
                    sequence: Some(seq),
                    pattern: Some(p),
                    warp,
                };
                sink.pattern_segment(&mut rng, inp.r_noise_hz, n_ch, seg, dt);
                t = end;
            }
        }
    }
    Input {
        spikes: StepSpikes::from_events(n_ch, schedule.n_steps(), sink.events),
        segments: sink.segments,
        patterns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{Config, PhaseConfig};

    fn cfg(mode: SequenceMode, seqs: Vec<Vec<usize>>, n_patterns: usize) -> Config {
        let mut c = Config::default();
        c.network.n_inputs = 20;
        c.input.n_patterns = n_patterns;
        c.input.pattern_sequences = seqs;
        c.input.mode = mode;
        c.phases = vec![PhaseConfig::new("train", PhaseRole::Train, 60_000.0)];
        c
    }

    #[test]
    fn segments_tile_the_run_and_alternate_noise_and_patterns() {
        let c = cfg(SequenceMode::RandomSwitching, vec![vec![0, 1], vec![2]], 3);
        let s = Schedule::from_config(&c);
        let inp = generate(&c, &s);
        let mut t = 0;
        for (i, seg) in inp.segments.iter().enumerate() {
            assert_eq!(seg.start, t);
            assert!(seg.end > seg.start);
            t = seg.end;
            if seg.kind == SegmentKind::Noise {
                let len = seg.end - seg.start;
                assert!(seg.end == 60_000 || (300..=500).contains(&len), "{len}");
                if i + 1 < inp.segments.len() {
                    assert_eq!(inp.segments[i + 1].kind, SegmentKind::Pattern);
                }
            } else {
                let seq = seg.sequence.unwrap();
                assert!(c.input.pattern_sequences[seq].contains(&seg.pattern.unwrap()));
            }
        }
        assert_eq!(t, 60_000);
    }

    #[test]
    fn pattern_spikes_are_frozen_across_presentations() {
        let mut c = cfg(SequenceMode::RandomSwitching, vec![vec![0]], 1);
        c.input.r_noise_hz = 0.0;
        let s = Schedule::from_config(&c);
        let inp = generate(&c, &s);
        let pres: Vec<&Segment> = inp
            .segments
            .iter()
            .filter(|g| g.kind == SegmentKind::Pattern)
            .collect();
        assert!(pres.len() > 50);
        let rel = |g: &Segment| -> Vec<(u64, u32)> {
            (g.start..g.end)
                .flat_map(|t| inp.spikes.at(t).iter().map(move |&c| (t - g.start, c)))
                .collect()
        };
        let first = rel(pres[0]);
        assert!(!first.is_empty());
        for g in &pres[1..pres.len() - 1] {
            assert_eq!(rel(g), first);
        }
        // Pattern spikes come from the frozen pattern only (no noise here).
        let expected: std::collections::BTreeSet<(u64, u32)> = inp.patterns[0]
            .iter()
            .map(|&(s, ch)| (s.floor() as u64, ch))
            .collect();
        assert_eq!(
            first.into_iter().collect::<std::collections::BTreeSet<_>>(),
            expected
        );
    }

    #[test]
    fn rates_match_config() {
        let c = cfg(SequenceMode::RandomSwitching, vec![vec![0]], 1);
        let s = Schedule::from_config(&c);
        let inp = generate(&c, &s);
        let (mut noise_steps, mut noise_spikes, mut pat_steps, mut pat_spikes) = (0, 0, 0, 0);
        for g in &inp.segments {
            let n: usize = (g.start..g.end).map(|t| inp.spikes.at(t).len()).sum();
            match g.kind {
                SegmentKind::Noise => {
                    noise_steps += g.end - g.start;
                    noise_spikes += n;
                }
                SegmentKind::Pattern => {
                    pat_steps += g.end - g.start;
                    pat_spikes += n;
                }
            }
        }
        let noise_rate = noise_spikes as f64 / (noise_steps as f64 * 1e-3 * 20.0);
        assert!((noise_rate - 5.0).abs() < 0.3, "{noise_rate}");
        // Pattern rate: the frozen pattern (5 Hz, one draw) plus 2 Hz noise.
        let pat_rate = pat_spikes as f64 / (pat_steps as f64 * 1e-3 * 20.0);
        let frozen = inp.patterns[0].len() as f64 / (0.3 * 20.0);
        assert!(
            (pat_rate - frozen - 2.0).abs() < 0.5,
            "{pat_rate} vs {frozen}+2"
        );
    }

    #[test]
    fn alternating_cycles_and_switching_switches() {
        let c = cfg(
            SequenceMode::Alternating,
            vec![vec![0], vec![1], vec![2]],
            3,
        );
        let inp = generate(&c, &Schedule::from_config(&c));
        let seqs: Vec<usize> = inp.segments.iter().filter_map(|g| g.sequence).collect();
        for (i, s) in seqs.iter().enumerate() {
            assert_eq!(*s, i % 3);
        }
        let mut c = cfg(SequenceMode::RandomSwitching, vec![vec![0], vec![1]], 2);
        c.input.p_switch = 1.0;
        let inp = generate(&c, &Schedule::from_config(&c));
        let seqs: Vec<usize> = inp.segments.iter().filter_map(|g| g.sequence).collect();
        assert!(seqs.windows(2).all(|w| w[0] != w[1]));
        c.input.p_switch = 0.0;
        let inp = generate(&c, &Schedule::from_config(&c));
        let seqs: Vec<usize> = inp.segments.iter().filter_map(|g| g.sequence).collect();
        assert!(seqs.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn independent_mode_follows_probabilities() {
        let mut c = cfg(SequenceMode::RandomIndependent, vec![vec![0], vec![1]], 2);
        c.input.sequence_probabilities = vec![0.8, 0.2];
        c.phases[0].duration_ms = 400_000.0;
        let inp = generate(&c, &Schedule::from_config(&c));
        let seqs: Vec<usize> = inp.segments.iter().filter_map(|g| g.sequence).collect();
        let frac = seqs.iter().filter(|&&s| s == 0).count() as f64 / seqs.len() as f64;
        assert!((frac - 0.8).abs() < 0.05, "{frac}");
    }

    #[test]
    fn time_warp_stretches_patterns() {
        let mut c = cfg(SequenceMode::RandomSwitching, vec![vec![0]], 1);
        c.input.time_warp_range = [2.0, 2.0];
        let inp = generate(&c, &Schedule::from_config(&c));
        let g = inp
            .segments
            .iter()
            .find(|g| g.kind == SegmentKind::Pattern)
            .unwrap();
        assert_eq!(g.end - g.start, 600);
        assert_eq!(g.warp, 2.0);
    }

    #[test]
    fn phases_choose_their_sequences_and_first_sequence() {
        let mut c = cfg(SequenceMode::RandomSwitching, vec![vec![0], vec![1]], 3);
        c.phases = vec![
            PhaseConfig {
                first_sequence: Some(1),
                mode: Some(SequenceMode::Alternating),
                ..PhaseConfig::new("a", PhaseRole::Test, 5000.0)
            },
            PhaseConfig {
                pattern_sequences: Some(vec![vec![2], vec![0, 1], vec![0]]),
                first_sequence: Some(2),
                mode: Some(SequenceMode::Alternating),
                ..PhaseConfig::new("b", PhaseRole::Test, 8000.0)
            },
        ];
        c.validate().unwrap();
        let inp = generate(&c, &Schedule::from_config(&c));
        let firsts = |ph: usize| -> Vec<(usize, usize)> {
            let mut v: Vec<(usize, usize)> = inp
                .segments
                .iter()
                .filter(|g| g.phase == ph && g.kind == SegmentKind::Pattern)
                .map(|g| (g.sequence.unwrap(), g.pattern.unwrap()))
                .collect();
            v.dedup_by_key(|x| x.0);
            v
        };
        let a: Vec<usize> = firsts(0).iter().map(|x| x.0).collect();
        assert_eq!(&a[..4], &[1, 0, 1, 0]);
        let b = firsts(1);
        assert_eq!(b[0], (2, 0)); // sequence 2 = [0] first
        assert_eq!(b[1], (0, 2)); // then sequence 0 = [2]
        assert_eq!(b[2].0, 1);
    }

    #[test]
    fn noise_only_phases_and_back_to_back_patterns() {
        let mut c = cfg(SequenceMode::RandomSwitching, vec![vec![0], vec![1]], 2);
        c.input.embedded = false;
        c.phases = vec![
            PhaseConfig::new("p", PhaseRole::Test, 3000.0),
            PhaseConfig {
                noise_only: Some(true),
                ..PhaseConfig::new("n", PhaseRole::Test, 2000.0)
            },
        ];
        let inp = generate(&c, &Schedule::from_config(&c));
        let p: Vec<&Segment> = inp.segments.iter().filter(|g| g.phase == 0).collect();
        assert_eq!(p.len(), 10);
        assert!(p.iter().all(|g| g.kind == SegmentKind::Pattern));
        assert!(p.windows(2).all(|w| w[0].end == w[1].start));
        let n: Vec<&Segment> = inp.segments.iter().filter(|g| g.phase == 1).collect();
        assert_eq!(n.len(), 1);
        assert_eq!(
            (n[0].kind, n[0].start, n[0].end),
            (SegmentKind::Noise, 3000, 5000)
        );
        let spikes: usize = (3000..5000).map(|t| inp.spikes.at(t).len()).sum();
        let rate = spikes as f64 / (2.0 * 20.0);
        assert!((rate - 5.0).abs() < 0.8, "{rate}");
    }

    #[test]
    fn warped_length_rounds_or_floors() {
        let mut c = cfg(SequenceMode::RandomSwitching, vec![vec![0]], 1);
        c.input.t_pattern_ms = vec![301.0];
        assert_eq!(pattern_steps(&c, 0, 0.5), 151);
        c.input.warp_rounding = WarpRounding::Floor;
        assert_eq!(pattern_steps(&c, 0, 0.5), 150);
    }

    #[test]
    fn step_spikes_csr_roundtrip() {
        let s = StepSpikes::from_events(3, 4, vec![(2, 1), (0, 2), (2, 0), (2, 1)]);
        assert_eq!(s.at(0), &[2]);
        assert_eq!(s.at(1), &[] as &[u32]);
        assert_eq!(s.at(2), &[0, 1]);
        assert_eq!(s.events().collect::<Vec<_>>(), vec![(0, 2), (2, 0), (2, 1)]);
    }
}
