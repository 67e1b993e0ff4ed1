//! Property tests: exactness of the grid's quadrature, derivative and antiderivative on
//! polynomials, and the eigen solvers on random smooth Fokker–Planck problems (residuals,
//! M-orthonormality, banded == dense, cold and warm).
//!
//! Polynomials are written in t = (x - mid) / half in [-1, 1], p = sum_k c_k t^k with
//! |c_k| <= 1, so S = sum |c_k| bounds |p| and the test is well conditioned whatever [a, b].

use latentflow_spectral::dense::{Mat, sym_eigen};
use latentflow_spectral::{BandedSolver, BoundaryMode, DenseSolver, FokkerPlanck, FpModes, Grid};
use proptest::prelude::*;

const EPS: f64 = f64::EPSILON;

/// A polynomial on [a, b] in the scaled variable t.
#[derive(Debug)]
struct Poly {
    mid: f64,
    half: f64,
    c: Vec<f64>,
}

impl Poly {
    fn t(&self, x: f64) -> f64 {
        (x - self.mid) / self.half
    }
    fn value(&self, x: f64) -> f64 {
        let t = self.t(x);
        self.c.iter().rev().fold(0.0, |acc, c| acc * t + c)
    }
    fn derivative(&self, x: f64) -> f64 {
        let t = self.t(x);
        let mut acc = 0.0;
        for (k, c) in self.c.iter().enumerate().skip(1).rev() {
            acc = acc * t + k as f64 * c;
        }
        acc / self.half
    }
    /// int_a^x p.
    fn antiderivative(&self, x: f64) -> f64 {
        let t = self.t(x);
        let s: f64 = self
            .c
            .iter()
            .enumerate()
            .map(|(k, c)| {
                let e = (k + 1) as i32;
                c * (t.powi(e) - (-1.0f64).powi(e)) / e as f64
            })
            .sum();
        self.half * s
    }
    /// sum |c_k| >= max |p| on [a, b].
    fn scale(&self) -> f64 {
        self.c.iter().map(|c| c.abs()).sum()
    }
}

/// (grid, polynomial of the degree `degree(np)`).
fn grid_and_poly(degree: fn(usize) -> usize) -> impl Strategy<Value = (Grid, Poly)> {
    (
        3usize..=12,
        1usize..=20,
        -3.0f64..3.0,
        0.5f64..5.0,
        prop::collection::vec(-1.0f64..1.0, 22),
    )
        .prop_map(move |(np, ne, a, len, coef)| {
            let grid = Grid::new(a, a + len, ne, np).unwrap();
            let poly = Poly {
                mid: a + 0.5 * len,
                half: 0.5 * len,
                c: coef[..=degree(np)].to_vec(),
            };
            (grid, poly)
        })
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// GLL quadrature is exact for degree <= 2 np - 3 (per element; here globally). Round-off:
    /// N terms of size <= w_i S (sum w_i = L) plus the nodes' position error eps |x| times
    /// |p'| <= deg^2 S / half: well below 1e-11 S max(L, 1) for |x| <= 8, deg <= 21.
    #[test]
    fn quadrature_exact_to_degree_2np_minus_3((grid, poly) in grid_and_poly(|np| 2 * np - 3)) {
        let values: Vec<f64> = grid.x().iter().map(|&x| poly.value(x)).collect();
        let exact = poly.antiderivative(grid.xend());
        let got = grid.integrate(&values);
        let len = grid.xend() - grid.xbegin();
        prop_assert!((got - exact).abs() <= 1e-11 * poly.scale() * len.max(1.0),
            "np {} ne {}: {got} vs {exact}", grid.np(), grid.ne());
    }

    /// The derivative of an element-wise polynomial of degree <= np - 1 is exact at the nodes.
    /// Round-off: a row of the differentiation matrix has |entries| summing to <~ np^2 / 2,
    /// scaled by 2 / h = 2 ne / L: error <~ eps np^2 (ne / L) S, with a factor 100 of margin
    /// for node positions and accumulation.
    #[test]
    fn derivative_exact_to_degree_np_minus_1((grid, poly) in grid_and_poly(|np| np - 1)) {
        let values: Vec<f64> = grid.x().iter().map(|&x| poly.value(x)).collect();
        let exact: Vec<f64> = grid.x().iter().map(|&x| poly.derivative(x)).collect();
        let len = grid.xend() - grid.xbegin();
        let np = grid.np() as f64;
        let tol = 100.0 * EPS * np * np * (grid.ne() as f64 / len + 1.0) * poly.scale();
        let err = max_abs_diff(&grid.derivative(&values), &exact);
        prop_assert!(err <= tol, "np {} ne {}: error {err:e} > {tol:e}", grid.np(), grid.ne());
    }

    /// The antiderivative of an element-wise polynomial of degree <= np - 1 is exact at the
    /// nodes. Round-off: each element adds <~ np eps (L / ne) S, over ne elements np eps L S
    /// (factor 100 of margin).
    #[test]
    fn antiderivative_exact_to_degree_np_minus_1((grid, poly) in grid_and_poly(|np| np - 1)) {
        let values: Vec<f64> = grid.x().iter().map(|&x| poly.value(x)).collect();
        let exact: Vec<f64> = grid.x().iter().map(|&x| poly.antiderivative(x)).collect();
        let len = grid.xend() - grid.xbegin();
        let tol = 100.0 * EPS * grid.np() as f64 * len.max(1.0) * poly.scale();
        let err = max_abs_diff(&grid.antiderivative(&values), &exact);
        prop_assert!(err <= tol, "np {} ne {}: error {err:e} > {tol:e}", grid.np(), grid.ne());
    }

    /// derivative(antiderivative(g)) = g for g of degree <= np - 2 (the antiderivative is then
    /// of degree <= np - 1, represented exactly), and antiderivative(derivative(f)) = f - f(a)
    /// for f of degree <= np - 1. Tolerance: the antiderivative's round-off (previous test)
    /// amplified by the differentiation matrix (np^2 ne / L), and vice versa.
    #[test]
    fn antiderivative_and_derivative_are_inverse((grid, poly) in grid_and_poly(|np| np - 1)) {
        let values: Vec<f64> = grid.x().iter().map(|&x| poly.value(x)).collect();
        let len = grid.xend() - grid.xbegin();
        let np = grid.np() as f64;
        let amplification = np * np * (grid.ne() as f64 / len + 1.0);
        let tol = 100.0 * EPS * np * len.max(1.0) * amplification * poly.scale();
        // f - f(a) from the derivative.
        let back = grid.antiderivative(&grid.derivative(&values));
        let shifted: Vec<f64> = values.iter().map(|v| v - values[0]).collect();
        let err = max_abs_diff(&back, &shifted);
        prop_assert!(err <= tol, "A(D f): error {err:e} > {tol:e}");
        // g of degree np - 2: drop the top coefficient.
        let lower = Poly { mid: poly.mid, half: poly.half, c: poly.c[..poly.c.len() - 1].to_vec() };
        let g: Vec<f64> = grid.x().iter().map(|&x| lower.value(x)).collect();
        let err = max_abs_diff(&grid.derivative(&grid.antiderivative(&g)), &g);
        prop_assert!(err <= tol, "D(A g): error {err:e} > {tol:e}");
    }
}

