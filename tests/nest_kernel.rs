//! Integration tests of the NEST driver (`seqlearn_nest::engine::nest::driver`):
//! the coarse calls of the engine (one network spec, phases, read-outs) and
//! the generic status access. The module's fine-grained status behaviour is
//! tested from PyNEST (`tests/python/test_pynest_module.py`).
//!
//! They need NEST (build.rs sets `cfg(seqlearn_has_nest)` when it found it
//! and compiled the module). Without NEST they print why and pass, unless
//! `SEQLEARN_REQUIRE_NEST=1`, in which case they fail.

use seqlearn_nest::engine::kernels::{SpikeLaw, StpVariant};
use seqlearn_nest::engine::nest::driver::{
    nest_available, NestKernel, NetworkSpec, NeuronParams, NeuronSpec, Output, RecordedSlot,
    StatusTarget, StatusValue, Synapses, ValueKind,
};
use seqlearn_nest::model::params::{self, NestModel, Value};

fn kernel() -> Option<NestKernel> {
    if !nest_available() && std::env::var("SEQLEARN_NEST_MODULE").is_err() {
        assert!(
            std::env::var("SEQLEARN_REQUIRE_NEST").map_or(true, |v| v != "1"),
            "SEQLEARN_REQUIRE_NEST=1 but the crate was built without NEST"
        );
        eprintln!("NEST not available, skipping");
        return None;
    }
    std::env::set_var("OMP_WAIT_POLICY", "passive");
    Some(NestKernel::load().expect("loading NEST"))
}

const TOL: f64 = 1e-12;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= TOL * (1.0 + a.abs().max(b.abs()))
}

fn default_params() -> NeuronParams {
    let d = params::ModelParams::default();
    NeuronParams {
        r_max: d.r_max_hz,
        tau_decay: d.tau_decay_ms,
        tau_rise: d.tau_rise_ms,
        eta: d.eta,
        variance_tracking: d.variance_tracking,
        bias_learning: d.bias_learning,
        spike_law: SpikeLaw::Exponential,
    }
}

/// The arrays of a network spec.
struct Arrays {
    neurons: Vec<NeuronSpec>,
    weights: Vec<f64>,
    input_offsets: Vec<usize>,
    input_steps: Vec<u64>,
    syn: [Vec<u32>; 3],
    stp: [Vec<f64>; 3],
    resets: Vec<u64>,
    forced_offsets: Vec<usize>,
    forced_steps: Vec<u64>,
    recorded: Vec<u32>,
    recorded_synapses: Vec<RecordedSlot>,
}

impl Arrays {
    fn spec(&self) -> NetworkSpec<'_> {
        let none: &[u32] = &[];
        let nothing: &[f64] = &[];
        NetworkSpec {
            params: default_params(),
            neurons: &self.neurons,
            weights: &self.weights,
            input_offsets: &self.input_offsets,
            input_steps: &self.input_steps,
            input_synapses: Synapses {
                source: &self.syn[0],
                target: &self.syn[1],
                slot: &self.syn[2],
                u: &self.stp[0],
                d: &self.stp[1],
                f: &self.stp[2],
                variant: StpVariant::Original,
            },
            recurrent_synapses: Synapses {
                source: none,
                target: none,
                slot: none,
                u: nothing,
                d: nothing,
                f: nothing,
                variant: StpVariant::Original,
            },
            reset_steps: &self.resets,
            forced: true,
            forced_offsets: &self.forced_offsets,
            forced_steps: &self.forced_steps,
            recorded_neurons: &self.recorded,
            recorded_synapses: &self.recorded_synapses,
            synapse_interval: 1,
        }
    }
}

/// Two neurons in one circuit, two inputs (U = 1, D = F = 1 ms, the
/// original's input STP); neuron 0 is forced to spike at 4 and 12, neuron 1
/// at 7; both neurons' traces recorded every step when switched on.
fn tiny() -> Arrays {
    let mut a = Arrays {
        neurons: vec![
            NeuronSpec {
                circuit_size: 2,
                circuit_index: 0,
                n_incoming: 2,
                bias: 0.0,
                trained: true,
            },
            NeuronSpec {
                circuit_size: 2,
                circuit_index: 1,
                n_incoming: 2,
                bias: 0.0,
                trained: true,
            },
        ],
        weights: vec![0.5, -0.25, 0.0, 0.3],
        // input 0 spikes at native steps 2, 3 and 10; input 1 at 5
        input_offsets: vec![0, 3, 4],
        input_steps: vec![2, 3, 10, 5],
        syn: [Vec::new(), Vec::new(), Vec::new()],
        stp: [Vec::new(), Vec::new(), Vec::new()],
        resets: Vec::new(),
        forced_offsets: vec![0, 2, 3],
        forced_steps: vec![4, 12, 7],
        recorded: vec![0, 1],
        recorded_synapses: vec![RecordedSlot { target: 1, slot: 1 }],
    };
    for slot in 0..2u32 {
        for n in 0..2u32 {
            a.syn[0].push(slot);
            a.syn[1].push(n);
            a.syn[2].push(slot);
            for p in &mut a.stp {
                p.push(1.0);
            }
        }
    }
    a
}

