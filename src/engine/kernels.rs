//! The model's per-step kernels (`cpp/kernels/seqlearn_kernels.h`, the one
//! production implementation of each equation, shared with the NEST module),
//! called through a `cxx` bridge (`cpp/kernels/native_bridge.{h,cc}`).
//!
//! The C++ header is the source of truth: the enums below are cxx *extern*
//! enums (cxx static-asserts their values against the header), the structs
//! are plain data both sides agree on. The hot array entry points take raw
//! pointers (a `rust::Slice` costs calls into the Rust runtime per access);
//! the safe wrappers of this module check every length first. Everything is
//! compiled with `-O3 -ffp-contract=off` like the module, with run-time
//! AVX2 + FMA dispatch; the scalar path gives the same bits
//! ([`CodePath::Scalar`]).
//!
//! `crate::model::equations` is the readable specification and the oracle
//! these kernels are tested against (`tests/golden/kernels.txt`).

#[cxx::bridge(namespace = "seqlearn::native")]
mod ffi {
    /// model.md §2 item 4: the spike law.
    #[namespace = "seqlearn::kernels"]
    #[repr(u8)]
    #[derive(Debug)]
    enum SpikeLaw {
        /// `p = 1 - exp(-r dt)` (the original)
        Exponential = 0,
        /// `p = r dt` (the 2022 NEST version)
        Linear = 1,
    }

    /// model.md §4: the STP variant of a synapse population.
    #[namespace = "seqlearn::kernels"]
    #[repr(u8)]
    #[derive(Debug)]
    enum StpVariant {
        /// lagged amplitude, drifting U, dynamic inputs
        Original = 0,
        /// amplitude 1
        Off = 1,
        /// textbook Tsodyks-Markram: fixed U, R from the new s, static inputs
        TsodyksMarkram = 2,
    }

    /// Which path an array kernel takes (the tests compare both).
    #[namespace = "seqlearn::kernels"]
    #[repr(u8)]
    #[derive(Debug)]
    enum CodePath {
        /// AVX2 + FMA when the CPU has them
        Best = 0,
        /// the scalar path (the same bits)
        Scalar = 1,
    }

    /// Learning rates of one training step (model.md §3).
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Rates {
        eta: f64,
        /// `eta / n`, `n` training steps so far (without variance tracking)
        rate_n: f64,
        variance_tracking: bool,
    }

    /// Spike law of a run: `r = r_max rho`, `x = r dt`.
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct SpikeLawParams {
        r_max_hz: f64,
        dt_ms: f64,
        law: SpikeLaw,
    }

    /// STP state of one channel (model.md §4).
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct StpState {
        /// utilisation
        s: f64,
        /// resources
        r: f64,
        /// `U`; drifts with `s` in the original variant
        u: f64,
        /// step of the last spike (or reset step - 1)
        last: i64,
    }

    /// STP parameters of one channel (`u` only sets the initial state).
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct StpParams {
        u: f64,
        /// ms
        d: f64,
        /// ms
        f: f64,
    }

    /// `sum dw e` and `sum dw f` of one STDP update.
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct WeightChanges {
        de: f64,
        df: f64,
    }

    /// `rho` of one member and the circuit's largest value (NEST form).
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct CircuitShare {
        rho: f64,
        v_max: f64,
    }

    /// The two traces of one source.
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct TracePair {
        e: f64,
        f: f64,
    }

