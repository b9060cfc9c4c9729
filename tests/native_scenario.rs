//! Forced-spike scenarios: every recorded value of the native engine is
//! checked against an independent, naive transcription of model.md §2–§4
//! written here (per-step loops over plain arrays, the literal `isi` counter
//! and the literal `U`/`s` aliasing of the original).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use seqlearn_nest::engine::native::{self, NativeEngine, Stage};
use seqlearn_nest::engine::{Engine, Job};
use seqlearn_nest::model::config::{
    Config, PhaseConfig, PhaseRole, Selection, SelectionKeyword, StpVariant,
};
use seqlearn_nest::model::input::{self, Schedule, StepSpikes};
use seqlearn_nest::model::network::Network;
use seqlearn_nest::model::record::RecordPlan;

fn scenario_config() -> Config {
    let mut c = Config {
        seed: 99,
        ..Config::default()
    };
    c.network.grid = [2, 2];
    c.network.k_min = 2;
    c.network.k_max = 3;
    c.network.n_inputs = 6;
    c.network.n_conn = 8;
    c.network.initial_weights = seqlearn_nest::model::config::InitialWeights::LogUniform;
    c.input.t_noise_range_ms = [50.0, 80.0];
    c.input.t_pattern_ms = vec![60.0];
    c.input.r_input_hz = 40.0;
    c.phases = vec![
        PhaseConfig::new("train", PhaseRole::Train, 500.0),
        PhaseConfig::new("fit", PhaseRole::ReadoutFit, 150.0),
        PhaseConfig::new("train2", PhaseRole::Train, 150.0),
        PhaseConfig::new("test", PhaseRole::Test, 200.0),
    ];
    c.record.neurons = Selection::Keyword(SelectionKeyword::All);
    c.record.synapses = Selection::Keyword(SelectionKeyword::All);
    c.record.dt_rec_ms = 1.0;
    c.record.dt_rec_synapses_ms = 1.0;
    c.record.phases = vec![PhaseRole::Train, PhaseRole::ReadoutFit, PhaseRole::Test];
    c
}

/// Random forced network spikes at about 60 Hz per neuron, with bursts in
/// consecutive steps so that the STP edge cases occur.
fn forced_spikes(n: usize, steps: u64, seed: u64) -> StepSpikes {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ev = Vec::new();
    for t in 0..steps {
        for k in 0..n {
            if rng.random::<f64>() < 0.06 {
                ev.push((t, k as u32));
                if rng.random::<f64>() < 0.3 && t + 1 < steps {
                    ev.push((t + 1, k as u32));
                }
            }
        }
    }
    StepSpikes::from_events(n, steps, ev)
}

/// What the naive reference records, in the engine's layout.
struct Reference {
    u: Vec<f64>,
    rho: Vec<f64>,
    w: Vec<f64>,
    y: Vec<f64>,
    w_final: Vec<f64>,
    bias_final: Vec<f64>,
}

