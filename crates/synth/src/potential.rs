//! Potentials Phi(x), driving forces F = -Phi' and normalised equilibrium densities
//! peq = exp(-Phi) / Z.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::SynthError;
use crate::interp::{Table, Wells};

/// Floor of [`Potential::cos_squared`] (relative to the peak of cos^2, which is 1).
pub const COS_SQUARED_FLOOR: f64 = 1e-8;

/// A potential Phi(x) (dimensionless) of the latent dynamics dx/dt = D F(x) + sqrt(2D) xi(t),
/// F = -Phi', peq ~ exp(-Phi).
///
/// Phi is defined up to an additive constant (it cancels in peq). The named shapes follow the
/// original package and docs/method.md §7. [`Potential::Function`] cannot be serialised.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Potential {
    /// Phi = 0: uniform peq, no force.
    Uniform,
    /// Linear ramp Phi = slope x (constant force -slope).
    Linear {
        /// dPhi/dx.
        slope: f64,
    },
    /// Quadratic well Phi = curvature (x - center)^2 / 2.
    SingleWell {
        /// Position of the minimum.
        center: f64,
        /// Phi'' (> 0 for a well).
        curvature: f64,
    },
    /// The paper's double well Phi = depth (s^4 - 2 s^2) + tilt x with
    /// s = (x - xmax)/(xmin - xmax): maximum at xmax, minima at xmax ± (xmin - xmax) of depth
    /// `depth` below the barrier (tilt = 0).
    DoubleWell {
        /// Position of the central maximum.
        xmax: f64,
        /// Position of one minimum (the other is mirrored about xmax).
        xmin: f64,
        /// Barrier height Phi(xmax) - Phi(xmin) at tilt 0.
        depth: f64,
        /// Slope of an added linear term (0 = symmetric).
        tilt: f64,
    },
    /// C^1 piecewise cubic through given extrema (docs/method.md §7); see [`Wells`].
    Wells(Wells),
    /// peq ~ cos^2(pi (x - c)/L) + floor with c = (xbegin + xend)/2 and L = xend - xbegin,
    /// i.e. Phi = -ln(cos^2(..) + floor). cos^2 vanishes at the ends of [xbegin, xend]; the
    /// floor keeps Phi finite there. The force peaks at about (pi/L)/sqrt(floor) in a layer of
    /// width ~ L sqrt(floor)/pi at each end, so simulating a small floor needs a small dt.
    CosSquared {
        /// Left end of the interval on which cos^2 is a half period.
        xbegin: f64,
        /// Right end.
        xend: f64,
        /// Added floor (> 0), relative to the peak value 1 of cos^2.
        floor: f64,
    },
    /// A mixture of normalised densities; see [`Mixture`].
    Mixture(Mixture),
    /// Phi tabulated at points, interpolated by monotone cubics; see [`Table`]. It must cover
    /// the domain it is used on.
    Table(Table),
    /// A user-supplied Phi (and optionally F); see [`UserFunction`].
    #[serde(skip)]
    Function(UserFunction),
}

impl Potential {
    /// Phi = 0.
    pub fn uniform() -> Potential {
        Potential::Uniform
    }

    /// The paper's ground truth (docs/method.md §7): double well with xmax = 0, xmin = 0.6,
    /// depth = 2, no tilt, i.e. Phi = 2 (s^4 - 2 s^2) with s = x / 0.6.
    pub fn paper_double_well() -> Potential {
        Potential::DoubleWell {
            xmax: 0.0,
            xmin: 0.6,
            depth: 2.0,
            tilt: 0.0,
        }
    }

    /// The triple well of docs/method.md §7: extrema x = [-1, -0.6, -0.3, 0, 0.3, 0.6, 1],
    /// Phi = [4, 0, 2, 0, 2, 0, 4] (minima at -0.6, 0, 0.6).
    pub fn triple_well() -> Potential {
        Potential::Wells(Wells {
            x: vec![-1.0, -0.6, -0.3, 0.0, 0.3, 0.6, 1.0],
            phi: vec![4.0, 0.0, 2.0, 0.0, 2.0, 0.0, 4.0],
        })
    }

    /// The four well of docs/method.md §7: extrema x = [-1, -0.75, ..., 0.75, 1] (step 0.25),
    /// Phi = [4, 0, 2, 0.5, 2, 0.5, 2, 0, 4] (minima at -0.75, -0.25, 0.25, 0.75).
    pub fn four_well() -> Potential {
        Potential::Wells(Wells {
            x: vec![-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0],
            phi: vec![4.0, 0.0, 2.0, 0.5, 2.0, 0.5, 2.0, 0.0, 4.0],
        })
    }

