//! Weak-form assembly of Sturm–Liouville problems on the grid and the reduction that imposes
//! the boundary conditions, giving a symmetric-definite banded pencil (K, M).

use crate::banded::BandSym;
use crate::dense::Mat;
use crate::{Grid, SpectralError};

/// Boundary condition at one end of -(p y')' + q y = lambda w y.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BoundaryCondition {
    /// y = 0 (the end node is removed).
    Dirichlet,
    /// y' = 0 imposed strongly: the end value is eliminated through the end element's
    /// derivative row, as the original package does (the reflecting Fokker–Planck boundary).
    Neumann,
    /// y' = 0 imposed weakly (the natural boundary condition of the weak form).
    NaturalNeumann,
    /// c1 y + c2 y' = 0 (c2 != 0), imposed weakly.
    Robin {
        /// Coefficient of y.
        c1: f64,
        /// Coefficient of y'.
        c2: f64,
    },
}

/// How reduced unknowns map to nodal values: free nodes carry one unknown each, eliminated
/// end nodes are a combination of unknowns (none for Dirichlet).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reduction {
    n_full: usize,
    /// For each full node, (reduced index, coefficient) pairs.
    rows: Vec<Vec<(usize, f64)>>,
    /// Number of reduced unknowns.
    n: usize,
    /// Node of reduced unknown 0 (unknown r is node first + r).
    first: usize,
}

impl Reduction {
    fn new(grid: &Grid, left: BoundaryCondition, right: BoundaryCondition) -> Reduction {
        let n_full = grid.n();
        let np = grid.np();
        let first = usize::from(matches!(
            left,
            BoundaryCondition::Dirichlet | BoundaryCondition::Neumann
        ));
        let last_free = if matches!(
            right,
            BoundaryCondition::Dirichlet | BoundaryCondition::Neumann
        ) {
            n_full - 2
        } else {
            n_full - 1
        };
        let mut rows = vec![Vec::new(); n_full];
        for (r, i) in (first..=last_free).enumerate() {
            rows[i] = vec![(r, 1.0)];
        }
        let n = last_free + 1 - first;
        let d = grid.reference_diff();
        if left == BoundaryCondition::Neumann {
            // sum_j d_0j v_j = 0 on the first element: v_0 = -sum_{j>=1} d_0j v_j / d_00.
            rows[0] = (1..np).map(|j| (j - first, -d[0][j] / d[0][0])).collect();
        }
        if right == BoundaryCondition::Neumann {
            let base = n_full - np;
            let k = np - 1;
            rows[n_full - 1] = (0..k)
                .map(|j| (base + j - first, -d[k][j] / d[k][k]))
                .collect();
        }
        Reduction {
            n_full,
            rows,
            n,
            first,
        }
    }

    /// Number of reduced unknowns.
    pub(crate) fn n(&self) -> usize {
        self.n
    }

    /// T^T A T for a full symmetric banded A.
    fn reduce(&self, a: &BandSym, b: usize) -> BandSym {
        let mut out = BandSym::zeros(self.n, b);
        let ab = a.bandwidth();
        for i in 0..self.n_full {
            for j in i..(i + ab + 1).min(self.n_full) {
                let v = a.get(i, j);
                if v == 0.0 {
                    continue;
                }
                // (T^T A T)_rs = sum over ordered (i, j) of t_ir A_ij t_js; the stored entry
                // {r, s} is shared by (r, s) and (s, r).
                for &(r, tr) in &self.rows[i] {
                    for &(s, ts) in &self.rows[j] {
                        let x = tr * v * ts;
                        if i == j {
                            if r <= s {
                                out.add(r, s, x);
                            }
                        } else if r == s {
                            out.add(r, s, 2.0 * x);
                        } else {
                            out.add(r, s, x);
                        }
                    }
                }
            }
        }
        out
    }

    /// Reduced unknowns (the values at the free nodes) from nodal vectors (columns).
    fn restrict(&self, v: &Mat) -> Mat {
        let mut out = Mat::zeros(self.n, v.ncols());
        for k in 0..v.ncols() {
            out.col_mut(k)
                .copy_from_slice(&v.col(k)[self.first..self.first + self.n]);
        }
        out
    }

