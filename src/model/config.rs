//! Experiment configuration (TOML). Every default is the paper's setup
//! (model.md); unknown keys are rejected so that typos never pass silently.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

pub use crate::model::params::{ModelParams, SpikeLaw, StpVariant};
use crate::usage;

/// A whole experiment: network, model, input and the phase protocol.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Master seed; every random stream is derived from it (see `rng`).
    pub seed: u64,
    pub network: NetworkConfig,
    pub model: ModelParams,
    pub input: InputConfig,
    pub phases: Vec<PhaseConfig>,
    pub record: RecordConfig,
    /// How the analysis of this experiment groups its readout targets.
    #[serde(skip_serializing_if = "AnalysisConfig::is_default")]
    pub analysis: AnalysisConfig,
}

/// `[analysis]`: choices of the run's analysis that belong to the experiment.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AnalysisConfig {
    pub targets: TargetGrouping,
}

impl AnalysisConfig {
    fn is_default(&self) -> bool {
        *self == AnalysisConfig::default()
    }
}

/// Readout targets: sequences of identical content merged into one target
/// (model.md §7, the default), or one target per sequence id (the
/// original's per-sequence targets).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TargetGrouping {
    #[default]
    Merged,
    PerSequence,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// Grid shape `[n, m]`.
    #[serde(deserialize_with = "exact")]
    pub grid: [usize; 2],
    pub k_min: usize,
    pub k_max: usize,
    pub n_inputs: usize,
    /// Rate of the exponential distance draw (mean distance `1/lambda`).
    pub lambda: f64,
    /// Number of distinct ordered circuit pairs to connect.
    pub n_conn: usize,
    /// Probability to keep each recurrent synapse of a marked pair.
    pub p_conn: f64,
    /// Fraction of circuits whose neurons receive input.
    pub input_circuit_fraction: f64,
    /// Probability of each input channel -> neuron synapse (of receiving circuits).
    pub input_p_conn: f64,
    pub initial_weights: InitialWeights,
    pub stp_draw: StpDraw,
    /// STP time-constant scale `frac_tau_DS` (tasks.md §1.1): the means and
    /// SDs of the recurrent `D`, `F` draws are those of model.md §4 times
    /// `10 / frac_tau_ds` (10 gives model.md's 110 / 5 ms, 5 gives 220 / 10).
    pub frac_tau_ds: f64,
    /// Fraction of circuits that learn (tasks.md §1.1 `train_fraction`):
    /// `round(f * P)` circuits drawn at random keep `initial_weights` and
    /// learn in training phases; the others are untrained — their synapses
    /// start at `w = ln(U(0,1))` and neither their weights nor their biases
    /// ever change.
    pub train_fraction: f64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum InitialWeights {
    /// `w = 0` (the original code's default).
    Zero,
    /// `w = ln(U(0,1))`, negative.
    LogUniform,
    /// `w = -ln(U(0,1))`, positive (the 2022 NEST version).
    NegLogUniform,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StpDraw {
    /// One STP parameter draw and state per source neuron (the original).
    PerSource,
    /// One draw and state per synapse (the 2022 NEST version).
    PerSynapse,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct InputConfig {
    pub r_input_hz: f64,
    pub r_noise_hz: f64,
    #[serde(deserialize_with = "exact")]
    pub t_noise_range_ms: [f64; 2],
    pub n_patterns: usize,
    /// Duration of each pattern; one value is used for all patterns.
    pub t_pattern_ms: Vec<f64>,
    pub pattern_sequences: Vec<Vec<usize>>,
    pub mode: SequenceMode,
    /// `random_switching`: probability to switch to another sequence.
    pub p_switch: f64,
    /// `random_independent`: probability of each sequence (empty = uniform).
    pub sequence_probabilities: Vec<f64>,
    #[serde(deserialize_with = "exact")]
    pub time_warp_range: [f64; 2],
    /// Which generator makes the input (tasks.md §1.3).
    pub generator: Generator,
    /// Sequential/combined: a noise phase before every sequence (true, model.md
    /// §5) or patterns back to back with only `r_noise_hz` on top (false).
    pub embedded: bool,
    /// Warped pattern length `w * T / dt`: rounded (default) or floored (the original).
    pub warp_rounding: WarpRounding,
    /// The rate generator (`generator = "rate"`).
    pub rate: RateInputConfig,
    /// Read the input spike trains from this CSV file instead of generating
    /// them (schema in docs/experiments.md: header `channel,time_ms`). A
    /// relative path is taken relative to the config file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spike_file: Option<std::path::PathBuf>,
    /// `[input.alt]`: a second generator (its own kind, patterns and
    /// sequences; keys left out take the `[input]` defaults, not the main
    /// input's values) feeding the phases with `input = "alt"` (tasks.md
    /// §1.3 "Switchable"). Each generator continues its own state (random
    /// stream, current sequence) across the phases it feeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<Box<InputConfig>>,
}

/// Which generator feeds a phase: `[input]` (`main`) or `[input.alt]`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum InputSource {
    #[default]
    Main,
    Alt,
}

/// The alternative generator draws its patterns and input from the master
/// seed XOR this constant, so its streams differ from the main generator's
/// (part of the reproducibility contract, like the stream ids in `rng`).
pub const ALT_SEED_XOR: u64 = 0xA17_5EED;

/// The input generators.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Generator {
    /// Pattern sequences (model.md §5), embedded in noise or back to back.
    Sequential,
    /// Two halves of the channels, each its own sequential generator with its
    /// own frozen patterns and sequence choice (the XOR input).
    Combined,
    /// Groups of channels with held random Poisson rates (the multi input).
    Rate,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WarpRounding {
    Round,
    Floor,
}

/// `[input.rate]`: `n_groups` groups of `n_inputs / n_groups` channels; every
/// `hold_ms` each group draws a rate uniform in `rate_range_hz`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RateInputConfig {
    pub n_groups: usize,
    pub rate_range_hz: [f64; 2],
    pub hold_ms: f64,
    /// Window of the empirical rate estimate used by the multi targets.
    pub window_ms: f64,
}