/// model.md §2 literally, one step at a time, per-source STP state.
fn naive(
    cfg: &Config,
    net: &Network,
    sched: &Schedule,
    inp: &StepSpikes,
    forced: &StepSpikes,
) -> Reference {
    let m = &cfg.model;
    let dt = m.dt_ms;
    let ns = net.n_sources();
    let nn = net.n_neurons();
    let mut e = vec![0.0f64; ns];
    let mut f = vec![0.0f64; ns];
    let mut big_r = vec![1.0f64; ns];
    let mut isi = vec![0.0f64; ns];
    // U and s: in the original one array (aliased); the textbook keeps U.
    let mut u_arr: Vec<f64> = net.source_stp.iter().map(|p| p.u).collect();
    let mut s_arr = u_arr.clone();
    let mut w: Vec<f64> = net.synapses.iter().map(|s| s.w0).collect();
    let mut sv = vec![0.0; w.len()];
    let mut qv = vec![1.0; w.len()];
    let mut b = vec![0.0; nn];
    let mut bs = vec![0.0; nn];
    let mut bq = vec![1.0; nn];
    let mut n_train = 0u64;
    let mut out = Reference {
        u: vec![],
        rho: vec![],
        w: vec![],
        y: vec![],
        w_final: vec![],
        bias_final: vec![],
    };
    for ph in &sched.phases {
        if ph.reset {
            for j in 0..ns {
                e[j] = 0.0;
                f[j] = 0.0;
                big_r[j] = 1.0;
                isi[j] = 0.0;
                s_arr[j] = u_arr[j];
            }
        }
        for t in ph.start..ph.end {
            let yv: Vec<f64> = (0..ns).map(|j| e[j] - f[j]).collect();
            let mut u = vec![0.0; nn];
            for k in 0..nn {
                u[k] = b[k];
                for (si, syn) in net.synapses.iter().enumerate() {
                    if syn.target == k {
                        u[k] += w[si] * yv[syn.source];
                    }
                }
            }
            let mut rho = vec![0.0; nn];
            for c in &net.circuits {
                let z: f64 = (c.first_neuron..c.first_neuron + c.k)
                    .map(|l| u[l].exp())
                    .sum();
                for k in c.first_neuron..c.first_neuron + c.k {
                    rho[k] = u[k].exp() / z;
                }
            }
            out.u.extend_from_slice(&u);
            out.rho.extend_from_slice(&rho);
            out.w.extend_from_slice(&w);
            out.y.extend(net.synapses.iter().map(|s| yv[s.source]));
            let mut spk = vec![0.0; ns];
            for &c in inp.at(t) {
                spk[c as usize] = 1.0;
            }
            let mut z = vec![false; nn];
            for &k in forced.at(t) {
                z[k as usize] = true;
                spk[net.n_inputs + k as usize] = 1.0;
            }
            let amp = |j: usize, r: &[f64], s: &[f64]| -> f64 {
                let static_input = m.stp == StpVariant::TsodyksMarkram && j < net.n_inputs;
                if m.stp == StpVariant::Off || static_input {
                    1.0
                } else {
                    r[j] * s[j]
                }
            };
            for j in 0..ns {
                let a = amp(j, &big_r, &s_arr);
                e[j] += spk[j] * a - e[j] * dt / m.tau_decay_ms;
                f[j] += spk[j] * a - f[j] * dt / m.tau_rise_ms;
            }
            if ph.train {
                n_train += 1;
                for (si, syn) in net.synapses.iter().enumerate() {
                    // untrained circuits (train_fraction) never learn
                    if !z[syn.target] || !net.is_trained(syn.target) {
                        continue;
                    }
                    let eta = if m.variance_tracking {
                        m.eta * (qv[si] - sv[si] * sv[si]) / ((-sv[si]).exp() + 1.0)
                    } else {
                        m.eta / n_train as f64
                    };
                    let p = w[si].exp();
                    w[si] += eta * (yv[syn.source] - p) / p.max(eta);
                    if m.variance_tracking {
                        sv[si] += eta * (w[si] - sv[si]);
                        qv[si] += eta * (w[si] * w[si] - qv[si]);
                    }
                }
                if m.bias_learning {
                    for k in (0..nn).filter(|&k| net.is_trained(k)) {
                        let eta = if m.variance_tracking {
                            m.eta * (bq[k] - bs[k] * bs[k]) / ((-bs[k]).exp() + 1.0)
                        } else {
                            m.eta / n_train as f64
                        };
                        let p = b[k].exp();
                        let zk = if z[k] { 1.0 } else { 0.0 };
                        b[k] += eta * (zk - p) / p.max(eta);
                        if m.variance_tracking {
                            bs[k] += eta * (b[k] - bs[k]);
                            bq[k] += eta * (b[k] * b[k] - bq[k]);
                        }
                    }
                }
            }
            for j in 0..ns {
                if spk[j] == 0.0 {
                    continue;
                }
                let p = &net.source_stp[j];
                let static_input = m.stp == StpVariant::TsodyksMarkram && j < net.n_inputs;
                let eps = f64::EPSILON;
                match m.stp {
                    StpVariant::Off => {}
                    _ if static_input => {}
                    StpVariant::Original => {
                        let (r0, s0) = (big_r[j], s_arr[j]);
                        big_r[j] = 1.0 + (r0 - r0 * s0 - 1.0) * (-isi[j] / (p.d + eps)).exp();
                        // U is s: U + s(1-U)e^.. with U == s.
                        s_arr[j] = u_arr[j] + s0 * (1.0 - u_arr[j]) * (-isi[j] / (p.f + eps)).exp();
                        u_arr[j] = s_arr[j];
                    }
                    StpVariant::TsodyksMarkram => {
                        let (r0, s0) = (big_r[j], s_arr[j]);
                        s_arr[j] = u_arr[j] + s0 * (1.0 - u_arr[j]) * (-isi[j] / (p.f + eps)).exp();
                        big_r[j] = 1.0 + (r0 - r0 * s_arr[j] - 1.0) * (-isi[j] / (p.d + eps)).exp();
                    }
                }
            }
            for j in 0..ns {
                isi[j] += dt;
                if spk[j] != 0.0 {
                    isi[j] = 0.0;
                }
            }
        }
    }
    out.w_final = w;
    out.bias_final = b;
    out
}

