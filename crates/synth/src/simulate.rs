//! Seeded latent Langevin paths (Euler–Maruyama) and inhomogeneous Poisson spikes.

use latentflow_data::{SpikeData, Trial};
use latentflow_spectral::BoundaryMode;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Distribution, Exp1, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{Amount, InitialState, Potential, SimulationConfig, SynthError, TrialLength};

/// Largest allowed drift step D dt max|F|, as a fraction of the domain length b - a.
pub const MAX_DRIFT_STEP: f64 = 0.05;

/// Largest allowed diffusion step sqrt(2 D dt), as a fraction of the domain length b - a.
pub const MAX_DIFFUSION_STEP: f64 = 0.1;

/// Cells of the uniform tables of drift and rates on [a, b] (linear interpolation).
const TABLE_CELLS: usize = 4096;

/// Cells of the cumulative table used to draw the initial state.
const CDF_CELLS: usize = 1 << 14;

/// Brownian-bridge crossing probabilities exp(-d0 d1 / (D dt)) below exp(-BRIDGE_CUTOFF)
/// (~1e-11) are neglected.
const BRIDGE_CUTOFF: f64 = 25.0;

/// Most trials one call may simulate (a guard against amounts that cannot be reached).
const MAX_TRIALS: u64 = 100_000_000;

/// One spike.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spike {
    /// Time from the trial start (s).
    pub time: f64,
    /// Neuron id.
    pub neuron: u32,
}

/// A recorded latent path: x(t_i) at times t_i (s from the trial start).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatentPath {
    /// Times (s), increasing; the last one is the trial end.
    pub t: Vec<f64>,
    /// Latent state at those times.
    pub x: Vec<f64>,
}

/// One simulated trial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialSample {
    /// Spikes of all neurons, in time order, all before `duration`.
    pub spikes: Vec<Spike>,
    /// Trial length (s): the drawn length, or the exit time if absorbed.
    pub duration: f64,
    /// The latent state left the domain (absorbing bounds) at `duration`.
    pub absorbed: bool,
    /// Absorbing bounds, but the trial reached its length before absorption.
    pub censored: bool,
    /// The latent path, if recorded.
    pub latent: Option<LatentPath>,
}

impl TrialSample {
    /// The trial as inter-event intervals: one per spike, then the silent tail to the end.
    pub fn to_trial(&self) -> Result<Trial, SynthError> {
        let mut isi = Vec::with_capacity(self.spikes.len() + 1);
        let mut neuron = Vec::with_capacity(self.spikes.len() + 1);
        let mut prev = 0.0;
        for s in &self.spikes {
            isi.push(s.time - prev);
            neuron.push(Some(s.neuron));
            prev = s.time;
        }
        isi.push(self.duration - prev);
        neuron.push(None);
        Ok(Trial::new(isi, neuron)?.with_censored(self.censored))
    }

    /// Cuts the trial at `end` < duration: later spikes and path points are dropped (the path
    /// gets a linearly interpolated point at `end`); a cut absorbing trial is censored.
    fn truncate(&mut self, end: f64, absorbing: bool) {
        self.spikes.retain(|s| s.time < end);
        self.duration = end;
        self.absorbed = false;
        self.censored = absorbing;
        if let Some(path) = &mut self.latent {
            let keep = path.t.partition_point(|&t| t < end);
            if keep < path.t.len() {
                let x_end = if keep == 0 {
                    path.x[0]
                } else {
                    let (t0, t1) = (path.t[keep - 1], path.t[keep]);
                    let (x0, x1) = (path.x[keep - 1], path.x[keep]);
                    x0 + (x1 - x0) * (end - t0) / (t1 - t0)
                };
                path.t.truncate(keep);
                path.x.truncate(keep);
                path.t.push(end);
                path.x.push(x_end);
            }
        }
    }
}

/// Simulated data: the spike trains and, if recorded, one latent path per trial.
#[derive(Clone, Debug, PartialEq)]
pub struct Synthetic {
    /// The spike data (K neurons; absorbing trials that hit their length are censored).
    pub data: SpikeData,
    /// Latent paths per trial (empty if not recorded).
    pub latent: Vec<LatentPath>,
}

