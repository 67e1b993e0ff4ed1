//! The closed-form Sturm–Liouville problems of docs/method.md §2, solved on Ne = 16, Np = 8 by
//! the dense and the banded solver: the lowest 8 eigenvalues within 1e-8 relative (absolute for
//! lambda = 0) and the eigenvectors within 1e-6 of the closed form normalised in the same
//! M-norm.
//!
//! Why these tolerances hold: the highest mode checked has about 8 half-waves on 16 elements of
//! degree 7, i.e. about 1.5 radians per element, where the GLL Galerkin error of the eigenvalue
//! (exact stiffness, mass lumped by a quadrature exact to degree 13) decays like
//! (k h / 2)^(2 Np) / (2 Np)! — far below 1e-8 — and round-off of the dense solver on this
//! N ~ 110 problem is ~ 1e-13 relative. Eigenvector errors are the square root of the eigenvalue
//! error scale at worst (Rayleigh quotient), hence the looser 1e-6.

use latentflow_spectral::{
    BandedSolver, BoundaryCondition, DenseSolver, EigenSolver, Grid, SpectralError, SturmLiouville,
};
use std::f64::consts::PI;

const NE: usize = 16;
const NP: usize = 8;
const NV: usize = 8;

/// The solvers under test. With the default settings a problem of <= 200 unknowns goes
/// straight to the dense solver, so the banded solver is forced onto its own (Lanczos) path
/// with `dense_below: 0`.
fn solvers() -> [(&'static str, Box<dyn EigenSolver>); 2] {
    [
        ("dense", Box::new(DenseSolver)),
        (
            "banded",
            Box::new(BandedSolver {
                dense_below: 0,
                ..BandedSolver::default()
            }),
        ),
    ]
}

/// One exact eigenpair.
type Mode = (f64, Box<dyn Fn(f64) -> f64>);
/// Exact (lambda_n, y_n) for n = 0..NV.
type Modes = Vec<Mode>;

/// A closed-form problem: coefficients, boundary conditions, exact eigenvalues and
/// (unnormalised) eigenfunctions.
struct Case {
    name: &'static str,
    a: f64,
    b: f64,
    p: fn(f64) -> f64,
    q: fn(f64) -> f64,
    w: fn(f64) -> f64,
    left: BoundaryCondition,
    right: BoundaryCondition,
    exact: Modes,
}

fn one(_: f64) -> f64 {
    1.0
}
fn zero(_: f64) -> f64 {
    0.0
}

fn check(case: &Case) {
    let grid = Grid::new(case.a, case.b, NE, NP).unwrap();
    let x = grid.x();
    let p: Vec<f64> = x.iter().map(|&x| (case.p)(x)).collect();
    let q: Vec<f64> = x.iter().map(|&x| (case.q)(x)).collect();
    let w: Vec<f64> = x.iter().map(|&x| (case.w)(x)).collect();
    let problem = SturmLiouville::new(&grid, &p, &q, &w, case.left, case.right).unwrap();
    for (solver_name, solver) in solvers() {
        let pairs = problem.solve(NV, solver.as_ref(), None).unwrap();
        for (k, (lambda, y)) in case.exact.iter().enumerate() {
            let got = pairs.values[k];
            let err = if *lambda == 0.0 {
                got.abs()
            } else {
                ((got - lambda) / lambda).abs()
            };
            assert!(
                err < 1e-8,
                "{} ({solver_name}): lambda_{k} = {got}, exact {lambda} (error {err:e})",
                case.name
            );
            // Closed form on the nodes, normalised in the M-norm sum_i w_i weight_i y_i^2
            // (the norm the solver uses: M' = T^T M T in reduced unknowns), sign fixed by the
            // computed vector.
            let mut exact: Vec<f64> = x.iter().map(|&x| y(x)).collect();
            let norm: f64 = exact
                .iter()
                .zip(grid.w())
                .zip(&w)
                .map(|((y, gw), wt)| gw * wt * y * y)
                .sum::<f64>()
                .sqrt();
            let v = pairs.vectors.col(k);
            let dot: f64 = exact.iter().zip(v).map(|(a, b)| a * b).sum();
            let s = dot.signum() / norm;
            exact.iter_mut().for_each(|e| *e *= s);
            let max_err = exact
                .iter()
                .zip(v)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(
                max_err < 1e-6,
                "{} ({solver_name}): eigenvector {k} off by {max_err:e}",
                case.name
            );
        }
    }
}

fn modes(f: impl Fn(usize) -> Mode) -> Vec<Mode> {
    (0..NV).map(f).collect()
}

/// -y'' = lambda y on [0, 1] with the given ends and exact modes.
fn laplacian(
    name: &'static str,
    left: BoundaryCondition,
    right: BoundaryCondition,
    exact: Modes,
) -> Case {
    Case {
        name,
        a: 0.0,
        b: 1.0,
        p: one,
        q: zero,
        w: one,
        left,
        right,
        exact,
    }
}

#[test]
fn laplacian_dirichlet_dirichlet() {
    check(&laplacian(
        "-y'' D/D",
        BoundaryCondition::Dirichlet,
        BoundaryCondition::Dirichlet,
        modes(|n| {
            let k = (n + 1) as f64 * PI;
            (k * k, Box::new(move |x: f64| (k * x).sin()))
        }),
    ));
}

#[test]
fn laplacian_dirichlet_neumann_strong_and_natural() {
    for right in [
        BoundaryCondition::Neumann,
        BoundaryCondition::NaturalNeumann,
    ] {
        check(&laplacian(
            "-y'' D/N",
            BoundaryCondition::Dirichlet,
            right,
            modes(|n| {
                let k = (n as f64 + 0.5) * PI;
                (k * k, Box::new(move |x: f64| (k * x).sin()))
            }),
        ));
    }
}

#[test]
fn laplacian_neumann_neumann_strong_and_natural() {
    for bc in [
        BoundaryCondition::Neumann,
        BoundaryCondition::NaturalNeumann,
    ] {
        check(&laplacian(
            "-y'' N/N",
            bc,
            bc,
            modes(|n| {
                let k = n as f64 * PI;
                (k * k, Box::new(move |x: f64| (k * x).cos()))
            }),
        ));
    }
}

#[test]
fn laplacian_robin_both_ends() {
    // The crate's Robin condition is c1 y + c2 y' = 0 with y' = dy/dx at BOTH ends (not the
    // outward normal derivative, which is -dy/dx at the left end). docs/method.md §2's
    // "y + y' = 0 at both ends" with lambda_0 = -1 is that literal condition, c1 = c2 = 1 at
    // both ends:
    // y = e^-x has y' = -y everywhere and -y'' = -y, so lambda_0 = -1; for lambda = k^2 > 0,
    // y = cos kx - sin(kx) / k meets the left condition and the right one gives
    // -(k + 1/k) sin k = 0, so k = n pi (n >= 1); lambda = 0 has no non-zero solution.
    // (In outward-normal form this is y - dy/dn = 0 at 0 and y + dy/dn = 0 at 1; with the
    // outward normal at both ends, y + dy/dn = 0, the spectrum would be positive instead.)
    let robin = BoundaryCondition::Robin { c1: 1.0, c2: 1.0 };
    check(&laplacian(
        "-y'' Robin",
        robin,
        robin,
        modes(|n| {
            if n == 0 {
                (-1.0, Box::new(|x: f64| (-x).exp()))
            } else {
                let k = n as f64 * PI;
                (
                    k * k,
                    Box::new(move |x: f64| (k * x).cos() - (k * x).sin() / k),
                )
            }
        }),
    ));
}

#[test]
fn euler_operator_with_robin_ends() {
    // -(x^2 y')' = lambda y on [1, 2], y + 2 y' = 0 at 1, y + 4 y' = 0 at 2 (y' = dy/dx).
    // With t = ln x and y = x^(-1/2) g(t): -g'' + g / 4 = lambda g, and both Robin conditions
    // become g'(t) = 0, so g = cos(n pi t / ln 2), lambda_n = 1/4 + (n pi / ln 2)^2.
    let ln2 = std::f64::consts::LN_2;
    check(&Case {
        name: "-(x^2 y')' Robin",
        a: 1.0,
        b: 2.0,
        p: |x| x * x,
        q: zero,
        w: one,
        left: BoundaryCondition::Robin { c1: 1.0, c2: 2.0 },
        right: BoundaryCondition::Robin { c1: 1.0, c2: 4.0 },
        exact: modes(|n| {
            let mu = n as f64 * PI / ln2;
            (
                0.25 + mu * mu,
                Box::new(move |x: f64| (mu * x.ln()).cos() / x.sqrt()),
            )
        }),
    });
}

/// (J0(x), J1(x)) for x > 0 by Miller's backward recurrence normalised with
/// J0 + 2 (J2 + J4 + ...) = 1 (accurate to a few ulps for the x <= 30 used here; the power
/// series would lose ~9 digits to cancellation at x ~ 25).
fn bessel_j01(x: f64) -> (f64, f64) {
    let start = 2 * ((x as usize + 40) / 2);
    let (mut above, mut current) = (0.0f64, 1e-30f64);
    let (mut j0, mut j1, mut norm) = (0.0, 0.0, 0.0);
    for k in (1..=start).rev() {
        // J_{k-1} = (2k / x) J_k - J_{k+1}.
        let below = 2.0 * k as f64 / x * current - above;
        above = current;
        current = below;
        let order = k - 1;
        if order == 1 {
            j1 = current;
        }
        if order == 0 {
            j0 = current;
            norm += current;
        } else if order % 2 == 0 {
            norm += 2.0 * current;
        }
        if current.abs() > 1e250 {
            // Rescale to avoid overflow (only ratios matter).
            above *= 1e-250;
            current *= 1e-250;
            j1 *= 1e-250;
            norm *= 1e-250;
        }
    }
    (j0 / norm, j1 / norm)
}

/// J1'(x) = J0(x) - J1(x) / x.
fn bessel_j1_prime(x: f64) -> f64 {
    let (j0, j1) = bessel_j01(x);
    j0 - j1 / x
}

/// The n-th positive zero of J1' by Newton from McMahon's estimate b - 7 / (8 b), b = (n - 1/4)
/// pi (n >= 2; the first zero from 1.84), with J1'' from Bessel's equation:
/// J1'' = -J1' / x - (1 - 1 / x^2) J1.
fn j1_prime_zero(n: usize) -> f64 {
    let mut x = if n == 1 {
        1.84
    } else {
        let b = (n as f64 - 0.25) * PI;
        b - 7.0 / (8.0 * b)
    };
    for _ in 0..50 {
        let (_, j1) = bessel_j01(x);
        let d1 = bessel_j1_prime(x);
        let d2 = -d1 / x - (1.0 - 1.0 / (x * x)) * j1;
        let step = d1 / d2;
        x -= step;
        if step.abs() < 1e-15 * x {
            break;
        }
    }
    x
}

#[test]
fn bessel_zeros_match_tables() {
    // j'_{1,k}, k = 1..8, to 17 digits from mpmath (mp.dps = 20:
    // besseljzero(1, k, derivative=1)); they agree with Abramowitz & Stegun table 9.5.
    let table = [
        1.841_183_781_340_659_3,
        5.331_442_773_525_032_6,
        8.536_316_366_346_286,
        11.706_004_902_592_064,
        14.863_588_633_909_033,
        18.015_527_862_681_804,
        21.164_369_859_188_79,
        24.311_326_857_210_776,
    ];
    for (k, t) in table.iter().enumerate() {
        let z = j1_prime_zero(k + 1);
        assert!((z - t).abs() < 1e-13 * t, "zero {k}: {z} vs {t}");
    }
    // Spot values of J0(1), J1(1) (mpmath besselj; A&S table 9.1).
    let (j0, j1) = bessel_j01(1.0);
    assert!((j0 - 0.765_197_686_557_966_6).abs() < 1e-15);
    assert!((j1 - 0.440_050_585_744_933_5).abs() < 1e-15);
}

#[test]
fn bessel_operator_singular_left_end() {
    // -(x y')' + y / x = lambda x y on [0, 1], y(0) = 0, y'(1) = 0: y = J1(sqrt(lambda) x),
    // sqrt(lambda) the zeros of J1'. At x = 0, p = 0, w = 0 and q = inf: the Dirichlet
    // condition removes that node, so its values are never used (see the next test).
    check(&Case {
        name: "Bessel",
        a: 0.0,
        b: 1.0,
        p: |x| x,
        q: |x| 1.0 / x,
        w: |x| x,
        left: BoundaryCondition::Dirichlet,
        right: BoundaryCondition::Neumann,
        exact: modes(|n| {
            let z = j1_prime_zero(n + 1);
            (
                z * z,
                Box::new(move |x: f64| if x == 0.0 { 0.0 } else { bessel_j01(z * x).1 }),
            )
        }),
    });
}

#[test]
fn values_at_removed_dirichlet_nodes_are_not_validated() {
    let grid = Grid::new(0.0, 1.0, 4, 5).unwrap();
    let n = grid.n();
    let mut p = vec![1.0; n];
    let mut q = vec![0.0; n];
    let mut w = vec![1.0; n];
    p[0] = 0.0;
    q[0] = f64::INFINITY;
    w[0] = 0.0;
    p[n - 1] = -1.0;
    q[n - 1] = f64::NAN;
    w[n - 1] = 0.0;
    let d = BoundaryCondition::Dirichlet;
    assert!(SturmLiouville::new(&grid, &p, &q, &w, d, d).is_ok());
    // The same values at an end that keeps its node are rejected.
    for bc in [
        BoundaryCondition::Neumann,
        BoundaryCondition::NaturalNeumann,
        BoundaryCondition::Robin { c1: 1.0, c2: 1.0 },
    ] {
        assert!(matches!(
            SturmLiouville::new(&grid, &p, &q, &w, bc, d),
            Err(SpectralError::NotPositive(_))
        ));
        let (mut p1, mut w1) = (p.clone(), w.clone());
        p1[0] = 1.0;
        w1[0] = 1.0;
        assert!(matches!(
            SturmLiouville::new(&grid, &p1, &q, &w1, bc, d),
            Err(SpectralError::NonFinite(_))
        ));
    }
}
