//! The golden-vector file `tests/golden/kernels.txt`: its cases, generated
//! from the specification (`seqlearn_nest::model::equations`, scalar, libm),
//! and its reader. The C++ kernel test (`cpp/kernels/test_kernels.cpp`) and
//! the NESTML tests read the same file.
//!
//! Format (one line each): `tolerance <kernel> <kind> [<value>]`, or a case
//! `<kernel> <label> <inputs..> | <outputs..>` with every value the 16 hex
//! digits of its IEEE-754 bits (booleans and enums as doubles 0, 1, 2):
//! exact, and readable in any language without a library. `#` starts a
//! comment line.

#![allow(dead_code)]

use seqlearn_nest::model::equations::{self, StpState};
use seqlearn_nest::model::network::StpParams;
use seqlearn_nest::model::params::{SpikeLaw, StpVariant};

/// One case: inputs and the specification's outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub kernel: String,
    pub label: String,
    pub input: Vec<f64>,
    pub output: Vec<f64>,
}

/// How close a production kernel must come to the specification.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tolerance {
    /// the same bits
    Exact,
    /// at most this many units in the last place apart
    Ulps(u64),
    /// `|a - b| <= x |b|`
    Rel(f64),
    /// `|a - b| <= x max(1, |b|)`
    Scaled(f64),
    /// `|a - b| <= x`
    Abs(f64),
}

impl Tolerance {
    pub fn admits(self, a: f64, b: f64) -> bool {
        if a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()) {
            return true;
        }
        match self {
            Tolerance::Exact => false,
            Tolerance::Ulps(n) => {
                a.is_finite()
                    && b.is_finite()
                    && (a >= 0.0) == (b >= 0.0)
                    && (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() <= n
            }
            Tolerance::Rel(x) => (a - b).abs() <= x * b.abs(),
            Tolerance::Scaled(x) => (a - b).abs() <= x * b.abs().max(1.0),
            Tolerance::Abs(x) => (a - b).abs() <= x,
        }
    }

    fn render(self) -> String {
        match self {
            Tolerance::Exact => "exact".into(),
            Tolerance::Ulps(n) => format!("ulps {n}"),
            Tolerance::Rel(x) => format!("rel {x:e}"),
            Tolerance::Scaled(x) => format!("scaled {x:e}"),
            Tolerance::Abs(x) => format!("abs {x:e}"),
        }
    }

    fn parse(kind: &str, value: Option<&str>) -> Tolerance {
        let v = || {
            value
                .expect("tolerance value")
                .parse::<f64>()
                .expect("a number")
        };
        match kind {
            "exact" => Tolerance::Exact,
            "ulps" => Tolerance::Ulps(v() as u64),
            "rel" => Tolerance::Rel(v()),
            "scaled" => Tolerance::Scaled(v()),
            "abs" => Tolerance::Abs(v()),
            k => panic!("unknown tolerance kind {k}"),
        }
    }
}