/// How the initial state is drawn.
#[derive(Clone, Debug)]
enum InitialSampler {
    Point(f64),
    /// Normalised cumulative distribution at CDF_CELLS + 1 uniform nodes on [a, b].
    Cdf(Vec<f64>),
}

/// A validated simulation with precomputed tables: built once, then any number of seeded
/// trials, in parallel, each from its own random stream.
///
/// Per step: x' = x + D dt F(x) + sqrt(2 D dt) z with z ~ N(0, 1) (ziggurat), F from a
/// uniform table with linear interpolation (O(1)). Reflecting bounds mirror x' back inside
/// (repeatedly, if needed); absorbing bounds end the trial where the step leaves the domain
/// (crossing time interpolated linearly within the step), and also when the Brownian bridge
/// between two inside points crosses a bound (probability exp(-d0 d1/(D dt)), d0, d1 the
/// distances to that bound), which removes the O(sqrt(dt)) bias of checking only at steps.
/// Spikes by time rescaling: each neuron draws an Exp(1) threshold and integrates its rate
/// along the path (trapezoid per step); a spike is placed where the integral reaches the
/// threshold, interpolated within the step, and a new threshold is drawn.
///
/// Trial i of seed s uses its own xoshiro256++ stream seeded from a hash of (s, i), so the
/// data are identical for any thread count and any batch order.
#[derive(Clone, Debug)]
pub struct Simulator {
    config: SimulationConfig,
    a: f64,
    b: f64,
    inv_h: f64,
    /// -a / h: the cell coordinate of x is x inv_h + cell_offset.
    cell_offset: f64,
    /// sqrt(2 D dt).
    sigma: f64,
    /// 1 / (D dt).
    inv_ddt: f64,
    /// Per table cell, the Euler–Maruyama map without noise, x + D dt F(x) interpolated
    /// linearly, as (intercept, slope) in x: the next state is intercept + slope x + noise.
    /// Kept apart from the rates so that this lookup (on the step-to-step dependency chain)
    /// touches a small table, and sized so that the index needs no bounds check.
    step: Box<[[f64; 2]; TABLE_CELLS]>,
    /// Per table cell and neuron, f dt / 2 as (intercept, slope) in x: 2 K values per cell.
    rates: Vec<f64>,
    initial: InitialSampler,
    expected_rate: f64,
}