fn build(k: &NestKernel, a: &Arrays, threads: u32, learning: bool) {
    k.call(|k| k.reset(threads, 12345)).unwrap();
    k.call(|k| k.build(&a.spec())).unwrap();
    k.call(|k| k.set_learning(learning)).unwrap();
}

fn simulate(k: &NestKernel, steps: u64) {
    k.call(|k| k.prepare()).unwrap();
    k.call(|k| k.run(steps)).unwrap();
    k.call(|k| k.cleanup()).unwrap();
}

fn spikes(k: &NestKernel) -> Vec<(u64, u32)> {
    let mut out = Output::default();
    k.take(|k, o| k.take_spikes(o), &mut out).unwrap();
    let mut s: Vec<(u64, u32)> = out.spike_steps.into_iter().zip(out.spike_neurons).collect();
    s.sort_unstable();
    s
}

fn traces(k: &NestKernel) -> Output {
    let mut out = Output::default();
    k.take(|k, o| k.take_traces(o), &mut out).unwrap();
    out
}

fn status(k: &NestKernel, t: StatusTarget, key: &str) -> anyhow::Result<StatusValue> {
    k.call(|k| k.get_status(&t, key))
}

fn vector(k: &NestKernel, neuron: u32, key: &str) -> Vec<f64> {
    status(k, StatusTarget::neuron(neuron), key)
        .unwrap()
        .numbers
}

fn number(k: &NestKernel, t: StatusTarget, key: &str) -> f64 {
    status(k, t, key).unwrap().number
}

fn set(k: &NestKernel, t: StatusTarget, key: &str, v: StatusValue) -> anyhow::Result<()> {
    k.call(|k| k.set_status(&t, key, &v))
}

fn learned(k: &NestKernel, n_syn: usize, n_neurons: usize) -> (Vec<f64>, Vec<f64>) {
    let (mut w, mut s, mut q) = (vec![0.0; n_syn], vec![0.0; n_syn], vec![0.0; n_syn]);
    let mut b = vec![0.0; n_neurons];
    k.call(|k| k.final_state(&mut w, &mut s, &mut q, &mut b))
        .unwrap();
    (w, b)
}

/// The amplitudes of input 0 (spikes at 2, 3, 10; original STP, U = 1,
/// D = F = 1 ms) and its final R, s: model.md §4 by hand.
fn input0_stp() -> ([f64; 20], f64, f64) {
    let eps = f64::EPSILON;
    let (mut r, mut s) = (1.0_f64, 1.0_f64);
    let mut amp = [0.0; 20];
    let mut last = -1_i64;
    for ts in [2_i64, 3, 10] {
        let isi = (ts - last - 1) as f64;
        amp[ts as usize] = r * s;
        let r2 = 1.0 + (r - r * s - 1.0) * (-isi / (1.0 + eps)).exp();
        let s2 = s + s * (1.0 - s) * (-isi / (1.0 + eps)).exp();
        r = r2;
        s = s2;
        last = ts;
    }
    (amp, r, s)
}