    /// The C^1 piecewise cubic through the extrema (x_i, phi_i) (docs/method.md §7).
    pub fn wells(x: Vec<f64>, phi: Vec<f64>) -> Result<Potential, SynthError> {
        Ok(Potential::Wells(Wells::new(x, phi)?))
    }

    /// The paper's initial fit model peq ~ cos^2(pi x / 2) on [-1, 1], with the tiny floor
    /// [`COS_SQUARED_FLOOR`] so that Phi is finite at the ends. For simulation, use
    /// [`Potential::CosSquared`] with a larger floor (e.g. 1e-3) or a small dt.
    pub fn cos_squared() -> Potential {
        Potential::CosSquared {
            xbegin: -1.0,
            xend: 1.0,
            floor: COS_SQUARED_FLOOR,
        }
    }

    /// Phi tabulated at points (x strictly increasing), interpolated by monotone cubics.
    pub fn table(x: Vec<f64>, phi: Vec<f64>) -> Result<Potential, SynthError> {
        Ok(Potential::Table(Table::new(x, phi)?))
    }

    /// A mixture sum_k theta_k peq_k of densities, each normalised on [a, b] (the weights are
    /// normalised to sum 1); see [`Mixture::new`].
    pub fn mixture(
        components: Vec<(f64, Potential)>,
        a: f64,
        b: f64,
    ) -> Result<Potential, SynthError> {
        Ok(Potential::Mixture(Mixture::new(components, a, b)?))
    }

    /// A user-supplied Phi; F = -Phi' is taken by central differences (step 1e-5 max(1, |x|)).
    pub fn from_fn(phi: impl Fn(f64) -> f64 + Send + Sync + 'static) -> Potential {
        Potential::Function(UserFunction {
            phi: Arc::new(phi),
            force: None,
        })
    }

    /// A user-supplied Phi with its exact force F = -Phi'.
    pub fn from_fns(
        phi: impl Fn(f64) -> f64 + Send + Sync + 'static,
        force: impl Fn(f64) -> f64 + Send + Sync + 'static,
    ) -> Potential {
        Potential::Function(UserFunction {
            phi: Arc::new(phi),
            force: Some(Arc::new(force)),
        })
    }