impl Default for RateInputConfig {
    fn default() -> Self {
        RateInputConfig {
            n_groups: 2,
            rate_range_hz: [10.0, 40.0],
            hold_ms: 100.0,
            window_ms: 20.0,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SequenceMode {
    RandomSwitching,
    RandomIndependent,
    Alternating,
}

/// What a phase is for in the analysis.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PhaseRole {
    Train,
    ReadoutFit,
    Test,
}

impl PhaseRole {
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseRole::Train => "train",
            PhaseRole::ReadoutFit => "readout_fit",
            PhaseRole::Test => "test",
        }
    }
}

/// One protocol phase. Input keys left out inherit `[input]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PhaseConfig {
    pub name: String,
    pub role: PhaseRole,
    pub duration_ms: f64,
    /// STDP on in this phase. Default: true for `train`, false otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<SequenceMode>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "exact_opt"
    )]
    pub t_noise_range_ms: Option<[f64; 2]>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "exact_opt"
    )]
    pub time_warp_range: Option<[f64; 2]>,
    /// Sequences of this phase (default: `[input] pattern_sequences`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern_sequences: Option<Vec<Vec<usize>>>,
    /// The sequence presented first in this phase (the original's `itest mod
    /// 2`); alternation continues from it. Default: alternation starts at 0,
    /// random modes draw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_sequence: Option<usize>,
    /// Noise only (5 Hz on every channel, no pattern): the original's
    /// input-free test phases N(d).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_only: Option<bool>,
    /// Record neuron traces in this phase (default: its role is listed in
    /// `record.phases`); keeps long suites' run directories small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_neurons: Option<bool>,
    /// The generator feeding this phase (default `main` = `[input]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputSource>,
}

impl PhaseConfig {
    /// A phase with the input settings of `[input]`.
    pub fn new(name: &str, role: PhaseRole, duration_ms: f64) -> PhaseConfig {
        PhaseConfig {
            name: name.into(),
            role,
            duration_ms,
            train: None,
            mode: None,
            t_noise_range_ms: None,
            time_warp_range: None,
            pattern_sequences: None,
            first_sequence: None,
            noise_only: None,
            record_neurons: None,
            input: None,
        }
    }

    /// The sequences of this phase.
    pub fn sequences<'a>(&'a self, input: &'a InputConfig) -> &'a [Vec<usize>] {
        self.pattern_sequences
            .as_deref()
            .unwrap_or(&input.pattern_sequences)
    }

