//! What to simulate: the ground truth (potential, D, boundary, neurons), the initial state, the
//! amount of data, trial lengths and the time step.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use latentflow_spectral::BoundaryMode;

use crate::{Potential, SynthError, TuningCurve};

/// Default Euler–Maruyama time step (s), as the original package.
pub const DEFAULT_DT: f64 = 1e-4;

/// Distribution of the latent state at the start of every trial.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InitialState {
    /// p0 = peq of the simulated potential (the equilibrium model).
    #[default]
    Equilibrium,
    /// p0 ~ exp(-Phi0) of another potential, on the simulation domain.
    Density {
        /// Phi0.
        potential: Potential,
    },
    /// Every trial starts at this point.
    Point {
        /// The start (inside the domain; strictly inside for absorbing bounds).
        x: f64,
    },
}

/// How much data to simulate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Amount {
    /// Exactly this much recorded time (s): whole trials while they fit, then the last trial
    /// is cut at the remaining time (in absorbing mode a cut trial is censored).
    Seconds(f64),
    /// Whole trials until the total spike count reaches at least this many.
    Spikes(u64),
    /// This many trials.
    Trials(u64),
}

/// Length of each trial (s): the trial ends at this time or earlier by absorption.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialLength {
    /// Every trial has this length.
    Fixed(f64),
    /// Lengths drawn uniformly from [min, max], independently per trial.
    Uniform {
        /// Shortest.
        min: f64,
        /// Longest.
        max: f64,
    },
}

impl TrialLength {
    pub(crate) fn validate(&self) -> Result<(), SynthError> {
        let ok = |v: f64| v.is_finite() && v > 0.0;
        match *self {
            TrialLength::Fixed(t) if ok(t) => Ok(()),
            TrialLength::Uniform { min, max } if ok(min) && ok(max) && min <= max => Ok(()),
            TrialLength::Fixed(t) => Err(SynthError::InvalidParameter(format!(
                "trial length {t} s: must be finite and > 0"
            ))),
            TrialLength::Uniform { min, max } => Err(SynthError::InvalidParameter(format!(
                "trial lengths uniform on [{min}, {max}] s: need finite 0 < min <= max"
            ))),
        }
    }

    pub(crate) fn mean(&self) -> f64 {
        match *self {
            TrialLength::Fixed(t) => t,
            TrialLength::Uniform { min, max } => 0.5 * (min + max),
        }
    }

    pub(crate) fn draw(&self, rng: &mut impl Rng) -> f64 {
        match *self {
            TrialLength::Fixed(t) => t,
            TrialLength::Uniform { min, max } => min + (max - min) * rng.random::<f64>(),
        }
    }
}

/// Everything that defines the simulated process: dx/dt = D F(x) + sqrt(2D) xi(t) on
/// [xbegin, xend] with F = -Phi', neurons firing at rates f_n(x(t)) (Hz).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SimulationConfig {
    /// The potential Phi.
    pub potential: Potential,
    /// Distribution of x at the start of each trial.
    pub initial: InitialState,
    /// D (1/s), finite and > 0.
    pub d: f64,
    /// Reflecting (mirror reflection) or absorbing (the trial ends at the exit time).
    pub boundary: BoundaryMode,
    /// Left end a of the domain.
    pub xbegin: f64,
    /// Right end b of the domain.
    pub xend: f64,
    /// Tuning curves, one per neuron (ids 0..K in the output).
    pub neurons: Vec<TuningCurve>,
    /// Euler–Maruyama step (s).
    pub dt: f64,
    /// Record the latent path every this many steps (and at the trial end); `None`: don't.
    pub latent_stride: Option<usize>,
}

impl SimulationConfig {
    /// The paper's ground truth: double well ([`Potential::paper_double_well`]), D = 10 /s,
    /// reflecting, [-1, 1], p0 = peq, one neuron [`TuningCurve::paper`], dt = 1e-4 s, no
    /// latent path.
    pub fn paper() -> SimulationConfig {
        SimulationConfig {
            potential: Potential::paper_double_well(),
            initial: InitialState::Equilibrium,
            d: 10.0,
            boundary: BoundaryMode::Reflecting,
            xbegin: -1.0,
            xend: 1.0,
            neurons: vec![TuningCurve::paper()],
            dt: DEFAULT_DT,
            latent_stride: None,
        }
    }
}

impl Default for SimulationConfig {
    fn default() -> SimulationConfig {
        SimulationConfig::paper()
    }
}
