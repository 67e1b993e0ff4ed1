//! The precomputed tables of a simulation: the Euler–Maruyama drift map and the rates on a
//! uniform grid of [a, b], the equilibrium mean rate and the sampler of the initial state;
//! and the time-step limits checked against the force table.

use latentflow_spectral::BoundaryMode;
use rand::{Rng, RngExt};

use crate::{InitialState, Potential, SimulationConfig, SynthError};

/// Largest allowed drift step D dt max|F|, as a fraction of the domain length b - a.
pub const MAX_DRIFT_STEP: f64 = 0.05;

/// Largest allowed diffusion step sqrt(2 D dt), as a fraction of the domain length b - a.
pub const MAX_DIFFUSION_STEP: f64 = 0.1;

/// Cells of the uniform tables of drift and rates on [a, b] (linear interpolation).
const TABLE_CELLS: usize = 4096;

/// Cells of the cumulative table used to draw the initial state.
const CDF_CELLS: usize = 1 << 14;

/// How the initial state is drawn.
#[derive(Clone, Debug)]
enum InitialSampler {
    Point(f64),
    /// Normalised cumulative distribution at CDF_CELLS + 1 uniform nodes on [a, b].
    Cdf(Vec<f64>),
}

/// The lookup tables of one simulation (built by [`Tables::new`], read by the path loop).
#[derive(Clone, Debug)]
pub(super) struct Tables {
    pub(super) a: f64,
    pub(super) b: f64,
    inv_h: f64,
    /// -a / h: the cell coordinate of x is x inv_h + cell_offset.
    cell_offset: f64,
    /// Per table cell, the Euler–Maruyama map without noise, x + D dt F(x) interpolated
    /// linearly, as (intercept, slope) in x: the next state is intercept + slope x + noise.
    /// Kept apart from the rates so that this lookup (on the step-to-step dependency chain)
    /// touches a small table, and sized so that the index needs no bounds check.
    pub(super) step: Box<[[f64; 2]; TABLE_CELLS]>,
    /// Per table cell and neuron, f dt / 2 as (intercept, slope) in x: 2 K values per cell.
    rates: Vec<f64>,
    initial: InitialSampler,
    /// Total spike rate sum_n int peq f_n (Hz) at equilibrium.
    pub(super) expected_rate: f64,
}

impl Tables {
    /// Tabulates the force and the rates of a configuration whose parameters have been
    /// validated; checks that they are finite (rates >= 0) on [a, b] and that dt passes the
    /// drift and diffusion limits.
    pub(super) fn new(config: &SimulationConfig) -> Result<Tables, SynthError> {
        let (a, b, d, dt) = (config.xbegin, config.xend, config.d, config.dt);
        let length = b - a;
        let h = length / TABLE_CELLS as f64;
        let node = |i: usize| {
            if i == TABLE_CELLS {
                b
            } else {
                a + h * i as f64
            }
        };
        let force: Vec<f64> = (0..=TABLE_CELLS)
            .map(|i| config.potential.force(node(i)))
            .collect();
        if let Some(i) = force.iter().position(|f| !f.is_finite()) {
            return Err(SynthError::InvalidDensity(format!(
                "the force F({}) = {} is not finite",
                node(i),
                force[i]
            )));
        }
        let max_force = force.iter().fold(0.0f64, |m, f| m.max(f.abs()));
        check_time_step(dt, d, max_force, length)?;
        let rates: Vec<Vec<f64>> = config
            .neurons
            .iter()
            .map(|n| (0..=TABLE_CELLS).map(|i| n.rate(node(i))).collect())
            .collect();
        for (k, r) in rates.iter().enumerate() {
            if let Some(i) = r.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(SynthError::InvalidRate {
                    neuron: k,
                    x: node(i),
                    rate: r[i],
                });
            }
        }
        let mut step = Box::new([[0.0; 2]; TABLE_CELLS]);
        let mut rate_cells = Vec::with_capacity(2 * rates.len() * TABLE_CELLS);
        // The line through (x0, v0) and (x1, v1) as (intercept, slope).
        let line = |x0: f64, x1: f64, v0: f64, v1: f64| {
            let slope = (v1 - v0) / (x1 - x0);
            [v0 - slope * x0, slope]
        };
        for i in 0..TABLE_CELLS {
            let (x0, x1) = (node(i), node(i + 1));
            let [p, q] = line(x0, x1, d * dt * force[i], d * dt * force[i + 1]);
            step[i] = [p, 1.0 + q];
            for r in &rates {
                rate_cells.extend(line(x0, x1, 0.5 * dt * r[i], 0.5 * dt * r[i + 1]));
            }
        }

