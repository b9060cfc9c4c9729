//! Integration tests of the NEST wrapper (`seqlearn_nest::engine::nest::driver`).
//!
//! They need NEST (build.rs sets `cfg(seqlearn_has_nest)` when it found it
//! and compiled the module).  Without NEST they print why and pass, unless
//! `SEQLEARN_REQUIRE_NEST=1`, in which case they fail.

use seqlearn_nest::engine::nest::driver::{
    nest_available, NestKernel, NeuronDefaults, NeuronSpec, StpVariant, SynapseBatch,
};

fn kernel() -> Option<NestKernel> {
    if !nest_available() && std::env::var("SEQLEARN_NEST_MODULE").is_err() {
        assert!(
            std::env::var("SEQLEARN_REQUIRE_NEST").map_or(true, |v| v != "1"),
            "SEQLEARN_REQUIRE_NEST=1 but the crate was built without NEST"
        );
        eprintln!("NEST not available, skipping");
        return None;
    }
    Some(NestKernel::load().expect("loading NEST"))
}

const TOL: f64 = 1e-12;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= TOL * (1.0 + a.abs().max(b.abs()))
}

/// Two neurons in one circuit, two inputs; neuron 0 is forced to spike.
struct Tiny {
    neurons: Vec<i64>,
    inputs: Vec<i64>,
}

fn build_tiny(k: &mut NestKernel, threads: usize, learning: bool) -> Tiny {
    k.reset(threads, 12345).unwrap();
    k.set_neuron_defaults(&NeuronDefaults::default()).unwrap();
    let neurons = k
        .create_neurons(&[
            NeuronSpec {
                circuit_size: 2,
                circuit_index: 0,
                weights: vec![0.5, -0.25],
            },
            NeuronSpec {
                circuit_size: 2,
                circuit_index: 1,
                weights: vec![0.0, 0.3],
            },
        ])
        .unwrap();
    k.connect_circuit(&neurons).unwrap();
    // input 0 spikes at native steps 2, 3 and 10; input 1 at 5
    let inputs = k.create_inputs(&[vec![2.0, 3.0, 10.0], vec![5.0]]).unwrap();
    let mut b = SynapseBatch::default();
    for (slot, &inp) in inputs.iter().enumerate() {
        for &n in &neurons {
            b.push(inp, n, slot, 1.0, 1.0, 1.0);
        }
    }
    k.connect(&b, StpVariant::Original).unwrap();
    k.set_forced_spikes(neurons[0], &[4.0, 12.0]).unwrap();
    k.set_forced_spikes(neurons[1], &[7.0]).unwrap();
    k.set_learning(learning).unwrap();
    k.record_spikes().unwrap();
    k.record_multimeter(&neurons, 1.0).unwrap();
    Tiny { neurons, inputs }
}