    /// A short name of the shape ("double well", ...), for summaries.
    pub fn name(&self) -> &'static str {
        match self {
            Potential::Uniform => "uniform",
            Potential::Linear { .. } => "linear ramp",
            Potential::SingleWell { .. } => "single well",
            Potential::DoubleWell { .. } => "double well",
            Potential::Wells(_) => "wells",
            Potential::CosSquared { .. } => "cos^2",
            Potential::Mixture(_) => "mixture",
            Potential::Table(_) => "table",
            Potential::Function(_) => "user function",
        }
    }

    /// Phi(x). Parameters are not checked here (see [`Potential::validate`]).
    pub fn phi(&self, x: f64) -> f64 {
        match self {
            Potential::Uniform => 0.0,
            Potential::Linear { slope } => slope * x,
            Potential::SingleWell { center, curvature } => 0.5 * curvature * (x - center).powi(2),
            Potential::DoubleWell {
                xmax,
                xmin,
                depth,
                tilt,
            } => {
                let s = (x - xmax) / (xmin - xmax);
                let s2 = s * s;
                depth * (s2 * s2 - 2.0 * s2) + tilt * x
            }
            Potential::Wells(w) => w.value(x),
            Potential::CosSquared {
                xbegin,
                xend,
                floor,
            } => {
                let c =
                    (std::f64::consts::PI * (x - 0.5 * (xbegin + xend)) / (xend - xbegin)).cos();
                -(c * c + floor).ln()
            }
            Potential::Mixture(m) => m.phi(x),
            Potential::Table(t) => t.value(x),
            Potential::Function(f) => (f.phi)(x),
        }
    }

    /// The driving force F(x) = -Phi'(x) = d log peq / dx.
    pub fn force(&self, x: f64) -> f64 {
        match self {
            Potential::Uniform => 0.0,
            Potential::Linear { slope } => -slope,
            Potential::SingleWell { center, curvature } => -curvature * (x - center),
            Potential::DoubleWell {
                xmax,
                xmin,
                depth,
                tilt,
            } => {
                let l = xmin - xmax;
                let s = (x - xmax) / l;
                -depth * 4.0 * s * (s * s - 1.0) / l - tilt
            }
            Potential::Wells(w) => -w.derivative(x),
            Potential::CosSquared {
                xbegin,
                xend,
                floor,
            } => {
                let k = std::f64::consts::PI / (xend - xbegin);
                let y = k * (x - 0.5 * (xbegin + xend));
                let c = y.cos();
                // d/dx cos^2(y) = -k sin(2y).
                -k * (2.0 * y).sin() / (c * c + floor)
            }
            Potential::Mixture(m) => m.force(x),
            Potential::Table(t) => -t.derivative(x),
            Potential::Function(f) => match &f.force {
                Some(force) => force(x),
                None => {
                    let h = 1e-5 * x.abs().max(1.0);
                    ((f.phi)(x - h) - (f.phi)(x + h)) / (2.0 * h)
                }
            },
        }
    }

    /// Checks the parameters: everything finite, xmin != xmax, floor > 0, xbegin < xend.
    /// (Tables, extrema and mixtures are validated when built.)
    pub fn validate(&self) -> Result<(), SynthError> {
        let finite = |name: &str, v: f64| {
            if v.is_finite() {
                Ok(())
            } else {
                Err(SynthError::InvalidParameter(format!(
                    "{} potential: {name} must be finite, got {v}",
                    self.name()
                )))
            }
        };
        match self {
            Potential::Uniform
            | Potential::Wells(_)
            | Potential::Mixture(_)
            | Potential::Table(_)
            | Potential::Function(_) => Ok(()),
            Potential::Linear { slope } => finite("slope", *slope),
            Potential::SingleWell { center, curvature } => {
                finite("center", *center)?;
                finite("curvature", *curvature)
            }
            Potential::DoubleWell {
                xmax,
                xmin,
                depth,
                tilt,
            } => {
                finite("xmax", *xmax)?;
                finite("xmin", *xmin)?;
                finite("depth", *depth)?;
                finite("tilt", *tilt)?;
                if xmin == xmax {
                    return Err(SynthError::InvalidParameter(format!(
                        "double well: xmin and xmax must differ, both are {xmin}"
                    )));
                }
                Ok(())
            }
            Potential::CosSquared {
                xbegin,
                xend,
                floor,
            } => {
                finite("xbegin", *xbegin)?;
                finite("xend", *xend)?;
                if xbegin >= xend {
                    return Err(SynthError::InvalidParameter(format!(
                        "cos^2 potential: xbegin = {xbegin} must be < xend = {xend}"
                    )));
                }
                if !(floor.is_finite() && *floor > 0.0) {
                    return Err(SynthError::InvalidParameter(format!(
                        "cos^2 potential: the floor must be finite and > 0, got {floor}"
                    )));
                }
                Ok(())
            }
        }
    }

    /// Checks the parameters ([`Potential::validate`]) and that the potential is defined on
    /// all of [a, b] (tables must cover it).
    pub fn validate_on(&self, a: f64, b: f64) -> Result<(), SynthError> {
        self.validate()?;
        match self {
            Potential::Table(t) if !t.covers(a, b) => Err(SynthError::InvalidTable(format!(
                "the potential table covers [{}, {}] but it is used on [{a}, {b}]",
                t.x()[0],
                t.x()[t.x().len() - 1]
            ))),
            Potential::Mixture(m) => m
                .components
                .iter()
                .try_for_each(|(_, p)| p.validate_on(a, b)),
            _ => Ok(()),
        }
    }

    /// The equilibrium density peq = exp(-Phi)/Z on the nodes `x` with quadrature weights `w`,
    /// normalised so that sum_i w_i peq_i = 1; every value is finite and > 0.
    ///
    /// Errors: mismatched or empty slices, non-finite nodes or weights, negative weights,
    /// invalid parameters, a table that does not cover the nodes, Phi not finite at a node,
    /// or a potential so deep that peq underflows to 0 at some node.
    pub fn peq(&self, x: &[f64], w: &[f64]) -> Result<Vec<f64>, SynthError> {
        if x.len() != w.len() {
            return Err(SynthError::InvalidParameter(format!(
                "peq: {} nodes but {} quadrature weights",
                x.len(),
                w.len()
            )));
        }
        if x.is_empty() {
            return Err(SynthError::InvalidParameter("peq: no nodes".into()));
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(SynthError::InvalidParameter(format!(
                "peq: node {i} is {}",
                x[i]
            )));
        }
        if let Some(i) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err(SynthError::InvalidParameter(format!(
                "peq: quadrature weight {i} is {} (must be finite and >= 0)",
                w[i]
            )));
        }
        let lo = x.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        self.validate_on(lo, hi)?;
        let phi: Vec<f64> = x.iter().map(|&v| self.phi(v)).collect();
        if let Some(i) = phi.iter().position(|v| !v.is_finite()) {
            return Err(SynthError::InvalidDensity(format!(
                "Phi({}) = {} is not finite",
                x[i], phi[i]
            )));
        }
        let min = phi.iter().copied().fold(f64::INFINITY, f64::min);
        let mut p: Vec<f64> = phi.iter().map(|v| (min - v).exp()).collect();
        let z: f64 = p.iter().zip(w).map(|(p, w)| p * w).sum();
        if !(z.is_finite() && z > 0.0) {
            return Err(SynthError::InvalidDensity(format!(
                "exp(-Phi) cannot be normalised on these nodes (integral {z})"
            )));
        }
        p.iter_mut().for_each(|v| *v /= z);
        if let Some(i) = p.iter().position(|v| !(*v > 0.0 && v.is_finite())) {
            return Err(SynthError::InvalidDensity(format!(
                "peq underflows to 0 at x = {}: Phi there is {:.1} above its minimum",
                x[i],
                phi[i] - min
            )));
        }
        Ok(p)
    }
}