    pub fn learns(&self) -> bool {
        self.train.unwrap_or(self.role == PhaseRole::Train)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RecordConfig {
    /// Sampling interval of the neuron traces (ms, a multiple of dt).
    pub dt_rec_ms: f64,
    /// Sampling interval of the synapse traces (ms, a multiple of dt).
    pub dt_rec_synapses_ms: f64,
    pub neurons: Selection,
    pub synapses: Selection,
    /// Roles of the phases in which neuron traces are recorded (synapse
    /// traces are recorded throughout).
    pub phases: Vec<PhaseRole>,
}

/// Which neurons or synapses to record: `"all"`, `"none"`, `{ random = k }`
/// or an explicit id list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged, deny_unknown_fields)]
pub enum Selection {
    Keyword(SelectionKeyword),
    Random { random: usize },
    List(Vec<usize>),
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SelectionKeyword {
    All,
    None,
}

/// A fixed-size array that refuses any other length (serde's arrays
/// would silently drop extra values: `grid = [2, 2, 2]`).
fn exact<'de, D, T, const N: usize>(d: D) -> Result<[T; N], D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    let v: Vec<T> = Vec::deserialize(d)?;
    let len = v.len();
    v.try_into()
        .map_err(|_| serde::de::Error::custom(format!("expected exactly {N} values, got {len}")))
}

/// [`exact`] for an optional key.
fn exact_opt<'de, D, T, const N: usize>(d: D) -> Result<Option<[T; N]>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    exact(d).map(Some)
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 13521,
            network: NetworkConfig::default(),
            model: ModelParams::default(),
            input: InputConfig::default(),
            phases: vec![
                PhaseConfig::new("train", PhaseRole::Train, 100_000.0),
                PhaseConfig {
                    mode: Some(SequenceMode::Alternating),
                    ..PhaseConfig::new("readout_fit", PhaseRole::ReadoutFit, 3000.0)
                },
                PhaseConfig {
                    mode: Some(SequenceMode::Alternating),
                    ..PhaseConfig::new("test", PhaseRole::Test, 3000.0)
                },
            ],
            record: RecordConfig::default(),
            analysis: AnalysisConfig::default(),
        }
    }
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            grid: [10, 5],
            k_min: 2,
            k_max: 10,
            n_inputs: 100,
            lambda: 0.088,
            n_conn: 1000,
            p_conn: 1.0,
            input_circuit_fraction: 1.0,
            input_p_conn: 1.0,
            initial_weights: InitialWeights::Zero,
            stp_draw: StpDraw::PerSource,
            frac_tau_ds: 10.0,
            train_fraction: 1.0,
        }
    }
}

impl Default for InputConfig {
    fn default() -> Self {
        InputConfig {
            r_input_hz: 5.0,
            r_noise_hz: 2.0,
            t_noise_range_ms: [300.0, 500.0],
            n_patterns: 1,
            t_pattern_ms: vec![300.0],
            pattern_sequences: vec![vec![0]],
            mode: SequenceMode::RandomSwitching,
            p_switch: 0.5,
            sequence_probabilities: Vec::new(),
            time_warp_range: [1.0, 1.0],
            generator: Generator::Sequential,
            embedded: true,
            warp_rounding: WarpRounding::Round,
            rate: RateInputConfig::default(),
            spike_file: None,
            alt: None,
        }
    }
}

impl Default for RecordConfig {
    fn default() -> Self {
        RecordConfig {
            dt_rec_ms: 1.0,
            dt_rec_synapses_ms: 100.0,
            neurons: Selection::Keyword(SelectionKeyword::All),
            synapses: Selection::Random { random: 20 },
            phases: vec![PhaseRole::ReadoutFit, PhaseRole::Test],
        }
    }
}

impl Config {
    /// Reads and validates a TOML experiment file.
    pub fn from_file(path: &Path) -> Result<Config> {
        let text = crate::error::read_regular(path).map_err(|e| {
            usage!(
                "cannot read config file {}: {e}; pass an existing TOML file with --config",
                path.display()
            )
        })?;
        let mut cfg =
            Self::from_toml(&text).with_context(|| format!("in config file {}", path.display()))?;
        if let (Some(f), Some(dir)) = (&cfg.input.spike_file, path.parent()) {
            if f.is_relative() {
                cfg.input.spike_file = Some(dir.join(f));
            }
        }
        Ok(cfg)
    }