/// The kernels of the file: name, layout (documentation), tolerance of the
/// production forms against the specification, and why.
pub const KERNELS: &[(&str, &str, Tolerance, &str)] = &[
    (
        "exp",
        "x | exp(x)",
        Tolerance::Ulps(2),
        "polynomial exp within 2 ulp of libm; libm outside |x| <= 700",
    ),
    (
        "trace_step",
        "x a k | x + (a - x k)",
        Tolerance::Exact,
        "the same operations",
    ),
    (
        "trace_decay",
        "e f m kd kr | e f after m Euler steps without input",
        Tolerance::Rel(2e-12),
        "closed form (1 - k)^m: about m ulp",
    ),
    (
        "trace_step_decay_first",
        "x a k | Euler step",
        Tolerance::Ulps(2),
        "(x - x k) + a instead of x + (a - x k)",
    ),
    (
        "epsp",
        "e f | e - f",
        Tolerance::Exact,
        "the same operation",
    ),
    (
        "potential",
        "b n w[n] e[n] f[n] | b + sum w (e - f)",
        Tolerance::Scaled(1e-14),
        "from the sums sum w e and sum w f",
    ),
    (
        "soft_wta",
        "u[K] | rho[K]",
        Tolerance::Ulps(4),
        "polynomial exp of u - max, then normalised",
    ),
    (
        "soft_wta_nest",
        "c u[K] | rho[K]",
        Tolerance::Ulps(4),
        "libm exp(u - c) with a shared shift c",
    ),
    (
        "spike_probability",
        "r_hz dt_ms law | p",
        Tolerance::Abs(4.5e-16),
        "1 - exp(-x) with the polynomial exp (libm form: exact)",
    ),
    (
        "spike_decision",
        "draw r_hz dt_ms law | spiked",
        Tolerance::Exact,
        "draws at least 1e-12 away from p",
    ),
    (
        "stdp",
        "w S Q Y eta n vt | w S Q",
        Tolerance::Scaled(4e-16),
        "polynomial exp for exp(w), exp(-S)",
    ),
    (
        "stdp_pairs",
        "n w[n] S[n] Q[n] e[n] f[n] eta n_train vt | w[n] S[n] Q[n] sum_dw_e sum_dw_f",
        Tolerance::Scaled(4e-16),
        "the native form; sums in four lanes",
    ),
    (
        "bias",
        "b S Q Z eta n vt | b S Q",
        Tolerance::Exact,
        "libm exp, the same operations",
    ),
    (
        "stp",
        "s R U last t D F dt variant | A s R U last",
        Tolerance::Exact,
        "libm exp, the same operations",
    ),
    (
        "stp_reset",
        "s R U last t0 | s R U last",
        Tolerance::Exact,
        "the same assignments",
    ),
    (
        "stp_variant_for",
        "variant is_input | variant",
        Tolerance::Exact,
        "a choice",
    ),
];

pub fn tolerance_of(kernel: &str) -> Tolerance {
    KERNELS
        .iter()
        .find(|k| k.0 == kernel)
        .unwrap_or_else(|| panic!("no kernel {kernel}"))
        .2
}

fn hex(x: f64) -> String {
    format!("{:016x}", x.to_bits())
}

fn unhex(s: &str) -> f64 {
    f64::from_bits(u64::from_str_radix(s, 16).unwrap_or_else(|_| panic!("bad value {s}")))
}

/// The file's text for these cases.
pub fn render(cases: &[Case]) -> String {
    let mut out = String::from(
        "# tests/golden/kernels.txt -- golden vectors of the model's kernels
# (cpp/kernels/seqlearn_kernels.h).  GENERATED from the specification
# src/model/equations.rs (scalar, libm) by `SEQLEARN_BLESS=1 cargo test
# --test golden`; never edit by hand.  Checked by tests/golden.rs (the
# production kernels from Rust), cpp/kernels/test_kernels.cpp (from C++, with
# the module's flags) and nestml-models/tests/test_nestml.py (the NESTML
# models, where they model the same quantity).
#
# tolerance <kernel> <exact | ulps N | rel X | scaled X | abs X>: how close
# the production kernels come to the specification (ulps: units in the last
# place; rel: |a - b| <= X |b|; scaled: |a - b| <= X max(1, |b|)).
# <kernel> <label> <inputs> | <outputs>: every value the 16 hex digits of its
# IEEE-754 double (booleans and enums as 0, 1, 2: law exponential 0, linear
# 1; variant original 0, off 1, tsodyks_markram 2).
#
",
    );
    for (name, layout, tol, why) in KERNELS {
        out.push_str(&format!("# {name}: {layout} ({why})\n"));
        out.push_str(&format!("tolerance {name} {}\n", tol.render()));
    }
    for c in cases {
        let ins: Vec<String> = c.input.iter().map(|&x| hex(x)).collect();
        let outs: Vec<String> = c.output.iter().map(|&x| hex(x)).collect();
        out.push_str(&format!(
            "{} {} {} | {}\n",
            c.kernel,
            c.label,
            ins.join(" "),
            outs.join(" ")
        ));
    }
    out
}

