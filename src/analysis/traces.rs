//! Readout state `x_j` (model.md §2 item 6) computed from a spike table.
//!
//! Within step `t`: `x_j += y_j - x_j * dt / tau_decay`, i.e.
//! `x_j(t) = x_j(t-1) * (1 - dt/tau_decay) + y_j(t)`, where `x_j(t)` is the
//! value *after* the update of step `t` (it includes a spike of step `t`).
//! At the first step of a protocol phase with `reset = true` the state is 0
//! before that step's update. The computation is event-driven (exact, the
//! decay between events is applied as a power), so only the sampled steps
//! cost memory.

use crate::rundir::Spikes;
use nalgebra::DMatrix;

/// Step index of a time in ms (events of step `t` have `time_ms = t*dt`).
pub fn step_of(time_ms: f64, dt_ms: f64) -> i64 {
    (time_ms / dt_ms + 1e-9).floor() as i64
}

/// Readout state of `n` sources at the given `sample_steps` (sorted ascending).
///
/// `reset_steps`: steps at whose start the state is set to 0 (sorted).
/// Returns a `samples x n` matrix. Spikes of ids `>= n` are ignored.
pub fn sample_readout_state(
    spikes: &Spikes,
    n: usize,
    dt_ms: f64,
    tau_decay_ms: f64,
    reset_steps: &[i64],
    sample_steps: &[i64],
) -> DMatrix<f64> {
    let decay = 1.0 - dt_ms / tau_decay_ms;
    let mut x = vec![0.0f64; n];
    let mut last = vec![i64::MIN; n];
    let mut out = DMatrix::<f64>::zeros(sample_steps.len(), n);
    if sample_steps.is_empty() {
        return out;
    }
    let first_needed = sample_steps[0];
    // Skip spikes that cannot influence the samples: before the last reset
    // preceding the first sample.
    let start_step = reset_steps
        .iter()
        .copied()
        .filter(|&r| r <= first_needed)
        .max();
    let mut si = match start_step {
        Some(r) => spikes.time_ms.partition_point(|&t| step_of(t, dt_ms) < r),
        None => 0,
    };
    let mut ri = reset_steps.partition_point(|&r| start_step.is_some_and(|s| r <= s));
    let value = |x: f64, last: i64, at: i64| -> f64 {
        if x == 0.0 || last == i64::MIN {
            0.0
        } else {
            x * decay.powi((at - last).clamp(0, i32::MAX as i64) as i32)
        }
    };
    for (row, &s) in sample_steps.iter().enumerate() {
        loop {
            let next_spike = spikes.time_ms.get(si).map(|&t| step_of(t, dt_ms));
            let next_reset = reset_steps.get(ri).copied();
            // A reset at step r happens before the spikes of step r.
            match (next_spike, next_reset) {
                (_, Some(r)) if r <= s && next_spike.is_none_or(|t| r <= t) => {
                    x.iter_mut().for_each(|v| *v = 0.0);
                    last.iter_mut().for_each(|v| *v = i64::MIN);
                    ri += 1;
                }
                (Some(t), _) if t <= s => {
                    let k = spikes.id[si] as usize;
                    if k < n {
                        x[k] = value(x[k], last[k], t) + 1.0;
                        last[k] = t;
                    }
                    si += 1;
                }
                _ => break,
            }
        }
        for k in 0..n {
            out[(row, k)] = value(x[k], last[k], s);
        }
    }
    out
}

/// Dense reference implementation (the Euler loop itself), for tests.
pub fn dense_readout_state(
    spikes: &Spikes,
    n: usize,
    dt_ms: f64,
    tau_decay_ms: f64,
    reset_steps: &[i64],
    n_steps: i64,
) -> Vec<Vec<f64>> {
    let mut x = vec![0.0; n];
    let mut out = Vec::with_capacity(n_steps as usize);
    let mut si = 0;
    for t in 0..n_steps {
        if reset_steps.contains(&t) {
            x.iter_mut().for_each(|v| *v = 0.0);
        }
        let mut y = vec![0.0; n];
        while si < spikes.len() && step_of(spikes.time_ms[si], dt_ms) <= t {
            if step_of(spikes.time_ms[si], dt_ms) == t && (spikes.id[si] as usize) < n {
                y[spikes.id[si] as usize] += 1.0;
            }
            si += 1;
        }
        for k in 0..n {
            x[k] += y[k] - x[k] * dt_ms / tau_decay_ms;
        }
        out.push(x.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_driven_matches_euler_loop() {
        let sp = Spikes {
            id: vec![0, 1, 0, 2, 0, 1, 1],
            time_ms: vec![0.0, 3.0, 3.0, 10.0, 25.0, 40.0, 41.0],
        };
        let resets = vec![0, 30];
        let dense = dense_readout_state(&sp, 3, 1.0, 20.0, &resets, 60);
        let steps: Vec<i64> = (0..60).collect();
        let m = sample_readout_state(&sp, 3, 1.0, 20.0, &resets, &steps);
        for t in 0..60 {
            for k in 0..3 {
                assert!(
                    (m[(t, k)] - dense[t][k]).abs() < 1e-12,
                    "t {t} k {k}: {} vs {}",
                    m[(t, k)],
                    dense[t][k]
                );
            }
        }
        // starting late (after the reset) gives the same values
        let steps: Vec<i64> = (35..60).collect();
        let m = sample_readout_state(&sp, 3, 1.0, 20.0, &resets, &steps);
        for (r, t) in (35..60).enumerate() {
            for k in 0..3 {
                assert!((m[(r, k)] - dense[t][k]).abs() < 1e-12);
            }
        }
    }
}
