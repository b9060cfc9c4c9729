//! The model's equations (model.md §2–§4), one function each, in the exact
//! arithmetic form the specification gives. The native engine calls these;
//! the NEST module (cpp/) implements the same lines in C++.

use crate::model::network::StpParams;
use crate::model::params::{SpikeLaw, StpVariant};

/// Item 6: one explicit Euler step of a trace with jump `a = y*A`.
#[inline(always)]
pub fn trace_step(x: f64, a: f64, k: f64) -> f64 {
    x + (a - x * k)
}

/// Item 3: soft winner-take-all over one circuit, with a max shift.
/// Writes `rho_k = exp(u_k) / sum_l exp(u_l)`.
pub fn softmax(u: &[f64], rho: &mut [f64]) {
    let max = u.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for (r, &x) in rho.iter_mut().zip(u) {
        *r = (x - max).exp();
        sum += *r;
    }
    for r in rho.iter_mut() {
        *r /= sum;
    }
}

/// Item 4: probability to spike in one step at rate `r_hz`.
#[inline]
pub fn spike_probability(r_hz: f64, dt_ms: f64, law: SpikeLaw) -> f64 {
    let x = r_hz * dt_ms * 1e-3;
    match law {
        SpikeLaw::Exponential => 1.0 - (-x).exp(),
        SpikeLaw::Linear => x,
    }
}

/// §3: the adaptive learning rate of one synapse (or bias).
/// `n` = training steps so far including this one (used without variance tracking).
#[inline(always)]
pub fn learning_rate(eta: f64, s: f64, q: f64, variance_tracking: bool, n: u64) -> f64 {
    if variance_tracking {
        eta * (q - s * s) / ((-s).exp() + 1.0)
    } else {
        eta / n as f64
    }
}

/// §3: one STDP update of weight `w` towards the EPSP `y` (`y = Z` for the
/// bias), then the variance tracking of `S, Q` with the new weight.
#[inline(always)]
pub fn stdp_update(w: &mut f64, s: &mut f64, q: &mut f64, y: f64, rate: f64, vt: bool) {
    let p = w.exp();
    *w += rate * (y - p) / p.max(rate);
    if vt {
        *s += rate * (*w - *s);
        *q += rate * (*w * *w - *q);
    }
}

/// §4: short-term plasticity state of one source (or synapse).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StpState {
    /// Utilisation `s`.
    pub s: f64,
    /// Resources `R`.
    pub r: f64,
    /// `U`; drifts with `s` in the original variant.
    pub u: f64,
    /// Step of the last spike (or `reset step - 1`).
    pub last: i64,
}

impl StpState {
    pub fn new(p: &StpParams) -> StpState {
        StpState {
            s: p.u,
            r: 1.0,
            u: p.u,
            last: -1,
        }
    }

    /// Amplitude `A = R*s` carried by a spike now (before the update).
    #[inline]
    pub fn amplitude(&self, variant: StpVariant) -> f64 {
        match variant {
            StpVariant::Off => 1.0,
            _ => self.r * self.s,
        }
    }

    /// Update on a spike in step `t` (item 8). `isi` = time since the previous
    /// spike minus one step.
    #[inline]
    pub fn on_spike(&mut self, p: &StpParams, variant: StpVariant, t: u64, dt: f64) {
        let isi = (t as i64 - self.last - 1) as f64 * dt;
        let eps = f64::EPSILON;
        match variant {
            StpVariant::Off => {}
            StpVariant::Original => {
                // U and s are one array in the original: U drifts with s.
                let (s, r) = (self.s, self.r);
                self.r = 1.0 + (r - r * s - 1.0) * (-isi / (p.d + eps)).exp();
                self.s = s + s * (1.0 - s) * (-isi / (p.f + eps)).exp();
                self.u = self.s;
            }
            StpVariant::TsodyksMarkram => {
                let (s, r) = (self.s, self.r);
                let s_new = self.u + s * (1.0 - self.u) * (-isi / (p.f + eps)).exp();
                self.r = 1.0 + (r - r * s_new - 1.0) * (-isi / (p.d + eps)).exp();
                self.s = s_new;
            }
        }
        self.last = t as i64;
    }

