//! Input generators beyond the sequential one (tasks.md §1.3): the combined
//! two-half generator (the XOR input), the rate generator (the multi input)
//! and spike trains read from a file (own data, e.g. a speech encoding).
//!
//! Like every generator they only produce spike trains per step and the
//! segment log, so both engines receive their input the same way.

use std::path::Path;

use anyhow::Result;
use rand::Rng;

use super::config::{Config, InputSource};
use super::input::{
    add_noise, draw_patterns, emit_pattern, noise_phase, pattern_steps, Choice, Input, Schedule,
    SegmentKind, SequenceChooser, Sink, StepSpikes,
};
use super::rng::{self, Stream};
use crate::model::input::Segment;
use crate::usage;

/// The channel split of the combined generator: `[0, n/2)` and `[n/2, n)`.
pub fn halves(n_inputs: usize) -> [std::ops::Range<usize>; 2] {
    [0..n_inputs / 2, n_inputs / 2..n_inputs]
}

/// The segment `sequence` id of the combined generator: `a * n + b` for
/// sequence `a` in the first half and `b` in the second (`n` sequences).
pub fn combined_sequence(a: usize, b: usize, n: usize) -> usize {
    a * n + b
}

/// The halves' sequences of a combined `sequence` id.
pub fn split_combined(seq: usize, n: usize) -> (usize, usize) {
    (seq / n, seq % n)
}

/// Two sequential generators side by side, each with its own frozen
/// patterns (first half: patterns `0..P`, second half: `P..2P` in
/// patterns.csv) and its own sequence choice; a segment's `sequence` is
/// [`combined_sequence`] of the halves' sequences, its `pattern` the first
/// half's pattern. The halves present one
/// pattern each, in lock-step (validation requires equal lengths, warp 1).
/// Every step adds `r_noise_hz` on all channels; `embedded` puts a noise
/// phase before every presentation.
pub fn combined(cfg: &Config, schedule: &Schedule) -> Input {
    let inp = &cfg.input;
    let n_ch = cfg.network.n_inputs;
    let dt = cfg.model.dt_ms;
    let [ha, hb] = halves(n_ch);
    let mut prng = rng::stream(cfg.seed, Stream::Patterns);
    let mut patterns = draw_patterns(&mut prng, cfg, ha);
    patterns.extend(draw_patterns(&mut prng, cfg, hb));
    let np = inp.n_patterns;
    let mut rng = rng::stream(cfg.seed, Stream::Input);
    let mut sink = Sink {
        events: Vec::new(),
        segments: Vec::new(),
    };
    let mut choosers = [SequenceChooser::default(), SequenceChooser::default()];
    for (pi, (phase, pc)) in schedule.phases.iter().zip(&cfg.phases).enumerate() {
        let seqs = pc.sequences(inp);
        let choice = Choice {
            n: seqs.len(),
            mode: pc.mode.unwrap_or(inp.mode),
            p_switch: inp.p_switch,
            probs: &inp.sequence_probabilities,
        };
        let noise_range = pc.t_noise_range_ms.unwrap_or(inp.t_noise_range_ms);
        choosers
            .iter_mut()
            .for_each(|c| c.start_phase(pc.first_sequence));
        if pc.noise_only == Some(true) {
            let (a, b) = (phase.start, phase.end);
            add_noise(
                &mut rng,
                &mut sink.events,
                0..n_ch,
                inp.r_input_hz,
                a,
                b,
                dt,
            );
            sink.segment(pi, a, b, SegmentKind::Noise);
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
            let sa = choosers[0].next(&mut rng, choice);
            let sb = choosers[1].next(&mut rng, choice);
            let (pa, pb) = (seqs[sa][0], seqs[sb][0]);
            let end = (t + pattern_steps(cfg, pa, 1.0)).min(phase.end);
            emit_pattern(&mut sink.events, &patterns[pa], t, end, 1.0, dt);
            emit_pattern(&mut sink.events, &patterns[np + pb], t, end, 1.0, dt);
            let seg = Segment {
                phase: pi,
                start: t,
                end,
                kind: SegmentKind::Pattern,
                sequence: Some(combined_sequence(sa, sb, seqs.len())),
                // the first half's pattern (the second's is in `sequence`)
                pattern: Some(pa),
                warp: 1.0,
            };
            sink.pattern_segment(&mut rng, inp.r_noise_hz, n_ch, seg, dt);
            t = end;
        }
    }
    Input {
        spikes: StepSpikes::from_events(n_ch, schedule.n_steps(), sink.events),
        segments: sink.segments,
        patterns,
    }
}

