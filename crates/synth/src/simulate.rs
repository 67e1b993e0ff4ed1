//! Seeded latent Langevin paths (Euler–Maruyama) and inhomogeneous Poisson spikes: the
//! [`Simulator`] and the data sets it produces. The work is split by job: `tables` (the
//! precomputed drift and rate tables), `path` (one trial's latent path), `spikes` (time
//! rescaling and the trial as a spike train).

mod path;
mod sample;
mod spikes;
mod tables;

use latentflow_data::SpikeData;
use latentflow_spectral::BoundaryMode;
use rayon::prelude::*;

use crate::{Amount, SimulationConfig, SynthError, TrialLength};
use tables::Tables;

pub use path::reflect;
pub use sample::{LatentPath, Spike, TrialSample};
pub use tables::{MAX_DIFFUSION_STEP, MAX_DRIFT_STEP};

/// Most trials one call may simulate (a guard against amounts that cannot be reached).
const MAX_TRIALS: u64 = 100_000_000;

/// Simulated data: the spike trains and, if recorded, one latent path per trial.
#[derive(Clone, Debug, PartialEq)]
pub struct Synthetic {
    /// The spike data (K neurons; absorbing trials that hit their length are censored).
    pub data: SpikeData,
    /// Latent paths per trial (empty if not recorded).
    pub latent: Vec<LatentPath>,
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
    /// sqrt(2 D dt).
    sigma: f64,
    /// 1 / (D dt).
    inv_ddt: f64,
    tables: Tables,
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

        let tables = Tables::new(&config)?;
        Ok(Simulator {
            sigma: (2.0 * d * dt).sqrt(),
            inv_ddt: 1.0 / (d * dt),
            tables,
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SimulationConfig {
        &self.config
    }

    /// Total spike rate sum_n int peq f_n (Hz) at equilibrium.
    pub fn expected_rate(&self) -> f64 {
        self.tables.expected_rate
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
            Amount::Spikes(_) if self.tables.expected_rate <= 0.0 => {
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
                    let per_trial = self.tables.expected_rate * mean_len;
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
                && time > 100.0 * (n as f64 / self.tables.expected_rate + mean_len)
            {
                return Err(SynthError::NotReached(format!(
                    "only {spikes} of {n} spikes after {time:.1} s of simulated time (the \
                     equilibrium rate {:.3} Hz predicts {:.1} s)",
                    self.tables.expected_rate,
                    n as f64 / self.tables.expected_rate
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

    /// Several task conditions (docs/method.md §12): condition c's trials from `sims[c]` (e.g.
    /// the same potential with a p0 per condition), each tagged with its condition and drawn from
    /// its own seed derived from `seed` and c; `amount` is per condition. Condition 0's trials
    /// come first. All simulations must have the same neurons.
    pub fn run_conditions(
        sims: &[Simulator],
        amount: Amount,
        length: TrialLength,
        seed: u64,
    ) -> Result<Synthetic, SynthError> {
        let first = sims.first().ok_or_else(|| {
            SynthError::InvalidParameter("run_conditions needs at least one simulation".into())
        })?;
        let neurons = first.config.neurons.len();
        let mut trials = Vec::new();
        let mut latent = Vec::new();
        for (c, sim) in sims.iter().enumerate() {
            if sim.config.neurons.len() != neurons {
                return Err(SynthError::InvalidParameter(format!(
                    "condition {c} has {} neurons, condition 0 has {neurons}",
                    sim.config.neurons.len()
                )));
            }
            let c = u32::try_from(c)
                .map_err(|_| SynthError::InvalidParameter("too many conditions".into()))?;
            let samples = sim.samples(amount, length, path::condition_seed(seed, c))?;
            for s in &samples {
                trials.push(s.to_trial()?.with_condition(c));
            }
            latent.extend(samples.into_iter().filter_map(|s| s.latent));
        }
        let data = SpikeData::new(neurons, trials)?;
        Ok(Synthetic { data, latent })
    }
}