    /// Reset at the start of a test phase in step `t0`: `R = 1`, `s = U`
    /// (the drifted `U` in the original), `isi = 0`.
    pub fn reset(&mut self, t0: u64) {
        self.r = 1.0;
        self.s = self.u;
        self.last = t0 as i64 - 1;
    }
}

/// The STP variant that applies to a source: in the textbook variant inputs
/// are static.
pub fn variant_for(variant: StpVariant, is_input: bool) -> StpVariant {
    match variant {
        StpVariant::TsodyksMarkram if is_input => StpVariant::Off,
        v => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f64 = 1e-15;

    #[test]
    fn traces_give_the_two_step_latency() {
        // A spike in step t with amplitude A: Y stays 0 at t+1, is 0.45 A at
        // t+2 and 0.6525 A at t+3 (model.md §2 item 6).
        let (kd, kr, a) = (1.0 / 20.0, 1.0 / 2.0, 0.8);
        let (mut e, mut f) = (0.0, 0.0);
        e = trace_step(e, a, kd);
        f = trace_step(f, a, kr);
        assert!((e - f).abs() < EPS, "Y at t+1");
        e = trace_step(e, 0.0, kd);
        f = trace_step(f, 0.0, kr);
        assert!((e - f - 0.45 * a).abs() < EPS, "Y at t+2 = {}", e - f);
        e = trace_step(e, 0.0, kd);
        f = trace_step(f, 0.0, kr);
        assert!((e - f - 0.6525 * a).abs() < EPS, "Y at t+3 = {}", e - f);
    }

    #[test]
    fn softmax_sums_to_one_and_is_shift_stable() {
        let u = [1000.0, 999.0, 998.0];
        let mut rho = [0.0; 3];
        softmax(&u, &mut rho);
        assert!((rho.iter().sum::<f64>() - 1.0).abs() < EPS);
        let z = 1.0 + (-1.0f64).exp() + (-2.0f64).exp();
        assert!((rho[0] - 1.0 / z).abs() < EPS);
        assert!((rho[2] - (-2.0f64).exp() / z).abs() < EPS);
    }

    #[test]
    fn spike_laws() {
        let p = spike_probability(100.0, 1.0, SpikeLaw::Exponential);
        assert!((p - (1.0 - (-0.1f64).exp())).abs() < EPS);
        assert_eq!(spike_probability(100.0, 1.0, SpikeLaw::Linear), 0.1);
    }

    #[test]
    fn stdp_with_variance_tracking_by_hand() {
        // w=0, S=0, Q=1: eta_kj = 0.05*(1-0)/(1+1) = 0.025; P = 1;
        // w = 0.025*(0.3-1)/1 = -0.0175; S = 0.025*(-0.0175) = -4.375e-4;
        // Q = 1 + 0.025*(0.0175^2 - 1).
        let rate = learning_rate(0.05, 0.0, 1.0, true, 1);
        assert!((rate - 0.025).abs() < EPS);
        let (mut w, mut s, mut q) = (0.0, 0.0, 1.0);
        stdp_update(&mut w, &mut s, &mut q, 0.3, rate, true);
        assert!((w - -0.0175).abs() < EPS);
        assert!((s - -4.375e-4).abs() < EPS);
        assert!((q - (1.0 + 0.025 * (0.0175f64.powi(2) - 1.0))).abs() < EPS);
    }

    #[test]
    fn stdp_divides_by_max_p_eta() {
        // Very negative w: P < eta, the step is divided by eta, not P.
        let (mut w, mut s, mut q) = (-10.0, 0.0, 1.0);
        let rate = 0.01;
        stdp_update(&mut w, &mut s, &mut q, 0.0, rate, false);
        let p = (-10.0f64).exp();
        assert!((w - (-10.0 + 0.01 * (0.0 - p) / 0.01)).abs() < EPS);
        assert_eq!((s, q), (0.0, 1.0), "no variance tracking");
        assert_eq!(learning_rate(0.05, 3.0, 7.0, false, 50), 0.001);
    }

    #[test]
    fn stp_original_lags_and_drifts() {
        let p = StpParams {
            u: 0.3,
            d: 100.0,
            f: 10.0,
        };
        let mut st = StpState::new(&p);
        // First spike at step 5: amplitude R*s = 0.3 (before the update).
        assert!((st.amplitude(StpVariant::Original) - 0.3).abs() < EPS);
        st.on_spike(&p, StpVariant::Original, 5, 1.0);
        let isi = 5.0; // time since start, counter = 5
        let eps = f64::EPSILON;
        let r1 = 1.0 + (1.0 - 0.3 - 1.0) * (-isi / (100.0 + eps)).exp();
        let s1 = 0.3 + 0.3 * 0.7 * (-isi / (10.0 + eps)).exp();
        assert!((st.r - r1).abs() < EPS && (st.s - s1).abs() < EPS);
        assert_eq!(st.u, st.s, "U drifts with s");
        // Second spike at step 9: amplitude from the first update (lag),
        // isi = 9 - 5 - 1 = 3.
        assert!((st.amplitude(StpVariant::Original) - r1 * s1).abs() < EPS);
        st.on_spike(&p, StpVariant::Original, 9, 1.0);
        let r2 = 1.0 + (r1 - r1 * s1 - 1.0) * (-3.0 / (100.0 + eps)).exp();
        let s2 = s1 + s1 * (1.0 - s1) * (-3.0 / (10.0 + eps)).exp();
        assert!((st.r - r2).abs() < EPS && (st.s - s2).abs() < EPS);
        // Reset keeps the drifted U.
        st.reset(100);
        assert_eq!((st.r, st.s, st.last), (1.0, s2, 99));
    }

    #[test]
    fn stp_input_quirk_and_textbook_variant() {
        // Inputs: U = 1, D = F = dt. Two spikes in consecutive steps: the
        // second carries amplitude 1 (lag), the third gets 1 - exp(0)... = 0.
        let p = StpParams {
            u: 1.0,
            d: 1.0,
            f: 1.0,
        };
        let mut st = StpState::new(&p);
        st.on_spike(&p, StpVariant::Original, 0, 1.0); // isi 0: R = 1 + (1-1-1)*1 = 0
        assert!((st.amplitude(StpVariant::Original) - 0.0).abs() < EPS);
        st.on_spike(&p, StpVariant::Original, 10, 1.0); // isi 9
        let r = 1.0 - (-9.0 / (1.0 + f64::EPSILON)).exp();
        assert!((st.amplitude(StpVariant::Original) - r).abs() < 1e-12);
        // Textbook: U fixed, R uses the new s.
        let q = StpParams {
            u: 0.3,
            d: 100.0,
            f: 10.0,
        };
        let mut tm = StpState::new(&q);
        tm.on_spike(&q, StpVariant::TsodyksMarkram, 2, 1.0);
        let eps = f64::EPSILON;
        let s1 = 0.3 + 0.3 * 0.7 * (-2.0 / (10.0 + eps)).exp();
        let r1 = 1.0 + (1.0 - s1 - 1.0) * (-2.0 / (100.0 + eps)).exp();
        assert!((tm.s - s1).abs() < EPS && (tm.r - r1).abs() < EPS);
        assert_eq!(tm.u, 0.3);
        assert_eq!(
            variant_for(StpVariant::TsodyksMarkram, true),
            StpVariant::Off
        );
        assert_eq!(
            variant_for(StpVariant::Original, true),
            StpVariant::Original
        );
    }
}