#[test]
fn nest_kernel_end_to_end() {
    let Some(mut k) = kernel() else { return };

    // ---- forced spikes, EPSP traces, STP of inputs, softmax normalisation
    let t = build_tiny(&mut k, 1, false);
    k.simulate(20.0).unwrap();
    assert!((k.time_ms().unwrap() - 20.0).abs() < 1e-9);

    let sp = k.take_spikes().unwrap();
    let mut got: Vec<(i64, f64)> = sp
        .senders
        .iter()
        .copied()
        .zip(sp.times.iter().copied())
        .collect();
    got.sort_by(|a, b| a.1.total_cmp(&b.1));
    assert_eq!(
        got,
        vec![
            (t.neurons[0], 4.0),
            (t.neurons[1], 7.0),
            (t.neurons[0], 12.0)
        ]
    );

    // hand computation of the slot-0 traces at the end of step 19.
    // amplitudes (original STP, U=1, D=F=1): spike at 2: A=1;
    // spike at 3: A = R*s after the update at 2 with isi=2:
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
    let (kd, kr) = (1.0 / 20.0, 1.0 / 2.0);
    let (mut e, mut f) = (0.0_f64, 0.0_f64);
    for step in 0..20usize {
        let a = if step >= 1 { amp[step - 1] } else { 0.0 };
        e += a - e * kd;
        f += a - f * kr;
    }
    for &n in &t.neurons {
        let ee = k.neuron_vector(n, "epsp_e").unwrap();
        let ff = k.neuron_vector(n, "epsp_f").unwrap();
        assert!(close(ee[0], e), "e {} vs {}", ee[0], e);
        assert!(close(ff[0], f), "f {} vs {}", ff[0], f);
    }
    let stp = k
        .stp_state(&[(t.inputs[0], t.neurons[0]), (t.inputs[1], t.neurons[1])])
        .unwrap();
    assert!(close(stp[0].r, r) && close(stp[0].s, s) && close(stp[0].u, s));
    // one spike with isi = 5: R = 1 + (1 - 1 - 1) e^{-5}, s stays 1
    assert!(close(stp[1].r, 1.0 - (-5.0 / (1.0 + eps)).exp()));

    // rho of the circuit sums to one in every step; learning off: weights kept
    let mm = k.take_multimeter().unwrap();
    // the multimeter delivers the last step of a run with the next run
    // (NEST's one-slice logging lag): steps 0..=18 here
    assert_eq!(mm.times.len(), 38);
    for step in 0..19 {
        let sum: f64 = (0..mm.times.len())
            .filter(|&i| mm.times[i] == step as f64)
            .map(|i| mm.rho[i])
            .sum();
        assert!((sum - 1.0).abs() < 1e-12, "step {step}: sum rho = {sum}");
    }
    assert_eq!(k.weights(t.neurons[0]).unwrap(), vec![0.5, -0.25]);
    assert_eq!(k.neuron_scalar(t.neurons[0], "n_train_steps").unwrap(), 0.0);

    // ---- chunked runs equal one long run (learning on)
    let t = build_tiny(&mut k, 1, true);
    k.simulate(40.0).unwrap();
    let w_long: Vec<Vec<f64>> = t.neurons.iter().map(|&n| k.weights(n).unwrap()).collect();
    let mm_long = k.take_multimeter().unwrap();
    let sp_long = k.take_spikes().unwrap();
    assert_eq!(sp_long.times.len(), 3);
    assert_eq!(
        k.neuron_scalar(t.neurons[0], "n_train_steps").unwrap(),
        40.0
    );
    assert_ne!(w_long[0], vec![0.5, -0.25], "learning changed nothing");

    let t = build_tiny(&mut k, 1, true);
    k.prepare().unwrap();
    // recorders are read inside the Prepare/Cleanup context too
    let mut mm_chunk = seqlearn_nest::engine::nest::driver::MultimeterData::default();
    let mut sp_chunk = seqlearn_nest::engine::nest::driver::Spikes::default();
    let mut append = |k: &mut NestKernel| {
        let m = k.take_multimeter().unwrap();
        mm_chunk.senders.extend(m.senders);
        mm_chunk.times.extend(m.times);
        mm_chunk.u.extend(m.u);
        mm_chunk.rho.extend(m.rho);
        let s = k.take_spikes().unwrap();
        sp_chunk.senders.extend(s.senders);
        sp_chunk.times.extend(s.times);
    };
    for chunk in [7.0, 1.0, 12.0, 20.0] {
        k.run(chunk).unwrap();
        append(&mut k);
    }
    k.cleanup().unwrap();
    append(&mut k);
    let w_chunk: Vec<Vec<f64>> = t.neurons.iter().map(|&n| k.weights(n).unwrap()).collect();
    assert_eq!(w_long, w_chunk);
    assert_eq!(mm_long, mm_chunk);
    assert_eq!(sp_long, sp_chunk);

    // ---- errors come back as Err, not aborts
    let n0 = t.neurons[0];
    assert!(k.set_neuron_str(n0, "spike_law", "bogus").is_err());
    assert!(k.set_neuron_f64(n0, "tau_decay", -1.0).is_err());
    assert!(k.set_neuron_f64(n0, "no_such_parameter", 1.0).is_err());
    assert!(k.set_neuron_vector(n0, "weights", &[1.0]).is_err());
    assert!(k.neuron_vector(n0, "no_such_key").is_err());
    // slot 1 is connected: n_incoming cannot shrink below 2
    assert!(k.set_neuron_i64(n0, "n_incoming", 1).is_err());
    assert_eq!(k.weights(n0).unwrap().len(), 2);
    assert!(k.run(1.0).is_err(), "run without prepare must fail");
    let mut bad = SynapseBatch::default();
    bad.push(t.inputs[0], n0, 7, 1.0, 1.0, 1.0); // slot 7 does not exist
    let err = k.connect(&bad, StpVariant::Original).unwrap_err();
    assert!(
        format!("{err:#}").contains("connecting synapses"),
        "{err:#}"
    );
    assert!(k.create_inputs(&[vec![-1.0]]).is_err());
    // the kernel still works afterwards
    assert_eq!(k.weights(n0).unwrap(), w_chunk[0]);

    // ---- reset at step 6 through the C API (after the synapses exist):
    // traces zeroed at 6, the input spike of step 5 (arriving at 6) is
    // discarded, STP restarts lazily at the spike of step 10 (R = 1)
    let t = build_tiny(&mut k, 1, false);
    k.set_reset_times(&[6.0]).unwrap();
    k.simulate(20.0).unwrap();
    for &n in &t.neurons {
        let ee = k.neuron_vector(n, "epsp_e").unwrap();
        let ff = k.neuron_vector(n, "epsp_f").unwrap();
        assert!(close(ee[0], 0.95_f64.powi(8)), "e after reset {}", ee[0]);
        assert!(close(ff[0], 0.5_f64.powi(8)), "f after reset {}", ff[0]);
        assert_eq!((ee[1], ff[1]), (0.0, 0.0));
        assert_eq!(k.neuron_vector(n, "reset_times").unwrap(), vec![6.0]);
    }
    let stp = k.stp_state(&[(t.inputs[0], t.neurons[0])]).unwrap();
    assert!(
        close(stp[0].r, 1.0 - (-4.0 / (1.0 + eps)).exp()),
        "R {}",
        stp[0].r
    );

    // ---- two threads give the same result in forced mode
    let t = build_tiny(&mut k, 2, true);
    k.simulate(40.0).unwrap();
    let w_two: Vec<Vec<f64>> = t.neurons.iter().map(|&n| k.weights(n).unwrap()).collect();
    assert_eq!(w_long, w_two);
}

