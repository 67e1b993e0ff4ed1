//! One-dimensional interpolants through given points: [`Table`] (monotone cubic, PCHIP) and
//! [`Wells`] (the C^1 piecewise cubic through extrema of docs/method.md §7).

use serde::{Deserialize, Serialize};

use crate::SynthError;

/// Checks that `x` and `y` have the same length >= 2, `x` is finite and strictly increasing and
/// `y` is finite. `what` names the data in error messages.
fn check_points(what: &str, x: &[f64], y: &[f64]) -> Result<(), SynthError> {
    if x.len() != y.len() {
        return Err(SynthError::InvalidTable(format!(
            "{what}: {} x values but {} function values",
            x.len(),
            y.len()
        )));
    }
    if x.len() < 2 {
        return Err(SynthError::InvalidTable(format!(
            "{what}: needs at least 2 points, got {}",
            x.len()
        )));
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(SynthError::InvalidTable(format!(
            "{what}: x[{i}] is {}",
            x[i]
        )));
    }
    if let Some(i) = y.iter().position(|v| !v.is_finite()) {
        return Err(SynthError::InvalidTable(format!(
            "{what}: value [{i}] is {}",
            y[i]
        )));
    }
    if let Some(i) = x.windows(2).position(|p| p[1] <= p[0]) {
        return Err(SynthError::InvalidTable(format!(
            "{what}: x must be strictly increasing, but x[{}] = {} follows x[{i}] = {}",
            i + 1,
            x[i + 1],
            x[i]
        )));
    }
    Ok(())
}

/// Index k of the segment [x_k, x_{k+1}] that holds `v` (clamped to the first / last segment).
fn segment(x: &[f64], v: f64) -> usize {
    x.partition_point(|&xi| xi <= v).clamp(1, x.len() - 1) - 1
}

/// Raw (unvalidated) form of an interpolation table, as stored in files.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct RawPoints {
    x: Vec<f64>,
    y: Vec<f64>,
}

/// A function given by a table of points, interpolated by the monotone piecewise-cubic Hermite
/// scheme of Fritsch & Carlson (PCHIP): C^1, and never overshoots the data, so it has no
/// extrema between table points (no spurious wells in a tabulated potential). Outside
/// [x_0, x_last] the value is held at the end value (derivative 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawPoints", into = "RawPoints")]
pub struct Table {
    x: Vec<f64>,
    y: Vec<f64>,
    slope: Vec<f64>,
}

impl TryFrom<RawPoints> for Table {
    type Error = SynthError;
    fn try_from(raw: RawPoints) -> Result<Table, SynthError> {
        Table::new(raw.x, raw.y)
    }
}

impl From<Table> for RawPoints {
    fn from(t: Table) -> RawPoints {
        RawPoints { x: t.x, y: t.y }
    }
}