/// The switchable generator (tasks.md §1.3, `xor_pattern`): `[input]` feeds
/// the phases without `input = "alt"`, `[input.alt]` the others. Each
/// generator runs over only the phases it feeds, in order, so its random
/// stream and current sequence continue across them exactly as in an
/// uninterrupted run of it; a phase fed by one generator leaves the other's
/// state untouched. The alternative generator's patterns follow the main
/// one's in patterns.csv (its segments' `pattern` ids are shifted by the
/// main generator's pattern count); `sequence` ids stay those of the
/// feeding generator's `pattern_sequences`.
pub fn switchable(cfg: &Config, schedule: &Schedule) -> Input {
    let mut events = Vec::new();
    let mut segments = Vec::new();
    let mut patterns = Vec::new();
    for src in [InputSource::Main, InputSource::Alt] {
        let (sub, idx) = cfg.fed_by(src);
        if idx.is_empty() {
            continue;
        }
        let own = Schedule {
            phases: idx.iter().map(|&k| schedule.phases[k].clone()).collect(),
        };
        let part = super::input::generate_one(&sub, &own);
        let offset = patterns.len();
        events.extend(part.spikes.events());
        segments.extend(part.segments.into_iter().map(|mut g| {
            g.phase = idx[g.phase];
            g.pattern = g.pattern.map(|p| p + offset);
            g
        }));
        patterns.extend(part.patterns);
    }
    segments.sort_by_key(|g| g.start);
    Input {
        spikes: StepSpikes::from_events(cfg.network.n_inputs, schedule.n_steps(), events),
        segments,
        patterns,
    }
}

/// The channels of rate group `g`: `[g*m, (g+1)*m)`, `m = n_inputs / n_groups`
/// (leftover channels get rate 0).
pub fn rate_group(cfg: &Config, g: usize) -> std::ops::Range<usize> {
    let m = cfg.network.n_inputs / cfg.input.rate.n_groups;
    g * m..(g + 1) * m
}

/// The rate generator: at every step `t` of a phase with `t mod H = 0`
/// (`H = hold_ms / dt`, `t` restarting each phase) each group draws a rate
/// uniform in `rate_range_hz`, shared by its channels; each channel spikes
/// in a step with probability `1 - exp(-rate * dt)`. One noise segment is
/// logged per hold interval.
pub fn rate(cfg: &Config, schedule: &Schedule) -> Input {
    let r = &cfg.input.rate;
    let dt = cfg.model.dt_ms;
    let hold = (r.hold_ms / dt).round() as u64;
    let mut rng = rng::stream(cfg.seed, Stream::Input);
    let mut sink = Sink {
        events: Vec::new(),
        segments: Vec::new(),
    };
    let mut rates = vec![0.0f64; r.n_groups];
    for (pi, phase) in schedule.phases.iter().enumerate() {
        for t in phase.start..phase.end {
            if (t - phase.start) % hold == 0 {
                for v in &mut rates {
                    *v = r.rate_range_hz[0]
                        + (r.rate_range_hz[1] - r.rate_range_hz[0]) * rng.random::<f64>();
                }
                sink.segment(pi, t, (t + hold).min(phase.end), SegmentKind::Noise);
            }
            for (g, &rate) in rates.iter().enumerate() {
                let p = 1.0 - (-rate * dt * 1e-3).exp();
                for ch in rate_group(cfg, g) {
                    if rng.random::<f64>() < p {
                        sink.events.push((t, ch as u32));
                    }
                }
            }
        }
    }
    Input {
        spikes: StepSpikes::from_events(cfg.network.n_inputs, schedule.n_steps(), sink.events),
        segments: sink.segments,
        patterns: Vec::new(),
    }
}

/// The header of an input spike file.
pub const SPIKE_FILE_HEADER: &str = "channel,time_ms";