fn max_dev(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// A configuration's network, schedule, input and recording plan: what a
/// [`Job`] borrows.
struct Parts {
    net: Network,
    sched: Schedule,
    inp: input::Input,
    plan: RecordPlan,
}

impl Parts {
    fn new(c: &Config) -> Parts {
        let net = Network::build(c).unwrap();
        let sched = Schedule::from_config(c);
        let inp = input::generate(c, &sched);
        let plan = RecordPlan::from_config(c, &net, &sched).unwrap();
        Parts {
            net,
            sched,
            inp,
            plan,
        }
    }

    fn job<'a>(&'a self, c: &Config, forced: Option<&'a StepSpikes>, seed: u64) -> Job<'a> {
        Job {
            network: &self.net,
            model: c.model,
            input: &self.inp.spikes,
            schedule: &self.sched,
            forced,
            record: &self.plan,
            seed,
            threads: 1,
        }
    }
}

fn check(cfg: Config) {
    let parts = Parts::new(&cfg);
    let (net, sched) = (&parts.net, &parts.sched);
    let forced = forced_spikes(net.n_neurons(), sched.n_steps(), cfg.seed);
    let job = parts.job(&cfg, Some(&forced), cfg.seed);
    let out = NativeEngine.run(&job, &mut |_| {}).unwrap();
    let r = naive(&cfg, net, sched, &parts.inp.spikes, &forced);
    assert_eq!(out.spikes, forced, "forced spikes are the spikes");
    let tol = 1e-12;
    let dev = [
        ("u", max_dev(&out.recording.u, &r.u)),
        ("rho", max_dev(&out.recording.rho, &r.rho)),
        ("weight", max_dev(&out.recording.weight, &r.w)),
        ("epsp", max_dev(&out.recording.epsp, &r.y)),
        ("w_final", max_dev(&out.weights, &r.w_final)),
        ("bias_final", max_dev(&out.bias, &r.bias_final)),
    ];
    for (what, d) in dev {
        assert!(d <= tol, "{what}: max deviation {d:e}");
    }
    // The run is not trivial: weights moved, EPSPs are non-zero.
    assert!(
        max_dev(
            &out.weights,
            &net.synapses.iter().map(|s| s.w0).collect::<Vec<_>>()
        ) > 1e-3
    );
    assert!(r.y.iter().any(|y| y.abs() > 0.1));
}

#[test]
fn original_model_matches_naive_transcription() {
    check(scenario_config());
}

#[test]
fn textbook_stp_matches() {
    let mut c = scenario_config();
    c.model.stp = StpVariant::TsodyksMarkram;
    check(c);
}

#[test]
fn stp_off_and_no_variance_tracking_match() {
    let mut c = scenario_config();
    c.model.stp = StpVariant::Off;
    c.model.variance_tracking = false;
    check(c);
}

#[test]
fn bias_learning_matches() {
    let mut c = scenario_config();
    c.model.bias_learning = true;
    check(c);
}

#[test]
fn untrained_circuits_match_and_never_learn() {
    let mut c = scenario_config();
    c.network.train_fraction = 0.5;
    c.model.bias_learning = true;
    let net = Network::build(&c).unwrap();
    assert_eq!(net.circuits.iter().filter(|c| c.trained).count(), 2);
    check(c);
}

#[test]
fn per_synapse_stp_draw_runs_and_keeps_rates_normalised() {
    let mut c = scenario_config();
    c.network.stp_draw = seqlearn_nest::model::config::StpDraw::PerSynapse;
    let parts = Parts::new(&c);
    let net = &parts.net;
    let out = NativeEngine
        .run(&parts.job(&c, None, 5), &mut |_| {})
        .unwrap();
    let nn = net.n_neurons();
    for sample in out.recording.rho.chunks(nn) {
        for c in &net.circuits {
            let s: f64 = sample[c.first_neuron..c.first_neuron + c.k].iter().sum();
            assert!((s - 1.0).abs() < 1e-12);
        }
    }
}

#[test]
fn profiled_run_is_the_same_run_and_counts_its_work() {
    // A free run (spikes drawn) with learning in every phase but the test.
    let c = scenario_config();
    let parts = Parts::new(&c);
    let (net, sched, inp) = (&parts.net, &parts.sched, &parts.inp);
    let job = parts.job(&c, None, 3);
    let plain = NativeEngine.run(&job, &mut |_| {}).unwrap();
    let (out, p) = native::run_profiled(&job, &mut |_| {}).unwrap();
    assert_eq!(out, plain, "the clocks change nothing of the run");
    assert_eq!(p.steps, sched.n_steps());
    // The work, counted here from the run's spikes: every spike of a
    // training step updates the neuron's in-degree; every spiking source
    // (input channel, then neuron) adds its jump along its out-degree.
    let mut out_degree = vec![0u64; net.n_sources()];
    for s in &net.synapses {
        out_degree[s.source] += 1;
    }
    let (mut stdp, mut jumps) = (0u64, 0u64);
    for ph in &sched.phases {
        for t in ph.start..ph.end {
            for &k in out.spikes.at(t) {
                let k = k as usize;
                if ph.train {
                    stdp += net.incoming(k).len() as u64;
                }
                jumps += out_degree[net.neuron_source(k)];
            }
            jumps += inp
                .spikes
                .at(t)
                .iter()
                .map(|&j| out_degree[j as usize])
                .sum::<u64>();
        }
    }
    assert!(stdp > 0 && jumps > 0);
    assert_eq!(p.stdp_synapses, stdp);
    assert_eq!(p.deliveries, jumps);
    for st in Stage::ALL {
        let s = p.seconds[st as usize];
        assert!(s.is_finite() && s >= 0.0, "{}: {s}", st.name());
    }
    assert!(p.seconds[Stage::Learn as usize] > 0.0);
    assert!(p.seconds[Stage::SoftWta as usize] > 0.0);
}
