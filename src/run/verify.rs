//! Forced-spike verification: the same network, input and network spike
//! trains on two engines; every recorded quantity must agree.
//!
//! The forced network spikes come from a free native run of the same
//! scenario, so they have realistic statistics; both engines are then forced
//! to them and compared sample by sample.

use anyhow::{ensure, Result};
use serde::Serialize;

use crate::engine::native::NativeEngine;
use crate::engine::{Engine, Outcome};
use crate::model::config::{
    Config, InitialWeights, PhaseConfig, PhaseRole, Selection, SelectionKeyword, StpDraw,
    StpVariant,
};
use crate::run::Prepared;

/// Largest absolute deviation the engines may show: both run the same
/// kernels (cpp/kernels/); what remains is summation order, the NEST
/// neuron's lazily decayed traces and its shifted soft-max (~1e-14).
pub const TOLERANCE: f64 = 1e-12;

/// One verification scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: &'static str,
    pub config: Config,
}

/// The base scenario: a 3x2 grid, fast input, a training phase, a test
/// phase with reset, more training and another test; everything recorded.
pub fn base_config() -> Config {
    let mut c = Config {
        seed: 2013,
        ..Config::default()
    };
    c.network.grid = [3, 2];
    c.network.k_min = 2;
    c.network.k_max = 4;
    c.network.n_inputs = 10;
    c.network.n_conn = 12;
    c.network.initial_weights = InitialWeights::LogUniform;
    c.input.r_input_hz = 20.0;
    c.input.t_noise_range_ms = [60.0, 100.0];
    c.input.t_pattern_ms = vec![80.0];
    c.phases = vec![
        PhaseConfig::new("train", PhaseRole::Train, 600.0),
        PhaseConfig::new("test", PhaseRole::Test, 200.0),
        PhaseConfig::new("train2", PhaseRole::Train, 300.0),
        PhaseConfig::new("test2", PhaseRole::Test, 200.0),
    ];
    c.record.neurons = Selection::Keyword(SelectionKeyword::All);
    c.record.synapses = Selection::Keyword(SelectionKeyword::All);
    c.record.dt_rec_ms = 1.0;
    c.record.dt_rec_synapses_ms = 1.0;
    c.record.phases = vec![PhaseRole::Train, PhaseRole::ReadoutFit, PhaseRole::Test];
    c
}

/// STP on and off, variance tracking on and off, bias learning on, the
/// textbook STP, the per-synapse STP draw, half of the circuits untrained.
pub fn scenarios() -> Vec<Scenario> {
    let mut out = vec![Scenario {
        name: "original",
        config: base_config(),
    }];
    let mut add = |name: &'static str, f: &dyn Fn(&mut Config)| {
        let mut c = base_config();
        f(&mut c);
        out.push(Scenario { name, config: c });
    };
    add("stp_off", &|c| c.model.stp = StpVariant::Off);
    add("tsodyks_markram", &|c| {
        c.model.stp = StpVariant::TsodyksMarkram
    });
    add("no_variance_tracking", &|c| {
        c.model.variance_tracking = false
    });
    add("bias_learning", &|c| c.model.bias_learning = true);
    add("per_synapse_stp", &|c| {
        c.network.stp_draw = StpDraw::PerSynapse
    });
    add("train_fraction", &|c| {
        c.network.train_fraction = 0.5;
        c.model.bias_learning = true;
    });
    out
}

/// Largest deviation of one quantity.
#[derive(Debug, Clone, Serialize)]
pub struct Deviation {
    pub scenario: &'static str,
    pub quantity: &'static str,
    pub values: usize,
    pub max_abs: f64,
}

fn max_dev(a: &[f64], b: &[f64]) -> Result<(usize, f64)> {
    ensure!(
        a.len() == b.len(),
        "the engines recorded {} and {} values",
        a.len(),
        b.len()
    );
    let mut m: f64 = 0.0;
    for (x, y) in a.iter().zip(b) {
        let d = (x - y).abs();
        // NaN (a missing sample) is a failure, not a silent 0.
        m = if d.is_nan() { f64::INFINITY } else { m.max(d) };
    }
    Ok((a.len(), m))
}

/// Compares two outcomes of the same forced run.
pub fn compare(scenario: &'static str, a: &Outcome, b: &Outcome) -> Result<Vec<Deviation>> {
    ensure!(
        a.spikes == b.spikes,
        "{scenario}: the engines disagree on the forced spikes"
    );
    ensure!(
        a.recording.neuron_steps == b.recording.neuron_steps
            && a.recording.synapse_steps == b.recording.synapse_steps,
        "{scenario}: the engines sampled different steps (neuron samples {} vs {}, first {:?} vs {:?}; synapse samples {} vs {}, first {:?} vs {:?})",
        a.recording.neuron_steps.len(),
        b.recording.neuron_steps.len(),
        a.recording.neuron_steps.iter().zip(&b.recording.neuron_steps).find(|(x, y)| x != y),
        a.recording.neuron_steps.first(),
        a.recording.synapse_steps.len(),
        b.recording.synapse_steps.len(),
        a.recording.synapse_steps.iter().zip(&b.recording.synapse_steps).find(|(x, y)| x != y),
        b.recording.synapse_steps.first()
    );
    let pairs: [(&'static str, &[f64], &[f64]); 8] = [
        ("u", &a.recording.u, &b.recording.u),
        ("rho", &a.recording.rho, &b.recording.rho),
        ("weight", &a.recording.weight, &b.recording.weight),
        ("epsp", &a.recording.epsp, &b.recording.epsp),
        ("w_final", &a.weights, &b.weights),
        ("S_final", &a.s, &b.s),
        ("Q_final", &a.q, &b.q),
        ("bias_final", &a.bias, &b.bias),
    ];
    pairs
        .into_iter()
        .map(|(quantity, x, y)| {
            let (values, max_abs) = max_dev(x, y)?;
            Ok(Deviation {
                scenario,
                quantity,
                values,
                max_abs,
            })
        })
        .collect()
}

/// Runs one scenario: a free native run gives the spike trains, then both
/// engines run forced to them.
pub fn run_scenario(
    s: &Scenario,
    other: &mut dyn Engine,
    threads: usize,
) -> Result<Vec<Deviation>> {
    let free = Prepared::new(s.config.clone(), None, None)?;
    let spikes = NativeEngine.run(&free.job(1), &mut |_| {})?.spikes;
    let mut prep = free;
    prep.forced = Some(spikes);
    let native = NativeEngine.run(&prep.job(1), &mut |_| {})?;
    let theirs = other.run(&prep.job(threads), &mut |_| {})?;
    compare(s.name, &native, &theirs)
}
