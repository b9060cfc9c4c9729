//! The kernels' golden vectors (`tests/golden/kernels.txt`): the file is
//! the specification's (regenerated and compared here; `SEQLEARN_BLESS=1`
//! rewrites it), the production kernels (`cpp/kernels/seqlearn_kernels.h`,
//! called from Rust the way the native engine calls them) meet each
//! kernel's tolerance on every path, and the C++ test program built by
//! `build.rs` with the module's flags checks the same file. None of this
//! needs NEST.

#[path = "golden/vectors.rs"]
mod vectors;

use std::collections::BTreeMap;

use seqlearn_nest::engine::kernels::{self as k, CodePath, SpikeLawParams, StpParams, StpState};
use vectors::{law_of, tolerance_of, variant_of, Case, Tolerance, KERNELS};

#[test]
fn the_golden_file_is_the_specifications() {
    let want = vectors::render(&vectors::generate());
    let path = vectors::path();
    if std::env::var("SEQLEARN_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is stale: run `SEQLEARN_BLESS=1 cargo test --test golden` and commit it",
        path.display()
    );
    let (tols, cases) = vectors::parse(&have);
    assert_eq!(cases, vectors::generate(), "the file reads back exactly");
    assert_eq!(tols.len(), KERNELS.len());
    for (name, tol) in &tols {
        assert_eq!(*tol, tolerance_of(name), "{name}");
    }
}

fn bool_of(x: f64) -> bool {
    x != 0.0
}

fn rates(eta: f64, n: f64, vt: f64) -> k::Rates {
    k::rates_of(eta, bool_of(vt), n as u64)
}

/// The outputs of every production form of a case's kernel.
fn production(c: &Case) -> Vec<(&'static str, Vec<f64>)> {
    let i = &c.input;
    match c.kernel.as_str() {
        "exp" => exp_forms(i[0]),
        "trace_step" => {
            let mut x = [i[0]];
            k::trace_steps(&mut x, &[i[1]], i[2]);
            vec![
                ("scalar", vec![k::trace_step(i[0], i[1], i[2])]),
                ("array", x.to_vec()),
            ]
        }
        "trace_decay" => {
            let p = k::decay_closed_form(i[0], i[1], i[2] as i64, i[3], i[4]);
            vec![("table", vec![p.e, p.f])]
        }
        "trace_step_decay_first" => {
            vec![("nest", vec![k::trace_step_decay_first(i[0], i[1], i[2])])]
        }
        "epsp" => {
            let mut y = [0.0];
            k::epsps_of_pairs(&[i[0], i[1]], &mut y);
            vec![("scalar", vec![k::epsp(i[0], i[1])]), ("pairs", y.to_vec())]
        }
        "potential" => potential_forms(i),
        "soft_wta" => soft_wta_forms(i),
        "soft_wta_nest" => {
            let v: Vec<f64> = i[1..].iter().map(|&u| k::circuit_value(u, i[0])).collect();
            vec![(
                "nest",
                (0..v.len()).map(|m| k::circuit_rho(&v, m).rho).collect(),
            )]
        }
        "spike_probability" => {
            let x = k::spike_argument(i[0], i[1]);
            vec![(
                "poly",
                vec![k::spike_probability_poly(x, law_of(i[2]).into())],
            )]
        }
        "spike_decision" => spike_decision_forms(i),
        "stdp" => stdp_forms(i),
        "stdp_pairs" => stdp_pairs_forms(i),
        "bias" => {
            let (mut b, mut s, mut q) = (i[0], i[1], i[2]);
            let r = rates(i[4], i[5], i[6]);
            k::bias_update(&mut b, &mut s, &mut q, bool_of(i[3]), &r);
            let (mut ba, mut sa, mut qa) = ([i[0]], [i[1]], [i[2]]);
            k::bias_updates(&mut ba, &mut sa, &mut qa, &[bool_of(i[3])], &r);
            vec![
                ("scalar", vec![b, s, q]),
                ("array", vec![ba[0], sa[0], qa[0]]),
            ]
        }
        "stp" => stp_forms(i),
        "stp_reset" => {
            let mut st = StpState {
                s: i[0],
                r: i[1],
                u: i[2],
                last: i[3] as i64,
            };
            let mut arr = [st];
            k::stp_reset(&mut st, i[4] as i64);
            k::stp_resets(&mut arr, i[4] as i64);
            let out = |st: &StpState| vec![st.s, st.r, st.u, st.last as f64];
            vec![("scalar", out(&st)), ("array", out(&arr[0]))]
        }
        "stp_variant_for" => {
            let v = k::stp_variant_for(variant_of(i[0]).into(), bool_of(i[1]));
            vec![("choice", vec![f64::from(v.repr)])]
        }
        other => panic!("no production form for kernel {other}"),
    }
}