impl Simulator {
    /// Validates `config` and precomputes the tables.
    ///
    /// Errors: D or dt not finite and > 0, a >= b, no neurons, invalid potential or tuning
    /// curve parameters, a force or rate that is not finite (or a negative rate) somewhere on
    /// [a, b], an initial point outside the domain, `latent_stride` 0, or dt too large:
    /// D dt max|F| > [`MAX_DRIFT_STEP`] (b - a) or sqrt(2 D dt) > [`MAX_DIFFUSION_STEP`] (b - a)
    /// (the error suggests a dt that passes).
    pub fn new(config: SimulationConfig) -> Result<Simulator, SynthError> {
        let (a, b, d, dt) = (config.xbegin, config.xend, config.d, config.dt);
        if !(a.is_finite() && b.is_finite() && a < b) {
            return Err(SynthError::InvalidDomain { a, b });
        }
        if !(d.is_finite() && d > 0.0) {
            return Err(SynthError::InvalidParameter(format!(
                "D must be finite and > 0, got {d}"
            )));
        }
        if !(dt.is_finite() && dt > 0.0) {
            return Err(SynthError::InvalidParameter(format!(
                "dt must be finite and > 0, got {dt}"
            )));
        }
        if config.neurons.is_empty() {
            return Err(SynthError::InvalidParameter(
                "at least one neuron is needed".into(),
            ));
        }
        if config.neurons.len() > u32::MAX as usize {
            return Err(SynthError::InvalidParameter(format!(
                "{} neurons: at most {} are supported",
                config.neurons.len(),
                u32::MAX
            )));
        }
        if config.latent_stride == Some(0) {
            return Err(SynthError::InvalidParameter(
                "latent_stride must be >= 1".into(),
            ));
        }
        config.potential.validate_on(a, b)?;
        for n in &config.neurons {
            n.validate()?;
        }

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

        Ok(Simulator {
            a,
            b,
            inv_h: 1.0 / h,
            cell_offset: -a / h,
            sigma: (2.0 * d * dt).sqrt(),
            inv_ddt: 1.0 / (d * dt),
            step,
            rates: rate_cells,
            initial,
            expected_rate,
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SimulationConfig {
        &self.config
    }

    /// Total spike rate sum_n int peq f_n (Hz) at equilibrium.
    pub fn expected_rate(&self) -> f64 {
        self.expected_rate
    }

    /// Simulates trial `index` of the data set with seed `seed` (its length drawn from
    /// `length` with the trial's own stream). The result depends only on (config, seed,
    /// index, length).
    pub fn trial(
        &self,
        seed: u64,
        index: u64,
        length: TrialLength,
    ) -> Result<TrialSample, SynthError> {
        length.validate()?;
        Ok(self.trial_unchecked(seed, index, length))
    }

    /// The trials of a data set: trial i is [`Simulator::trial`]`(seed, i, length)`, i = 0, 1,
    /// ... until `amount` is reached. Trials run in parallel (rayon) and are collected in
    /// order, so the result does not depend on the thread count.
    pub fn samples(
        &self,
        amount: Amount,
        length: TrialLength,
        seed: u64,
    ) -> Result<Vec<TrialSample>, SynthError> {
        length.validate()?;
        let absorbing = self.config.boundary == BoundaryMode::Absorbing;
        let mean_len = length.mean();
        match amount {
            Amount::Seconds(t) if !(t.is_finite() && t > 0.0) => {
                return Err(SynthError::InvalidParameter(format!(
                    "the amount of data must be finite and > 0 seconds, got {t}"
                )));
            }
            Amount::Spikes(0) | Amount::Trials(0) => {
                return Err(SynthError::InvalidParameter(
                    "the amount of data must be at least 1 spike or trial".into(),
                ));
            }
            Amount::Spikes(_) if self.expected_rate <= 0.0 => {
                return Err(SynthError::InvalidParameter(
                    "the neurons never fire (mean rate 0 Hz under peq), so no spike count can \
                     be reached"
                        .into(),
                ));
            }
            _ => {}
        }
        let threads = rayon::current_num_threads() as u64;
        // Reflecting trials of fixed length: the number still needed for Amount::Seconds is
        // known exactly, so no spare trial is simulated (it would double the work of a
        // single-trial data set).
        let exact = !absorbing && matches!(length, TrialLength::Fixed(_));
        let mut out: Vec<TrialSample> = Vec::new();
        let (mut time, mut spikes) = (0.0f64, 0u64);
        let mut next = 0u64;
        loop {
            let wanted = match amount {
                Amount::Trials(n) => n - next,
                Amount::Seconds(t) => {
                    let need = ((t - time) / mean_len).ceil().max(1.0) as u64;
                    if exact { need } else { need + 1 }
                }
                Amount::Spikes(s) => {
                    let per_trial = self.expected_rate * mean_len;
                    ((s - spikes) as f64 / per_trial * 1.05).ceil() as u64 + 1
                }
            };
            let batch = match amount {
                Amount::Trials(_) => wanted,
                Amount::Seconds(_) if exact => wanted.min(4096),
                _ => wanted.clamp(threads, 4096),
            };
            if next + batch > MAX_TRIALS {
                return Err(SynthError::NotReached(format!(
                    "{amount:?} needs more than {MAX_TRIALS} trials (reached {time:.3} s and \
                     {spikes} spikes)"
                )));
            }
            let batch_samples: Vec<TrialSample> = (next..next + batch)
                .into_par_iter()
                .map(|i| self.trial_unchecked(seed, i, length))
                .collect();
            next += batch;
            for mut s in batch_samples {
                match amount {
                    Amount::Seconds(t) if time + s.duration >= t => {
                        if time + s.duration > t {
                            s.truncate(t - time, absorbing);
                        }
                        out.push(s);
                        return Ok(out);
                    }
                    _ => {}
                }
                time += s.duration;
                spikes += s.spikes.len() as u64;
                out.push(s);
                let done = match amount {
                    Amount::Trials(n) => out.len() as u64 == n,
                    Amount::Spikes(n) => spikes >= n,
                    // Done up to round-off of the summed durations (no sliver of a trial).
                    Amount::Seconds(t) => time >= t * (1.0 - 1e-12),
                };
                if done {
                    return Ok(out);
                }
            }
            if let Amount::Spikes(n) = amount
                && time > 100.0 * (n as f64 / self.expected_rate + mean_len)
            {
                return Err(SynthError::NotReached(format!(
                    "only {spikes} of {n} spikes after {time:.1} s of simulated time (the \
                     equilibrium rate {:.3} Hz predicts {:.1} s)",
                    self.expected_rate,
                    n as f64 / self.expected_rate
                )));
            }
        }
    }

    /// Simulates a data set ([`Simulator::samples`]) and packs it as [`SpikeData`], with the
    /// latent paths if the configuration records them.
    pub fn run(
        &self,
        amount: Amount,
        length: TrialLength,
        seed: u64,
    ) -> Result<Synthetic, SynthError> {
        let samples = self.samples(amount, length, seed)?;
        let trials = samples
            .iter()
            .map(TrialSample::to_trial)
            .collect::<Result<Vec<_>, _>>()?;
        let data = SpikeData::new(self.config.neurons.len(), trials)?;
        let latent = samples.into_iter().filter_map(|s| s.latent).collect();
        Ok(Synthetic { data, latent })
    }

    fn trial_unchecked(&self, seed: u64, index: u64, length: TrialLength) -> TrialSample {
        let mut rng = trial_rng(seed, index);
        let len = length.draw(&mut rng);
        match self.config.boundary {
            BoundaryMode::Reflecting => self.path::<false>(&mut rng, len),
            BoundaryMode::Absorbing => self.path::<true>(&mut rng, len),
        }
    }

    /// The table cell that holds x in [a, b].
    #[inline(always)]
    fn cell(&self, x: f64) -> usize {
        ((x * self.inv_h + self.cell_offset) as usize).min(TABLE_CELLS - 1)
    }

    /// The rate coefficients (f dt / 2 as intercept and slope, per neuron) of the cell of x.
    #[inline(always)]
    fn rate_row(&self, x: f64, k: usize) -> &[f64] {
        let o = self.cell(x) * 2 * k;
        &self.rates[o..o + 2 * k]
    }

    fn draw_initial(&self, rng: &mut impl Rng) -> f64 {
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

    /// One trial of length `len`; `ABSORBING` selects the boundary treatment.
    fn path<const ABSORBING: bool>(&self, rng: &mut Xoshiro256PlusPlus, len: f64) -> TrialSample {
        let dt = self.config.dt;
        let (a, b) = (self.a, self.b);
        let k = self.config.neurons.len();
        let n_steps = (len / dt).ceil() as u64;
        let mut x = self.draw_initial(rng);
        let mut remaining: Vec<f64> = (0..k).map(|_| rng.sample(Exp1)).collect();
        let mut half_rate = vec![0.0; k];
        let capacity = ((self.expected_rate * len * 1.2) as usize).min(1 << 20) + 16;
        let mut spikes: Vec<Spike> = Vec::with_capacity(capacity);
        let stride = self.config.latent_stride.unwrap_or(0);
        let mut latent = (stride > 0).then(|| LatentPath {
            t: vec![0.0],
            x: vec![x],
        });
        let mut countdown = stride;

        let c = self.rate_row(x, k);
        for n in 0..k {
            half_rate[n] = c[2 * n] + c[2 * n + 1] * x;
        }
        let mut end = len;
        let mut absorbed = false;
        // Time of the current state x.
        let mut t_x = 0.0;
        for step in 0..n_steps {
            let t0 = step as f64 * dt;
            let z: f64 = StandardNormal.sample(rng);
            let [p, q] = self.step[self.cell(x)];
            let mut xn = (p + self.sigma * z) + q * x;
            if ABSORBING {
                // (bound, fraction of the step at which it is reached)
                let exit = if xn <= a {
                    Some((a, (x - a) / (x - xn)))
                } else if xn >= b {
                    Some((b, (b - x) / (xn - x)))
                } else {
                    self.bridge_exit(rng, x, xn)
                };
                if let Some((bound, theta)) = exit {
                    let t_exit = t0 + theta * dt;
                    let c = self.rate_row(bound, k);
                    for n in 0..k {
                        let inc = theta * (half_rate[n] + c[2 * n] + c[2 * n + 1] * bound);
                        if inc > remaining[n] {
                            let r = &mut remaining[n];
                            emit(rng, r, inc, t0, theta * dt, n as u32, &mut spikes);
                        }
                    }
                    x = bound;
                    t_x = t_exit;
                    if t_exit < len {
                        end = t_exit;
                        absorbed = true;
                    }
                    break;
                }
            } else if xn < a || xn > b {
                xn = reflect(xn, a, b);
            }
            let c = self.rate_row(xn, k);
            for n in 0..k {
                let h = c[2 * n] + c[2 * n + 1] * xn;
                let inc = half_rate[n] + h;
                half_rate[n] = h;
                if inc > remaining[n] {
                    emit(rng, &mut remaining[n], inc, t0, dt, n as u32, &mut spikes);
                } else {
                    remaining[n] -= inc;
                }
            }
            x = xn;
            t_x = t0 + dt;
            if stride > 0 {
                countdown -= 1;
                if countdown == 0 {
                    countdown = stride;
                    if let Some(p) = &mut latent {
                        p.t.push(t_x);
                        p.x.push(x);
                    }
                }
            }
        }
        if k > 1 {
            spikes.sort_by(|p, q| p.time.total_cmp(&q.time));
        }
        let mut sample = TrialSample {
            spikes,
            duration: len,
            absorbed: false,
            censored: ABSORBING,
            latent,
        };
        if let Some(p) = &mut sample.latent
            && p.t.last().is_some_and(|&t| t < t_x)
        {
            p.t.push(t_x);
            p.x.push(x);
        }
        if absorbed {
            sample.duration = end;
            sample.absorbed = true;
            sample.censored = false;
        } else {
            // The last step may run past the trial length.
            sample.truncate(len, ABSORBING);
        }
        sample
    }

    /// Whether the Brownian bridge from x to xn (both inside) crossed a bound within the step:
    /// the bound and the fraction of the step at which the crossing is placed.
    #[inline(always)]
    fn bridge_exit(&self, rng: &mut Xoshiro256PlusPlus, x: f64, xn: f64) -> Option<(f64, f64)> {
        let (da0, da1) = (x - self.a, xn - self.a);
        let (db0, db1) = (self.b - x, self.b - xn);
        let (qa, qb) = (da0 * da1, db0 * db1);
        if qa.min(qb) * self.inv_ddt >= BRIDGE_CUTOFF {
            return None;
        }
        let pa = (-qa * self.inv_ddt).exp();
        let pb = (-qb * self.inv_ddt).exp();
        let u: f64 = rng.random();
        if u < pa {
            Some((self.a, da0 / (da0 + da1)))
        } else if u < pa + (1.0 - pa) * pb {
            Some((self.b, db0 / (db0 + db1)))
        } else {
            None
        }
    }
}

/// Emits the spikes of one neuron within a step of length `span` from `t0` whose integrated
/// rate `inc` exceeds the remaining threshold `*remaining`; leaves the remaining threshold.
#[inline]
fn emit(
    rng: &mut Xoshiro256PlusPlus,
    remaining: &mut f64,
    inc: f64,
    t0: f64,
    span: f64,
    neuron: u32,
    spikes: &mut Vec<Spike>,
) {
    let mut acc = *remaining;
    loop {
        spikes.push(Spike {
            time: t0 + span * (acc / inc),
            neuron,
        });
        acc += rng.sample::<f64, _>(Exp1);
        if acc >= inc {
            *remaining = acc - inc;
            return;
        }
    }
}

/// Mirror reflection of x into [a, b], repeated until inside (x finite, a < b); x itself if
/// already inside.
pub fn reflect(x: f64, a: f64, b: f64) -> f64 {
    if x < a {
        let y = 2.0 * a - x;
        if y <= b {
            return y;
        }
    } else if x > b {
        let y = 2.0 * b - x;
        if y >= a {
            return y;
        }
    } else {
        return x;
    }
    // Repeated reflection folds x with period 2 (b - a).
    let l = b - a;
    let mut y = (x - a).rem_euclid(2.0 * l);
    if y > l {
        y = 2.0 * l - y;
    }
    (a + y).clamp(a, b)
}

/// The random stream of trial `index` of the data set with seed `seed`: xoshiro256++ seeded
/// from a SplitMix64 hash of both.
fn trial_rng(seed: u64, index: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(splitmix64(seed ^ splitmix64(index ^ 0x6a09_e667_f3bc_c908)))
}

fn splitmix64(v: u64) -> u64 {
    let mut z = v.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
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

    #[test]
    fn reflection_examples() {
        assert_eq!(reflect(0.3, -1.0, 1.0), 0.3);
        assert!((reflect(1.2, -1.0, 1.0) - 0.8).abs() < 1e-15);
        assert!((reflect(-1.5, -1.0, 1.0) + 0.5).abs() < 1e-15);
        // Out by more than the domain length: reflected at b, then at a.
        assert!((reflect(3.5, -1.0, 1.0) + 0.5).abs() < 1e-12);
        assert!((reflect(-7.25, 0.0, 1.0) - 0.75).abs() < 1e-12);
    }

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
    fn trial_streams_differ() {
        let mut r1 = trial_rng(1, 0);
        let mut r2 = trial_rng(1, 1);
        let mut r3 = trial_rng(2, 0);
        let (a, b, c) = (r1.next_u64(), r2.next_u64(), r3.next_u64());
        assert!(a != b && a != c && b != c);
        assert_eq!(trial_rng(1, 0).next_u64(), a);
    }

    #[test]
    fn initial_cdf_is_continuous() {
        let sim = Simulator::new(SimulationConfig::paper()).unwrap();
        let mut rng = trial_rng(0, 0);
        let h = 2.0 / CDF_CELLS as f64;
        let mut off_node = 0;
        for _ in 0..1000 {
            let x = sim.draw_initial(&mut rng);
            assert!((-1.0..=1.0).contains(&x));
            let r = ((x + 1.0) / h).fract();
            if r > 1e-6 && r < 1.0 - 1e-6 {
                off_node += 1;
            }
        }
        assert!(off_node > 990, "initial states snap to nodes");
    }

    #[test]
    fn truncation_cuts_spikes_and_path() {
        let mut s = TrialSample {
            spikes: vec![
                Spike {
                    time: 0.1,
                    neuron: 0,
                },
                Spike {
                    time: 0.6,
                    neuron: 0,
                },
            ],
            duration: 1.0,
            absorbed: false,
            censored: false,
            latent: Some(LatentPath {
                t: vec![0.0, 0.4, 0.8, 1.0],
                x: vec![0.0, 0.4, 0.8, 0.5],
            }),
        };
        s.truncate(0.5, true);
        assert_eq!(s.spikes.len(), 1);
        assert_eq!(s.duration, 0.5);
        assert!(s.censored);
        let p = s.latent.unwrap();
        assert_eq!(p.t, vec![0.0, 0.4, 0.5]);
        assert!((p.x[2] - 0.5).abs() < 1e-12);
    }
}