#[test]
fn forced_spikes_traces_and_stp_follow_the_model() {
    let Some(k) = kernel() else { return };
    let a = tiny();
    build(&k, &a, 1, false);
    k.call(|k| k.set_trace_recording(true, 1)).unwrap();
    simulate(&k, 20);
    assert_eq!(k.call(|k| k.kernel_steps()).unwrap(), 20);
    // the forced spikes, at native steps
    assert_eq!(spikes(&k), vec![(4, 0), (7, 1), (12, 0)]);

    // the slot-0 traces at the end of step 19, by hand (the spike of step
    // ts arrives at ts + 1)
    let (amp, r, s) = input0_stp();
    let (kd, kr) = (1.0 / 20.0, 1.0 / 2.0);
    let (mut e, mut f) = (0.0_f64, 0.0_f64);
    for step in 0..20usize {
        let a = if step >= 1 { amp[step - 1] } else { 0.0 };
        e += a - e * kd;
        f += a - f * kr;
    }
    for n in 0..2 {
        let (ee, ff) = (vector(&k, n, "epsp_e"), vector(&k, n, "epsp_f"));
        assert!(close(ee[0], e), "e {} vs {}", ee[0], e);
        assert!(close(ff[0], f), "f {} vs {}", ff[0], f);
    }
    let syn = |src, n, key| number(&k, StatusTarget::synapse(src, n), key);
    assert!(close(syn(0, 0, "R"), r) && close(syn(0, 0, "s"), s) && close(syn(0, 0, "U"), s));
    // one spike with isi = 5: R = 1 + (1 - 1 - 1) e^{-5}, s stays 1
    let eps = f64::EPSILON;
    assert!(close(syn(1, 1, "R"), 1.0 - (-5.0 / (1.0 + eps)).exp()));

    // rho of the circuit sums to one in every step (the trace recording has
    // every step, the last one included); learning off: weights kept
    let tr = traces(&k);
    assert_eq!(tr.trace_steps, (0..20).collect::<Vec<u64>>());
    for i in 0..20 {
        let sum = tr.rho[2 * i] + tr.rho[2 * i + 1];
        assert!((sum - 1.0).abs() < 1e-12, "step {i}: sum rho = {sum}");
    }
    assert_eq!(learned(&k, 4, 2).0, a.weights);
    assert_eq!(number(&k, StatusTarget::neuron(0), "n_train_steps"), 0.0);
}

#[test]
fn chunked_runs_equal_one_run_and_two_threads_one() {
    let Some(k) = kernel() else { return };
    let a = tiny();
    // one run of 40 steps, learning on
    build(&k, &a, 1, true);
    k.call(|k| k.set_trace_recording(true, 1)).unwrap();
    simulate(&k, 40);
    let (w_long, _) = learned(&k, 4, 2);
    let tr_long = traces(&k);
    let sp_long = spikes(&k);
    assert_eq!(sp_long.len(), 3);
    assert_eq!(number(&k, StatusTarget::neuron(0), "n_train_steps"), 40.0);
    assert_ne!(w_long, a.weights, "learning changed nothing");

    // the same in chunks, read inside the Prepare/Cleanup context too
    build(&k, &a, 1, true);
    k.call(|k| k.set_trace_recording(true, 1)).unwrap();
    k.call(|k| k.prepare()).unwrap();
    let mut tr = Output::default();
    let mut sp = Vec::new();
    for chunk in [7, 1, 12, 20] {
        k.call(|k| k.run(chunk)).unwrap();
        k.take(|k, o| k.take_traces(o), &mut tr).unwrap();
        sp.extend(spikes(&k));
    }
    k.call(|k| k.cleanup()).unwrap();
    sp.extend(spikes(&k));
    sp.sort_unstable();
    assert_eq!(learned(&k, 4, 2).0, w_long);
    assert_eq!(
        (&tr.trace_steps, &tr.u, &tr.rho),
        (&tr_long.trace_steps, &tr_long.u, &tr_long.rho)
    );
    assert_eq!(sp, sp_long);

    // two threads give the same result in forced mode
    build(&k, &a, 2, true);
    simulate(&k, 40);
    assert_eq!(learned(&k, 4, 2).0, w_long);
}

