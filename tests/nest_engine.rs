//! The NEST backend against the native engine. These tests need NEST (the
//! project venv): without it they say so and pass, unless
//! `SEQLEARN_REQUIRE_NEST=1` (`scripts/test.sh` sets it, so in CI they run
//! and never skip).

use seqlearn_nest::engine::native::NativeEngine;
use seqlearn_nest::engine::nest::driver::nest_available;
use seqlearn_nest::engine::nest::NestEngine;
use seqlearn_nest::engine::{Engine, Outcome};
use seqlearn_nest::model::config::{Config, PhaseRole, Selection, SelectionKeyword};
use seqlearn_nest::run::verify;
use seqlearn_nest::run::Prepared;

fn nest() -> Option<NestEngine> {
    if !nest_available() && std::env::var("SEQLEARN_NEST_MODULE").is_err() {
        assert!(
            std::env::var("SEQLEARN_REQUIRE_NEST").map_or(true, |v| v != "1"),
            "SEQLEARN_REQUIRE_NEST=1 but the crate was built without NEST"
        );
        eprintln!("NEST not available, skipping");
        return None;
    }
    std::env::set_var("OMP_WAIT_POLICY", "passive");
    Some(
        NestEngine::load().expect("NEST must load in the test environment (bash scripts/setup.sh)"),
    )
}

#[test]
fn forced_spike_scenarios_agree_to_1e_12_on_one_and_two_threads() {
    let Some(mut engine) = nest() else { return };
    for threads in [1, 2] {
        for s in verify::scenarios() {
            let devs = verify::run_scenario(&s, &mut engine, threads).unwrap();
            assert_eq!(devs.len(), 8);
            for d in devs {
                assert!(d.values > 0 || d.quantity == "bias_final");
                assert!(
                    d.max_abs <= verify::TOLERANCE,
                    "{} / {} on {threads} threads: {:e}",
                    d.scenario,
                    d.quantity,
                    d.max_abs
                );
            }
        }
    }
}

#[test]
fn a_wrong_engine_would_be_caught() {
    // The comparison itself must fail on a perturbed outcome.
    let s = &verify::scenarios()[0];
    let prep = Prepared::new(s.config.clone(), None, None).unwrap();
    let a = NativeEngine.run(&prep.job(1), &mut |_| {}).unwrap();
    let mut b = a.clone();
    b.recording.u[100] += 1e-6;
    let devs = verify::compare("perturbed", &a, &b).unwrap();
    let u = devs.iter().find(|d| d.quantity == "u").unwrap();
    assert!(u.max_abs > verify::TOLERANCE);
    b = a.clone();
    b.recording.rho[7] = f64::NAN;
    let devs = verify::compare("nan", &a, &b).unwrap();
    assert!(devs.iter().any(|d| d.max_abs.is_infinite()));
}

/// A free-running, learning network of moderate size.
fn free_config() -> Config {
    let mut c = verify::base_config();
    c.network.grid = [4, 3];
    c.network.n_inputs = 30;
    c.network.n_conn = 40;
    c.input.r_input_hz = 5.0;
    c.input.t_noise_range_ms = [300.0, 500.0];
    c.input.t_pattern_ms = vec![300.0];
    c.phases[0].duration_ms = 20_000.0;
    c.phases[1].duration_ms = 2_000.0;
    c.phases.truncate(2);
    c.record.neurons = Selection::Keyword(SelectionKeyword::All);
    c.record.synapses = Selection::Keyword(SelectionKeyword::None);
    c.record.phases = vec![PhaseRole::Test];
    c
}

fn free_run(engine: &mut dyn Engine, cfg: &Config, threads: usize) -> Outcome {
    let prep = Prepared::new(cfg.clone(), None, None).unwrap();
    engine.run(&prep.job(threads), &mut |_| {}).unwrap()
}

/// Every neuron draws from its own stream, so a free run is the same on any
/// number of threads (and deterministic for a fixed seed).
#[test]
fn free_runs_are_the_same_on_one_and_two_threads() {
    let Some(mut engine) = nest() else { return };
    let mut cfg = free_config();
    cfg.phases[0].duration_ms = 3000.0;
    let a = free_run(&mut engine, &cfg, 2);
    let b = free_run(&mut engine, &cfg, 1);
    let b2 = free_run(&mut engine, &cfg, 2);
    assert!(a.spikes.len() > 1000);
    assert_eq!(a.spikes, b.spikes);
    assert_eq!(a.weights, b.weights);
    assert_eq!((&a.bias, &a.s, &a.q), (&b.bias, &b.s, &b.q));
    assert_eq!(a.spikes, b2.spikes);
    cfg.seed += 1;
    let c = free_run(&mut engine, &cfg, 2);
    assert_ne!(a.spikes, c.spikes);
}

