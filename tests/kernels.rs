//! The production kernels (`cpp/kernels/seqlearn_kernels.h`) beyond the
//! golden vectors: sweeps against the specification, the vectorised and the
//! scalar paths bit for bit, and the pieces that are no model equation (the
//! uniform draw, the NEST neuron's shared shift). No NEST needed.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use seqlearn_nest::engine::kernels::{self as k, CodePath, SpikeLawParams};
use seqlearn_nest::model::equations;

fn ulps(a: f64, b: f64) -> u64 {
    (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn exp_is_within_two_ulp_of_libm_and_both_paths_agree() {
    let mut xs: Vec<f64> = (0..200_001).map(|i| -745.0 + i as f64 * 0.0073).collect();
    xs.extend((0..100_001).map(|i| -1.0 + i as f64 * 2e-5));
    xs.extend([
        0.0,
        -0.0,
        1e-300,
        -1e-300,
        709.7,
        710.0,
        -746.0,
        f64::NEG_INFINITY,
    ]);
    let (mut best, mut scalar) = (vec![0.0; xs.len()], vec![0.0; xs.len()]);
    k::exp_into(&xs, &mut best, false, CodePath::Best);
    k::exp_into(&xs, &mut scalar, false, CodePath::Scalar);
    assert_eq!(bits(&best), bits(&scalar), "the paths agree bit for bit");
    let mut worst = 0;
    for (&x, &y) in xs.iter().zip(&best) {
        if x.abs() <= 700.0 {
            worst = worst.max(ulps(y, x.exp()));
        } else {
            assert_eq!(y.to_bits(), x.exp().to_bits(), "exp({x}) is libm's");
        }
    }
    assert!(worst <= 2, "max error {worst} ulp");
    let mut nan = [0.0; 2];
    k::exp_into(&[f64::NAN, 1.0], &mut nan, false, CodePath::Best);
    assert!(nan[0].is_nan());
    let mut neg = vec![0.0; xs.len()];
    k::exp_into(
        &xs.iter().map(|x| -x).collect::<Vec<_>>(),
        &mut neg,
        true,
        CodePath::Best,
    );
    assert_eq!(bits(&neg), bits(&best));
    let one: Vec<f64> = xs.iter().map(|&x| k::exp_poly1(x)).collect();
    assert_eq!(bits(&one), bits(&best), "the scalar exp is the array's");
}

/// Random synapses, one lane beyond the polynomial's range.
fn synapses(rng: &mut ChaCha8Rng, n: usize) -> [Vec<f64>; 4] {
    let mut w: Vec<f64> = (0..n).map(|_| rng.random_range(-8.0..3.0)).collect();
    let mut s: Vec<f64> = (0..n).map(|_| rng.random_range(-2.0..2.0)).collect();
    if n > 21 {
        // Between the one-division form's range (|w|, |S| <= 230) and the
        // polynomial's (700): those blocks take the two-division form.
        w[9] = -400.0;
        s[21] = 300.0;
    }
    let q: Vec<f64> = s.iter().map(|x| x * x + rng.random::<f64>()).collect();
    if n > 5 {
        w[5] = -800.0;
    }
    let ef: Vec<f64> = (0..n)
        .flat_map(|_| [rng.random::<f64>(), rng.random::<f64>() * 0.5])
        .collect();
    [w, s, q, ef]
}

#[test]
fn stdp_paths_agree_bit_for_bit_and_match_the_model() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut worst: f64 = 0.0;
    for n in [0usize, 1, 3, 4, 7, 37, 203, 1003] {
        for vt in [true, false] {
            let [w, s, q, ef] = synapses(&mut rng, n);
            let rates = k::rates_of(0.05, vt, 17);
            let run = |path| {
                let (mut w, mut s, mut q) = (w.clone(), s.clone(), q.clone());
                let d = k::stdp_update_pairs(&mut w, &mut s, &mut q, &ef, &rates, path);
                (bits(&w), bits(&s), bits(&q), d.de.to_bits(), d.df.to_bits())
            };
            assert_eq!(
                run(CodePath::Best),
                run(CodePath::Scalar),
                "n = {n}, vt = {vt}"
            );
            let y: Vec<f64> = ef.chunks(2).map(|p| p[0] - p[1]).collect();
            let (mut w2, mut s2, mut q2) = (w.clone(), s.clone(), q.clone());
            k::stdp_update(&mut w2, &mut s2, &mut q2, &y, &rates, CodePath::Best);
            let (bw, bs, bq, ..) = run(CodePath::Best);
            assert_eq!(
                (bits(&w2), bits(&s2), bits(&q2)),
                (bw, bs, bq),
                "the two array forms"
            );
            for i in 0..n {
                let (mut wr, mut sr, mut qr) = (w[i], s[i], q[i]);
                let rate = equations::learning_rate(0.05, sr, qr, vt, 17);
                equations::stdp_update(&mut wr, &mut sr, &mut qr, y[i], rate, vt);
                for (a, b) in [(w2[i], wr), (s2[i], sr), (q2[i], qr)] {
                    worst = worst.max((a - b).abs() / b.abs().max(1.0));
                }
            }
        }
    }
    assert!(
        worst < 1e-13,
        "the kernel vs the model's formulas (libm): {worst:e}"
    );
}

#[test]
fn soft_wta_and_spike_draws_paths_agree() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let sizes: Vec<u32> = (0..50).map(|c| 2 + c % 9).collect();
    let n: usize = sizes.iter().map(|&k| k as usize).sum();
    let u: Vec<f64> = (0..n).map(|_| rng.random_range(-5.0..5.0)).collect();
    let draws: Vec<u64> = (0..n).map(|_| rng.next_u64()).collect();
    let run = |path| {
        let (mut rho, mut scratch) = (vec![0.0; n], vec![0.0; n]);
        k::soft_wta_max_shift(&u, &mut rho, &mut scratch, &sizes, path);
        let (mut spiked, mut spiking) = (vec![false; n], vec![0u32; n]);
        let law = SpikeLawParams {
            r_max_hz: 1e4,
            dt_ms: 1.0,
            law: k::SpikeLaw::Exponential,
        };
        let m = k::spike_draws(
            &rho,
            &draws,
            &law,
            &mut scratch,
            &mut spiked,
            &mut spiking,
            path,
        );
        (bits(&rho), spiked, spiking[..m].to_vec())
    };
    let best = run(CodePath::Best);
    assert_eq!(best, run(CodePath::Scalar));
    assert!(
        !best.2.is_empty() && best.2.len() < n,
        "some spike, not all"
    );
    assert!(best.2.windows(2).all(|w| w[0] < w[1]), "ascending");
}

