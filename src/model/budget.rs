//! The resource estimate of a run (docs/reliability.md): how many neurons,
//! synapses, input spikes and recorded samples a config makes, and the bytes
//! they need. Every count is an upper bound computed from the config alone,
//! in `f64` (no overflow), before anything is allocated; a run whose
//! estimate exceeds the memory limit is refused naming the keys that make it
//! large.

use std::fmt;

use anyhow::Result;

use crate::model::config::{Config, Generator, InputConfig, Selection, SelectionKeyword};
use crate::usage;

/// Largest id of a neuron or input channel (ids are `u32` in the spike
/// tables; kept well below that so that per-id arrays stay small).
pub const MAX_IDS: usize = 1 << 26;

/// Bytes per item, rounded up from the structures that hold them (network
/// definition plus engine state, spike events plus their CSR index, trace
/// samples).
const BYTES_NEURON: f64 = 256.0;
const BYTES_SYNAPSE: f64 = 160.0;
const BYTES_PAIR_CANDIDATE: f64 = 25.0;
const BYTES_SPIKE: f64 = 24.0;
const BYTES_STEP: f64 = 32.0;
const BYTES_SAMPLE: f64 = 24.0;

/// The highest channel rate (Hz) a generator uses.
fn input_rate(g: &InputConfig) -> f64 {
    let mut r = g.r_input_hz.max(g.r_noise_hz);
    if g.generator == Generator::Rate {
        r = r.max(g.rate.rate_range_hz[1]);
    }
    r
}

/// Spikes of a generator's frozen patterns (plus one entry per pattern).
fn pattern_spikes(g: &InputConfig, n_inputs: usize) -> f64 {
    let t_pat = g.t_pattern_ms.iter().copied().fold(0.0, f64::max);
    g.n_patterns as f64 * n_inputs as f64 * g.r_input_hz * t_pat * 1e-3 + g.n_patterns as f64
}

/// One part of the estimate: what it counts, the config keys that set it,
/// and its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub what: &'static str,
    pub keys: &'static str,
    pub count: f64,
    pub bytes: f64,
}

/// The estimate of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub parts: Vec<Part>,
}

impl Estimate {
    /// The upper-bound estimate of a run of `cfg`.
    pub fn of(cfg: &Config) -> Estimate {
        let n = &cfg.network;
        let i = &cfg.input;
        let circuits = n.grid[0] as f64 * n.grid[1] as f64;
        let neurons = circuits * n.k_max as f64;
        let pairs = (n.n_conn as f64).min(circuits * (circuits - 1.0));
        let input_syn = neurons * n.input_circuit_fraction * n.n_inputs as f64 * n.input_p_conn;
        let rec_syn = pairs * (n.k_max as f64).powi(2) * n.p_conn;
        let synapses = input_syn + rec_syn;
        let total_ms = cfg.total_ms();
        let steps = total_ms / cfg.model.dt_ms;
        // the main generator and, if present, the switchable `[input.alt]`
        let gens: Vec<&InputConfig> = std::iter::once(i).chain(i.alt.as_deref()).collect();
        let in_rate = gens.iter().map(|g| input_rate(g)).fold(0.0, f64::max);
        let input_spikes = n.n_inputs as f64 * in_rate * total_ms * 1e-3;
        // a spike file is read whole: its text, then its events
        let file_bytes = i
            .spike_file
            .as_ref()
            .and_then(|f| std::fs::metadata(f).ok())
            .map_or(0.0, |m| m.len() as f64);
        let pattern_spikes: f64 = gens.iter().map(|g| pattern_spikes(g, n.n_inputs)).sum();
        let net_spikes = circuits * cfg.model.r_max_hz * total_ms * 1e-3;
        let samples = recorded_samples(cfg, neurons, synapses);
        let part = |what, keys, count: f64, per: f64| Part {
            what,
            keys,
            count,
            bytes: count * per,
        };
        Estimate {
            parts: vec![
                part(
                    "neurons",
                    "network.grid, network.k_max",
                    neurons,
                    BYTES_NEURON,
                ),
                part(
                    "circuit-pair candidates",
                    "network.grid",
                    circuits * circuits,
                    BYTES_PAIR_CANDIDATE,
                ),
                part(
                    "synapses",
                    "network.grid, network.k_max, network.n_inputs, network.n_conn",
                    synapses,
                    BYTES_SYNAPSE,
                ),
                part(
                    "steps",
                    "phases[].duration_ms (--train, --test)",
                    steps,
                    BYTES_STEP,
                ),
                part(
                    "input spikes",
                    "network.n_inputs, input.r_input_hz, input.r_noise_hz, input.rate.rate_range_hz, input.alt, \
                     phases[].duration_ms",
                    input_spikes,
                    BYTES_SPIKE,
                ),
                part("input spike file", "input.spike_file", file_bytes, 3.0),
                part(
                    "pattern spikes",
                    "input.n_patterns, input.t_pattern_ms, input.r_input_hz, network.n_inputs",
                    pattern_spikes,
                    BYTES_SPIKE,
                ),
                part(
                    "network spikes",
                    "network.grid, model.r_max_hz, phases[].duration_ms",
                    net_spikes,
                    BYTES_SPIKE,
                ),
                part(
                    "recorded samples",
                    "record.neurons, record.synapses, record.dt_rec_ms, record.dt_rec_synapses_ms",
                    samples,
                    BYTES_SAMPLE,
                ),
            ],
        }
    }

    pub fn bytes(&self) -> f64 {
        self.parts.iter().map(|p| p.bytes).sum()
    }