/// A user-supplied potential: Phi and, optionally, the exact force F = -Phi'.
#[derive(Clone)]
pub struct UserFunction {
    phi: Arc<dyn Fn(f64) -> f64 + Send + Sync>,
    force: Option<Arc<dyn Fn(f64) -> f64 + Send + Sync>>,
}

impl fmt::Debug for UserFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserFunction")
            .field("exact_force", &self.force.is_some())
            .finish_non_exhaustive()
    }
}

/// Raw form of a mixture in files.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct RawMixture {
    components: Vec<(f64, Potential)>,
    a: f64,
    b: f64,
}

/// Number of Simpson intervals used to normalise mixture components.
const MIXTURE_QUADRATURE_INTERVALS: usize = 8192;

/// A mixture of densities: peq = sum_k theta_k peq_k, each peq_k = exp(-Phi_k)/Z_k normalised
/// on [a, b] (composite Simpson, 8192 intervals), weights theta_k normalised to sum 1 (as the
/// original package's `mixture`). Phi = -ln peq.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "RawMixture", into = "RawMixture")]
pub struct Mixture {
    components: Vec<(f64, Potential)>,
    a: f64,
    b: f64,
    /// ln(theta_k / Z_k).
    log_c: Vec<f64>,
}

impl TryFrom<RawMixture> for Mixture {
    type Error = SynthError;
    fn try_from(raw: RawMixture) -> Result<Mixture, SynthError> {
        Mixture::new(raw.components, raw.a, raw.b)
    }
}

impl From<Mixture> for RawMixture {
    fn from(m: Mixture) -> RawMixture {
        RawMixture {
            components: m.components,
            a: m.a,
            b: m.b,
        }
    }
}

impl Mixture {
    /// Mixes the densities of `components` (weight, potential) normalised on [a, b]. Weights
    /// must be finite, >= 0 and not all 0; a < b; every component valid on [a, b].
    pub fn new(components: Vec<(f64, Potential)>, a: f64, b: f64) -> Result<Mixture, SynthError> {
        if !(a.is_finite() && b.is_finite() && a < b) {
            return Err(SynthError::InvalidDomain { a, b });
        }
        if components.is_empty() {
            return Err(SynthError::InvalidParameter(
                "a mixture needs at least one component".into(),
            ));
        }
        if let Some((k, (wk, _))) = components
            .iter()
            .enumerate()
            .find(|(_, (wk, _))| !(wk.is_finite() && *wk >= 0.0))
        {
            return Err(SynthError::InvalidParameter(format!(
                "mixture weight {k} is {wk} (must be finite and >= 0)"
            )));
        }
        let total: f64 = components.iter().map(|(wk, _)| wk).sum();
        if total <= 0.0 {
            return Err(SynthError::InvalidParameter(
                "mixture weights are all 0".into(),
            ));
        }
        let mut log_c = Vec::with_capacity(components.len());
        for (k, (wk, p)) in components.iter().enumerate() {
            p.validate_on(a, b)?;
            let log_z = log_integral_exp_neg(p, a, b).map_err(|msg| {
                SynthError::InvalidDensity(format!("mixture component {k}: {msg}"))
            })?;
            log_c.push((wk / total).ln() - log_z);
        }
        Ok(Mixture {
            components,
            a,
            b,
            log_c,
        })
    }