/// spike_draws skips the exp for draws above `x`: its decisions are those of
/// the full law, draw by draw, also for draws a few ulp around `p` and `x`.
#[test]
fn spike_draws_decide_as_the_full_law() {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    // The draw of 53 random bits m is m * 2^-53; these bits give draw d.
    let bits_of = |d: f64| ((d * 9007199254740992.0) as u64) << 11;
    let (mut rho, mut draws) = (Vec::new(), Vec::new());
    for i in 0..20_000 {
        // Rates from tiny (x ~ 1e-18) to large (x ~ 5).
        let r: f64 = 10f64.powf(rng.random_range(-17.0..0.7)) / 100.0;
        let x = k::spike_argument(100.0 * r, 1.0);
        let p = k::spike_probability_poly(x, k::SpikeLaw::Exponential);
        let d = match i % 6 {
            0 => rng.random::<f64>(),
            1 => p,
            2 => p * (1.0 - f64::EPSILON),
            3 => p * (1.0 + f64::EPSILON),
            4 => x,
            _ => rng.random_range(0.0..(2.0 * x).min(1.0)),
        };
        rho.push(r);
        draws.push(bits_of(d.min(1.0 - f64::EPSILON)));
    }
    let n = rho.len();
    for law in [k::SpikeLaw::Exponential, k::SpikeLaw::Linear] {
        let params = SpikeLawParams {
            r_max_hz: 100.0,
            dt_ms: 1.0,
            law,
        };
        let (mut scratch, mut spiked, mut spiking) = (vec![0.0; n], vec![false; n], vec![0u32; n]);
        let m = k::spike_draws(
            &rho,
            &draws,
            &params,
            &mut scratch,
            &mut spiked,
            &mut spiking,
            CodePath::Best,
        );
        let full: Vec<bool> = (0..n)
            .map(|i| {
                let x = k::spike_argument(100.0 * rho[i], 1.0);
                k::spike_decision(
                    k::uniform_of_bits(draws[i]),
                    k::spike_probability_poly(x, law),
                )
            })
            .collect();
        assert_eq!(spiked, full, "law {}", law.repr);
        assert_eq!(m, full.iter().filter(|&&z| z).count());
        assert!(m > n / 10 && m < n, "both outcomes are tested: {m} of {n}");
    }
}

/// The native engine's draw is rand's `random::<f64>()` of the same bits.
#[test]
fn the_uniform_is_rands() {
    let mut a = ChaCha8Rng::seed_from_u64(11);
    let mut b = a.clone();
    for _ in 0..10_000 {
        assert_eq!(k::uniform_of_bits(a.next_u64()), b.random::<f64>());
    }
}

/// The NEST neuron's shared shift: within ln 2 below the circuit's largest
/// potential, so that the values it exchanges stay near 1.
#[test]
fn the_circuit_shift_follows_the_largest_potential() {
    let mut c = 0.0;
    for u in [
        [0.0, 0.0, 0.0],
        [3.0, -1.0, 0.5],
        [50.0, 49.0, 20.0],
        [50.0, 600.0, 590.0],
        [550.0, 560.0, 555.0],
    ] {
        // the values of a step (with the previous shift), then the next shift
        let v: Vec<f64> = u.iter().map(|&x| k::circuit_value(x, c)).collect();
        let share = k::circuit_rho(&v, 0);
        let mut rho = [0.0; 3];
        equations::softmax(&u, &mut rho);
        // absolute: a tiny share's exp(u - c) carries the rounding of its
        // large argument
        assert!(
            (share.rho - rho[0]).abs() <= 1e-15,
            "{u:?}: {} vs {}",
            share.rho,
            rho[0]
        );
        c = k::next_circuit_shift(c, share.v_max);
        let top = u.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert!(
            c <= top + 1e-12 && top - c < std::f64::consts::LN_2 + 1e-12,
            "{u:?}: shift {c}"
        );
    }
    // a value out of range keeps the shift (the neuron reports the error)
    assert_eq!(k::next_circuit_shift(7.0, f64::INFINITY), 7.0);
    assert_eq!(k::next_circuit_shift(7.0, 0.0), 7.0);
}

#[test]
fn rates_and_variants() {
    let r = k::rates_of(0.05, false, 50);
    assert_eq!((r.eta, r.rate_n, r.variance_tracking), (0.05, 0.001, false));
    assert_eq!(k::has_avx2_fma(), k::has_avx2_fma());
    let st = k::stp_initial(0.3);
    assert_eq!((st.s, st.r, st.u, st.last), (0.3, 1.0, 0.3, -1));
}