    unsafe extern "C++" {
        include!("seqlearn-nest/cpp/kernels/native_bridge.h");

        #[namespace = "seqlearn::kernels"]
        type SpikeLaw;
        #[namespace = "seqlearn::kernels"]
        type StpVariant;
        #[namespace = "seqlearn::kernels"]
        type CodePath;

        fn has_avx2_fma() -> bool;

        unsafe fn exp_into(x: *const f64, y: *mut f64, n: usize, negate: bool, path: CodePath);
        unsafe fn potentials(
            b: *const f64,
            e_sum: *const f64,
            f_sum: *const f64,
            u: *mut f64,
            n: usize,
        );
        unsafe fn soft_wta_max_shift(
            u: *const f64,
            rho: *mut f64,
            scratch: *mut f64,
            sizes: *const u32,
            n_circuits: usize,
            path: CodePath,
        );
        #[allow(clippy::too_many_arguments)]
        unsafe fn spike_draws(
            rho: *const f64,
            bits: *const u64,
            n: usize,
            law: &SpikeLawParams,
            scratch: *mut f64,
            spiked: *mut bool,
            spiking: *mut u32,
            path: CodePath,
        ) -> usize;
        unsafe fn stdp_update_pairs(
            w: *mut f64,
            s: *mut f64,
            q: *mut f64,
            ef: *const f64,
            n: usize,
            rates: &Rates,
            path: CodePath,
        ) -> WeightChanges;
        unsafe fn stdp_update(
            w: *mut f64,
            s: *mut f64,
            q: *mut f64,
            y: *const f64,
            n: usize,
            rates: &Rates,
            path: CodePath,
        );
        unsafe fn bias_updates(
            b: *mut f64,
            s: *mut f64,
            q: *mut f64,
            spiked: *const bool,
            n: usize,
            rates: &Rates,
        );
        unsafe fn trace_steps(x: *mut f64, a: *const f64, n: usize, k: f64);
        unsafe fn trace_steps_pairs(ef: *mut f64, a: *const f64, n: usize, kd: f64, kr: f64);
        unsafe fn epsps_of_pairs(ef: *const f64, y: *mut f64, n: usize);
        unsafe fn reset_traces(x: *mut f64, n: usize);
        unsafe fn stp_amplitudes(
            st: *const StpState,
            variant: *const StpVariant,
            channels: *const u32,
            n: usize,
            amplitude: *mut f64,
        );
        unsafe fn stp_on_spikes(
            st: *mut StpState,
            params: *const StpParams,
            variant: *const StpVariant,
            channels: *const u32,
            n: usize,
            t: i64,
            dt_ms: f64,
        );
        unsafe fn stp_resets(st: *mut StpState, n: usize, t0: i64);

        fn rates_of(eta: f64, variance_tracking: bool, n: u64) -> Rates;
        fn stp_initial(u: f64) -> StpState;
        fn stp_variant_for(v: StpVariant, is_input: bool) -> StpVariant;
        fn exp_poly1(x: f64) -> f64;
        fn trace_step(x: f64, a: f64, k: f64) -> f64;
        fn trace_decay(x: f64, k: f64) -> f64;
        fn trace_step_decay_first(x: f64, a: f64, k: f64) -> f64;
        fn decay_closed_form(e: f64, f: f64, steps: i64, kd: f64, kr: f64) -> TracePair;
        fn epsp(e: f64, f: f64) -> f64;
        fn potential(b: f64, e_sum: f64, f_sum: f64) -> f64;
        fn circuit_rho(v: &[f64], self_index: usize) -> CircuitShare;
        fn next_circuit_shift(c: f64, v_max: f64) -> f64;
        fn circuit_value(u: f64, c: f64) -> f64;
        fn spike_argument(r_hz: f64, dt_ms: f64) -> f64;
        fn spike_probability_poly(x: f64, law: SpikeLaw) -> f64;
        fn spike_probability_libm(x: f64, law: SpikeLaw) -> f64;
        fn spike_decision(draw: f64, p: f64) -> bool;
        fn spike_decision_libm(draw: f64, x: f64, law: SpikeLaw) -> bool;
        fn uniform_of_bits(bits: u64) -> f64;
        fn bias_update(b: &mut f64, s: &mut f64, q: &mut f64, spiked: bool, rates: &Rates);
        fn stp_amplitude(st: &StpState, v: StpVariant) -> f64;
        fn stp_on_spike(st: &mut StpState, v: StpVariant, d: f64, f: f64, t: i64, dt_ms: f64);
        fn stp_reset(st: &mut StpState, t0: i64);
    }
}

pub use ffi::{
    bias_update, circuit_rho, circuit_value, decay_closed_form, epsp, exp_poly1, has_avx2_fma,
    next_circuit_shift, potential, rates_of, spike_argument, spike_decision, spike_decision_libm,
    spike_probability_libm, spike_probability_poly, stp_amplitude, stp_initial, stp_on_spike,
    stp_reset, stp_variant_for, trace_decay, trace_step, trace_step_decay_first, uniform_of_bits,
    CircuitShare, CodePath, Rates, SpikeLaw, SpikeLawParams, StpParams, StpState, StpVariant,
    TracePair, WeightChanges,
};