    pub fn from_toml(text: &str) -> Result<Config> {
        let cfg: Config = toml::from_str(text)
            .map_err(|e| usage!("invalid config: {}", e.to_string().trim_end()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The pattern duration of pattern `p` (one value applies to all).
    pub fn t_pattern_ms(&self, p: usize) -> f64 {
        let t = &self.input.t_pattern_ms;
        if t.len() == 1 {
            t[0]
        } else {
            t[p]
        }
    }

    pub fn total_ms(&self) -> f64 {
        self.phases.iter().map(|p| p.duration_ms).sum()
    }

    /// The input config feeding phase `k` (`[input]` or `[input.alt]`).
    pub fn phase_input(&self, k: usize) -> &InputConfig {
        match (self.phases.get(k).and_then(|p| p.input), &self.input.alt) {
            (Some(InputSource::Alt), Some(alt)) => alt,
            _ => &self.input,
        }
    }

    /// The config one generator sees: its input config as `[input]`, only the
    /// phases it feeds (with their indices in `self.phases`), and for `alt`
    /// the master seed XOR [`ALT_SEED_XOR`].
    pub fn fed_by(&self, src: InputSource) -> (Config, Vec<usize>) {
        let mut sub = self.clone();
        if src == InputSource::Alt {
            if let Some(alt) = &self.input.alt {
                sub.input = (**alt).clone();
            }
            sub.seed = self.seed ^ ALT_SEED_XOR;
        }
        sub.input.alt = None;
        let idx: Vec<usize> = (0..self.phases.len())
            .filter(|&k| self.phases[k].input.unwrap_or_default() == src)
            .collect();
        sub.phases = idx.iter().map(|&k| self.phases[k].clone()).collect();
        (sub, idx)
    }

    /// Checks every value against its allowed range; the message names the key.
    /// With `[input.alt]` each generator is checked with the phases it feeds.
    pub fn validate(&self) -> Result<()> {
        self.validate_switch()?;
        if self.input.alt.is_none() {
            return self.validate_one();
        }
        validate_phases(&self.phases, &self.input, self.model.dt_ms)?;
        for src in [InputSource::Main, InputSource::Alt] {
            let (sub, idx) = self.fed_by(src);
            if idx.is_empty() {
                continue;
            }
            sub.validate_one().map_err(|e| {
                usage!(
                    "{e:#} (checked with {} and the phases it feeds, {}; phase indices count only those)",
                    if src == InputSource::Main { "[input]" } else { "[input.alt]" },
                    idx.iter().map(|k| self.phases[*k].name.as_str()).collect::<Vec<_>>().join(", ")
                )
            })?;
        }
        Ok(())
    }

    /// The `[input.alt]` table and the phases' `input` keys (tasks.md §1.3).
    fn validate_switch(&self) -> Result<()> {
        let uses_alt = |p: &PhaseConfig| p.input == Some(InputSource::Alt);
        let Some(alt) = &self.input.alt else {
            if let Some(k) = self.phases.iter().position(uses_alt) {
                return bad(
                    &format!("phases[{k}].input"),
                    "\"alt\" needs an [input.alt] table (the second generator)".into(),
                );
            }
            return Ok(());
        };
        if alt.alt.is_some() {
            return bad(
                "input.alt.alt",
                "only one alternative generator is allowed".into(),
            );
        }
        if self.input.spike_file.is_some() || alt.spike_file.is_some() {
            return bad(
                "input.spike_file",
                "cannot be combined with [input.alt] (switching between generators)".into(),
            );
        }
        if !self.phases.iter().any(uses_alt) {
            return bad(
                "input.alt",
                "no phase uses it; set input = \"alt\" in the phases it should feed".into(),
            );
        }
        Ok(())
    }

    /// [`Config::validate`] for one generator and its phases.
    fn validate_one(&self) -> Result<()> {
        let dt = self.model.dt_ms;
        validate_network(&self.network)?;
        self.model.validate()?;
        validate_stability(&self.model)?;
        validate_input(&self.input, dt)?;
        validate_phases(&self.phases, &self.input, dt)?;
        self.validate_phase_inputs()?;
        self.validate_generator()?;
        validate_record(&self.record, dt)
    }

    /// Per-phase sequence lists and first sequences.
    fn validate_phase_inputs(&self) -> Result<()> {
        let inp = &self.input;
        for (k, p) in self.phases.iter().enumerate() {
            let seqs = p.sequences(inp);
            if let Some(s) = &p.pattern_sequences {
                let key = format!("phases[{k}].pattern_sequences");
                if s.is_empty() || s.iter().any(|q| q.is_empty()) {
                    return bad(
                        &key,
                        "need at least one non-empty sequence, e.g. [[0]]".into(),
                    );
                }
                if let Some(x) = s.iter().flatten().find(|x| **x >= inp.n_patterns) {
                    return bad(
                        &key,
                        format!(
                            "pattern {x} does not exist (n_patterns = {})",
                            inp.n_patterns
                        ),
                    );
                }
                let mode = p.mode.unwrap_or(inp.mode);
                let probs = &inp.sequence_probabilities;
                if mode == SequenceMode::RandomIndependent
                    && !probs.is_empty()
                    && probs.len() != s.len()
                {
                    return bad(
                        &key,
                        format!(
                            "{} sequences, but input.sequence_probabilities has {} entries",
                            s.len(),
                            probs.len()
                        ),
                    );
                }
            }
            if let Some(f) = p.first_sequence.filter(|f| *f >= seqs.len()) {
                return bad(
                    &format!("phases[{k}].first_sequence"),
                    format!(
                        "must be < the phase's number of sequences ({}), got {f}",
                        seqs.len()
                    ),
                );
            }
        }
        Ok(())
    }

    /// What each generator needs (tasks.md §1.3).
    fn validate_generator(&self) -> Result<()> {
        let inp = &self.input;
        let dt = self.model.dt_ms;
        // D, F scale by 10 / frac_tau_ds: within this range the drawn D, F
        // stay inside what a replay accepts (rundir MAX_STP_MS)
        let f = self.network.frac_tau_ds;
        if !(FRAC_TAU_DS_RANGE[0]..=FRAC_TAU_DS_RANGE[1]).contains(&f) {
            return bad(
                "network.frac_tau_ds",
                format!(
                    "must lie in [{}, {}] (the original used 5 and 10), got {}",
                    FRAC_TAU_DS_RANGE[0],
                    FRAC_TAU_DS_RANGE[1],
                    show(f)
                ),
            );
        }
        if inp.spike_file.is_some() && inp.generator != Generator::Sequential {
            return bad(
                "input.spike_file",
                format!(
                    "reads the input from a file and cannot be combined with generator = {:?}; \
                     remove one of the two keys",
                    inp.generator
                ),
            );
        }
        match inp.generator {
            Generator::Sequential => Ok(()),
            Generator::Combined => self.validate_combined(),
            Generator::Rate => validate_rate(&inp.rate, self.network.n_inputs, dt),
        }
    }

    fn validate_combined(&self) -> Result<()> {
        let inp = &self.input;
        if self.network.n_inputs < 2 {
            return bad(
                "network.n_inputs",
                format!(
                    "generator = \"combined\" needs >= 2 inputs, got {}",
                    self.network.n_inputs
                ),
            );
        }
        let all_seqs = std::iter::once(&inp.pattern_sequences).chain(
            self.phases
                .iter()
                .filter_map(|p| p.pattern_sequences.as_ref()),
        );
        for seqs in all_seqs {
            if seqs.iter().any(|s| s.len() != 1) {
                return bad(
                    "input.pattern_sequences",
                    "generator = \"combined\" needs sequences of one pattern each, e.g. [[0],[1]]"
                        .into(),
                );
            }
        }
        let t0 = self.t_pattern_ms(0);
        if (0..inp.n_patterns).any(|p| self.t_pattern_ms(p) != t0) {
            return bad(
                "input.t_pattern_ms",
                "generator = \"combined\" needs one duration for all patterns (the halves switch in lock-step)"
                    .into(),
            );
        }
        let warps = std::iter::once(inp.time_warp_range)
            .chain(self.phases.iter().filter_map(|p| p.time_warp_range));
        for w in warps {
            if w != [1.0, 1.0] {
                return bad(
                    "input.time_warp_range",
                    format!("generator = \"combined\" needs [1, 1], got {w:?}"),
                );
            }
        }
        Ok(())
    }
}

fn validate_rate(r: &RateInputConfig, n_inputs: usize, dt: f64) -> Result<()> {
    if r.n_groups == 0 || r.n_groups > n_inputs {
        return bad(
            "input.rate.n_groups",
            format!(
                "must lie in [1, network.n_inputs = {n_inputs}], got {}",
                r.n_groups
            ),
        );
    }
    check_range("input.rate.rate_range_hz", r.rate_range_hz, 0.0)?;
    for (key, v) in [
        ("input.rate.hold_ms", r.hold_ms),
        ("input.rate.window_ms", r.window_ms),
    ] {
        if !(v >= dt && (v / dt).fract() == 0.0) {
            return bad(
                key,
                format!("must be a positive multiple of dt ({dt} ms), got {v}"),
            );
        }
    }
    Ok(())
}

/// Allowed range of `network.lambda` (1/grid units): far outside it the
/// circuit-pair loop almost never lands on the grid (small) or never leaves
/// the nearest neighbours (large).
pub const LAMBDA_RANGE: [f64; 2] = [1e-3, 100.0];

/// Allowed range of `network.frac_tau_ds`.
pub const FRAC_TAU_DS_RANGE: [f64; 2] = [0.01, 1000.0];

/// Largest `model.eta` of the eta/n rule (variance tracking off).
pub const ETA_N_MAX: f64 = 1000.0;

/// Allowed range of the time-warp factors.
pub const WARP_RANGE: [f64; 2] = [1e-3, 1e3];

/// A number for messages: short even when it is huge or tiny.
pub fn show(v: f64) -> String {
    if v != 0.0 && v.is_finite() && !(1e-6..1e12).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// The stability rule of the discrete update (docs/reliability.md): the
/// exponential trace updates `x += dt/tau (..)` stay bounded only for
/// `tau >= dt`; a learning rate above 1 and more than one spike per step
/// (`r_max dt > 1`) overflow the weights and the spike law.
fn validate_stability(m: &ModelParams) -> Result<()> {
    let dt = m.dt_ms;
    for (key, tau) in [
        ("model.tau_decay_ms", m.tau_decay_ms),
        ("model.tau_rise_ms", m.tau_rise_ms),
    ] {
        if !(tau >= dt && tau <= 1e6) {
            return bad(
                key,
                format!(
                    "must lie in [dt, 1e6] = [{dt}, 1e6] ms (the discrete update is unstable \
                     for tau < dt), got {}",
                    show(tau)
                ),
            );
        }
    }
    // with variance tracking eta scales the running means S, Q (overshoot
    // for eta > 1); the eta/n rule's step is bounded by its max(e^w, eta)
    // denominator, and the original used eta = 50 with it (pattern5)
    let (eta_top, rule) = if m.variance_tracking {
        (1.0, "with variance_tracking")
    } else {
        (ETA_N_MAX, "with the eta/n rule (variance_tracking = false)")
    };
    if !(m.eta > 0.0 && m.eta <= eta_top) {
        return bad(
            "model.eta",
            format!("must lie in (0, {eta_top}] {rule}, got {}", show(m.eta)),
        );
    }
    let r_top = 1000.0 / dt;
    if !(0.0..=r_top).contains(&m.r_max_hz) {
        return bad(
            "model.r_max_hz",
            format!(
                "must lie in (0, {r_top}] Hz (at most one spike per {dt} ms step), got {}",
                show(m.r_max_hz)
            ),
        );
    }
    Ok(())
}

/// The usage error of a config key.
fn bad(key: &str, why: String) -> Result<()> {
    Err(usage!("config key `{key}`: {why}"))
}

fn validate_network(n: &NetworkConfig) -> Result<()> {
    if n.grid[0] == 0 || n.grid[1] == 0 {
        return bad(
            "network.grid",
            format!("{:?} must have both sizes >= 1", n.grid),
        );
    }
    if n.k_min == 0 || n.k_min > n.k_max {
        return bad(
            "network.k_min/k_max",
            format!(
                "need 1 <= k_min <= k_max, got k_min = {}, k_max = {}",
                n.k_min, n.k_max
            ),
        );
    }
    if n.n_inputs == 0 || n.n_inputs > crate::model::budget::MAX_IDS {
        return bad(
            "network.n_inputs",
            format!(
                "must lie in [1, {}], got {}",
                crate::model::budget::MAX_IDS,
                n.n_inputs
            ),
        );
    }
    let [lo, hi] = LAMBDA_RANGE;
    if !(n.lambda >= lo && n.lambda <= hi) {
        return bad(
            "network.lambda",
            format!("must lie in [{lo}, {hi}], got {}", show(n.lambda)),
        );
    }
    for (key, v) in [
        ("network.p_conn", n.p_conn),
        ("network.input_circuit_fraction", n.input_circuit_fraction),
        ("network.input_p_conn", n.input_p_conn),
        ("network.train_fraction", n.train_fraction),
    ] {
        if !(0.0..=1.0).contains(&v) {
            return bad(key, format!("must lie in [0, 1], got {v}"));
        }
    }
    Ok(())
}

fn validate_input(i: &InputConfig, dt: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&i.p_switch) {
        return bad(
            "input.p_switch",
            format!("must lie in [0, 1], got {}", i.p_switch),
        );
    }
    if !(i.r_input_hz.is_finite() && i.r_input_hz > 0.0) {
        return bad(
            "input.r_input_hz",
            format!("must be > 0, got {}", show(i.r_input_hz)),
        );
    }
    if !(i.r_noise_hz.is_finite() && i.r_noise_hz >= 0.0) {
        return bad(
            "input.r_noise_hz",
            format!("must be >= 0, got {}", i.r_noise_hz),
        );
    }
    check_noise("input.t_noise_range_ms", i.t_noise_range_ms)?;
    validate_patterns(i, dt)?;
    check_warp("input.time_warp_range", i.time_warp_range, i, dt)?;
    validate_sequences(i)
}

fn validate_patterns(i: &InputConfig, dt: f64) -> Result<()> {
    if i.n_patterns == 0 {
        return bad("input.n_patterns", "must be >= 1".into());
    }
    if i.t_pattern_ms.len() != 1 && i.t_pattern_ms.len() != i.n_patterns {
        return bad(
            "input.t_pattern_ms",
            format!(
                "give one duration or one per pattern ({}), got {}",
                i.n_patterns,
                i.t_pattern_ms.len()
            ),
        );
    }
    if let Some(t) = i
        .t_pattern_ms
        .iter()
        .find(|t| !(**t >= dt && **t <= MAX_SEGMENT_MS))
    {
        return bad(
            "input.t_pattern_ms",
            format!(
                "every duration must lie in [dt, {}] = [{dt}, {}] ms, got {}",
                show(MAX_SEGMENT_MS),
                show(MAX_SEGMENT_MS),
                show(*t)
            ),
        );
    }
    Ok(())
}

fn validate_sequences(i: &InputConfig) -> Result<()> {
    if i.pattern_sequences.is_empty() || i.pattern_sequences.iter().any(|s| s.is_empty()) {
        return bad(
            "input.pattern_sequences",
            "need at least one non-empty sequence, e.g. [[0]] or [[0,1],[2]]".into(),
        );
    }
    if let Some(p) = i
        .pattern_sequences
        .iter()
        .flatten()
        .find(|p| **p >= i.n_patterns)
    {
        return bad(
            "input.pattern_sequences",
            format!("pattern {p} does not exist (n_patterns = {})", i.n_patterns),
        );
    }
    if i.sequence_probabilities.is_empty() {
        return Ok(());
    }
    if i.sequence_probabilities.len() != i.pattern_sequences.len() {
        return bad(
            "input.sequence_probabilities",
            format!(
                "need one probability per sequence ({}), got {}",
                i.pattern_sequences.len(),
                i.sequence_probabilities.len()
            ),
        );
    }
    let sum: f64 = i.sequence_probabilities.iter().sum();
    if i.sequence_probabilities
        .iter()
        .any(|p| p.is_nan() || *p < 0.0)
        || (sum - 1.0).abs() > 1e-9
    {
        return bad(
            "input.sequence_probabilities",
            format!("must be >= 0 and sum to 1, got sum {sum}"),
        );
    }
    Ok(())
}

/// Longest noise segment or pattern (ms): beyond it step counts lose
/// precision (and no run is that long).
pub const MAX_SEGMENT_MS: f64 = 1e9;

/// A noise-length range: `0 <= low <= high <= MAX_SEGMENT_MS`.
fn check_noise(key: &str, r: [f64; 2]) -> Result<()> {
    check_range(key, r, 0.0)?;
    if r[1] > MAX_SEGMENT_MS {
        return bad(
            key,
            format!(
                "must lie within [0, {}] ms, got [{}, {}]",
                show(MAX_SEGMENT_MS),
                show(r[0]),
                show(r[1])
            ),
        );
    }
    Ok(())
}

/// A time-warp range: within [`WARP_RANGE`], and the shortest warped
/// pattern lasts at least one step (else the segment loop makes no progress).
fn check_warp(key: &str, r: [f64; 2], i: &InputConfig, dt: f64) -> Result<()> {
    check_range(key, r, WARP_RANGE[0])?;
    if r[1] > WARP_RANGE[1] {
        return bad(
            key,
            format!(
                "factors must lie in [{}, {}], got [{}, {}]",
                WARP_RANGE[0],
                WARP_RANGE[1],
                show(r[0]),
                show(r[1])
            ),
        );
    }
    let shortest = i.t_pattern_ms.iter().copied().fold(f64::INFINITY, f64::min);
    if shortest * r[0] < dt {
        return bad(
            key,
            format!(
                "low factor {} makes the {shortest} ms pattern shorter than one step ({dt} ms)",
                show(r[0])
            ),
        );
    }
    Ok(())
}

fn validate_phases(phases: &[PhaseConfig], input: &InputConfig, dt: f64) -> Result<()> {
    if phases.is_empty() {
        return bad("phases", "need at least one [[phases]] entry".into());
    }
    for (k, p) in phases.iter().enumerate() {
        if !(p.duration_ms.is_finite() && p.duration_ms >= dt) {
            return bad(
                &format!("phases[{k}].duration_ms"),
                format!("must be >= dt ({dt} ms), got {}", show(p.duration_ms)),
            );
        }
        if (p.duration_ms / dt).fract() != 0.0 {
            return bad(
                &format!("phases[{k}].duration_ms"),
                format!("must be a whole number of steps (dt = {dt} ms)"),
            );
        }
        if let Some(r) = p.t_noise_range_ms {
            check_noise(&format!("phases[{k}].t_noise_range_ms"), r)?;
        }
        if let Some(r) = p.time_warp_range {
            check_warp(&format!("phases[{k}].time_warp_range"), r, input, dt)?;
        }
    }
    Ok(())
}

fn validate_record(r: &RecordConfig, dt: f64) -> Result<()> {
    for (key, v) in [
        ("record.dt_rec_ms", r.dt_rec_ms),
        ("record.dt_rec_synapses_ms", r.dt_rec_synapses_ms),
    ] {
        if !(v >= dt && (v / dt).fract() == 0.0) {
            return bad(
                key,
                format!("must be a positive multiple of dt ({dt} ms), got {v}"),
            );
        }
    }
    Ok(())
}

fn check_range(key: &str, r: [f64; 2], min: f64) -> Result<()> {
    if !(r[0].is_finite() && r[1].is_finite() && r[0] >= min && r[0] <= r[1]) {
        return Err(usage!(
            "config key `{key}`: need {min} <= low <= high, got [{}, {}]",
            show(r[0]),
            show(r[1])
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysis_targets_key() {
        let c = Config::from_toml("[analysis]\ntargets = \"per_sequence\"\n").unwrap();
        assert_eq!(c.analysis.targets, TargetGrouping::PerSequence);
        assert_eq!(Config::default().analysis.targets, TargetGrouping::Merged);
        for bad in [
            "[analysis]\ntargets = \"by_colour\"\n",
            "[analysis]\nextra = 1\n",
        ] {
            let e = Config::from_toml(bad).unwrap_err();
            assert!(crate::error::is_usage(&e), "{bad}: {e:#}");
        }
    }

    #[test]
    fn defaults_are_the_paper_setup() {
        let c = Config::default();
        assert_eq!(c.network.grid, [10, 5]);
        assert_eq!(c.network.n_conn, 1000);
        assert_eq!(c.model.stp, StpVariant::Original);
        assert!(c.model.variance_tracking);
        assert_eq!(c.total_ms(), 106_000.0);
        c.validate().unwrap();
    }

    #[test]
    fn unknown_key_is_rejected_with_its_name() {
        let err = Config::from_toml("[network]\nk_mni = 3\n").unwrap_err();
        assert!(crate::error::is_usage(&err));
        assert!(format!("{err:#}").contains("k_mni"), "{err:#}");
    }

    #[test]
    fn bad_values_name_the_key() {
        for (toml, key) in [
            ("[network]\nk_min = 5\nk_max = 3\n", "k_min"),
            ("[network]\nn_inputs = 0\n", "n_inputs"),
            (
                "[input]\nt_noise_range_ms = [500.0, 300.0]\n",
                "t_noise_range_ms",
            ),
            (
                "[[phases]]\nname = \"t\"\nrole = \"train\"\nduration_ms = -5.0\n",
                "duration_ms",
            ),
            (
                "[[phases]]\nname = \"t\"\nrole = \"train\"\nduration_ms = 0.0\n",
                "duration_ms",
            ),
            (
                "[input]\npattern_sequences = [[0, 3]]\n",
                "pattern_sequences",
            ),
        ] {
            let err = Config::from_toml(toml).unwrap_err();
            assert!(crate::error::is_usage(&err), "{toml}");
            assert!(format!("{err:#}").contains(key), "{toml}: {err:#}");
        }
    }

    #[test]
    fn generator_and_phase_keys_are_validated() {
        let phase = "[[phases]]\nname = \"t\"\nrole = \"test\"\nduration_ms = 100.0\n";
        for (toml, key) in [
            ("[network]\nfrac_tau_ds = 0.0\n", "network.frac_tau_ds"),
            ("[network]\nfrac_tau_ds = 1e300\n", "network.frac_tau_ds"),
            ("[network]\nfrac_tau_ds = 0.001\n", "network.frac_tau_ds"),
            (
                "[network]\ntrain_fraction = 1.5\n",
                "network.train_fraction",
            ),
            (
                "[network]\ntrain_fraction = -0.1\n",
                "network.train_fraction",
            ),
            (
                "[network]\ntrain_fraction = nan\n",
                "network.train_fraction",
            ),
            (
                "[input]\ngenerator = \"rate\"\n[input.rate]\nn_groups = 0\n",
                "input.rate.n_groups",
            ),
            (
                "[input]\ngenerator = \"rate\"\n[input.rate]\nhold_ms = 0.5\n",
                "input.rate.hold_ms",
            ),
            (
                "[input]\ngenerator = \"rate\"\n[input.rate]\nrate_range_hz = [40.0, 10.0]\n",
                "input.rate.rate_range_hz",
            ),
            (
                "[input]\ngenerator = \"combined\"\nn_patterns = 2\npattern_sequences = [[0, 1]]\n",
                "input.pattern_sequences",
            ),
            (
                "[input]\ngenerator = \"combined\"\ntime_warp_range = [0.5, 2.0]\n",
                "input.time_warp_range",
            ),
            (
                "[input]\ngenerator = \"combined\"\nn_patterns = 2\nt_pattern_ms = [50.0, 60.0]\n",
                "input.t_pattern_ms",
            ),
            (
                "[input]\ngenerator = \"rate\"\nspike_file = \"x.csv\"\n",
                "input.spike_file",
            ),
            ("[input]\ngenerator = \"xor\"\n", "generator"),
        ] {
            let err = Config::from_toml(toml).unwrap_err();
            assert!(crate::error::is_usage(&err), "{toml}");
            assert!(format!("{err:#}").contains(key), "{toml}: {err:#}");
        }
        for (extra, key) in [
            ("first_sequence = 1\n", "phases[0].first_sequence"),
            ("pattern_sequences = [[3]]\n", "phases[0].pattern_sequences"),
            ("pattern_sequences = []\n", "phases[0].pattern_sequences"),
        ] {
            let err = Config::from_toml(&format!("{phase}{extra}")).unwrap_err();
            assert!(crate::error::is_usage(&err), "{extra}");
            assert!(format!("{err:#}").contains(key), "{extra}: {err:#}");
        }
        let ok = "[input]\nn_patterns = 2\npattern_sequences = [[0], [1]]\n";
        Config::from_toml(&format!(
            "{ok}{phase}first_sequence = 1\npattern_sequences = [[1], [0, 1], [0]]\n"
        ))
        .unwrap();
    }

    #[test]
    fn round_trips_through_toml() {
        let c = Config::default();
        let text = toml::to_string(&c).unwrap();
        assert_eq!(Config::from_toml(&text).unwrap(), c);
    }
}