/// Reads the file: the tolerances and the cases.
pub fn parse(text: &str) -> (Vec<(String, Tolerance)>, Vec<Case>) {
    let mut tols = Vec::new();
    let mut cases = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let first = words.next().unwrap();
        if first == "tolerance" {
            let k = words.next().unwrap().to_string();
            let kind = words.next().unwrap();
            tols.push((k, Tolerance::parse(kind, words.next())));
            continue;
        }
        let label = words.next().expect("a label").to_string();
        let rest: Vec<&str> = words.collect();
        let bar = rest.iter().position(|w| *w == "|").expect("a |");
        cases.push(Case {
            kernel: first.to_string(),
            label,
            input: rest[..bar].iter().map(|w| unhex(w)).collect(),
            output: rest[bar + 1..].iter().map(|w| unhex(w)).collect(),
        });
    }
    (tols, cases)
}

pub fn path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/kernels.txt")
}

pub fn law_of(x: f64) -> SpikeLaw {
    if x == 0.0 {
        SpikeLaw::Exponential
    } else {
        SpikeLaw::Linear
    }
}

pub fn variant_of(x: f64) -> StpVariant {
    match x as u8 {
        0 => StpVariant::Original,
        1 => StpVariant::Off,
        _ => StpVariant::TsodyksMarkram,
    }
}

fn variant_code(v: StpVariant) -> f64 {
    match v {
        StpVariant::Original => 0.0,
        StpVariant::Off => 1.0,
        StpVariant::TsodyksMarkram => 2.0,
    }
}

fn case(kernel: &str, label: &str, input: Vec<f64>, output: Vec<f64>) -> Case {
    Case {
        kernel: kernel.into(),
        label: label.into(),
        input,
        output,
    }
}

/// A draw that `kernels::uniform_of_bits` can make: a multiple of 2^-53.
pub fn draw_near(v: f64) -> f64 {
    (v * 9_007_199_254_740_992.0).round() / 9_007_199_254_740_992.0
}

/// Every case, with the specification's outputs.
pub fn generate() -> Vec<Case> {
    let mut c = Vec::new();
    exp_cases(&mut c);
    trace_cases(&mut c);
    potential_cases(&mut c);
    soft_wta_cases(&mut c);
    spike_cases(&mut c);
    stdp_cases(&mut c);
    bias_cases(&mut c);
    stp_cases(&mut c);
    c
}

fn exp_cases(c: &mut Vec<Case>) {
    let half_ln2 = std::f64::consts::LN_2 / 2.0;
    for (label, x) in [
        ("zero", 0.0),
        ("minus_zero", -0.0),
        ("tiny", 1e-300),
        ("minus_tiny", -1e-300),
        ("half", 0.5),
        ("minus_half", -0.5),
        ("one", 1.0),
        ("minus_one", -1.0),
        ("half_ln2", half_ln2),
        ("minus_half_ln2", -half_ln2),
        ("ten", 10.0),
        ("minus_ten", -10.0),
        ("hundred", -100.5),
        ("range_top", 700.0),
        ("range_bottom", -700.0),
        ("above_range", 700.000_000_1),
        ("below_range", -700.000_000_1),
        ("near_overflow", 709.7),
        ("near_underflow", -745.1),
        ("overflow", 710.0),
        ("underflow", -746.0),
    ] {
        c.push(case("exp", label, vec![x], vec![x.exp()]));
    }
}

fn euler_decay(mut x: f64, k: f64, m: u64) -> f64 {
    for _ in 0..m {
        x = equations::trace_step(x, 0.0, k);
    }
    x
}