/// A random smooth positive density: peq ~ exp(sum_k a_k sin(k pi x + phi_k)) on [-1, 1],
/// optionally tilted by exp(eps cos(pi x)) (the change one gradient step on F makes).
fn smooth_peq(grid: &Grid, amp: &[f64], phase: &[f64], eps: f64) -> Vec<f64> {
    let pi = std::f64::consts::PI;
    let mut p: Vec<f64> = grid
        .x()
        .iter()
        .map(|&x| {
            let s: f64 = amp
                .iter()
                .zip(phase)
                .enumerate()
                .map(|(k, (a, f))| a * ((k + 1) as f64 * pi * x + f).sin())
                .sum();
            (s + eps * (pi * x).cos()).exp()
        })
        .collect();
    let z = grid.integrate(&p);
    p.iter_mut().for_each(|v| *v /= z);
    p
}

/// A random Fokker–Planck problem with N - 2 > 200 unknowns (so that the banded solver does
/// not hand over to the dense one), the number of modes, and the perturbed problem.
fn fp_problem() -> impl Strategy<Value = (Grid, FokkerPlanck, FokkerPlanck, usize, BoundaryMode)> {
    (
        6usize..=8,
        42usize..=70,
        prop::collection::vec(-1.0f64..1.0, 3),
        prop::collection::vec(0.0f64..6.3, 3),
        0.5f64..20.0,
        4usize..=40,
        any::<bool>(),
    )
        .prop_map(|(np, ne, amp, phase, d, nv, reflecting)| {
            let grid = Grid::new(-1.0, 1.0, ne, np).unwrap();
            let mode = if reflecting {
                BoundaryMode::Reflecting
            } else {
                BoundaryMode::Absorbing
            };
            let fp =
                FokkerPlanck::new(&grid, &smooth_peq(&grid, &amp, &phase, 0.0), d, mode).unwrap();
            let nearby =
                FokkerPlanck::new(&grid, &smooth_peq(&grid, &amp, &phase, 1e-3), d, mode).unwrap();
            (grid, fp, nearby, nv, mode)
        })
}