fn exp_forms(x: f64) -> Vec<(&'static str, Vec<f64>)> {
    let (mut best, mut scalar) = ([0.0; 5], [0.0; 5]);
    // in a block of four (the vectorised lane) and in the tail
    let xs = [x, x, x, x, x];
    k::exp_into(&xs, &mut best, false, CodePath::Best);
    k::exp_into(&xs, &mut scalar, false, CodePath::Scalar);
    let mut negated = [0.0; 5];
    k::exp_into(&xs.map(|v| -v), &mut negated, true, CodePath::Best);
    vec![
        ("scalar", vec![k::exp_poly1(x)]),
        ("best_block", vec![best[0]]),
        ("best_tail", vec![best[4]]),
        ("scalar_path", vec![scalar[0]]),
        ("negated", vec![negated[2]]),
    ]
}

fn potential_forms(i: &[f64]) -> Vec<(&'static str, Vec<f64>)> {
    let (b, n) = (i[0], i[1] as usize);
    let (w, e, f) = (&i[2..2 + n], &i[2 + n..2 + 2 * n], &i[2 + 2 * n..2 + 3 * n]);
    let se: f64 = w.iter().zip(e).map(|(w, e)| w * e).sum();
    let sf: f64 = w.iter().zip(f).map(|(w, f)| w * f).sum();
    let mut u = [0.0];
    k::potentials(&[b], &[se], &[sf], &mut u);
    vec![
        ("scalar", vec![k::potential(b, se, sf)]),
        ("array", u.to_vec()),
    ]
}

fn soft_wta_forms(u: &[f64]) -> Vec<(&'static str, Vec<f64>)> {
    // the circuit after another one of three, so that its neurons straddle
    // the vectorised blocks
    let mut all = vec![0.1, 0.2, 0.3];
    all.extend_from_slice(u);
    let sizes = [3, u.len() as u32];
    let mut out = Vec::new();
    for (name, path) in [("best", CodePath::Best), ("scalar", CodePath::Scalar)] {
        let (mut rho, mut scratch) = (vec![0.0; all.len()], vec![0.0; all.len()]);
        k::soft_wta_max_shift(&all, &mut rho, &mut scratch, &sizes, path);
        out.push((name, rho[3..].to_vec()));
    }
    out
}

fn spike_decision_forms(i: &[f64]) -> Vec<(&'static str, Vec<f64>)> {
    let (draw, r, dt) = (i[0], i[1], i[2]);
    let law: k::SpikeLaw = law_of(i[3]).into();
    let x = k::spike_argument(r, dt);
    let z = |b: bool| vec![if b { 1.0 } else { 0.0 }];
    let bits = ((draw * 9_007_199_254_740_992.0) as u64) << 11;
    assert_eq!(
        k::uniform_of_bits(bits),
        draw,
        "the draw is a multiple of 2^-53"
    );
    let mut out = vec![
        (
            "poly",
            z(k::spike_decision(draw, k::spike_probability_poly(x, law))),
        ),
        ("libm", z(k::spike_decision_libm(draw, x, law))),
    ];
    for (name, path) in [
        ("draws_best", CodePath::Best),
        ("draws_scalar", CodePath::Scalar),
    ] {
        let (mut scratch, mut spiked, mut spiking) = ([0.0], [false], [0u32]);
        let p = SpikeLawParams {
            r_max_hz: r,
            dt_ms: dt,
            law,
        };
        k::spike_draws(
            &[1.0],
            &[bits],
            &p,
            &mut scratch,
            &mut spiked,
            &mut spiking,
            path,
        );
        out.push((name, z(spiked[0])));
    }
    out
}

fn stdp_forms(i: &[f64]) -> Vec<(&'static str, Vec<f64>)> {
    let r = rates(i[4], i[5], i[6]);
    let mut out = Vec::new();
    for (name, path) in [("best", CodePath::Best), ("scalar", CodePath::Scalar)] {
        // lane 1 of a block of four, and alone (the tail)
        let (mut w, mut s, mut q) = (
            [0.0, i[0], 0.0, 0.0],
            [0.0, i[1], 0.0, 0.0],
            [1.0, i[2], 1.0, 1.0],
        );
        k::stdp_update(&mut w, &mut s, &mut q, &[0.0, i[3], 0.0, 0.0], &r, path);
        out.push((name, vec![w[1], s[1], q[1]]));
        let (mut w, mut s, mut q) = ([i[0]], [i[1]], [i[2]]);
        k::stdp_update(&mut w, &mut s, &mut q, &[i[3]], &r, path);
        out.push((name, vec![w[0], s[0], q[0]]));
    }
    out
}