    /// The components (weight as given, potential).
    pub fn components(&self) -> &[(f64, Potential)] {
        &self.components
    }

    /// ln of the (unnormalised in x) component terms theta_k exp(-Phi_k(x)) / Z_k.
    fn log_terms(&self, x: f64) -> impl Iterator<Item = (f64, &Potential)> {
        self.components
            .iter()
            .zip(&self.log_c)
            .map(move |((_, p), lc)| (lc - p.phi(x), p))
    }

    fn phi(&self, x: f64) -> f64 {
        let top = self
            .log_terms(x)
            .map(|(l, _)| l)
            .fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = self.log_terms(x).map(|(l, _)| (l - top).exp()).sum();
        -(top + s.ln())
    }

    fn force(&self, x: f64) -> f64 {
        // F = sum_k p_k F_k / sum_k p_k (d log of a sum of densities).
        let top = self
            .log_terms(x)
            .map(|(l, _)| l)
            .fold(f64::NEG_INFINITY, f64::max);
        let (num, den) = self.log_terms(x).fold((0.0, 0.0), |(n, d), (l, p)| {
            let e = (l - top).exp();
            if e == 0.0 {
                (n, d)
            } else {
                (n + e * p.force(x), d + e)
            }
        });
        num / den
    }
}

/// ln int_a^b exp(-Phi) dx by composite Simpson, shifted by the minimum of Phi for range.
fn log_integral_exp_neg(p: &Potential, a: f64, b: f64) -> Result<f64, String> {
    let n = MIXTURE_QUADRATURE_INTERVALS;
    let h = (b - a) / n as f64;
    let phi: Vec<f64> = (0..=n).map(|i| p.phi(a + h * i as f64)).collect();
    if let Some(i) = phi.iter().position(|v| !v.is_finite()) {
        return Err(format!(
            "Phi({}) = {} is not finite",
            a + h * i as f64,
            phi[i]
        ));
    }
    let min = phi.iter().copied().fold(f64::INFINITY, f64::min);
    let s: f64 = phi
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let c = if i == 0 || i == n {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            c * (min - v).exp()
        })
        .sum();
    Ok((s * h / 3.0).ln() - min)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uniform_nodes(a: f64, b: f64, n: usize) -> (Vec<f64>, Vec<f64>) {
        let h = (b - a) / (n - 1) as f64;
        let x = (0..n).map(|i| a + h * i as f64).collect();
        let w = (0..n)
            .map(|i| if i == 0 || i == n - 1 { h / 2.0 } else { h })
            .collect();
        (x, w)
    }

    #[test]
    fn paper_double_well_has_its_extrema() {
        let p = Potential::paper_double_well();
        assert!(p.force(0.0).abs() < 1e-14);
        assert!(p.force(0.6).abs() < 1e-13 && p.force(-0.6).abs() < 1e-13);
        assert!((p.phi(0.0) - p.phi(0.6) - 2.0).abs() < 1e-13);
        // Phi = 2 (s^4 - 2 s^2), s = x / 0.6, at x = 0.3: s = 0.5.
        assert!((p.phi(0.3) - 2.0 * (0.0625 - 0.5)).abs() < 1e-14);
    }

    #[test]
    fn analytic_forces_match_finite_differences() {
        let shapes = [
            Potential::Linear { slope: 1.7 },
            Potential::SingleWell {
                center: 0.2,
                curvature: 8.0,
            },
            Potential::DoubleWell {
                xmax: 0.1,
                xmin: 0.5,
                depth: 3.0,
                tilt: 0.7,
            },
            Potential::triple_well(),
            Potential::CosSquared {
                xbegin: -1.0,
                xend: 1.0,
                floor: 1e-3,
            },
            Potential::mixture(
                vec![
                    (0.3, Potential::paper_double_well()),
                    (0.7, Potential::Linear { slope: 2.0 }),
                ],
                -1.0,
                1.0,
            )
            .unwrap(),
            Potential::from_fn(|x| x.powi(4)),
        ];
        let h = 1e-6;
        for p in &shapes {
            for i in 0..41 {
                let x = -0.99 + 0.0495 * i as f64;
                let fd = (p.phi(x - h) - p.phi(x + h)) / (2.0 * h);
                let f = p.force(x);
                assert!(
                    (f - fd).abs() < 1e-6 * (1.0 + f.abs()),
                    "{} at {x}: {f} vs {fd}",
                    p.name()
                );
            }
        }
    }

    #[test]
    fn cos_squared_density_and_floor() {
        let (x, w) = uniform_nodes(-1.0, 1.0, 2001);
        let p = Potential::cos_squared().peq(&x, &w).unwrap();
        // int cos^2(pi x / 2) over [-1, 1] is 1, so peq(0) ~ 1 and peq(±1) ~ floor.
        assert!((p[1000] - 1.0).abs() < 1e-6);
        assert!(p[0] > 0.0 && (p[0] - COS_SQUARED_FLOOR).abs() < 1e-10);
        assert!(p[0] < p[1]);
    }

    #[test]
    fn mixture_is_the_weighted_sum_of_normalised_densities() {
        let (x, w) = uniform_nodes(-1.0, 1.0, 4001);
        let a = Potential::paper_double_well();
        let b = Potential::Linear { slope: -3.0 };
        let m = Potential::mixture(vec![(1.0, a.clone()), (3.0, b.clone())], -1.0, 1.0).unwrap();
        let (pa, pb, pm) = (
            a.peq(&x, &w).unwrap(),
            b.peq(&x, &w).unwrap(),
            m.peq(&x, &w).unwrap(),
        );
        for i in (0..x.len()).step_by(97) {
            let expect = 0.25 * pa[i] + 0.75 * pb[i];
            assert!((pm[i] - expect).abs() < 1e-6 * expect, "at {}", x[i]);
        }
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        let (x, w) = uniform_nodes(-1.0, 1.0, 11);
        let bad = [
            Potential::DoubleWell {
                xmax: 0.3,
                xmin: 0.3,
                depth: 2.0,
                tilt: 0.0,
            },
            Potential::Linear { slope: f64::NAN },
            Potential::CosSquared {
                xbegin: -1.0,
                xend: 1.0,
                floor: 0.0,
            },
            Potential::CosSquared {
                xbegin: 1.0,
                xend: -1.0,
                floor: 1e-3,
            },
            Potential::table(vec![-0.5, 1.0], vec![0.0, 1.0]).unwrap(),
            Potential::Linear { slope: 2000.0 },
            Potential::from_fn(|x| if x > 0.5 { f64::NAN } else { 0.0 }),
        ];
        for p in &bad {
            assert!(p.peq(&x, &w).is_err(), "{p:?} was accepted");
        }
        let p = Potential::uniform();
        assert!(p.peq(&x, &w[1..]).is_err());
        assert!(p.peq(&[], &[]).is_err());
        let mut w_neg = w.clone();
        w_neg[3] = -1.0;
        assert!(p.peq(&x, &w_neg).is_err());
        assert!(Potential::mixture(vec![], -1.0, 1.0).is_err());
        assert!(Potential::mixture(vec![(0.0, p.clone())], -1.0, 1.0).is_err());
        assert!(Potential::mixture(vec![(1.0, p.clone())], 1.0, -1.0).is_err());
        assert!(Potential::mixture(vec![(-1.0, p)], -1.0, 1.0).is_err());
    }

    #[test]
    fn serde_round_trip_keeps_the_shape() {
        let shapes = [
            Potential::paper_double_well(),
            Potential::four_well(),
            Potential::table(vec![-1.0, 0.0, 1.0], vec![1.0, 0.0, 2.0]).unwrap(),
            Potential::mixture(
                vec![(0.5, Potential::uniform()), (0.5, Potential::cos_squared())],
                -1.0,
                1.0,
            )
            .unwrap(),
        ];
        for p in &shapes {
            let text = serde_json::to_string(p).unwrap();
            let back: Potential = serde_json::from_str(&text).unwrap();
            for x in [-0.9, -0.31, 0.0, 0.47, 0.88] {
                assert_eq!(p.phi(x), back.phi(x), "{text}");
            }
        }
        // Invalid extrema in a file are rejected on reading.
        let bad = r#"{"kind":"wells","x":[0.0,-1.0],"y":[1.0,2.0]}"#;
        assert!(serde_json::from_str::<Potential>(bad).is_err());
    }
}