        // peq on a fine grid: the mean rate, and p0 when it is peq.
        let peq = density_table(&config.potential, a, b)?;
        let hc = length / CDF_CELLS as f64;
        let mut mean_rate = 0.0;
        for (k, curve) in config.neurons.iter().enumerate() {
            let f: Vec<f64> = (0..=CDF_CELLS)
                .map(|i| curve.rate(a + hc * i as f64))
                .collect();
            if let Some(i) = f.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(SynthError::InvalidRate {
                    neuron: k,
                    x: a + hc * i as f64,
                    rate: f[i],
                });
            }
            mean_rate += trapezoid(peq.iter().zip(&f).map(|(p, f)| p * f), hc);
        }
        let expected_rate = mean_rate / trapezoid(peq.iter().copied(), hc);

        let initial = match &config.initial {
            InitialState::Equilibrium => InitialSampler::Cdf(cumulative(&peq)),
            InitialState::Density { potential } => {
                potential.validate_on(a, b)?;
                InitialSampler::Cdf(cumulative(&density_table(potential, a, b)?))
            }
            InitialState::Point { x } => {
                let inside = match config.boundary {
                    BoundaryMode::Reflecting => a <= *x && *x <= b,
                    BoundaryMode::Absorbing => a < *x && *x < b,
                };
                if !inside {
                    return Err(SynthError::InvalidParameter(format!(
                        "the initial point {x} is not inside the domain [{a}, {b}]{}",
                        if config.boundary == BoundaryMode::Absorbing {
                            " (strictly, with absorbing bounds)"
                        } else {
                            ""
                        }
                    )));
                }
                InitialSampler::Point(*x)
            }
        };

        Ok(Tables {
            a,
            b,
            inv_h: 1.0 / h,
            cell_offset: -a / h,
            step,
            rates: rate_cells,
            initial,
            expected_rate,
        })
    }

    /// The table cell that holds x in [a, b].
    #[inline(always)]
    pub(super) fn cell(&self, x: f64) -> usize {
        ((x * self.inv_h + self.cell_offset) as usize).min(TABLE_CELLS - 1)
    }

    /// The rate coefficients (f dt / 2 as intercept and slope, per neuron) of the cell of x.
    #[inline(always)]
    pub(super) fn rate_row(&self, x: f64, k: usize) -> &[f64] {
        let o = self.cell(x) * 2 * k;
        &self.rates[o..o + 2 * k]
    }

    pub(super) fn draw_initial(&self, rng: &mut impl Rng) -> f64 {
        match &self.initial {
            InitialSampler::Point(x) => *x,
            InitialSampler::Cdf(cdf) => {
                let u: f64 = rng.random();
                // cdf[0] = 0 <= u < 1 = cdf[last]: the cell i with cdf[i] <= u < cdf[i + 1].
                let i = cdf.partition_point(|&c| c <= u).clamp(1, CDF_CELLS) - 1;
                let frac = (u - cdf[i]) / (cdf[i + 1] - cdf[i]);
                let h = (self.b - self.a) / CDF_CELLS as f64;
                (self.a + h * (i as f64 + frac.clamp(0.0, 1.0))).clamp(self.a, self.b)
            }
        }
    }
}

/// Checks dt against the drift and diffusion limits; the error suggests a round dt that
/// passes both.
fn check_time_step(dt: f64, d: f64, max_force: f64, length: f64) -> Result<(), SynthError> {
    let drift_limit = if max_force > 0.0 {
        MAX_DRIFT_STEP * length / (d * max_force)
    } else {
        f64::INFINITY
    };
    let diffusion_limit = (MAX_DIFFUSION_STEP * length).powi(2) / (2.0 * d);
    let reason = if dt > drift_limit {
        format!(
            "the drift step D dt max|F| = {:.3} exceeds {MAX_DRIFT_STEP} of the domain length \
             ({:.3}; max|F| = {max_force:.4})",
            d * dt * max_force,
            MAX_DRIFT_STEP * length
        )
    } else if dt > diffusion_limit {
        format!(
            "the diffusion step sqrt(2 D dt) = {:.3} exceeds {MAX_DIFFUSION_STEP} of the domain \
             length ({:.3})",
            (2.0 * d * dt).sqrt(),
            MAX_DIFFUSION_STEP * length
        )
    } else {
        return Ok(());
    };
    Err(SynthError::TimeStepTooLarge {
        dt,
        reason,
        suggested: round_down(drift_limit.min(diffusion_limit)),
    })
}

