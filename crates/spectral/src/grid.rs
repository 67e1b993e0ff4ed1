//! The spectral-element grid: Ne equal elements of Np GLL nodes on [a, b], with shared ends.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::SpectralError;
use crate::gll::{diff_matrix, gll_nodes_weights, integration_matrix};

/// Tolerance on the normalisation of a density p given at the grid nodes:
/// |sum_i w_i p_i - 1| must not exceed it. The likelihood's models and the selection's
/// densities are checked against this one value.
pub const NORMALISATION_TOL: f64 = 1e-6;

/// A spectral-element grid on [a, b]: `ne` equal elements, `np` GLL nodes each, neighbouring
/// elements sharing their end node, N = ne (np - 1) + 1 nodes in all. Node `e (np - 1) + j` is
/// local node j of element e. Quadrature sum_i w_i g(x_i) is exact for element-wise
/// polynomials of degree <= 2 np - 3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "GridSpec", into = "GridSpec")]
pub struct Grid {
    xbegin: f64,
    xend: f64,
    ne: usize,
    np: usize,
    x: Vec<f64>,
    w: Vec<f64>,
    /// Reference differentiation matrix, row-major np x np.
    diff: Vec<Vec<f64>>,
    /// Reference integration matrix, row-major np x np.
    integ: Vec<Vec<f64>>,
}

/// A grid by its parameters: [xbegin, xend] cut into `ne` elements of `np` GLL nodes each.
/// This is how grids are written to files and recorded in fit paths; [`GridSpec::build`]
/// makes the grid (and checks the parameters).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GridSpec {
    /// Left end.
    pub xbegin: f64,
    /// Right end.
    pub xend: f64,
    /// Elements.
    pub ne: usize,
    /// GLL nodes per element.
    pub np: usize,
}

impl GridSpec {
    /// The paper's grid: [-1, 1], 256 elements of 8 nodes (N = 1793).
    pub const PAPER: GridSpec = GridSpec {
        xbegin: -1.0,
        xend: 1.0,
        ne: 256,
        np: 8,
    };

    /// Builds the grid ([`Grid::new`]'s checks apply).
    pub fn build(&self) -> Result<Arc<Grid>, SpectralError> {
        Ok(Arc::new(Grid::new(
            self.xbegin,
            self.xend,
            self.ne,
            self.np,
        )?))
    }

    /// The parameters of an existing grid.
    pub fn of(grid: &Grid) -> GridSpec {
        GridSpec {
            xbegin: grid.xbegin,
            xend: grid.xend,
            ne: grid.ne,
            np: grid.np,
        }
    }
}

impl TryFrom<GridSpec> for Grid {
    type Error = SpectralError;
    fn try_from(r: GridSpec) -> Result<Grid, SpectralError> {
        Grid::new(r.xbegin, r.xend, r.ne, r.np)
    }
}

impl From<Grid> for GridSpec {
    fn from(g: Grid) -> GridSpec {
        GridSpec::of(&g)
    }
}

/// The most GLL nodes per element [`Grid::new`] accepts. The nodes come from Newton
/// iterations on Legendre polynomials and the reference differentiation matrix is dense
/// (np x np) with entries growing like np^2, so beyond a few dozen nodes the element loses
/// accuracy instead of gaining it; refine with more elements instead (the paper uses np = 8).
pub const MAX_NP: usize = 64;

/// The most nodes N = ne (np - 1) + 1 [`Grid::new`] accepts: one million. Every model array
/// (peq, p0, each neuron's rate, the eigenvectors: N x nv doubles) scales with N, and the
/// paper's grid has N = 1,793; a million nodes already needs 512 MB per 64 eigenvectors, so
/// a larger N is a typo (e.g. `ne = 100000000`) rather than a model, and is refused before
/// anything is allocated.
pub const MAX_NODES: usize = 1_000_000;

impl Grid {
    /// A grid on [xbegin, xend] with `ne` >= 1 elements of 3 <= `np` <= [`MAX_NP`] nodes, at
    /// most [`MAX_NODES`] nodes in all (checked before anything is allocated).
    pub fn new(xbegin: f64, xend: f64, ne: usize, np: usize) -> Result<Grid, SpectralError> {
        if np < 3 {
            return Err(SpectralError::InvalidGrid(format!(
                "np must be >= 3 GLL nodes per element, got {np}"
            )));
        }
        if np > MAX_NP {
            return Err(SpectralError::InvalidGrid(format!(
                "np = {np} GLL nodes per element is more than the {MAX_NP} supported (use more elements instead)"
            )));
        }
        if ne < 1 {
            return Err(SpectralError::InvalidGrid("ne must be >= 1 element".into()));
        }
        let nodes = ne
            .checked_mul(np - 1)
            .and_then(|v| v.checked_add(1))
            .filter(|&n| n <= MAX_NODES);
        if nodes.is_none() {
            return Err(SpectralError::InvalidGrid(format!(
                "ne = {ne} elements of np = {np} nodes is more than the {MAX_NODES} grid nodes supported"
            )));
        }
        if !(xbegin.is_finite() && xend.is_finite() && xbegin < xend) {
            return Err(SpectralError::InvalidGrid(format!(
                "the interval [{xbegin}, {xend}] must be finite with xbegin < xend"
            )));
        }
        let (r, rw) = gll_nodes_weights(np);
        let n = ne * (np - 1) + 1;
        let h = (xend - xbegin) / ne as f64;
        let mut x = vec![0.0; n];
        let mut w = vec![0.0; n];
        for e in 0..ne {
            let left = xbegin + e as f64 * h;
            for j in 0..np {
                let i = e * (np - 1) + j;
                x[i] = left + 0.5 * h * (r[j] + 1.0);
                w[i] += 0.5 * h * rw[j];
            }
        }
        x[n - 1] = xend;
        Ok(Grid {
            xbegin,
            xend,
            ne,
            np,
            x,
            w,
            diff: diff_matrix(&r),
            integ: integration_matrix(&r, &rw),
        })
    }