/// Paper-sized network (50 circuits of 2..10 neurons, 100 Poisson inputs,
/// ~1000 circuit pairs all-to-all), stochastic spiking, learning on.
/// `cargo test --release --test nest_kernel -- --ignored --nocapture`
#[test]
#[ignore]
fn nest_kernel_scale() {
    let Some(mut k) = kernel() else { return };
    let t0 = std::time::Instant::now();
    k.reset(1, 99).unwrap();
    k.set_neuron_defaults(&NeuronDefaults::default()).unwrap();
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
        let a = (rnd() * n_circ as f64) as usize;
        let b = (rnd() * n_circ as f64) as usize;
        if a != b {
            pairs.insert((a, b));
        }
    }
    let n_inputs = 100;
    // sources of each circuit: inputs, then neurons of presynaptic circuits
    let mut first = vec![0usize; n_circ];
    let mut acc = 0;
    for c in 0..n_circ {
        first[c] = acc;
        acc += sizes[c];
    }
    let mut pre_circ: Vec<Vec<usize>> = vec![Vec::new(); n_circ];
    for &(a, b) in &pairs {
        pre_circ[b].push(a);
    }
    let mut specs = Vec::new();
    for c in 0..n_circ {
        let n_rec: usize = pre_circ[c].iter().map(|&a| sizes[a]).sum();
        for i in 0..sizes[c] {
            specs.push(NeuronSpec {
                circuit_size: sizes[c],
                circuit_index: i,
                weights: vec![0.0; n_inputs + n_rec],
            });
        }
    }
    let ids = k.create_neurons(&specs).unwrap();
    for c in 0..n_circ {
        k.connect_circuit(&ids[first[c]..first[c] + sizes[c]])
            .unwrap();
    }
    let sim_ms = 5000.0;
    let trains: Vec<Vec<f64>> = (0..n_inputs)
        .map(|_| {
            (0..sim_ms as usize)
                .filter(|_| rnd() < 0.005)
                .map(|t| t as f64)
                .collect()
        })
        .collect();
    let inputs = k.create_inputs(&trains).unwrap();
    let mut batch = SynapseBatch::default();
    for c in 0..n_circ {
        for i in 0..sizes[c] {
            let tgt = ids[first[c] + i];
            let mut slot = 0;
            for &inp in &inputs {
                batch.push(inp, tgt, slot, 1.0, 1.0, 1.0);
                slot += 1;
            }
            for &a in &pre_circ[c] {
                for j in 0..sizes[a] {
                    batch.push(ids[first[a] + j], tgt, slot, 0.5, 110.0, 5.0);
                    slot += 1;
                }
            }
        }
    }
    let n_syn = batch.len();
    k.connect(&batch, StpVariant::Original).unwrap();
    k.set_reset_times(&[3000.0]).unwrap();
    k.set_learning(true).unwrap();
    k.record_spikes().unwrap();
    let t_build = t0.elapsed();
    let t1 = std::time::Instant::now();
    k.prepare().unwrap();
    for _ in 0..5 {
        k.run(sim_ms / 5.0).unwrap();
    }
    k.cleanup().unwrap();
    let t_sim = t1.elapsed();
    let spikes = k.take_spikes().unwrap();
    let rate = spikes.senders.len() as f64 / ids.len() as f64 / (sim_ms / 1000.0);
    eprintln!(
        "{} neurons, {} synapses: build {:.2?}, simulate {} ms in {:.2?} (RTF {:.3}), mean rate {:.1} Hz",
        ids.len(),
        n_syn,
        t_build,
        sim_ms,
        t_sim,
        t_sim.as_secs_f64() / (sim_ms / 1000.0),
        rate
    );
    // every circuit fires at R_max in total: mean rate = 50 circuits * ~95 Hz / N
    let expect = n_circ as f64 * 100.0 * (1.0 - (-0.1f64).exp()) / 0.1 / ids.len() as f64;
    assert!(
        (rate - expect).abs() < 0.1 * expect,
        "rate {rate} vs {expect}"
    );
    assert!(k.weights(ids[0]).unwrap().iter().any(|&w| w != 0.0));
}