fn trace_cases(c: &mut Vec<Case>) {
    let (kd, kr) = (1.0 / 20.0, 1.0 / 2.0);
    for (label, x, a, k) in [
        ("rest", 0.0, 0.0, kd),
        ("jump_from_rest", 0.0, 0.8, kd),
        ("decay", 0.8, 0.0, kd),
        ("decay_rise", 0.8, 0.0, kr),
        ("jump_and_decay", 1.3, 0.6, kd),
        ("jump_and_rise", 1.3, 0.6, kr),
        ("tiny", 1e-300, 0.0, kr),
        ("large", 1e6, 1.0, kd),
        ("several_jumps", 5.0, 3.0, kr),
    ] {
        c.push(case(
            "trace_step",
            label,
            vec![x, a, k],
            vec![equations::trace_step(x, a, k)],
        ));
        c.push(case(
            "trace_step_decay_first",
            label,
            vec![x, a, k],
            vec![equations::trace_step(x, a, k)],
        ));
    }
    // (the rise trace of the long gaps with a slower kr: with kr = 1/2 it
    // underflows, and the Euler form then sticks at the smallest subnormal)
    for (label, e, f, m, kr) in [
        ("none", 0.8, 0.7, 0u64, kr),
        ("one", 0.8, 0.7, 1, kr),
        ("two", 0.8, 0.7, 2, kr),
        ("ten", 1.7, 0.4, 10, kr),
        ("hundred", 0.8, 0.7, 100, kr),
        ("table_end", 0.8, 0.7, 1023, 0.01),
        ("beyond_table", 0.8, 0.7, 1024, 0.01),
        ("long", 2.5, 2.4, 1500, 0.01),
        ("very_long", 0.8, 0.7, 3000, 0.01),
    ] {
        c.push(case(
            "trace_decay",
            label,
            vec![e, f, m as f64, kd, kr],
            vec![euler_decay(e, kd, m), euler_decay(f, kr, m)],
        ));
    }
    for (label, e, f) in [
        ("equal", 0.8, 0.8),
        ("rising", 0.95, 0.5),
        ("zero", 0.0, 0.0),
        ("small", 1e-17, 2e-17),
    ] {
        c.push(case("epsp", label, vec![e, f], vec![equations::epsp(e, f)]));
    }
}

fn potential_cases(c: &mut Vec<Case>) {
    // label, b, w, e, f
    type Potential<'a> = (&'a str, f64, &'a [f64], &'a [f64], &'a [f64]);
    let cases: [Potential; 4] = [
        ("no_input", 0.0, &[], &[], &[]),
        ("bias_only", -1.25, &[0.5], &[0.0], &[0.0]),
        (
            "three",
            0.0,
            &[0.5, -0.25, 1.5],
            &[0.9, 0.3, 0.05],
            &[0.4, 0.1, 0.01],
        ),
        (
            "mixed",
            0.3,
            &[-2.0, 0.1, 0.7, -0.4, 3.0],
            &[1.2, 0.4, 0.0, 2.0, 0.05],
            &[0.2, 0.4, 0.0, 1.5, 0.01],
        ),
    ];
    for (label, b, w, e, f) in cases {
        let y: Vec<f64> = e
            .iter()
            .zip(f)
            .map(|(e, f)| equations::epsp(*e, *f))
            .collect();
        let mut input = vec![b, w.len() as f64];
        input.extend_from_slice(w);
        input.extend_from_slice(e);
        input.extend_from_slice(f);
        c.push(case(
            "potential",
            label,
            input,
            vec![equations::potential(b, w, &y)],
        ));
    }
}