    fn count(&self, what: &str) -> f64 {
        self.parts
            .iter()
            .find(|p| p.what == what)
            .map_or(0.0, |p| p.count)
    }

    /// Refuses the run when it needs more than `limit` bytes or more ids than
    /// [`MAX_IDS`]; the message names the largest part and its keys.
    pub fn check(&self, limit: f64, limit_source: &str) -> Result<()> {
        let neurons = self.count("neurons");
        if !(0.0..=MAX_IDS as f64).contains(&neurons) {
            return Err(usage!(
                "config keys `network.grid`, `network.k_max`: up to {} neurons, more than the \
                 {MAX_IDS} this tool supports; use a smaller grid or k_max",
                num(neurons)
            ));
        }
        let total = self.bytes();
        if total.is_finite() && total <= limit {
            return Ok(());
        }
        let big = self
            .parts
            .iter()
            .max_by(|a, b| a.bytes.total_cmp(&b.bytes))
            .expect("parts");
        Err(usage!(
            "the run needs about {} ({}), more than the {} {limit_source}; the largest part is \
             {} {} set by config keys `{}`: reduce them (or raise --max-memory)",
            bytes(total),
            self,
            bytes(limit),
            num(big.count),
            big.what,
            big.keys
        ))
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = |w| num(self.count(w));
        write!(
            f,
            "{} neurons, {} synapses, {} steps, {} input spikes, {} recorded samples: ~{}",
            c("neurons"),
            c("synapses"),
            c("steps"),
            c("input spikes"),
            c("recorded samples"),
            bytes(self.bytes())
        )
    }
}

/// Neuron and synapse trace samples.
fn recorded_samples(cfg: &Config, neurons: f64, synapses: f64) -> f64 {
    let count = |sel: &Selection, n: f64| match sel {
        Selection::Keyword(SelectionKeyword::All) => n,
        Selection::Keyword(SelectionKeyword::None) => 0.0,
        Selection::Random { random } => (*random as f64).min(n),
        Selection::List(ids) => ids.len() as f64,
    };
    let r = &cfg.record;
    let rec_ms: f64 = cfg
        .phases
        .iter()
        .filter(|p| r.phases.contains(&p.role))
        .map(|p| p.duration_ms)
        .sum();
    count(&r.neurons, neurons) * rec_ms / r.dt_rec_ms
        + count(&r.synapses, synapses) * cfg.total_ms() / r.dt_rec_synapses_ms
}

/// A count for messages: plain up to 10^12, else scientific.
pub fn num(v: f64) -> String {
    if v.abs() < 1e12 {
        format!("{}", v.round())
    } else {
        format!("{v:.3e}")
    }
}

/// Bytes in MiB/GiB/TiB.
pub fn bytes(b: f64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    if !b.is_finite() || b >= 1024.0 * 1024.0 * GIB {
        format!("{} bytes", num(b))
    } else if b >= 1024.0 * GIB {
        format!("{:.1} TiB", b / (1024.0 * GIB))
    } else if b >= GIB {
        format!("{:.1} GiB", b / GIB)
    } else {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    }
}

/// The memory this process may use: `MemAvailable` of /proc/meminfo (or
/// 4 GiB when it cannot be read).
pub fn available_memory() -> f64 {
    let kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        t.lines()
            .find(|l| l.starts_with("MemAvailable:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
    });
    kib.map_or(4.0 * (1u64 << 30) as f64, |k| k * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_setup_fits_and_huge_configs_are_refused_naming_the_key() {
        let c = Config::default();
        let e = Estimate::of(&c);
        assert!(e.bytes() < 2e9, "{e}");
        e.check(4e9, "limit").unwrap();
        let mut big = c.clone();
        big.network.grid = [1000, 1000];
        let err = Estimate::of(&big).check(8e9, "limit").unwrap_err();
        assert!(crate::error::is_usage(&err));
        assert!(format!("{err:#}").contains("network.grid"), "{err:#}");
        let mut long = c.clone();
        long.phases[0].duration_ms = 1e15;
        let err = Estimate::of(&long).check(8e9, "limit").unwrap_err();
        assert!(format!("{err:#}").contains("duration_ms"), "{err:#}");
        let mut pat = c;
        pat.input.t_pattern_ms = vec![1e300];
        let err = Estimate::of(&pat).check(8e9, "limit").unwrap_err();
        assert!(format!("{err:#}").contains("t_pattern_ms"), "{err:#}");
    }

    #[test]
    fn the_task_generators_count_too() {
        let mut rate = Config::default();
        rate.input.generator = Generator::Rate;
        rate.input.rate.rate_range_hz = [0.0, 1e300];
        let err = Estimate::of(&rate).check(8e9, "limit").unwrap_err();
        assert!(format!("{err:#}").contains("rate_range_hz"), "{err:#}");
        let mut alt = Config::default();
        let mut second = alt.input.clone();
        second.r_input_hz = 1e300;
        alt.input.alt = Some(Box::new(second));
        let err = Estimate::of(&alt).check(8e9, "limit").unwrap_err();
        assert!(format!("{err:#}").contains("r_input_hz"), "{err:#}");
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("in.csv");
        std::fs::write(&f, vec![b'0'; 4096]).unwrap();
        let mut file = Config::default();
        let before = Estimate::of(&file).bytes();
        file.input.spike_file = Some(f);
        assert_eq!(Estimate::of(&file).bytes() - before, 3.0 * 4096.0);
    }

    #[test]
    fn numbers_in_messages_stay_short() {
        assert_eq!(num(1e300), "1.000e300");
        assert_eq!(num(12.0), "12");
        assert!(bytes(f64::INFINITY).len() < 20);
    }
}