/// Reads the input spike trains from a CSV file: header `channel,time_ms`,
/// one spike per row, `channel` an integer in `[0, n_inputs)`, `time_ms` a
/// finite number in `[0, total run time)`; rows in any order; a spike at
/// `time_ms` falls into step `floor(time_ms / dt)`; several spikes of one
/// channel in one step count once. One noise segment per phase is logged
/// (the file carries no labels).
pub fn from_spike_file(cfg: &Config, schedule: &Schedule, path: &Path) -> Result<Input> {
    let cannot = |why: String| {
        usage!(
            "cannot read input.spike_file {}: {why}; give an existing CSV file with header `{SPIKE_FILE_HEADER}`",
            path.display()
        )
    };
    // its size is in the resource estimate
    let text = crate::error::read_regular(path).map_err(|e| cannot(e.to_string()))?;
    let events = parse_spike_file(&text, cfg, schedule.n_steps())
        .map_err(|e| usage!("input.spike_file {}: {e}", path.display()))?;
    let mut sink = Sink {
        events,
        segments: Vec::new(),
    };
    for (pi, p) in schedule.phases.iter().enumerate() {
        sink.segment(pi, p.start, p.end, SegmentKind::Noise);
    }
    Ok(Input {
        spikes: StepSpikes::from_events(cfg.network.n_inputs, schedule.n_steps(), sink.events),
        segments: sink.segments,
        patterns: Vec::new(),
    })
}

