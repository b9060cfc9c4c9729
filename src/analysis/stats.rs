//! Small statistics helpers: correlation, circular statistics, rank test.
//!
//! The normal distribution (the rank test's p-value) and the median come
//! from `statrs`. statrs has no Mann–Whitney U test, no circular statistics
//! and no Pearson coefficient with this file's rule for constant input
//! (NaN), so those stay here; `nanmean` is a one-line filter.

use std::f64::consts::PI;

use statrs::distribution::{ContinuousCDF, Normal};
use statrs::statistics::{Data, Median};

/// Pearson correlation; NaN when either side has zero variance or fewer than 2 points.
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 2 {
        return f64::NAN;
    }
    let ma = a[..n].iter().sum::<f64>() / n as f64;
    let mb = b[..n].iter().sum::<f64>() / n as f64;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (da, db) = (a[i] - ma, b[i] - mb);
        sab += da * db;
        saa += da * da;
        sbb += db * db;
    }
    if saa <= 1e-300 || sbb <= 1e-300 {
        return f64::NAN;
    }
    sab / (saa * sbb).sqrt()
}

/// Angle in `[0, 2π)`.
pub fn wrap_angle(a: f64) -> f64 {
    let t = a.rem_euclid(2.0 * PI);
    if t >= 2.0 * PI {
        0.0
    } else {
        t
    }
}

/// Accumulator of weighted unit vectors `w * e^{iθ}`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Phasor {
    pub re: f64,
    pub im: f64,
    pub weight: f64,
    pub count: usize,
}

impl Phasor {
    pub fn add(&mut self, theta: f64, w: f64) {
        self.re += w * theta.cos();
        self.im += w * theta.sin();
        self.weight += w;
        self.count += 1;
    }
    /// Mean direction in `[0, 2π)`; NaN when empty or the resultant is 0.
    pub fn angle(&self) -> f64 {
        if self.weight <= 0.0 || (self.re == 0.0 && self.im == 0.0) {
            return f64::NAN;
        }
        wrap_angle(self.im.atan2(self.re))
    }
    /// Mean resultant length in `[0, 1]`; 0 when empty.
    pub fn resultant(&self) -> f64 {
        if self.weight <= 0.0 {
            return 0.0;
        }
        (self.re.hypot(self.im) / self.weight).min(1.0)
    }
}

/// Circular mean of angles (NaN if undefined).
pub fn circ_mean(angles: &[f64]) -> f64 {
    let mut p = Phasor::default();
    for &a in angles {
        p.add(a, 1.0);
    }
    p.angle()
}

/// Circular-circular correlation (Jammalamadaka & SenGupta 2001, eq. 8.2.2).
/// NaN with fewer than 3 pairs or zero circular spread.
pub fn circ_corr(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 3 {
        return f64::NAN;
    }
    let (ma, mb) = (circ_mean(&a[..n]), circ_mean(&b[..n]));
    if ma.is_nan() || mb.is_nan() {
        return f64::NAN;
    }
    let (mut num, mut sa, mut sb) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (x, y) = ((a[i] - ma).sin(), (b[i] - mb).sin());
        num += x * y;
        sa += x * x;
        sb += y * y;
    }
    if sa <= 1e-300 || sb <= 1e-300 {
        return f64::NAN;
    }
    num / (sa * sb).sqrt()
}

/// Fisher & Lee (1983) circular correlation, in the O(n) form of
/// `Σ_{i<j} sin(a_i - a_j) sin(b_i - b_j) / sqrt(Σ_{i<j} sin²(a_i - a_j) Σ_{i<j} sin²(b_i - b_j))`.
/// 1 when `b = a + const`; well defined also when the angles cover the whole
/// circle (unlike the mean-based coefficient). NaN with fewer than 3 pairs or
/// no spread.
pub fn circ_corr_fl(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 3 {
        return f64::NAN;
    }
    let (mut ss, mut cc, mut sc, mut cs) = (0.0, 0.0, 0.0, 0.0);
    let (mut saa, mut caa, mut sca, mut sbb, mut cbb, mut scb) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for i in 0..n {
        let (sa, ca, sb, cb) = (a[i].sin(), a[i].cos(), b[i].sin(), b[i].cos());
        ss += sa * sb;
        cc += ca * cb;
        sc += sa * cb;
        cs += ca * sb;
        saa += sa * sa;
        caa += ca * ca;
        sca += sa * ca;
        sbb += sb * sb;
        cbb += cb * cb;
        scb += sb * cb;
    }
    let num = ss * cc - sc * cs;
    let da = saa * caa - sca * sca;
    let db = sbb * cbb - scb * scb;
    if da <= 1e-12 || db <= 1e-12 {
        return f64::NAN;
    }
    num / (da * db).sqrt()
}