// SAFETY (every wrapper below): the kernels read and write exactly `n`
// elements of each pointer (`n` per neuron / synapse / channel as named in
// the header, two per interleaved pair), and the wrappers check that every
// slice holds at least that many; the C++ side keeps no pointer after the
// call. Indices (`sizes`, `channels`) are checked against their arrays here.

/// `y[i] = exp(x[i])` (`exp(-x[i])` with `negate`), the polynomial within
/// 2 ulp of libm.
pub fn exp_into(x: &[f64], y: &mut [f64], negate: bool, path: CodePath) {
    assert!(y.len() >= x.len(), "exp_into: output shorter than input");
    unsafe { ffi::exp_into(x.as_ptr(), y.as_mut_ptr(), x.len(), negate, path) }
}

/// Item 2 for all neurons: `u = b + (E - F)`.
pub fn potentials(b: &[f64], e_sum: &[f64], f_sum: &[f64], u: &mut [f64]) {
    let n = u.len();
    assert!(b.len() == n && e_sum.len() == n && f_sum.len() == n);
    unsafe {
        ffi::potentials(
            b.as_ptr(),
            e_sum.as_ptr(),
            f_sum.as_ptr(),
            u.as_mut_ptr(),
            n,
        )
    }
}

/// Item 3, native form, for consecutive circuits of `sizes[c]` neurons.
pub fn soft_wta_max_shift(
    u: &[f64],
    rho: &mut [f64],
    scratch: &mut [f64],
    sizes: &[u32],
    path: CodePath,
) {
    let n: usize = sizes.iter().map(|&k| k as usize).sum();
    assert!(u.len() >= n && rho.len() >= n && scratch.len() >= n);
    unsafe {
        ffi::soft_wta_max_shift(
            u.as_ptr(),
            rho.as_mut_ptr(),
            scratch.as_mut_ptr(),
            sizes.as_ptr(),
            sizes.len(),
            path,
        )
    }
}

/// Item 4 for all neurons from one 64-bit draw each: sets `spiked`, writes
/// the spiking neurons (ascending) to `spiking` and returns their number.
pub fn spike_draws(
    rho: &[f64],
    bits: &[u64],
    law: &SpikeLawParams,
    scratch: &mut [f64],
    spiked: &mut [bool],
    spiking: &mut [u32],
    path: CodePath,
) -> usize {
    let n = rho.len();
    assert!(bits.len() == n && scratch.len() >= n && spiked.len() == n && spiking.len() >= n);
    unsafe {
        ffi::spike_draws(
            rho.as_ptr(),
            bits.as_ptr(),
            n,
            law,
            scratch.as_mut_ptr(),
            spiked.as_mut_ptr(),
            spiking.as_mut_ptr(),
            path,
        )
    }
}

/// §3 for one spiking neuron's learning synapses, `Y` from the interleaved
/// traces `ef = [e0, f0, e1, f1, ..]`; returns `sum dw e`, `sum dw f`.
pub fn stdp_update_pairs(
    w: &mut [f64],
    s: &mut [f64],
    q: &mut [f64],
    ef: &[f64],
    rates: &Rates,
    path: CodePath,
) -> WeightChanges {
    let n = w.len();
    assert!(s.len() == n && q.len() == n && ef.len() >= 2 * n);
    unsafe {
        ffi::stdp_update_pairs(
            w.as_mut_ptr(),
            s.as_mut_ptr(),
            q.as_mut_ptr(),
            ef.as_ptr(),
            n,
            rates,
            path,
        )
    }
}

/// §3 for `n` synapses with their EPSPs `y`.
pub fn stdp_update(
    w: &mut [f64],
    s: &mut [f64],
    q: &mut [f64],
    y: &[f64],
    rates: &Rates,
    path: CodePath,
) {
    let n = w.len();
    assert!(s.len() == n && q.len() == n && y.len() == n);
    unsafe {
        ffi::stdp_update(
            w.as_mut_ptr(),
            s.as_mut_ptr(),
            q.as_mut_ptr(),
            y.as_ptr(),
            n,
            rates,
            path,
        )
    }
}

