//! Integration tests of the NEST wrapper (`seqlearn_nest::nest`).
//!
//! They need NEST (build.rs sets `cfg(seqlearn_has_nest)` when it found it
//! and compiled the module).  Without NEST they print why and pass, unless
//! `SEQLEARN_REQUIRE_NEST=1`, in which case they fail.

use seqlearn_nest::nest::{
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
    assert_eq!(
        k.neuron_scalar(t.neurons[0], "n_train_steps").unwrap(),
        40.0
    );
    assert_ne!(w_long[0], vec![0.5, -0.25], "learning changed nothing");

    let t = build_tiny(&mut k, 1, true);
    k.prepare().unwrap();
    for chunk in [7.0, 1.0, 12.0, 20.0] {
        k.run(chunk).unwrap();
    }
    k.cleanup().unwrap();
    let w_chunk: Vec<Vec<f64>> = t.neurons.iter().map(|&n| k.weights(n).unwrap()).collect();
    let mm_chunk = k.take_multimeter().unwrap();
    assert_eq!(w_long, w_chunk);
    assert_eq!(mm_long, mm_chunk);

    // ---- errors come back as Err, not aborts
    let n0 = t.neurons[0];
    assert!(k.set_neuron_str(n0, "spike_law", "bogus").is_err());
    assert!(k.set_neuron_f64(n0, "tau_decay", -1.0).is_err());
    assert!(k.set_neuron_f64(n0, "no_such_parameter", 1.0).is_err());
    assert!(k.set_neuron_vector(n0, "weights", &[1.0]).is_err());
    assert!(k.neuron_vector(n0, "no_such_key").is_err());
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

    // ---- two threads give the same result in forced mode
    let t = build_tiny(&mut k, 2, true);
    k.simulate(40.0).unwrap();
    let w_two: Vec<Vec<f64>> = t.neurons.iter().map(|&n| k.weights(n).unwrap()).collect();
    assert_eq!(w_long, w_two);
}