    /// Nodal values from reduced vectors (columns).
    pub(crate) fn expand(&self, v: &Mat) -> Mat {
        let mut out = Mat::zeros(self.n_full, v.ncols());
        for k in 0..v.ncols() {
            let src = v.col(k);
            let dst = out.col_mut(k);
            for (i, row) in self.rows.iter().enumerate() {
                dst[i] = row.iter().map(|&(r, t)| t * src[r]).sum();
            }
        }
        out
    }
}

/// The symmetric-definite banded pencil K v = lambda M v that eigen solvers work on, in
/// reduced unknowns (boundary conditions imposed).
#[derive(Debug, Clone)]
pub struct BandedPencil {
    /// Stiffness (symmetric, banded).
    pub k: BandSym,
    /// Mass (symmetric positive definite, banded).
    pub m: BandSym,
}

impl BandedPencil {
    /// Size of the reduced problem = the number of eigenpairs available.
    pub fn n(&self) -> usize {
        self.k.n()
    }
}

/// Checks that every value is finite.
pub(crate) fn check_finite(what: &str, v: &[f64]) -> Result<(), SpectralError> {
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(SpectralError::NonFinite(format!(
            "{what} at node {i} is {}",
            v[i]
        )));
    }
    Ok(())
}

/// A Sturm–Liouville problem -(p y')' + q y = lambda w y on the grid, with p and w > 0 given
/// on the nodes (p may vanish at a Dirichlet end, where its node is removed; q at a Dirichlet
/// end node is ignored).
#[derive(Debug, Clone)]
pub struct SturmLiouville {
    pub(crate) pencil: BandedPencil,
    pub(crate) reduction: Reduction,
}

impl SturmLiouville {
    /// Assembles the weak form element by element with GLL quadrature:
    /// K_e = (2/h) D^T diag(w_ref p_e) D + diag(w q), M = diag(w weight), plus the Robin terms,
    /// then imposes the boundary conditions.
    pub fn new(
        grid: &Grid,
        p: &[f64],
        q: &[f64],
        weight: &[f64],
        left: BoundaryCondition,
        right: BoundaryCondition,
    ) -> Result<SturmLiouville, SpectralError> {
        let n = grid.n();
        for (what, v) in [("p", p), ("q", q), ("weight", weight)] {
            if v.len() != n {
                return Err(SpectralError::LengthMismatch {
                    what: what.into(),
                    expected: n,
                    got: v.len(),
                });
            }
        }
        let dirichlet = |i: usize| {
            (i == 0 && left == BoundaryCondition::Dirichlet)
                || (i == n - 1 && right == BoundaryCondition::Dirichlet)
        };
        for i in 0..n {
            if dirichlet(i) {
                continue;
            }
            for (what, v) in [("p", p), ("weight", weight)] {
                if !(v[i].is_finite() && v[i] > 0.0) {
                    return Err(SpectralError::NotPositive(format!(
                        "{what} at node {i} is {} (must be finite and > 0)",
                        v[i]
                    )));
                }
            }
            if !q[i].is_finite() {
                return Err(SpectralError::NonFinite(format!(
                    "q at node {i} is {}",
                    q[i]
                )));
            }
        }
        for bc in [left, right] {
            if let BoundaryCondition::Robin { c1, c2 } = bc
                && !(c1.is_finite() && c2.is_finite() && c2 != 0.0)
            {
                return Err(SpectralError::InvalidBoundary(format!(
                    "Robin condition c1 y + c2 y' = 0 needs finite c1 and c2 != 0 (got {c1}, {c2}); use Dirichlet for c2 = 0"
                )));
            }
        }
        if grid.ne() < 2
            && (left == BoundaryCondition::Neumann || right == BoundaryCondition::Neumann)
        {
            // Strong Neumann eliminates an end value through its element's derivative row,
            // which on a single element involves the other end's node as well.
            return Err(SpectralError::InvalidGrid(format!(
                "a reflecting (strongly imposed Neumann) boundary needs at least 2 elements, the grid has ne = {}",
                grid.ne()
            )));
        }
        let np = grid.np();
        let b = np - 1;
        let (_, wref) = crate::gll::gll_nodes_weights(np);
        let d = grid.reference_diff();
        let scale = 2.0 / grid.element_length();
        let w = grid.w();
        let mut k = BandSym::zeros(n, b);
        let mut m = BandSym::zeros(n, 0);
        for e in 0..grid.ne() {
            let base = e * b;
            for i in 0..np {
                for j in i..np {
                    let v: f64 = (0..np)
                        .map(|s| wref[s] * p[base + s] * d[s][i] * d[s][j])
                        .sum::<f64>()
                        * scale;
                    k.add(base + i, base + j, v);
                }
            }
        }
        for i in 0..n {
            if !dirichlet(i) {
                k.add(i, i, w[i] * q[i]);
                m.add(i, i, w[i] * weight[i]);
            }
        }
        if let BoundaryCondition::Robin { c1, c2 } = left {
            k.add(0, 0, -p[0] * c1 / c2);
        }
        if let BoundaryCondition::Robin { c1, c2 } = right {
            k.add(n - 1, n - 1, p[n - 1] * c1 / c2);
        }
        let reduction = Reduction::new(grid, left, right);
        if reduction.n() == 0 {
            return Err(SpectralError::InvalidGrid(
                "the grid has no interior unknowns".into(),
            ));
        }
        let pencil = BandedPencil {
            k: reduction.reduce(&k, b),
            m: reduction.reduce(&m, b),
        };
        Ok(SturmLiouville { pencil, reduction })
    }