#[test]
fn nest_kernel_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<NestKernel>();
}

/// The neurons' own trace recording (no multimeter): same values and steps
/// as the multimeter, drained between runs, thinned, switched per neuron,
/// and bad input rejected without changing anything.
#[test]
fn trace_recording_equals_the_multimeter() {
    let Some(mut k) = kernel() else { return };
    let t = build_tiny(&mut k, 1, true); // multimeter on both neurons at 1 ms
    let n = t.neurons.clone();
    let range = |a: u32, b: u32| -> Vec<f64> { (a..=b).map(f64::from).collect() };
    // one block of `nodes` into fresh buffers: times, u, rho (sample-major)
    let take = |k: &mut NestKernel, nodes: &[i64]| -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (mut u, mut rho) = (Vec::new(), Vec::new());
        let times = k.take_trace_block(nodes, &mut u, &mut rho).unwrap();
        (times, u, rho)
    };

    // off by default
    k.simulate(5.0).unwrap(); // steps 0..=4
    let (times, u, rho) = take(&mut k, &n);
    assert!(times.is_empty() && u.is_empty() && rho.is_empty());

    // on at 1 ms, drained inside one Prepare/Cleanup context: every run's
    // samples are complete when it returns (no one-slice lag); blocks are
    // appended after what the buffers hold
    k.set_trace_recording(&n, true, 1.0).unwrap();
    k.prepare().unwrap();
    k.run(7.0).unwrap(); // steps 5..=11
    let (mut u, mut rho) = (vec![-1.0], vec![-2.0]);
    let mut times = k.take_trace_block(&n, &mut u, &mut rho).unwrap();
    assert_eq!(times, range(5, 11));
    k.run(13.0).unwrap(); // steps 12..=24
    let more = k.take_trace_block(&n, &mut u, &mut rho).unwrap();
    k.cleanup().unwrap();
    assert_eq!(more, range(12, 24));
    times.extend(more);
    assert_eq!((u[0], rho[0]), (-1.0, -2.0));
    assert_eq!(
        (u.len(), rho.len()),
        (1 + 2 * times.len(), 1 + 2 * times.len())
    );
    let (u, rho) = (&u[1..], &rho[1..]);
    // drained means cleared
    assert!(take(&mut k, &n).0.is_empty());

    // the multimeter has steps 0..=23 now (24 comes with the next run)
    let mm = k.take_multimeter().unwrap();
    let mm_value = |node: i64, step: f64| -> (f64, f64) {
        let i = (0..mm.times.len())
            .find(|&i| mm.senders[i] == node && mm.times[i] == step)
            .unwrap_or_else(|| panic!("multimeter has no sample of {node} at {step}"));
        (mm.u[i], mm.rho[i])
    };
    for (j, &node) in n.iter().enumerate() {
        for i in 0..times.len() - 1 {
            assert_eq!(
                (u[2 * i + j], rho[2 * i + j]),
                mm_value(node, times[i]),
                "node {node} step {}",
                times[i]
            );
        }
    }
    // not vacuous: the potentials move and the circuit's rho sums to one
    assert!((0..times.len()).any(|i| u[2 * i] != u[0]));
    for i in 0..times.len() {
        assert!((rho[2 * i] + rho[2 * i + 1] - 1.0).abs() < 1e-12);
    }

    // thinning on the native grid (t % 3 == 0) for neuron 0, neuron 1 off
    k.set_trace_recording(&n[..1], true, 3.0).unwrap();
    k.set_trace_recording(&n[1..], false, 1.0).unwrap();
    k.simulate(10.0).unwrap(); // steps 25..=34
                               // other steps in one block: refused, naming the node, nothing taken
    let (mut u2, mut rho2) = (vec![7.0], vec![8.0]);
    let err = k.take_trace_block(&n, &mut u2, &mut rho2).unwrap_err();
    assert!(
        format!("{err:#}").contains(&format!("node {} recorded other steps", n[1])),
        "{err:#}"
    );
    assert_eq!((u2, rho2), (vec![7.0], vec![8.0]));
    let (t0, u0, rho0) = take(&mut k, &n[..1]);
    assert_eq!(t0, vec![27.0, 30.0, 33.0]);
    assert!(take(&mut k, &n[1..]).0.is_empty());
    let mm = k.take_multimeter().unwrap(); // steps 24..=33
    for (i, &step) in t0.iter().enumerate() {
        let j = (0..mm.times.len())
            .find(|&j| mm.senders[j] == n[0] && mm.times[j] == step)
            .unwrap();
        assert_eq!((u0[i], rho0[i]), (mm.u[j], mm.rho[j]));
    }

    // bad intervals and nodes are errors that name the problem
    for bad in [0.0, -1.0, 1.5, f64::NAN, f64::INFINITY, 1e300] {
        let err = k.set_trace_recording(&n, true, bad).unwrap_err();
        assert!(
            format!("{err:#}").contains("trace_recording_interval"),
            "interval {bad}: {err:#}"
        );
    }
    for bad in [0, -3, 1_000_000, t.inputs[0]] {
        let err = k.set_trace_recording(&[n[1], bad], true, 1.0).unwrap_err();
        assert!(
            format!("{err:#}").contains(&bad.to_string()),
            "node {bad}: {err:#}"
        );
        let (mut u, mut rho) = (Vec::new(), Vec::new());
        assert!(k.take_trace_block(&[bad], &mut u, &mut rho).is_err());
    }
    // ... and changed nothing: neuron 0 still every 3 ms, neuron 1 still off
    k.simulate(6.0).unwrap(); // steps 35..=40
    assert_eq!(take(&mut k, &n[..1]).0, vec![36.0, 39.0]);
    assert!(take(&mut k, &n[1..]).0.is_empty());
}

/// The module's STDP kernel: its vectorised path (if this CPU has AVX2 and
/// FMA) gives the same bits as the scalar one, both agree with the model's
/// formulas evaluated with libm, and the fallback for out-of-range lanes runs.
#[test]
fn learning_kernel_paths_agree_and_match_the_model() {
    let Some(k) = kernel() else { return };
    // 1003 slots: whole registers plus a padded tail
    let r = k.kernel_selftest(1003).expect("kernel self-test");
    eprintln!("kernel self-test: {r:?}");
    assert_eq!(
        r.path_diff, 0.0,
        "vectorised and scalar paths differ: {r:?}"
    );
    assert!(r.ref_diff < 1e-13, "kernel vs the model's formulas: {r:?}");
    let err = k
        .kernel_selftest(0)
        .expect_err("zero slots must be refused");
    assert!(format!("{err:#}").contains("at least one slot"), "{err:#}");
}