impl Table {
    /// A table through the points (x_i, y_i); `x` strictly increasing, at least 2 points,
    /// everything finite.
    pub fn new(x: Vec<f64>, y: Vec<f64>) -> Result<Table, SynthError> {
        check_points("table", &x, &y)?;
        let n = x.len();
        let h: Vec<f64> = x.windows(2).map(|p| p[1] - p[0]).collect();
        let delta: Vec<f64> = (0..n - 1).map(|k| (y[k + 1] - y[k]) / h[k]).collect();
        let mut slope = vec![0.0; n];
        if n == 2 {
            slope.fill(delta[0]);
        } else {
            for k in 1..n - 1 {
                if delta[k - 1] * delta[k] > 0.0 {
                    let w1 = 2.0 * h[k] + h[k - 1];
                    let w2 = h[k] + 2.0 * h[k - 1];
                    slope[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k]);
                }
            }
            slope[0] = end_slope(h[0], h[1], delta[0], delta[1]);
            slope[n - 1] = end_slope(h[n - 2], h[n - 3], delta[n - 2], delta[n - 3]);
        }
        Ok(Table { x, y, slope })
    }

    /// The table's x values.
    pub fn x(&self) -> &[f64] {
        &self.x
    }

    /// The table's function values.
    pub fn y(&self) -> &[f64] {
        &self.y
    }

    /// The interpolated value at `v` (end values outside the table).
    pub fn value(&self, v: f64) -> f64 {
        let n = self.x.len();
        if v <= self.x[0] {
            return self.y[0];
        }
        if v >= self.x[n - 1] {
            return self.y[n - 1];
        }
        let k = segment(&self.x, v);
        let h = self.x[k + 1] - self.x[k];
        let t = (v - self.x[k]) / h;
        let t2 = t * t;
        let t3 = t2 * t;
        (2.0 * t3 - 3.0 * t2 + 1.0) * self.y[k]
            + (t3 - 2.0 * t2 + t) * h * self.slope[k]
            + (-2.0 * t3 + 3.0 * t2) * self.y[k + 1]
            + (t3 - t2) * h * self.slope[k + 1]
    }

    /// The derivative of the interpolant at `v` (0 outside the table).
    pub fn derivative(&self, v: f64) -> f64 {
        let n = self.x.len();
        if v < self.x[0] || v > self.x[n - 1] {
            return 0.0;
        }
        let k = segment(&self.x, v);
        let h = self.x[k + 1] - self.x[k];
        let t = (v - self.x[k]) / h;
        let t2 = t * t;
        ((6.0 * t2 - 6.0 * t) * (self.y[k] - self.y[k + 1])) / h
            + (3.0 * t2 - 4.0 * t + 1.0) * self.slope[k]
            + (3.0 * t2 - 2.0 * t) * self.slope[k + 1]
    }

    /// Whether the table covers [a, b].
    pub(crate) fn covers(&self, a: f64, b: f64) -> bool {
        self.x[0] <= a && b <= self.x[self.x.len() - 1]
    }
}

/// Shape-preserving one-sided slope at an end of a PCHIP table (h0, delta0: the end segment;
/// h1, delta1: its neighbour).
fn end_slope(h0: f64, h1: f64, delta0: f64, delta1: f64) -> f64 {
    let d = ((2.0 * h0 + h1) * delta0 - h0 * delta1) / (h0 + h1);
    if d * delta0 <= 0.0 {
        0.0
    } else if delta0 * delta1 < 0.0 && d.abs() > 3.0 * delta0.abs() {
        3.0 * delta0
    } else {
        d
    }
}

/// The C^1 piecewise-cubic potential through given extrema (x_i, Phi_i) of docs/method.md §7: on
/// each segment Phi = Phi_i + (Phi_{i+1} - Phi_i)(3t^2 - 2t^3), t = (x - x_i)/(x_{i+1} - x_i),
/// so Phi' = 0 at every x_i (each interior x_i is a minimum or maximum when the values
/// alternate). Outside [x_0, x_last] Phi is held constant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawPoints", into = "RawPoints")]
pub struct Wells {
    pub(crate) x: Vec<f64>,
    pub(crate) phi: Vec<f64>,
}

impl TryFrom<RawPoints> for Wells {
    type Error = SynthError;
    fn try_from(raw: RawPoints) -> Result<Wells, SynthError> {
        Wells::new(raw.x, raw.y)
    }
}

impl From<Wells> for RawPoints {
    fn from(w: Wells) -> RawPoints {
        RawPoints { x: w.x, y: w.phi }
    }
}

impl Wells {
    /// The potential through the extrema (x_i, phi_i): at least 2 points, `x` strictly
    /// increasing, everything finite.
    pub fn new(x: Vec<f64>, phi: Vec<f64>) -> Result<Wells, SynthError> {
        check_points("extrema", &x, &phi)?;
        Ok(Wells { x, phi })
    }

    /// Positions of the extrema.
    pub fn x(&self) -> &[f64] {
        &self.x
    }