    /// The reduced pencil.
    pub fn pencil(&self) -> &BandedPencil {
        &self.pencil
    }

    /// Reduced unknowns of nodal vectors (columns of `vectors`, N rows): the values at the
    /// nodes that are not removed or eliminated by the boundary conditions, in the pencil's
    /// ordering. For checking residuals of [`SturmLiouville::pencil`].
    pub fn restrict(&self, vectors: &Mat) -> Result<Mat, SpectralError> {
        if vectors.nrows() != self.reduction.n_full {
            return Err(SpectralError::LengthMismatch {
                what: "eigenvector".into(),
                expected: self.reduction.n_full,
                got: vectors.nrows(),
            });
        }
        Ok(self.reduction.restrict(vectors))
    }

    /// Number of eigenpairs available.
    pub fn max_modes(&self) -> usize {
        self.pencil.n()
    }

    /// The lowest `nv` eigenpairs: eigenvalues ascending, eigenvectors on all nodes,
    /// M-orthonormal (sum_i w_i weight_i y_k y_l = delta_kl), deterministic signs.
    pub fn solve(
        &self,
        nv: usize,
        solver: &dyn crate::EigenSolver,
        warm: Option<&Eigenpairs>,
    ) -> Result<Eigenpairs, SpectralError> {
        self.solve_from_basis(nv, solver, warm.map(|w| &w.basis))
    }

    /// [`SturmLiouville::solve`] warm-started from a reduced basis alone (ignored unless it has
    /// one row per reduced unknown).
    pub fn solve_from_basis(
        &self,
        nv: usize,
        solver: &dyn crate::EigenSolver,
        warm: Option<&Mat>,
    ) -> Result<Eigenpairs, SpectralError> {
        let available = self.max_modes();
        if nv == 0 || nv > available {
            return Err(SpectralError::TooManyModes {
                requested: nv,
                available,
            });
        }
        let warm_basis = warm.filter(|b| b.nrows() == available);
        let sol = solver.solve(&self.pencil, nv, warm_basis)?;
        let mut vectors = self.reduction.expand(&sol.vectors);
        // Deterministic signs on the nodal vectors; the basis follows.
        let mut basis = sol.basis;
        for j in 0..nv {
            let col = vectors.col(j);
            if col[crate::dense::sign_anchor(col, 1e-9)] < 0.0 {
                vectors.col_mut(j).iter_mut().for_each(|x| *x = -*x);
                basis.col_mut(j).iter_mut().for_each(|x| *x = -*x);
            }
        }
        Ok(Eigenpairs {
            values: sol.values,
            vectors,
            basis,
        })
    }
}

/// Eigenpairs on all nodes, with the solver's reduced basis kept for warm starts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Eigenpairs {
    /// Eigenvalues, ascending.
    pub values: Vec<f64>,
    /// Eigenvectors on all nodes (N x nv).
    pub vectors: Mat,
    /// Reduced basis (possibly with extra columns) to warm-start a nearby problem.
    pub basis: Mat,
}