fn soft_wta_cases(c: &mut Vec<Case>) {
    let circuits: [(&str, &[f64], f64); 8] = [
        ("circuit_of_one", &[0.0], 0.0),
        ("circuit_of_one_moved", &[5.0], 4.85),
        ("two_equal", &[0.0, 0.0], 0.0),
        ("large_potentials", &[1000.0, 999.0, 998.0], 999.5),
        ("five", &[-3.0, 2.0, 0.5, 1.25, -0.75], 1.3862943611198906),
        ("far_below", &[0.0, -800.0], 0.0),
        ("ten_equal", &[0.3; 10], 0.0),
        ("spread", &[700.0, -10.0, 350.0], 699.0),
    ];
    for (label, u, shift) in circuits {
        let mut rho = vec![0.0; u.len()];
        equations::softmax(u, &mut rho);
        c.push(case("soft_wta", label, u.to_vec(), rho.clone()));
        let mut input = vec![shift];
        input.extend_from_slice(u);
        c.push(case("soft_wta_nest", label, input, rho));
    }
}

fn spike_cases(c: &mut Vec<Case>) {
    for (label, r, law) in [
        ("silent", 0.0, 0.0),
        ("one_hz", 1.0, 0.0),
        ("half_circuit", 50.0, 0.0),
        ("full_circuit", 100.0, 0.0),
        ("share", 37.0, 0.0),
        ("slow", 1e-3, 0.0),
        ("certain", 1e9, 0.0),
        ("linear_half", 50.0, 1.0),
        ("linear_full", 100.0, 1.0),
    ] {
        let p = equations::spike_probability(r, 1.0, law_of(law));
        c.push(case("spike_probability", label, vec![r, 1.0, law], vec![p]));
    }
    for (label, v, r, law) in [
        ("zero_draw", 0.0, 100.0, 0.0),
        ("low", 0.05, 100.0, 0.0),
        ("just_below_p", 0.0951, 100.0, 0.0),
        ("just_above_p", 0.0953, 100.0, 0.0),
        ("between_p_and_x", 0.0999, 100.0, 0.0),
        ("above_x", 0.100_000_01, 100.0, 0.0),
        ("high", 0.5, 100.0, 0.0),
        ("silent", 0.0, 0.0, 0.0),
        ("certain", 0.999_999, 1e9, 0.0),
        ("linear_below", 0.0999, 100.0, 1.0),
        ("linear_above", 0.1001, 100.0, 1.0),
    ] {
        let draw = draw_near(v);
        let p = equations::spike_probability(r, 1.0, law_of(law));
        assert!(
            (draw - p).abs() > 1e-12 || draw == 0.0,
            "{label}: too close to p"
        );
        let z = if draw < p { 1.0 } else { 0.0 };
        c.push(case(
            "spike_decision",
            label,
            vec![draw, r, 1.0, law],
            vec![z],
        ));
    }
}

/// §3 for one weight: the specification's learning rate and update.
fn stdp_oracle(w: f64, s: f64, q: f64, y: f64, eta: f64, n: u64, vt: bool) -> [f64; 3] {
    let (mut w, mut s, mut q) = (w, s, q);
    let rate = equations::learning_rate(eta, s, q, vt, n);
    equations::stdp_update(&mut w, &mut s, &mut q, y, rate, vt);
    [w, s, q]
}

fn stdp_cases(c: &mut Vec<Case>) {
    for (label, w, s, q, y, eta, n, vt) in [
        ("by_hand", 0.0, 0.0, 1.0, 0.3, 0.05, 1u64, true),
        ("learned", 0.3, 0.1, 1.0, 0.4, 0.05, 7, true),
        ("negative_w", -2.0, -0.5, 0.9, 0.0, 0.05, 7, true),
        ("p_below_eta", -10.0, 0.0, 1.0, 0.0, 0.05, 1, true),
        ("p_below_eta_n", -10.0, 0.0, 1.0, 0.2, 0.05, 1, false),
        ("eta_n_late", 0.5, 0.2, 1.1, 0.7, 0.05, 1000, false),
        ("eta_n_first", -1.0, 0.0, 1.0, 0.9, 0.05, 1, false),
        ("w_beyond_range", -750.0, 0.3, 1.2, 0.5, 0.05, 3, true),
        ("s_beyond_range", 0.1, -701.0, 491_402.0, 0.2, 0.05, 2, true),
        ("large_w", 3.0, 1.5, 3.0, 1.2, 0.05, 9, true),
        ("large_y", 0.0, 0.0, 1.0, 5.0, 0.05, 1, true),
        ("deep", -5.0, -4.0, 17.0, 0.01, 0.05, 40, true),
        ("other_eta", -0.7, -0.6, 0.5, 0.3, 0.2, 3, true),
    ] {
        let vtf = if vt { 1.0 } else { 0.0 };
        c.push(case(
            "stdp",
            label,
            vec![w, s, q, y, eta, n as f64, vtf],
            stdp_oracle(w, s, q, y, eta, n, vt).to_vec(),
        ));
    }
    for (label, vt) in [("eleven_vt", true), ("eleven_eta_n", false)] {
        c.push(stdp_pairs_case(label, vt));
    }
}