    /// Number of nodes N.
    pub fn n(&self) -> usize {
        self.x.len()
    }
    /// Number of elements.
    pub fn ne(&self) -> usize {
        self.ne
    }
    /// GLL nodes per element.
    pub fn np(&self) -> usize {
        self.np
    }
    /// Left end a.
    pub fn xbegin(&self) -> f64 {
        self.xbegin
    }
    /// Right end b.
    pub fn xend(&self) -> f64 {
        self.xend
    }
    /// Element length.
    pub fn element_length(&self) -> f64 {
        (self.xend - self.xbegin) / self.ne as f64
    }
    /// Node coordinates, ascending.
    pub fn x(&self) -> &[f64] {
        &self.x
    }
    /// Quadrature weights.
    pub fn w(&self) -> &[f64] {
        &self.w
    }
    /// The reference-element differentiation matrix (row i: derivative at local node i on
    /// [-1, 1]); multiply by 2 / element length for physical units.
    pub fn reference_diff(&self) -> &[Vec<f64>] {
        &self.diff
    }

    fn check_len(&self, what: &str, len: usize) -> Result<(), SpectralError> {
        if len != self.n() {
            return Err(SpectralError::LengthMismatch {
                what: what.to_string(),
                expected: self.n(),
                got: len,
            });
        }
        Ok(())
    }

    /// sum_i w_i g_i.
    pub fn integrate(&self, g: &[f64]) -> f64 {
        self.w.iter().zip(g).map(|(w, g)| w * g).sum()
    }

    /// Derivative of the element-wise interpolant of `f` at the nodes (at a shared node the
    /// mean of the two one-sided values). Panics if `f.len() != n()`; see [`Grid::try_derivative`].
    pub fn derivative(&self, f: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.n()];
        self.derivative_into(f, &mut out);
        out
    }

    /// Checked [`Grid::derivative`].
    pub fn try_derivative(&self, f: &[f64]) -> Result<Vec<f64>, SpectralError> {
        self.check_len("function values", f.len())?;
        Ok(self.derivative(f))
    }

    /// [`Grid::derivative`] into `out` (both of length N).
    pub fn derivative_into(&self, f: &[f64], out: &mut [f64]) {
        assert_eq!(f.len(), self.n(), "derivative: wrong length");
        assert_eq!(out.len(), self.n(), "derivative: wrong output length");
        let np = self.np;
        let scale = 2.0 / self.element_length();
        out.fill(0.0);
        for e in 0..self.ne {
            let base = e * (np - 1);
            let fe = &f[base..base + np];
            for (i, row) in self.diff.iter().enumerate() {
                let d: f64 = row.iter().zip(fe).map(|(a, b)| a * b).sum::<f64>() * scale;
                let shared = (i == 0 && e > 0) || (i == np - 1 && e + 1 < self.ne);
                out[base + i] += if shared { 0.5 * d } else { d };
            }
        }
    }

    /// int_a^x of the element-wise interpolant of `g`, at the nodes. Panics if the length is
    /// wrong.
    pub fn antiderivative(&self, g: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.n()];
        self.antiderivative_into(g, &mut out);
        out
    }

    /// [`Grid::antiderivative`] into `out`.
    pub fn antiderivative_into(&self, g: &[f64], out: &mut [f64]) {
        assert_eq!(g.len(), self.n(), "antiderivative: wrong length");
        assert_eq!(out.len(), self.n(), "antiderivative: wrong output length");
        let np = self.np;
        let half = 0.5 * self.element_length();
        out[0] = 0.0;
        let mut start = 0.0;
        for e in 0..self.ne {
            let base = e * (np - 1);
            let ge = &g[base..base + np];
            for i in 1..np {
                let v: f64 = self.integ[i].iter().zip(ge).map(|(a, b)| a * b).sum();
                out[base + i] = start + half * v;
            }
            start = out[base + np - 1];
        }
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    #[test]
    fn sizes_beyond_the_limits_are_refused_before_allocating() {
        // Each of these would allocate gigabytes or run for hours if built.
        for (ne, np, needle) in [
            (1, 100_000, "more than the 64 supported"),
            (1, MAX_NP + 1, "more than the 64 supported"),
            (100_000_000, 4, "grid nodes supported"),
            (1_000_000_000, 8, "grid nodes supported"),
            (usize::MAX, 8, "grid nodes supported"),
        ] {
            match Grid::new(-1.0, 1.0, ne, np) {
                Err(SpectralError::InvalidGrid(msg)) => assert!(msg.contains(needle), "{msg}"),
                other => panic!("ne {ne}, np {np}: {other:?}"),
            }
        }
        // The limits themselves are accepted.
        assert_eq!(Grid::new(-1.0, 1.0, 2, MAX_NP).unwrap().np(), MAX_NP);
        let ne = (MAX_NODES - 1) / 7;
        assert_eq!(Grid::new(-1.0, 1.0, ne, 8).unwrap().n(), ne * 7 + 1);
    }
}
