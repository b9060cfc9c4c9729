//! Linear least squares with a bias column: ridge (penalty on the weights,
//! never on the bias) and the minimum-norm plain least-squares solution.
//!
//! Both are solved through the symmetric eigendecomposition of the smaller
//! Gram matrix of the centred features (`XᵀX` when samples >= features, else
//! `XXᵀ`, the dual form), so 10 000 features on a few hundred samples stay
//! cheap. Centring `X` and `Y` on the fitted samples is what gives the
//! unpenalised bias.

use nalgebra::{DMatrix, DVector, SymmetricEigen};

/// A fitted linear map `y = (x - x_mean) * beta + y_mean`.
#[derive(Clone, Debug)]
pub struct LinearFit {
    pub x_mean: DVector<f64>,
    pub y_mean: DVector<f64>,
    pub beta: DMatrix<f64>,
}

impl LinearFit {
    pub fn predict(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        let mut xc = x.clone();
        for mut row in xc.row_iter_mut() {
            row -= self.x_mean.transpose();
        }
        let mut y = xc * &self.beta;
        for mut row in y.row_iter_mut() {
            row += self.y_mean.transpose();
        }
        y
    }
}

fn column_means(m: &DMatrix<f64>) -> DVector<f64> {
    let n = m.nrows().max(1) as f64;
    DVector::from_iterator(m.ncols(), m.column_iter().map(|c| c.sum() / n))
}

fn centred(m: &DMatrix<f64>, mean: &DVector<f64>) -> DMatrix<f64> {
    let mut c = m.clone();
    for mut row in c.row_iter_mut() {
        row -= mean.transpose();
    }
    c
}

/// The decomposition a family of penalties shares.
pub struct Decomposed {
    x_mean: DVector<f64>,
    y_mean: DVector<f64>,
    primal: bool,
    eigvals: DVector<f64>,
    /// primal: V (p x p); dual: U (n x n)
    vecs: DMatrix<f64>,
    /// primal: Vᵀ Xcᵀ Yc (p x q); dual: Uᵀ Yc (n x q)
    proj: DMatrix<f64>,
    /// dual only: Xcᵀ (p x n)
    xct: Option<DMatrix<f64>>,
    p: usize,
}

impl Decomposed {
    pub fn new(x: &DMatrix<f64>, y: &DMatrix<f64>) -> Self {
        let (n, p) = x.shape();
        let x_mean = column_means(x);
        let y_mean = column_means(y);
        let xc = centred(x, &x_mean);
        let yc = centred(y, &y_mean);
        if p <= n {
            let g = xc.transpose() * &xc;
            let eig = SymmetricEigen::new(g);
            let proj = eig.eigenvectors.transpose() * (xc.transpose() * &yc);
            Self {
                x_mean,
                y_mean,
                primal: true,
                eigvals: eig.eigenvalues.map(|v| v.max(0.0)),
                vecs: eig.eigenvectors,
                proj,
                xct: None,
                p,
            }
        } else {
            let k = &xc * xc.transpose();
            let eig = SymmetricEigen::new(k);
            let proj = eig.eigenvectors.transpose() * &yc;
            Self {
                x_mean,
                y_mean,
                primal: false,
                eigvals: eig.eigenvalues.map(|v| v.max(0.0)),
                vecs: eig.eigenvectors,
                proj,
                xct: Some(xc.transpose()),
                p,
            }
        }
    }

    /// Mean eigenvalue over the nonzero part (a natural penalty scale).
    pub fn scale(&self) -> f64 {
        let max = self.eigvals.max();
        let nz: Vec<f64> = self
            .eigvals
            .iter()
            .copied()
            .filter(|&v| v > max * 1e-12)
            .collect();
        if nz.is_empty() || max <= 0.0 {
            0.0
        } else {
            nz.iter().sum::<f64>() / nz.len() as f64
        }
    }

    /// `lambda = None`: minimum-norm least squares (pseudo-inverse, eigenvalues
    /// below `1e-10 * max` dropped); `Some(l)`: ridge with penalty `l`.
    pub fn solve(&self, lambda: Option<f64>) -> LinearFit {
        let max = self.eigvals.max();
        let factor: Vec<f64> = self
            .eigvals
            .iter()
            .map(|&e| match lambda {
                Some(l) => {
                    if e + l > 0.0 {
                        1.0 / (e + l)
                    } else {
                        0.0
                    }
                }
                None => {
                    if e > max * 1e-10 && e > 0.0 {
                        1.0 / e
                    } else {
                        0.0
                    }
                }
            })
            .collect();
        let mut scaled = self.proj.clone();
        for (i, f) in factor.iter().enumerate() {
            let mut r = scaled.row_mut(i);
            r *= *f;
        }
        let beta = if self.primal {
            &self.vecs * scaled
        } else {
            self.xct.as_ref().expect("dual form keeps Xcᵀ") * (&self.vecs * scaled)
        };
        debug_assert_eq!(beta.nrows(), self.p);
        LinearFit {
            x_mean: self.x_mean.clone(),
            y_mean: self.y_mean.clone(),
            beta,
        }
    }
}