/// Max over columns of the relative backward error ||K v - lambda M v|| / ((||K|| + |lambda|
/// ||M||) ||v||) and max |V^T M V - I| of the modes in the pencil's reduced unknowns.
fn pencil_errors(fp: &FokkerPlanck, modes: &FpModes) -> (f64, f64) {
    let problem = fp.problem();
    let pencil = problem.pencil();
    let v: Mat = problem.restrict(&modes.phi).unwrap();
    let (k_norm, m_norm) = (pencil.k.norm_inf(), pencil.m.norm_inf());
    let n = pencil.n();
    let mv = pencil.m.mul_mat(&v);
    let mut kv = vec![0.0; n];
    let mut residual = 0.0f64;
    for (j, &lambda) in modes.lambda.iter().enumerate() {
        pencil.k.mul_vec(v.col(j), &mut kv);
        let r = kv
            .iter()
            .zip(mv.col(j))
            .map(|(a, b)| (a - lambda * b).powi(2))
            .sum::<f64>()
            .sqrt();
        let vn = v.col(j).iter().map(|x| x * x).sum::<f64>().sqrt();
        residual = residual.max(r / ((k_norm + lambda.abs() * m_norm) * vn));
    }
    let mut ortho = 0.0f64;
    for i in 0..v.ncols() {
        for j in 0..v.ncols() {
            let g: f64 = v.col(i).iter().zip(mv.col(j)).map(|(a, b)| a * b).sum();
            ortho = ortho.max((g - if i == j { 1.0 } else { 0.0 }).abs());
        }
    }
    (residual, ortho)
}

/// Upper bound on the pencil's largest eigenvalue, ||K||_inf / lambda_min(M) (lambda_min(M) =
/// min M_ii for absorbing; the reflecting M' has corner blocks from the eliminated end values
/// and a smaller lambda_min, which is what makes the dense reference least accurate there).
fn lambda_max_bound(fp: &FokkerPlanck) -> f64 {
    let pencil = fp.problem().pencil();
    let (m_eigen, _) = sym_eigen(&pencil.m.to_dense()).unwrap();
    pencil.k.norm_inf() / m_eigen[0]
}

/// M-inner product of reduced vectors.
fn m_dot(fp: &FokkerPlanck, x: &[f64], y: &[f64]) -> f64 {
    let mut my = vec![0.0; y.len()];
    fp.problem().pencil().m.mul_vec(y, &mut my);
    x.iter().zip(&my).map(|(a, b)| a * b).sum()
}

/// One step of inverse iteration, (K - sigma M)^-1 M v with sigma = lambda + t 1e-9 scale,
/// M-normalised with v's sign: removes from a dense eigenvector the error components along
/// other eigenvectors j by the factor |sigma - lambda_k| / |lambda_j - lambda_k| (~1e-9 here),
/// leaving a reference accurate far below 1e-7. (Inverse iteration is insensitive to the
/// near-singularity of the shifted matrix: the round-off it amplifies lies along the wanted
/// eigenvector. The unpivoted LDL^T can hit a zero or overflowing pivot right at an
/// eigenvalue, hence the small offsets t = 1, -1, 3.)
fn refine(fp: &FokkerPlanck, lambda: f64, scale: f64, v: &[f64]) -> Vec<f64> {
    let pencil = fp.problem().pencil();
    let factor = [1.0, -1.0, 3.0]
        .iter()
        .find_map(|t| {
            pencil
                .k
                .shifted(lambda + t * 1e-9 * scale, &pencil.m)
                .ldlt()
        })
        .expect("shifted pencil factorises");
    let mut y = vec![0.0; v.len()];
    pencil.m.mul_vec(v, &mut y);
    factor.solve_in_place(&mut y);
    let s = m_dot(fp, &y, v).signum() / m_dot(fp, &y, &y).sqrt();
    y.iter_mut().for_each(|x| *x *= s);
    y
}