/// §3 bias learning of all neurons (`Z` = spiked).
pub fn bias_updates(b: &mut [f64], s: &mut [f64], q: &mut [f64], spiked: &[bool], rates: &Rates) {
    let n = b.len();
    assert!(s.len() == n && q.len() == n && spiked.len() == n);
    unsafe {
        ffi::bias_updates(
            b.as_mut_ptr(),
            s.as_mut_ptr(),
            q.as_mut_ptr(),
            spiked.as_ptr(),
            n,
            rates,
        )
    }
}

/// Item 6 for an array: `x += a - x*k`.
pub fn trace_steps(x: &mut [f64], a: &[f64], k: f64) {
    assert!(a.len() >= x.len());
    unsafe { ffi::trace_steps(x.as_mut_ptr(), a.as_ptr(), x.len(), k) }
}

/// Item 6 for interleaved pairs: `e` with `kd`, `f` with `kr`, jump `a[i]`.
pub fn trace_steps_pairs(ef: &mut [f64], a: &[f64], kd: f64, kr: f64) {
    let n = ef.len() / 2;
    assert!(ef.len() == 2 * n && a.len() >= n);
    unsafe { ffi::trace_steps_pairs(ef.as_mut_ptr(), a.as_ptr(), n, kd, kr) }
}

/// Item 1 for interleaved pairs: `y[i] = e_i - f_i`.
pub fn epsps_of_pairs(ef: &[f64], y: &mut [f64]) {
    let n = ef.len() / 2;
    assert!(ef.len() == 2 * n && y.len() >= n);
    unsafe { ffi::epsps_of_pairs(ef.as_ptr(), y.as_mut_ptr(), n) }
}

/// §6: traces to 0.
pub fn reset_traces(x: &mut [f64]) {
    unsafe { ffi::reset_traces(x.as_mut_ptr(), x.len()) }
}

/// `amplitude[c] = A` (before the update) for every listed channel.
pub fn stp_amplitudes(
    st: &[StpState],
    variant: &[StpVariant],
    channels: &[u32],
    amplitude: &mut [f64],
) {
    let n = st.len();
    assert!(variant.len() == n && amplitude.len() == n);
    assert!(
        channels.iter().all(|&c| (c as usize) < n),
        "channel out of range"
    );
    unsafe {
        ffi::stp_amplitudes(
            st.as_ptr(),
            variant.as_ptr(),
            channels.as_ptr(),
            channels.len(),
            amplitude.as_mut_ptr(),
        )
    }
}

/// Item 8 for every listed channel spiking at step `t`.
pub fn stp_on_spikes(
    st: &mut [StpState],
    params: &[StpParams],
    variant: &[StpVariant],
    channels: &[u32],
    t: i64,
    dt_ms: f64,
) {
    let n = st.len();
    assert!(params.len() == n && variant.len() == n);
    assert!(
        channels.iter().all(|&c| (c as usize) < n),
        "channel out of range"
    );
    unsafe {
        ffi::stp_on_spikes(
            st.as_mut_ptr(),
            params.as_ptr(),
            variant.as_ptr(),
            channels.as_ptr(),
            channels.len(),
            t,
            dt_ms,
        )
    }
}

/// §6: reset of every channel at step `t0`.
pub fn stp_resets(st: &mut [StpState], t0: i64) {
    unsafe { ffi::stp_resets(st.as_mut_ptr(), st.len(), t0) }
}

impl From<crate::model::params::StpVariant> for StpVariant {
    fn from(v: crate::model::params::StpVariant) -> Self {
        use crate::model::params::StpVariant as V;
        match v {
            V::Original => StpVariant::Original,
            V::Off => StpVariant::Off,
            V::TsodyksMarkram => StpVariant::TsodyksMarkram,
        }
    }
}

impl From<crate::model::params::SpikeLaw> for SpikeLaw {
    fn from(v: crate::model::params::SpikeLaw) -> Self {
        use crate::model::params::SpikeLaw as L;
        match v {
            L::Exponential => SpikeLaw::Exponential,
            L::Linear => SpikeLaw::Linear,
        }
    }
}