/// Penalty grid: `scale * 10^e`, `e = -6, -5.5, ..., 2`.
pub fn lambda_grid(scale: f64) -> Vec<f64> {
    let s = if scale > 0.0 && scale.is_finite() {
        scale
    } else {
        1.0
    };
    (0..=16)
        .map(|i| s * 10f64.powf(-6.0 + 0.5 * i as f64))
        .collect()
}

/// Result of the cross-validated penalty choice.
#[derive(Clone, Debug)]
pub struct CvChoice {
    pub lambda: f64,
    pub folds: usize,
    pub grid: Vec<f64>,
    pub cv_mse: Vec<f64>,
}

/// k-fold cross-validation over contiguous blocks of samples (the samples are
/// a time series; contiguous folds keep neighbouring, correlated samples on
/// one side). The penalty minimising the summed squared validation error of
/// all outputs wins; ties go to the larger penalty.
pub fn choose_lambda(x: &DMatrix<f64>, y: &DMatrix<f64>, folds: usize) -> CvChoice {
    let n = x.nrows();
    let grid = lambda_grid(Decomposed::new(x, y).scale());
    let k = folds.min(n / 2).max(2);
    if n < 4 {
        let lambda = grid[grid.len() / 2 + 4];
        return CvChoice {
            lambda,
            folds: 0,
            cv_mse: vec![f64::NAN; grid.len()],
            grid,
        };
    }
    let mut sse = vec![0.0; grid.len()];
    for f in 0..k {
        let (a, b) = (f * n / k, (f + 1) * n / k);
        let train: Vec<usize> = (0..n).filter(|&i| i < a || i >= b).collect();
        let val: Vec<usize> = (a..b).collect();
        let xt = x.select_rows(&train);
        let yt = y.select_rows(&train);
        let xv = x.select_rows(&val);
        let yv = y.select_rows(&val);
        let dec = Decomposed::new(&xt, &yt);
        for (g, &l) in grid.iter().enumerate() {
            let pred = dec.solve(Some(l)).predict(&xv);
            sse[g] += (pred - &yv).map(|e| e * e).sum();
        }
    }
    let total = (n * y.ncols()).max(1) as f64;
    let cv_mse: Vec<f64> = sse.iter().map(|s| s / total).collect();
    let mut best = 0;
    for g in 0..grid.len() {
        if cv_mse[g] <= cv_mse[best] * (1.0 + 1e-12) {
            best = g;
        }
    }
    CvChoice {
        lambda: grid[best],
        folds: k,
        grid,
        cv_mse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, p: usize) -> (DMatrix<f64>, DMatrix<f64>) {
        // deterministic pseudo-random features
        let mut s = 12345u64;
        let mut r = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        };
        let x = DMatrix::from_fn(n, p, |_, _| r());
        let w = DVector::from_fn(p, |i, _| (i as f64 * 0.7).sin());
        let y = DMatrix::from_column_slice(n, 1, (&x * w).add_scalar(3.0).as_slice());
        (x, y)
    }

    #[test]
    fn least_squares_recovers_exact_map_both_forms() {
        for &(n, p) in &[(50, 5), (5, 50)] {
            let (x, y) = data(n, p);
            let fit = Decomposed::new(&x, &y).solve(None);
            let pred = fit.predict(&x);
            assert!((pred - &y).abs().max() < 1e-8, "n {n} p {p}");
        }
    }

    #[test]
    fn ridge_shrinks_and_cv_prefers_small_penalty_without_noise() {
        let (x, y) = data(80, 6);
        let dec = Decomposed::new(&x, &y);
        let small = dec.solve(Some(1e-9)).beta.norm();
        let big = dec.solve(Some(1e6)).beta.norm();
        assert!(big < 1e-3 * small);
        let cv = choose_lambda(&x, &y, 5);
        assert!(cv.lambda <= cv.grid[4], "{:?}", cv);
    }
}