    /// Potential values at the extrema.
    pub fn phi(&self) -> &[f64] {
        &self.phi
    }

    /// Phi(v).
    pub fn value(&self, v: f64) -> f64 {
        let n = self.x.len();
        if v <= self.x[0] {
            return self.phi[0];
        }
        if v >= self.x[n - 1] {
            return self.phi[n - 1];
        }
        let k = segment(&self.x, v);
        let t = (v - self.x[k]) / (self.x[k + 1] - self.x[k]);
        self.phi[k] + (self.phi[k + 1] - self.phi[k]) * t * t * (3.0 - 2.0 * t)
    }

    /// Phi'(v) (0 outside the extrema's range).
    pub fn derivative(&self, v: f64) -> f64 {
        let n = self.x.len();
        if v <= self.x[0] || v >= self.x[n - 1] {
            return 0.0;
        }
        let k = segment(&self.x, v);
        let h = self.x[k + 1] - self.x[k];
        let t = (v - self.x[k]) / h;
        (self.phi[k + 1] - self.phi[k]) * 6.0 * t * (1.0 - t) / h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_reproduces_points_and_linear_data() {
        let t = Table::new(vec![0.0, 0.5, 2.0, 3.0], vec![1.0, 2.0, 5.0, 7.0]).unwrap();
        for (x, y) in t.x().iter().zip(t.y()) {
            assert!((t.value(*x) - y).abs() < 1e-15);
        }
        // Collinear data give the straight line and its slope.
        let l = Table::new(vec![0.0, 1.0, 3.0], vec![1.0, 3.0, 7.0]).unwrap();
        for v in [0.1, 0.7, 1.5, 2.9] {
            assert!((l.value(v) - (1.0 + 2.0 * v)).abs() < 1e-14);
            assert!((l.derivative(v) - 2.0).abs() < 1e-14);
        }
    }

    #[test]
    fn table_is_monotone_between_points() {
        // A step-like table: a non-monotone spline would overshoot here.
        let t = Table::new(vec![0.0, 1.0, 2.0, 3.0], vec![0.0, 0.0, 1.0, 1.0]).unwrap();
        let mut prev = t.value(0.0);
        for i in 1..=300 {
            let v = t.value(i as f64 * 0.01);
            assert!(v >= prev - 1e-15 && (0.0..=1.0).contains(&v));
            prev = v;
        }
    }

    #[test]
    fn derivatives_match_finite_differences() {
        let t = Table::new(vec![-1.0, -0.2, 0.4, 1.0], vec![3.0, -1.0, 0.5, 2.0]).unwrap();
        let w = Wells::new(vec![-1.0, -0.3, 0.2, 1.0], vec![4.0, 0.0, 1.5, 3.0]).unwrap();
        let h = 1e-6;
        for i in 0..40 {
            let v = -0.97 + 0.049 * i as f64;
            let fd_t = (t.value(v + h) - t.value(v - h)) / (2.0 * h);
            let fd_w = (w.value(v + h) - w.value(v - h)) / (2.0 * h);
            assert!((t.derivative(v) - fd_t).abs() < 1e-7, "table at {v}");
            assert!((w.derivative(v) - fd_w).abs() < 1e-7, "wells at {v}");
        }
    }

    #[test]
    fn bad_points_are_rejected() {
        assert!(Wells::new(vec![], vec![]).is_err());
        assert!(Wells::new(vec![0.0], vec![1.0]).is_err());
        assert!(Wells::new(vec![0.0, 0.0], vec![1.0, 2.0]).is_err());
        assert!(Wells::new(vec![1.0, 0.0], vec![1.0, 2.0]).is_err());
        assert!(Table::new(vec![0.0, 1.0], vec![1.0]).is_err());
        assert!(Table::new(vec![0.0, f64::NAN], vec![1.0, 2.0]).is_err());
        assert!(Table::new(vec![0.0, 1.0], vec![1.0, f64::INFINITY]).is_err());
    }
}