#[test]
fn free_runs_match_the_native_engine_statistically() {
    let Some(mut engine) = nest() else { return };
    let cfg = free_config();
    let prep = Prepared::new(cfg.clone(), None, None).unwrap();
    let nat = NativeEngine.run(&prep.job(1), &mut |_| {}).unwrap();
    let nst = engine.run(&prep.job(1), &mut |_| {}).unwrap();
    let net = &prep.network;
    let secs = prep.schedule.n_steps() as f64 * 1e-3;

    // Each circuit fires at R_max in total (rates sum to R_max); the counts
    // are Poisson-like, so per circuit 100 Hz * 22 s = 2200 +- ~47 (1 sd);
    // allow 6 sd.
    for (name, out) in [("native", &nat), ("nest", &nst)] {
        let mut per_circuit = vec![0usize; net.circuits.len()];
        for (_, k) in out.spikes.events() {
            per_circuit[net.neuron_circuit[k as usize]] += 1;
        }
        for (c, &n) in per_circuit.iter().enumerate() {
            let expect = 100.0 * secs * (1.0 - 0.005);
            assert!(
                (n as f64 - expect).abs() < 6.0 * expect.sqrt(),
                "{name}: circuit {c} fired {n} spikes, expected ~{expect:.0}"
            );
        }
        // Recorded rate fractions of every circuit sum to 1.
        let nn = net.n_neurons();
        for sample in out.recording.rho.chunks(nn) {
            for c in &net.circuits {
                let s: f64 = sample[c.first_neuron..c.first_neuron + c.k].iter().sum();
                assert!((s - 1.0).abs() < 1e-12, "{name}: rho sums to {s}");
            }
        }
    }

    // The learned weight distributions agree: mean and spread of the final
    // weights within 10 % (both engines learn the same rule from the same
    // input; only the spike draws differ).
    let stats = |w: &[f64]| {
        let m = w.iter().sum::<f64>() / w.len() as f64;
        let sd = (w.iter().map(|x| (x - m).powi(2)).sum::<f64>() / w.len() as f64).sqrt();
        (m, sd)
    };
    let (mn, sn) = stats(&nat.weights);
    let (mt, st) = stats(&nst.weights);
    assert!(sn > 0.1, "weights moved: sd {sn}");
    assert!(
        (mn - mt).abs() < 0.1 * mn.abs().max(sn),
        "mean {mn} vs {mt}"
    );
    assert!((sn - st).abs() < 0.1 * sn, "sd {sn} vs {st}");
}

#[test]
fn bad_configuration_is_an_error_not_a_crash() {
    let Some(mut engine) = nest() else { return };
    let mut cfg = verify::base_config();
    cfg.model.learn_input = false;
    let prep = Prepared::new(cfg, None, None).unwrap();
    let err = engine.run(&prep.job(1), &mut |_| {}).unwrap_err();
    assert!(seqlearn_nest::error::is_usage(&err));
    assert!(format!("{err:#}").contains("native"));
    // The kernel stays usable afterwards.
    let ok = free_run(&mut engine, &verify::base_config(), 1);
    assert!(!ok.spikes.is_empty());
}

#[test]
fn thinned_recording_of_some_phases_matches_the_native_engine() {
    // Samples every 7 ms of a few neurons, only in the test phases, which
    // span several 1 s run chunks: the NEST engine drains the neurons' trace
    // recordings per chunk and must give the native sample grid and values.
    let Some(mut engine) = nest() else { return };
    let mut cfg = verify::base_config();
    cfg.phases[1].duration_ms = 2_300.0;
    cfg.record.neurons = Selection::Random { random: 5 };
    cfg.record.synapses = Selection::Keyword(SelectionKeyword::None);
    cfg.record.dt_rec_ms = 7.0;
    cfg.record.phases = vec![PhaseRole::Test];
    let free = Prepared::new(cfg, None, None).unwrap();
    let spikes = NativeEngine.run(&free.job(1), &mut |_| {}).unwrap().spikes;
    let mut prep = free;
    prep.forced = Some(spikes);
    let nat = NativeEngine.run(&prep.job(1), &mut |_| {}).unwrap();
    for threads in [1, 2] {
        let nst = engine.run(&prep.job(threads), &mut |_| {}).unwrap();
        let want: Vec<u64> = prep
            .schedule
            .phases
            .iter()
            .filter(|p| p.role == PhaseRole::Test)
            .flat_map(|p| (p.start..p.end).filter(|t| t % 7 == 0))
            .collect();
        assert_eq!(nst.recording.neuron_steps, want);
        assert_eq!(nst.recording.u.len(), want.len() * 5);
        for d in verify::compare("thinned", &nat, &nst).unwrap() {
            assert!(
                d.max_abs <= verify::TOLERANCE,
                "{} on {threads} threads: {:e}",
                d.quantity,
                d.max_abs
            );
        }
    }
}