/// The events of a spike file's text; the error names the line and value.
fn parse_spike_file(text: &str, cfg: &Config, n_steps: u64) -> Result<Vec<(u64, u32)>, String> {
    let dt = cfg.model.dt_ms;
    let n = cfg.network.n_inputs;
    let total = n_steps as f64 * dt;
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.trim() == SPIKE_FILE_HEADER => {}
        other => {
            return Err(format!(
                "line 1 must be the header `{SPIKE_FILE_HEADER}`, got `{}`",
                other.map_or("", |(_, h)| h.trim())
            ))
        }
    }
    let mut events = Vec::new();
    for (i, line) in lines {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let ln = i + 1;
        let (c, t) = line
            .split_once(',')
            .ok_or_else(|| format!("line {ln}: need `channel,time_ms`, got `{line}`"))?;
        let ch: usize = c.trim().parse().ok().filter(|&c| c < n).ok_or_else(|| {
            format!(
                "line {ln}: channel `{}` must be an integer in [0, {n}) (network.n_inputs)",
                c.trim()
            )
        })?;
        let tm: f64 = t
            .trim()
            .parse()
            .ok()
            .filter(|t: &f64| t.is_finite() && *t >= 0.0 && *t < total)
            .ok_or_else(|| {
                format!(
                    "line {ln}: time_ms `{}` must be a number in [0, {total}) (the run's length)",
                    t.trim()
                )
            })?;
        events.push(((tm / dt + 1e-9).floor() as u64, ch as u32));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{
        Config, Generator, InputConfig, PhaseConfig, PhaseRole, SequenceMode, ALT_SEED_XOR,
    };

    /// Main = the XOR input, alt = an embedded sequential pattern input;
    /// phases main, alt, main, alt (the xor_pattern layout).
    fn switch_cfg() -> Config {
        let mut c = xor_cfg();
        c.network.n_inputs = 20;
        let alt = InputConfig {
            n_patterns: 2,
            t_pattern_ms: vec![300.0],
            pattern_sequences: vec![vec![0], vec![1]],
            mode: SequenceMode::RandomSwitching,
            ..InputConfig::default()
        };
        c.input.alt = Some(Box::new(alt));
        let ph = |name: &str, ms: f64, src| PhaseConfig {
            input: Some(src),
            ..PhaseConfig::new(name, PhaseRole::Test, ms)
        };
        c.phases = vec![
            ph("x1", 1000.0, InputSource::Main),
            ph("p1", 3000.0, InputSource::Alt),
            ph("x2", 1500.0, InputSource::Main),
            ph("p2", 4000.0, InputSource::Alt),
        ];
        c.validate().unwrap();
        c
    }

    /// Events and (phase-relative) segments of `input` in phase `k` of `s`,
    /// with times relative to the phase start.
    /// Spike events and segment bounds of one phase.
    type PhaseView = (Vec<(u64, u32)>, Vec<(u64, u64)>);

    fn in_phase(input: &Input, s: &Schedule, k: usize) -> PhaseView {
        let p = &s.phases[k];
        let ev = input
            .spikes
            .events()
            .filter(|e| (p.start..p.end).contains(&e.0))
            .map(|(t, c)| (t - p.start, c))
            .collect();
        let seg = input
            .segments
            .iter()
            .filter(|g| g.phase == k)
            .map(|g| (g.start - p.start, g.end - p.start))
            .collect();
        (ev, seg)
    }

    #[test]
    fn switching_keeps_each_generators_state() {
        let cfg = switch_cfg();
        let sched = Schedule::from_config(&cfg);
        let both = super::super::input::generate(&cfg, &sched);
        for (src, ks) in [(InputSource::Main, [0, 2]), (InputSource::Alt, [1, 3])] {
            // an uninterrupted run of this generator over only its phases
            let mut alone = cfg.clone();
            if src == InputSource::Alt {
                alone.input = (**cfg.input.alt.as_ref().unwrap()).clone();
                alone.seed ^= ALT_SEED_XOR;
            }
            alone.input.alt = None;
            alone.phases = ks.iter().map(|&k| cfg.phases[k].clone()).collect();
            alone.phases.iter_mut().for_each(|p| p.input = None);
            let s1 = Schedule::from_config(&alone);
            let solo = super::super::input::generate(&alone, &s1);
            for (j, &k) in ks.iter().enumerate() {
                let got = in_phase(&both, &sched, k);
                assert!(!got.0.is_empty() && !got.1.is_empty());
                assert_eq!(got, in_phase(&solo, &s1, j), "{src:?} phase {k}");
            }
        }
        // the alt generator's patterns follow the main one's (2 halves x 2)
        assert_eq!(both.patterns.len(), 4 + 2);
        assert!(both
            .segments
            .iter()
            .filter(|g| g.phase % 2 == 1)
            .all(|g| g.pattern.is_none_or(|p| p >= 4)));
        // the two generators draw different streams
        assert_ne!(in_phase(&both, &sched, 0).0, in_phase(&both, &sched, 1).0);
    }

    #[test]
    fn switch_keys_are_validated() {
        let mut c = switch_cfg();
        c.input.alt = None;
        let e = format!("{:#}", c.validate().unwrap_err());
        assert!(e.contains("phases[1].input"), "{e}");
        let mut c = switch_cfg();
        c.phases.iter_mut().for_each(|p| p.input = None);
        let e = format!("{:#}", c.validate().unwrap_err());
        assert!(e.contains("input.alt"), "{e}");
        let mut c = switch_cfg();
        c.input.alt.as_mut().unwrap().pattern_sequences = vec![vec![5]];
        let e = c.validate().unwrap_err();
        assert!(crate::error::is_usage(&e));
        let e = format!("{e:#}");
        assert!(
            e.contains("pattern_sequences") && e.contains("[input.alt]"),
            "{e}"
        );
        let text = "[input.alt]\nn_patterns = 1\n[[phases]]\nname = \"a\"\nrole = \"test\"\n\
                    duration_ms = 100.0\ninput = \"sideways\"\n";
        let e = format!("{:#}", Config::from_toml(text).unwrap_err());
        assert!(e.contains("sideways"), "{e}");
    }

    fn xor_cfg() -> Config {
        let mut c = Config::default();
        c.network.n_inputs = 100;
        c.input.generator = Generator::Combined;
        c.input.embedded = false;
        c.input.n_patterns = 2;
        c.input.t_pattern_ms = vec![50.0];
        c.input.pattern_sequences = vec![vec![0], vec![1]];
        c.phases = vec![PhaseConfig::new("fit", PhaseRole::ReadoutFit, 20_000.0)];
        c.validate().unwrap();
        c
    }

    #[test]
    fn combined_halves_switch_in_lock_step_with_independent_choices() {
        let c = xor_cfg();
        let inp = combined(&c, &Schedule::from_config(&c));
        assert_eq!(inp.patterns.len(), 4);
        // own frozen patterns per half, on its own channels
        for (k, p) in inp.patterns.iter().enumerate() {
            let half = if k < 2 { 0..50 } else { 50..100 };
            assert!(!p.is_empty());
            assert!(p.iter().all(|&(_, ch)| half.contains(&(ch as usize))));
        }
        assert_ne!(inp.patterns[0], inp.patterns[2]);
        assert_eq!(inp.segments.len(), 400);
        let mut count = [[0usize; 2]; 2];
        let mut switches = [0usize; 2];
        let mut prev = None;
        for (i, g) in inp.segments.iter().enumerate() {
            assert_eq!((g.start, g.end), (50 * i as u64, 50 * i as u64 + 50));
            let (a, b) = split_combined(g.sequence.unwrap(), 2);
            count[a][b] += 1;
            if let Some((pa, pb)) = prev {
                switches[0] += usize::from(pa != a);
                switches[1] += usize::from(pb != b);
            }
            prev = Some((a, b));
        }
        // independent halves: every combination occurs about a quarter of the time
        for row in count {
            for n in row {
                assert!((70..130).contains(&n), "{count:?}");
            }
        }
        // p_switch 0.5 in each half
        for s in switches {
            assert!((150..250).contains(&s), "{switches:?}");
        }
        // the first half's spikes in a segment are its pattern (plus noise)
        let g = &inp.segments[3];
        let (a, _) = split_combined(g.sequence.unwrap(), 2);
        let got: Vec<(u64, u32)> = (g.start..g.end)
            .flat_map(|t| inp.spikes.at(t).iter().map(move |&ch| (t - g.start, ch)))
            .filter(|&(_, ch)| ch < 50)
            .collect();
        for &(s, ch) in &inp.patterns[a] {
            assert!(got.contains(&(s.floor() as u64, ch)));
        }
    }

    #[test]
    fn combined_sequence_ids_roundtrip() {
        for a in 0..3 {
            for b in 0..3 {
                assert_eq!(split_combined(combined_sequence(a, b, 3), 3), (a, b));
            }
        }
    }

    #[test]
    fn rate_groups_hold_their_rates() {
        let mut c = Config::default();
        c.network.n_inputs = 4;
        c.input.generator = Generator::Rate;
        c.phases = vec![PhaseConfig::new("fit", PhaseRole::ReadoutFit, 200_000.0)];
        c.validate().unwrap();
        let inp = rate(&c, &Schedule::from_config(&c));
        assert_eq!(inp.segments.len(), 2000);
        let total = inp.spikes.len() as f64 / (200.0 * 4.0);
        // mean rate 25 Hz, a spike probability 1 - exp(-r dt) per step
        assert!((total - 24.7).abs() < 0.7, "{total}");
        // channels of one group share the rate: their counts per interval correlate
        let counts = |ch: u32| -> Vec<f64> {
            inp.segments
                .iter()
                .map(|g| {
                    (g.start..g.end)
                        .filter(|&t| inp.spikes.at(t).contains(&ch))
                        .count() as f64
                })
                .collect()
        };
        let same = crate::analysis::stats::pearson(&counts(0), &counts(1));
        let other = crate::analysis::stats::pearson(&counts(0), &counts(2));
        // expected about var(rate count) / var(count) = 0.75 / 3.25
        assert!(same > 0.15, "{same}");
        assert!(other.abs() < 0.08, "{other}");
    }

    #[test]
    fn spike_file_is_read_and_validated() {
        let mut c = Config::default();
        c.network.n_inputs = 3;
        c.phases = vec![PhaseConfig::new("t", PhaseRole::Test, 100.0)];
        let ok = parse_spike_file("channel,time_ms\n2,10.5\n0,0\n\n1,99.9\n", &c, 100).unwrap();
        assert_eq!(ok, vec![(10, 2), (0, 0), (99, 1)]);
        for (text, needle) in [
            ("sender,time_ms\n", "header"),
            ("channel,time_ms\n3,1.0\n", "channel `3`"),
            ("channel,time_ms\n0,100\n", "time_ms `100`"),
            ("channel,time_ms\n0,nan\n", "time_ms `nan`"),
            ("channel,time_ms\n0\n", "line 2"),
        ] {
            let e = parse_spike_file(text, &c, 100).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
        for path in ["/nonexistent.csv", "/dev/zero", "/etc"] {
            let err = from_spike_file(&c, &Schedule::from_config(&c), Path::new(path)).unwrap_err();
            assert!(crate::error::is_usage(&err), "{path}");
            assert!(format!("{err:#}").contains("input.spike_file"), "{path}");
        }
    }
}