/// Two-sided p-value of a standard normal statistic (statrs' normal
/// survival function, i.e. `erfc(|z| / sqrt 2)`).
pub fn normal_two_sided_p(z: f64) -> f64 {
    (2.0 * Normal::standard().sf(z.abs())).min(1.0)
}

/// Mann–Whitney U test (two-sided, normal approximation with tie and
/// continuity correction). Returns `(p, z)` with `z > 0` when `a` tends to be
/// larger than `b`. `p = 1` when either sample is empty or all values tie.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> (f64, f64) {
    let (n1, n2) = (a.len(), b.len());
    if n1 == 0 || n2 == 0 {
        return (1.0, 0.0);
    }
    let mut all: Vec<(f64, usize)> = a
        .iter()
        .map(|&x| (x, 0))
        .chain(b.iter().map(|&x| (x, 1)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n = all.len();
    let mut ranks = vec![0.0; n];
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for rk in ranks.iter_mut().take(j + 1).skip(i) {
            *rk = r;
        }
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let r1: f64 = all
        .iter()
        .zip(&ranks)
        .filter(|(v, _)| v.1 == 0)
        .map(|(_, r)| r)
        .sum();
    let (n1f, n2f, nf) = (n1 as f64, n2 as f64, n as f64);
    let u1 = r1 - n1f * (n1f + 1.0) / 2.0;
    let mu = n1f * n2f / 2.0;
    let var = n1f * n2f / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)).max(1.0));
    if var <= 0.0 {
        return (1.0, 0.0);
    }
    let d = u1 - mu;
    let cc = if d > 0.0 {
        -0.5
    } else if d < 0.0 {
        0.5
    } else {
        0.0
    };
    let z = (d + cc) / var.sqrt();
    (normal_two_sided_p(z), z)
}

/// Mean of the finite values (NaN if none).
pub fn nanmean(v: impl IntoIterator<Item = f64>) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for x in v {
        if x.is_finite() {
            s += x;
            n += 1;
        }
    }
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

/// Median (mean of the two middle values for an even count; NaN if empty).
pub fn median(v: &[f64]) -> f64 {
    Data::new(v.to_vec()).median()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_values() {
        use statrs::function::erf::erfc;
        assert!((erfc(0.0) - 1.0).abs() < 1e-6);
        assert!((erfc(1.0) - 0.157_299_207).abs() < 1e-6);
        assert!((normal_two_sided_p(1.959_964) - 0.05).abs() < 1e-5);
    }

    #[test]
    fn mann_whitney_detects_shift() {
        let a: Vec<f64> = (0..30).map(|i| i as f64).collect();
        let b: Vec<f64> = (0..30).map(|i| i as f64 + 20.0).collect();
        let (p, z) = mann_whitney(&a, &b);
        assert!(p < 1e-4 && z < 0.0, "p {p} z {z}");
        let (p, _) = mann_whitney(&a, &a);
        assert!(p > 0.9);
    }

    #[test]
    fn circular() {
        let a = [0.1, 1.0, 2.0, 3.0, 4.0, 5.0];
        assert!((circ_corr(&a, &a) - 1.0).abs() < 1e-12);
        // angles covering the whole circle evenly: Fisher–Lee stays 1 for
        // identical or shifted phases, ~0 for unrelated ones
        let u: Vec<f64> = (0..20).map(|i| i as f64 * 0.3141592653589793).collect();
        let shifted: Vec<f64> = u.iter().map(|x| x + 0.7).collect();
        assert!((circ_corr_fl(&u, &u) - 1.0).abs() < 1e-9);
        assert!((circ_corr_fl(&u, &shifted) - 1.0).abs() < 1e-9);
        let scrambled: Vec<f64> = (0..20).map(|i| u[(i * 7) % 20]).collect();
        assert!(circ_corr_fl(&u, &scrambled).abs() < 0.5);
        let brute = {
            let (mut num, mut da, mut db) = (0.0, 0.0, 0.0);
            for i in 0..20 {
                for j in i + 1..20 {
                    let (x, y) = ((u[i] - u[j]).sin(), (scrambled[i] - scrambled[j]).sin());
                    num += x * y;
                    da += x * x;
                    db += y * y;
                }
            }
            num / (da * db).sqrt()
        };
        assert!((circ_corr_fl(&u, &scrambled) - brute).abs() < 1e-9);
        let mut p = Phasor::default();
        p.add(1.0, 1.0);
        p.add(1.0, 2.0);
        assert!((p.angle() - 1.0).abs() < 1e-12 && (p.resultant() - 1.0).abs() < 1e-12);
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.5]) - 0.9986).abs() < 1e-3);
    }
}