#[test]
fn errors_come_back_as_err_and_the_kernel_keeps_working() {
    let Some(k) = kernel() else { return };
    let a = tiny();
    build(&k, &a, 1, true);
    simulate(&k, 10);
    let n0 = StatusTarget::neuron(0);
    assert!(set(&k, n0, "spike_law", StatusValue::text("bogus")).is_err());
    assert!(set(&k, n0, "tau_decay", StatusValue::number(-1.0)).is_err());
    assert!(set(&k, n0, "no_such_parameter", StatusValue::number(1.0)).is_err());
    assert!(set(&k, n0, "weights", StatusValue::numbers(&[1.0])).is_err());
    assert!(status(&k, n0, "no_such_key").is_err());
    assert!(status(&k, StatusTarget::neuron(7), "weights").is_err());
    // slot 1 is connected: n_incoming cannot shrink below 2
    assert!(set(&k, n0, "n_incoming", StatusValue::number(1.0)).is_err());
    // far too many slots: an error naming the key, not an allocation abort
    let err = set(&k, n0, "n_incoming", StatusValue::number(2f64.powi(62))).unwrap_err();
    assert!(format!("{err:#}").contains("n_incoming"), "{err:#}");
    assert_eq!(vector(&k, 0, "weights").len(), 2);
    let err = k.call(|k| k.run(1)).unwrap_err();
    assert!(format!("{err:#}").contains("prepare"), "{err:#}");
    let w = vector(&k, 0, "weights");

    // bad specs are refused: a slot that does not exist, circuits that are
    // not consecutive, a second build
    let mut bad = tiny();
    bad.syn[2][0] = 7;
    k.call(|k| k.reset(1, 1)).unwrap();
    let err = k.call(|k| k.build(&bad.spec())).unwrap_err();
    assert!(
        format!("{err:#}").to_lowercase().contains("receptor"),
        "{err:#}"
    );
    let mut bad = tiny();
    bad.neurons[0].circuit_index = 1;
    k.call(|k| k.reset(1, 1)).unwrap();
    let err = k.call(|k| k.build(&bad.spec())).unwrap_err();
    assert!(format!("{err:#}").contains("consecutive"), "{err:#}");
    build(&k, &a, 1, true);
    assert!(k.call(|k| k.build(&a.spec())).is_err());
    // the kernel still works afterwards
    simulate(&k, 10);
    assert_eq!(vector(&k, 0, "weights"), w);
}

#[test]
fn a_reset_zeroes_the_traces_and_restarts_stp() {
    // reset at step 6: traces zeroed at 6, the input spike of step 5
    // (arriving at 6) is discarded, STP restarts lazily at the spike of
    // step 10 (R = 1)
    let Some(k) = kernel() else { return };
    let mut a = tiny();
    a.resets = vec![6];
    build(&k, &a, 1, false);
    simulate(&k, 20);
    for n in 0..2 {
        let (ee, ff) = (vector(&k, n, "epsp_e"), vector(&k, n, "epsp_f"));
        assert!(close(ee[0], 0.95_f64.powi(8)), "e after reset {}", ee[0]);
        assert!(close(ff[0], 0.5_f64.powi(8)), "f after reset {}", ff[0]);
        assert_eq!((ee[1], ff[1]), (0.0, 0.0));
        assert_eq!(vector(&k, n, "reset_times"), vec![6.0]);
    }
    let r = number(&k, StatusTarget::synapse(0, 0), "R");
    assert!(close(r, 1.0 - (-4.0 / (1.0 + f64::EPSILON)).exp()), "R {r}");
}

/// The neurons' trace recording: complete after each run (no lag), drained
/// inside a context, thinned on the native grid, switched between runs;
/// bad intervals and mismatched samples are errors that change nothing.
#[test]
fn trace_recording_drains_thins_and_rejects_bad_input() {
    let Some(k) = kernel() else { return };
    let a = tiny();
    build(&k, &a, 1, true);
    let range = |a: u64, b: u64| -> Vec<u64> { (a..=b).collect() };

    // off by default
    simulate(&k, 5); // steps 0..=4
    let t = traces(&k);
    assert!(t.trace_steps.is_empty() && t.u.is_empty() && t.rho.is_empty());

    // on every step, drained inside one context: a run's samples are
    // complete when it returns; blocks are appended after what the output
    // holds
    k.call(|k| k.set_trace_recording(true, 1)).unwrap();
    k.call(|k| k.prepare()).unwrap();
    k.call(|k| k.run(7)).unwrap(); // steps 5..=11
    let mut out = Output {
        u: vec![-1.0],
        rho: vec![-2.0],
        ..Output::default()
    };
    k.take(|k, o| k.take_traces(o), &mut out).unwrap();
    assert_eq!(out.trace_steps, range(5, 11));
    k.call(|k| k.run(13)).unwrap(); // steps 12..=24
    k.take(|k, o| k.take_traces(o), &mut out).unwrap();
    k.call(|k| k.cleanup()).unwrap();
    assert_eq!(out.trace_steps, range(5, 24));
    assert_eq!((out.u[0], out.rho[0]), (-1.0, -2.0));
    assert_eq!(out.u.len(), 1 + 2 * out.trace_steps.len());
    let (u, rho) = (&out.u[1..], &out.rho[1..]);
    // drained means cleared
    assert!(traces(&k).trace_steps.is_empty());
    // not vacuous: the potentials move and the circuit's rho sums to one
    assert!((0..20).any(|i| u[2 * i] != u[0]));
    for i in 0..20 {
        assert!((rho[2 * i] + rho[2 * i + 1] - 1.0).abs() < 1e-12);
    }

    // thinning on the native grid: t % 3 == 0
    k.call(|k| k.set_trace_recording(true, 3)).unwrap();
    simulate(&k, 10); // steps 25..=34
    assert_eq!(traces(&k).trace_steps, vec![27, 30, 33]);

    // bad intervals are errors that name the parameter and change nothing
    for bad in [0, 1 << 60] {
        let err = k.call(|k| k.set_trace_recording(true, bad)).unwrap_err();
        assert!(
            format!("{err:#}").contains("trace_recording_interval"),
            "interval {bad}: {err:#}"
        );
    }
    simulate(&k, 6); // steps 35..=40
    assert_eq!(traces(&k).trace_steps, vec![36, 39]);

    // neurons that sampled other steps cannot be taken as one block: the
    // error names the neuron and nothing is taken
    set(
        &k,
        StatusTarget::neuron(1),
        "record_traces",
        StatusValue::flag(false),
    )
    .unwrap();
    simulate(&k, 4); // steps 41..=44
    let mut out = Output::default();
    let err = k.take(|k, o| k.take_traces(o), &mut out).unwrap_err();
    assert!(
        format!("{err:#}").contains("neuron 1 recorded other steps"),
        "{err:#}"
    );
    assert!(out.trace_steps.is_empty() && out.u.is_empty());
    assert_eq!(
        status(&k, StatusTarget::neuron(0), "trace_recording")
            .map(|v| v.kind)
            .ok(),
        None,
        "trace_recording is a dictionary, not a value"
    );
}