/// Eleven synapses (two blocks of four and a tail of three), one with `w`
/// beyond the polynomial's range.
fn stdp_pairs_case(label: &str, vt: bool) -> Case {
    let n = 11;
    let frac = |i: usize, a: f64| ((i as f64 + 1.0) * a).fract();
    let w: Vec<f64> = (0..n)
        .map(|i| {
            if i == 5 {
                -750.0
            } else {
                -8.0 + 9.0 * frac(i, 0.618_033_988_749_895)
            }
        })
        .collect();
    let s: Vec<f64> = (0..n)
        .map(|i| -2.0 + 3.0 * frac(i, 0.414_213_562_373_095))
        .collect();
    let q: Vec<f64> = (0..n)
        .map(|i| s[i] * s[i] + frac(i, 0.732_050_807_568_877))
        .collect();
    let e: Vec<f64> = (0..n)
        .map(|i| 1.5 * frac(i, 0.236_067_977_499_79))
        .collect();
    let f: Vec<f64> = (0..n)
        .map(|i| e[i] * frac(i, 0.645_751_311_064_59))
        .collect();
    let (eta, n_train) = (0.05, 17u64);
    let mut out_w = Vec::new();
    let mut out_s = Vec::new();
    let mut out_q = Vec::new();
    let (mut de, mut df) = (0.0, 0.0);
    for i in 0..n {
        let [w1, s1, q1] = stdp_oracle(
            w[i],
            s[i],
            q[i],
            equations::epsp(e[i], f[i]),
            eta,
            n_train,
            vt,
        );
        de += (w1 - w[i]) * e[i];
        df += (w1 - w[i]) * f[i];
        out_w.push(w1);
        out_s.push(s1);
        out_q.push(q1);
    }
    let mut input = vec![n as f64];
    for v in [&w, &s, &q, &e, &f] {
        input.extend_from_slice(v);
    }
    input.extend([eta, n_train as f64, if vt { 1.0 } else { 0.0 }]);
    let mut output = out_w;
    output.extend(out_s);
    output.extend(out_q);
    output.extend([de, df]);
    case("stdp_pairs", label, input, output)
}

fn bias_cases(c: &mut Vec<Case>) {
    for (label, b, s, q, z, eta, n, vt) in [
        ("first_spike", 0.0, 0.0, 1.0, 1.0, 0.05, 1u64, true),
        ("first_silence", 0.0, 0.0, 1.0, 0.0, 0.05, 1, true),
        ("learned_silence", -3.0, -2.0, 4.5, 0.0, 0.05, 5, true),
        ("learned_spike", -3.0, -2.0, 4.5, 1.0, 0.05, 5, true),
        ("eta_n_silence", 0.5, 0.0, 1.0, 0.0, 0.05, 10, false),
        ("p_below_eta_spike", -10.0, 0.0, 1.0, 1.0, 0.05, 2, false),
        ("p_below_eta_silence", -10.0, -9.0, 82.0, 0.0, 0.05, 2, true),
    ] {
        let vtf = if vt { 1.0 } else { 0.0 };
        c.push(case(
            "bias",
            label,
            vec![b, s, q, z, eta, n as f64, vtf],
            stdp_oracle(b, s, q, z, eta, n, vt).to_vec(),
        ));
    }
}