/// Eigenvalue and eigenvector errors of `got` against the dense solution `want` refined by
/// one inverse-iteration step (see `refine`), each divided by its tolerance (pass: < 1).
///
/// The raw dense solution is not a 1e-9 reference on these grids: a dense solver is accurate
/// to ~ eps lambda_max absolute, and lambda_max ~ ||K|| / lambda_min(M) reaches 1e7..1e8 here
/// (small GLL weights next to element ends, peq varying by up to e^6). Measured on the worst
/// random problems: dense eigenvalues off by up to 4e-9 relative (reflecting: ~1e-5 absolute,
/// including lambda_0, which is exactly 0), dense vectors with lambda-relative residuals up
/// to ~1e-2, 1.5e-7 from the banded ones in M-norm; the banded ones (shift-invert, relative
/// accuracy) have residuals ~1e-11 and match the refined reference to ~1e-11.
///
/// Eigenvalues: within 1e-9 relative of the refined vector's Rayleigh quotient, plus the
/// round-off of that quotient, 4 eps lambda_max; the reflecting zero mode against its exact
/// value 0, on the scale of lambda_1. Eigenvectors, up to sign, in the M-norm (phi is
/// M-normalised, so this is relative): 1e-7.
fn compare(fp: &FokkerPlanck, mode: BoundaryMode, got: &FpModes, want: &FpModes) -> (f64, f64) {
    let round_off = 4.0 * EPS * lambda_max_bound(fp);
    let problem = fp.problem();
    let (vg, vw) = (
        problem.restrict(&got.phi).unwrap(),
        problem.restrict(&want.phi).unwrap(),
    );
    let mut lam = 0.0f64;
    let mut vec = 0.0f64;
    let pencil = problem.pencil();
    let mut ky = vec![0.0; pencil.n()];
    for k in 0..got.nv() {
        let (a, b) = (got.lambda[k], want.lambda[k]);
        let x = vg.col(k);
        let y = refine(fp, b, b.abs().max(want.lambda[1]), vw.col(k));
        // Reference eigenvalue: the Rayleigh quotient of the refined vector (M-normalised),
        // accurate to its squared error times lambda_max plus the round-off of y^T K y.
        pencil.k.mul_vec(&y, &mut ky);
        let reference: f64 = y.iter().zip(&ky).map(|(p, q)| p * q).sum();
        lam = lam.max(if k == 0 && mode == BoundaryMode::Reflecting {
            // Exactly 0 (constants are in the strongly-Neumann space and K 1 = 0); the dense
            // solver's value is off by up to ~1e-5 here, so compare with the exact value.
            a.abs() / (1e-9 * want.lambda[1])
        } else {
            (a - reference).abs() / (1e-9 * reference.abs() + round_off)
        });
        let sign = m_dot(fp, x, &y).signum();
        let diff: Vec<f64> = x.iter().zip(&y).map(|(p, q)| p - sign * q).collect();
        vec = vec.max(m_dot(fp, &diff, &diff).sqrt() / 1e-7);
    }
    (lam, vec)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// The banded solver's modes solve the pencil to a backward error < 1e-9 and are
    /// M-orthonormal to 1e-9 (it targets 1e-12 backward error; the Rayleigh–Ritz step makes
    /// V^T M V = I up to round-off of order n eps).
    #[test]
    fn banded_modes_solve_the_pencil((grid, fp, _nearby, nv, mode) in fp_problem()) {
        let modes = fp.solve(nv, &BandedSolver::default(), None).unwrap();
        let (residual, ortho) = pencil_errors(&fp, &modes);
        prop_assert!(residual < 1e-9, "{mode:?}: backward error {residual:e}");
        prop_assert!(ortho < 1e-9, "{mode:?}: M-orthonormality off by {ortho:e}");
        // The same in nodal form: sum_i w_i peq_i phi_k phi_l = delta_kl, and psi = sqrt(peq) phi
        // orthonormal in the plain quadrature.
        let w = nodal_orthonormality(&grid, &modes);
        prop_assert!(w < 1e-9, "{mode:?}: nodal orthonormality off by {w:e}");
        if mode == BoundaryMode::Reflecting {
            prop_assert!(modes.lambda[0].abs() < 1e-9 * modes.lambda[1]);
        }
    }

    /// Banded (cold, and warm from the modes of a problem whose F differs by 1e-3 cos(pi x))
    /// equals dense: eigenvalues to 1e-9 relative, eigenvectors to 1e-7 (up to sign), up to
    /// the dense reference's own round-off (see `compare`).
    #[test]
    fn banded_equals_dense((_grid, fp, nearby, nv, mode) in fp_problem()) {
        let banded = BandedSolver::default();
        let dense = fp.solve(nv, &DenseSolver, None).unwrap();
        let cold = fp.solve(nv, &banded, None).unwrap();
        let previous = nearby.solve(nv, &banded, None).unwrap();
        let warm = fp.solve(nv, &banded, Some(&previous)).unwrap();
        for (name, modes) in [("cold", &cold), ("warm", &warm)] {
            let (lam, vec) = compare(&fp, mode, modes, &dense);
            prop_assert!(lam < 1.0, "{mode:?} {name}: eigenvalue error {lam} x tolerance");
            prop_assert!(vec < 1.0, "{mode:?} {name}: eigenvector error {vec} x tolerance");
        }
    }
}

/// max |sum_i w_i psi_k psi_l - delta_kl| (psi_k = sqrt(peq) phi_k).
fn nodal_orthonormality(grid: &Grid, modes: &FpModes) -> f64 {
    let mut worst = 0.0f64;
    for k in 0..modes.nv() {
        for l in 0..modes.nv() {
            let g: f64 = grid
                .w()
                .iter()
                .zip(modes.psi.col(k).iter().zip(modes.psi.col(l)))
                .map(|(w, (a, b))| w * a * b)
                .sum();
            worst = worst.max((g - if k == l { 1.0 } else { 0.0 }).abs());
        }
    }
    worst
}