fn stdp_pairs_forms(i: &[f64]) -> Vec<(&'static str, Vec<f64>)> {
    let n = i[0] as usize;
    let v = |j: usize| i[1 + j * n..1 + (j + 1) * n].to_vec();
    let (e, f) = (v(3), v(4));
    let ef: Vec<f64> = e.iter().zip(&f).flat_map(|(e, f)| [*e, *f]).collect();
    let tail = &i[1 + 5 * n..];
    let r = rates(tail[0], tail[1], tail[2]);
    let mut out = Vec::new();
    for (name, path) in [("best", CodePath::Best), ("scalar", CodePath::Scalar)] {
        let (mut w, mut s, mut q) = (v(0), v(1), v(2));
        let d = k::stdp_update_pairs(&mut w, &mut s, &mut q, &ef, &r, path);
        let mut o = w;
        o.extend(s);
        o.extend(q);
        o.extend([d.de, d.df]);
        out.push((name, o));
    }
    out
}

fn stp_forms(i: &[f64]) -> Vec<(&'static str, Vec<f64>)> {
    let st0 = StpState {
        s: i[0],
        r: i[1],
        u: i[2],
        last: i[3] as i64,
    };
    let (t, d, f, dt) = (i[4] as i64, i[5], i[6], i[7]);
    let v: k::StpVariant = variant_of(i[8]).into();
    let out = |a: f64, st: &StpState| vec![a, st.s, st.r, st.u, st.last as f64];
    let mut st = st0;
    let a = k::stp_amplitude(&st, v);
    k::stp_on_spike(&mut st, v, d, f, t, dt);
    let (mut arr, mut amp) = ([st0], [0.0]);
    k::stp_amplitudes(&arr, &[v], &[0], &mut amp);
    k::stp_on_spikes(&mut arr, &[StpParams { u: i[2], d, f }], &[v], &[0], t, dt);
    vec![("scalar", out(a, &st)), ("array", out(amp[0], &arr[0]))]
}

/// How far apart two values are, for the report: ulps and absolute.
fn distance(a: f64, b: f64) -> (u64, f64) {
    if a.to_bits() == b.to_bits() {
        return (0, 0.0);
    }
    (
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs(),
        (a - b).abs(),
    )
}

#[test]
fn the_production_kernels_meet_the_golden_vectors() {
    let (_, cases) = vectors::parse(&std::fs::read_to_string(vectors::path()).unwrap());
    let mut stats: BTreeMap<String, (usize, u64, f64)> = BTreeMap::new();
    let mut failures = Vec::new();
    for c in &cases {
        let tol = tolerance_of(&c.kernel);
        let e = stats.entry(c.kernel.clone()).or_default();
        e.0 += 1;
        for (form, got) in production(c) {
            assert_eq!(got.len(), c.output.len(), "{} {} {form}", c.kernel, c.label);
            for (j, (&a, &b)) in got.iter().zip(&c.output).enumerate() {
                let (ulps, abs) = distance(a, b);
                e.1 = e.1.max(ulps);
                e.2 = e.2.max(abs);
                if !tol.admits(a, b) {
                    failures.push(format!(
                        "{} {} [{j}] {form}: {a:e} vs {b:e} ({ulps} ulp, {tol:?})",
                        c.kernel, c.label
                    ));
                }
            }
        }
    }
    for (kernel, (n, ulps, abs)) in &stats {
        eprintln!("{kernel:<24} {n:>3} cases  max {ulps} ulp, {abs:.2e} abs");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for (name, ..) in KERNELS {
        let n = stats.get(*name).map_or(0, |s| s.0);
        assert!(n >= 2, "kernel {name} has {n} golden cases");
    }
}

/// Where the arithmetic is the same, the production kernels give the
/// specification's bits (stated as exact in the file, or stricter here).
#[test]
fn the_libm_forms_are_exact() {
    let (_, cases) = vectors::parse(&std::fs::read_to_string(vectors::path()).unwrap());
    for c in cases.iter().filter(|c| c.kernel == "spike_probability") {
        let x = k::spike_argument(c.input[0], c.input[1]);
        let p = k::spike_probability_libm(x, law_of(c.input[2]).into());
        assert_eq!(p.to_bits(), c.output[0].to_bits(), "{}", c.label);
    }
    assert!(Tolerance::Exact.admits(0.5, 0.5) && !Tolerance::Exact.admits(0.5, 0.5000001));
}

/// `cpp/kernels/test_kernels.cpp`, compiled by build.rs with the module's
/// flags, checks the same file from C++ (and that the vectorised and the
/// scalar paths give the same bits).
#[test]
fn the_cpp_kernel_test_passes() {
    let program = env!("SEQLEARN_KERNEL_TEST");
    let out = std::process::Command::new(program)
        .arg(vectors::path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{program} failed");
    let (_, cases) = vectors::parse(&std::fs::read_to_string(vectors::path()).unwrap());
    assert!(
        text.contains(&format!("{} cases", cases.len())),
        "the C++ test read every case: {text}"
    );
}