/// The largest 1, 2 or 5 times a power of ten that is <= v (v > 0).
fn round_down(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    [5.0, 2.0, 1.0]
        .into_iter()
        .map(|m| m * p)
        .find(|&c| c <= v)
        .unwrap_or(p)
}

/// exp(-(Phi - min Phi)) at CDF_CELLS + 1 uniform nodes on [a, b].
fn density_table(p: &Potential, a: f64, b: f64) -> Result<Vec<f64>, SynthError> {
    let h = (b - a) / CDF_CELLS as f64;
    let phi: Vec<f64> = (0..=CDF_CELLS).map(|i| p.phi(a + h * i as f64)).collect();
    if let Some(i) = phi.iter().position(|v| !v.is_finite()) {
        return Err(SynthError::InvalidDensity(format!(
            "Phi({}) = {} is not finite",
            a + h * i as f64,
            phi[i]
        )));
    }
    let min = phi.iter().copied().fold(f64::INFINITY, f64::min);
    Ok(phi.iter().map(|v| (min - v).exp()).collect())
}

/// Trapezoid rule with step h over equally spaced values.
fn trapezoid(values: impl ExactSizeIterator<Item = f64>, h: f64) -> f64 {
    let n = values.len();
    values
        .enumerate()
        .map(|(i, v)| if i == 0 || i + 1 == n { 0.5 * v } else { v })
        .sum::<f64>()
        * h
}

/// Normalised cumulative trapezoid integral of equally spaced density values (first 0, last 1).
fn cumulative(p: &[f64]) -> Vec<f64> {
    let mut c = Vec::with_capacity(p.len());
    let mut s = 0.0;
    c.push(0.0);
    for w in p.windows(2) {
        s += 0.5 * (w[0] + w[1]);
        c.push(s);
    }
    c.iter_mut().for_each(|v| *v /= s);
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Simulator;
    use crate::simulate::path::trial_rng;

    #[test]
    fn time_step_limits() {
        // The paper: D dt max|F| = 1e-3 * 39.5 < 0.1.
        assert!(check_time_step(1e-4, 10.0, 39.5, 2.0).is_ok());
        let err = check_time_step(1e-3, 10.0, 39.5, 2.0).unwrap_err();
        match err {
            SynthError::TimeStepTooLarge { suggested, .. } => {
                assert!(suggested <= 0.1 / (10.0 * 39.5));
                assert!(check_time_step(suggested, 10.0, 39.5, 2.0).is_ok());
            }
            e => panic!("unexpected {e}"),
        }
        // Free diffusion: only the diffusion limit (2 D dt <= 0.04).
        assert!(check_time_step(1e-3, 10.0, 0.0, 2.0).is_ok());
        assert!(check_time_step(3e-3, 10.0, 0.0, 2.0).is_err());
        assert_eq!(round_down(0.00253), 0.002);
        assert_eq!(round_down(7.0), 5.0);
        assert_eq!(round_down(1.0), 1.0);
    }

    #[test]
    fn initial_cdf_is_continuous() {
        let sim = Simulator::new(SimulationConfig::paper()).unwrap();
        let mut rng = trial_rng(0, 0);
        let h = 2.0 / CDF_CELLS as f64;
        let mut off_node = 0;
        for _ in 0..1000 {
            let x = sim.tables.draw_initial(&mut rng);
            assert!((-1.0..=1.0).contains(&x));
            let r = ((x + 1.0) / h).fract();
            if r > 1e-6 && r < 1.0 - 1e-6 {
                off_node += 1;
            }
        }
        assert!(off_node > 990, "initial states snap to nodes");
    }
}