fn stp_cases(c: &mut Vec<Case>) {
    use StpVariant::{Off, Original, TsodyksMarkram};
    // a second spike of the hand example: the state after the first
    let mut first = StpState {
        s: 0.3,
        r: 1.0,
        u: 0.3,
        last: -1,
    };
    first.on_spike(
        &StpParams {
            u: 0.3,
            d: 100.0,
            f: 10.0,
        },
        Original,
        5,
        1.0,
    );
    let second = (first.s, first.r, first.u, first.last);
    for (label, (s, r, u, last), t, d, f, v) in [
        (
            "first_spike",
            (0.5, 1.0, 0.5, -1),
            5u64,
            110.0,
            5.0,
            Original,
        ),
        (
            "by_hand_first",
            (0.3, 1.0, 0.3, -1),
            5,
            100.0,
            10.0,
            Original,
        ),
        ("by_hand_second", second, 9, 100.0, 10.0, Original),
        ("input_first", (1.0, 1.0, 1.0, -1), 1, 1.0, 1.0, Original),
        (
            "input_consecutive",
            (1.0, 0.0, 1.0, 4),
            5,
            1.0,
            1.0,
            Original,
        ),
        (
            "input_recovered",
            (1.0, 0.0, 1.0, 4),
            14,
            1.0,
            1.0,
            Original,
        ),
        (
            "u_clipped_to_zero",
            (0.0, 1.0, 0.0, -1),
            3,
            60.0,
            4.0,
            Original,
        ),
        ("u_one", (1.0, 1.0, 1.0, -1), 20, 110.0, 5.0, Original),
        ("long_gap", (0.9, 0.2, 0.9, 10), 5000, 110.0, 5.0, Original),
        ("d_f_at_dt", (0.3, 0.6, 0.3, 7), 9, 1.0, 1.0, Original),
        (
            "textbook_first",
            (0.3, 1.0, 0.3, -1),
            2,
            100.0,
            10.0,
            TsodyksMarkram,
        ),
        (
            "textbook_later",
            (0.42, 0.55, 0.25, 7),
            19,
            200.0,
            20.0,
            TsodyksMarkram,
        ),
        (
            "textbook_input",
            (1.0, 1.0, 1.0, -1),
            1,
            1.0,
            1.0,
            TsodyksMarkram,
        ),
        ("off", (0.5, 1.0, 0.5, -1), 5, 110.0, 5.0, Off),
    ] {
        let mut st = StpState { s, r, u, last };
        let a = st.amplitude(v);
        st.on_spike(&StpParams { u, d, f }, v, t, 1.0);
        c.push(case(
            "stp",
            label,
            vec![s, r, u, last as f64, t as f64, d, f, 1.0, variant_code(v)],
            vec![a, st.s, st.r, st.u, st.last as f64],
        ));
    }
    for (label, (s, r, u, last), t0) in [
        ("drifted", (0.7, 0.2, 0.7, 40), 100u64),
        ("textbook", (0.6, 0.3, 0.25, 12), 50),
        ("at_start", (0.5, 1.0, 0.5, -1), 0),
    ] {
        let mut st = StpState { s, r, u, last };
        st.reset(t0);
        c.push(case(
            "stp_reset",
            label,
            vec![s, r, u, last as f64, t0 as f64],
            vec![st.s, st.r, st.u, st.last as f64],
        ));
    }
    for v in [Original, Off, TsodyksMarkram] {
        for input in [false, true] {
            let label = format!("{}_{}", v.name(), if input { "input" } else { "recurrent" });
            c.push(case(
                "stp_variant_for",
                &label,
                vec![variant_code(v), if input { 1.0 } else { 0.0 }],
                vec![variant_code(equations::variant_for(v, input))],
            ));
        }
    }
}