#[test]
fn synapse_traces_are_the_slot_recording() {
    let Some(k) = kernel() else { return };
    let a = tiny();
    build(&k, &a, 1, true);
    simulate(&k, 15);
    let mut out = Output::default();
    k.take(|k, o| k.take_synapse_traces(o), &mut out).unwrap();
    assert_eq!(out.synapse_steps, (0..15).collect::<Vec<u64>>());
    assert!(out.synapses.iter().all(|&s| s == 0));
    // weight at the start of the step: the initial one until the neuron's
    // first spike (step 7), then learned
    assert!(out.weights[..8].iter().all(|&w| w == 0.3));
    assert_ne!(out.weights[8], 0.3);
    // Y of slot 1 (input 1 spikes at 5, amplitude 1): 0 until 6, then
    // e - f of one jump
    assert!(out.epsps[..7].iter().all(|&y| y == 0.0));
    assert!(close(out.epsps[7], 0.45), "Y(7) = {}", out.epsps[7]);
    // drained
    let mut again = Output::default();
    k.take(|k, o| k.take_synapse_traces(o), &mut again).unwrap();
    assert!(again.synapse_steps.is_empty());
}

/// `GetDefaults` of both models equals the model's parameter table
/// (src/model/params.rs, the source of cpp/seqlearn_parameters.h).
#[test]
fn module_defaults_equal_the_parameter_table() {
    let Some(k) = kernel() else { return };
    k.call(|k| k.reset(1, 1)).unwrap();
    let mut checked = 0;
    for p in params::table() {
        let Some((model, key)) = p.nest else { continue };
        let target = match model {
            NestModel::Neuron => StatusTarget::neuron_defaults(),
            NestModel::Synapse => StatusTarget::synapse_defaults(),
        };
        let v = status(&k, target, key).unwrap_or_else(|e| panic!("{key}: {e:#}"));
        match p.default {
            Value::Real(x) => assert_eq!((v.kind, v.number), (ValueKind::Number, x), "{key}"),
            Value::Bool(b) => assert_eq!((v.kind, v.flag), (ValueKind::Flag, b), "{key}"),
            Value::Name(n) => assert_eq!((v.kind, v.text.as_str()), (ValueKind::Text, n), "{key}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 14, "every NEST parameter of the table");
}

#[test]
fn nest_kernel_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<NestKernel>();
}

/// Paper-sized network (50 circuits of 2..10 neurons, 100 Poisson inputs,
/// 1000 circuit pairs all-to-all), stochastic spiking, learning on.
/// `cargo test --release --test nest_kernel -- --ignored --nocapture`
#[test]
#[ignore]
fn nest_kernel_scale() {
    let Some(k) = kernel() else { return };
    let t0 = std::time::Instant::now();
    // deterministic pseudo-random numbers without extra dependencies
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let n_circ = 50;
    let sizes: Vec<usize> = (0..n_circ).map(|_| 2 + (rnd() * 9.0) as usize).collect();
    let mut pairs = std::collections::BTreeSet::new();
    while pairs.len() < 1000 {
        let (a, b) = (
            (rnd() * n_circ as f64) as usize,
            (rnd() * n_circ as f64) as usize,
        );
        if a != b {
            pairs.insert((a, b));
        }
    }
    let n_inputs = 100usize;
    let first: Vec<usize> = sizes
        .iter()
        .scan(0, |acc, &k| {
            let f = *acc;
            *acc += k;
            Some(f)
        })
        .collect();
    let mut pre_circ: Vec<Vec<usize>> = vec![Vec::new(); n_circ];
    for &(a, b) in &pairs {
        pre_circ[b].push(a);
    }
    let sim_steps = 5000u64;
    let mut a = Arrays {
        neurons: Vec::new(),
        weights: Vec::new(),
        input_offsets: vec![0],
        input_steps: Vec::new(),
        syn: [Vec::new(), Vec::new(), Vec::new()],
        stp: [Vec::new(), Vec::new(), Vec::new()],
        resets: vec![3000],
        forced_offsets: Vec::new(),
        forced_steps: Vec::new(),
        recorded: Vec::new(),
        recorded_synapses: Vec::new(),
    };
    for _ in 0..n_inputs {
        a.input_steps
            .extend((0..sim_steps).filter(|_| rnd() < 0.005));
        a.input_offsets.push(a.input_steps.len());
    }
    for c in 0..n_circ {
        let n_rec: usize = pre_circ[c].iter().map(|&p| sizes[p]).sum();
        for i in 0..sizes[c] {
            let tgt = (first[c] + i) as u32;
            a.neurons.push(NeuronSpec {
                circuit_size: sizes[c] as u32,
                circuit_index: i as u32,
                n_incoming: (n_inputs + n_rec) as u32,
                bias: 0.0,
                trained: true,
            });
            let mut slot = 0;
            for src in 0..n_inputs {
                push_synapse(&mut a, src as u32, tgt, slot, [1.0, 1.0, 1.0]);
                slot += 1;
            }
            for &p in &pre_circ[c] {
                for j in 0..sizes[p] {
                    push_synapse(
                        &mut a,
                        (n_inputs + first[p] + j) as u32,
                        tgt,
                        slot,
                        [0.5, 110.0, 5.0],
                    );
                    slot += 1;
                }
            }
        }
    }
    a.weights = vec![0.0; a.syn[0].len()];
    let n_neurons = a.neurons.len();
    // no forced spikes: the spec's forced flag is set, with no steps
    a.forced_offsets = vec![0; n_neurons + 1];
    k.call(|k| k.reset(1, 99)).unwrap();
    let mut spec = a.spec();
    spec.forced = false;
    k.call(|k| k.build(&spec)).unwrap();
    k.call(|k| k.set_learning(true)).unwrap();
    let t_build = t0.elapsed();
    let t1 = std::time::Instant::now();
    k.call(|k| k.prepare()).unwrap();
    for _ in 0..5 {
        k.call(|k| k.run(sim_steps / 5)).unwrap();
    }
    k.call(|k| k.cleanup()).unwrap();
    let t_sim = t1.elapsed();
    let rate = spikes(&k).len() as f64 / n_neurons as f64 / (sim_steps as f64 / 1000.0);
    eprintln!(
        "{n_neurons} neurons, {} synapses: build {t_build:.2?}, simulate {sim_steps} steps in {t_sim:.2?} (RTF {:.3}), mean rate {rate:.1} Hz",
        a.syn[0].len(),
        t_sim.as_secs_f64() / (sim_steps as f64 / 1000.0),
    );
    // every circuit fires at R_max in total: mean rate = 50 circuits * ~95 Hz / N
    let expect = n_circ as f64 * 100.0 * (1.0 - (-0.1f64).exp()) / 0.1 / n_neurons as f64;
    assert!(
        (rate - expect).abs() < 0.1 * expect,
        "rate {rate} vs {expect}"
    );
    assert!(vector(&k, 0, "weights").iter().any(|&w| w != 0.0));
}

fn push_synapse(a: &mut Arrays, source: u32, target: u32, slot: u32, stp: [f64; 3]) {
    a.syn[0].push(source);
    a.syn[1].push(target);
    a.syn[2].push(slot);
    for (p, x) in a.stp.iter_mut().zip(stp) {
        p.push(x);
    }
}
