//! Update rules: gradient descent (the paper's), Adam, and the RKC path method that follows
//! gradient descent's path with fewer evaluations; per-parameter learning rates.

use latentflow_likelihood::{GradRequest, Gradients, Sharing};
use serde::{Deserialize, Serialize};

use crate::rkc::Rkc;
use crate::{OptimError, ParamGradients, Params, Rates};

/// The update rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// theta <- theta - lr * grad (the paper's choice).
    GradientDescent,
    /// Adam (Kingma & Ba 2015) with bias correction.
    Adam {
        /// Decay of the first moment.
        beta1: f64,
        /// Decay of the second moment.
        beta2: f64,
        /// Added to sqrt(v) in the denominator.
        epsilon: f64,
    },
    /// The path of gradient descent (same learning rates), followed by the
    /// Runge–Kutta–Chebyshev integrator of its gradient flow: one record per step of many
    /// iterations and per saved iteration the step passes ([`Rkc`]).
    Rkc(Rkc),
}

impl Method {
    /// Adam with the usual constants (0.9, 0.999, 1e-8).
    pub fn adam() -> Method {
        Method::Adam {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        }
    }
}

/// Fitted spikes for which a [`RateScale::PerSpike`] rate is stated: the paper's halves hold
/// about this many, so the per-spike default for F equals the paper's absolute 0.005 there.
pub const REFERENCE_SPIKES: f64 = 10_000.0;

/// How a learning rate becomes a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateScale {
    /// The paper's convention: theta <- theta - lr * grad of the summed -log L, C stepped on C
    /// itself. -log L is a sum over spikes, so the same rate takes larger steps on more data.
    Absolute,
    /// Rates stated for [`REFERENCE_SPIKES`] fitted spikes: the steps of F, F0 and D are
    /// multiplied by 10,000 / S (S the spikes of the data evaluated), those of Fr_n and C_n by
    /// 10,000 / S_n (S_n the spikes of neuron n), and C_n is stepped on ln C_n. A rate then
    /// means the same step on any amount of data.
    PerSpike,
}

/// Learning rate per parameter, under a [`RateScale`]. For F, F0 and Fr the gradient is the
/// functional derivative of -log L, so one step is F <- F - lr * scale * grad_F on the nodes.
/// Every rate must be finite and > 0 ([`LearningRates::validate`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LearningRates {
    /// Driving force F (paper: 0.005).
    pub force: f64,
    /// D (1/s per unit gradient).
    pub d: f64,
    /// Initial-density force F0.
    pub force0: f64,
    /// Rate log-derivatives Fr.
    pub fr: f64,
    /// Rate scales C (on ln C under [`RateScale::PerSpike`]).
    pub c: f64,
    /// How the rates become steps.
    pub scale: RateScale,
}

impl Default for LearningRates {
    /// Per-spike rates: F and F0 0.005 (the paper's step on 10,000 spikes), D 0.01, Fr 1e-4,
    /// C 1e-5 (a tenth of a Newton step on ln C_n: the curvature of -log L in ln C_n is about
    /// S_n). Fr and C were set on a 20-neuron recording (`fixtures/data`), where Fr 0.005
    /// overshoots at the first steps.
    fn default() -> Self {
        LearningRates {
            force: 0.005,
            d: 0.01,
            force0: 0.005,
            fr: 1e-4,
            c: 1e-5,
            scale: RateScale::PerSpike,
        }
    }
}

impl LearningRates {
    /// The paper's absolute rates (F 0.005; D 0.01, F0 0.005, Fr 0.005, C 0.01): the exact
    /// gradient-descent path of the original code.
    pub fn paper() -> LearningRates {
        LearningRates {
            force: 0.005,
            d: 0.01,
            force0: 0.005,
            fr: 0.005,
            c: 0.01,
            scale: RateScale::Absolute,
        }
    }

    /// Checks that every rate is finite and > 0.
    pub fn validate(&self) -> Result<(), OptimError> {
        for (name, v) in [
            ("F", self.force),
            ("D", self.d),
            ("F0", self.force0),
            ("Fr", self.fr),
            ("C", self.c),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(OptimError::Config(format!(
                    "the learning rate of {name} is {v}; it must be finite and > 0"
                )));
            }
        }
        Ok(())
    }
}

/// Spikes of the data a gradient was computed on: the total and per neuron (what
/// [`RateScale::PerSpike`] divides by), and per condition and neuron for parameters kept per
/// condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpikeCounts {
    /// Spikes of each neuron.
    pub per_neuron: Vec<u64>,
    /// Spikes of each neuron in each condition (condition c at index c); empty for data of
    /// one condition.
    pub per_condition: Vec<Vec<u64>>,
}

impl SpikeCounts {
    /// Spikes of all neurons.
    pub fn total(&self) -> u64 {
        self.per_neuron.iter().sum()
    }

    /// Spikes per neuron of condition `c`, or of all the data if `c` is `None` (a shared
    /// parameter) or the data have one condition.
    fn of(&self, c: Option<usize>) -> &[u64] {
        match c.and_then(|c| self.per_condition.get(c)) {
            Some(v) => v,
            None => &self.per_neuron,
        }
    }
}

/// Lower bounds that keep D and C valid, applied after each step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Floors {
    /// Smallest D (1/s).
    pub d: f64,
    /// Smallest C (Hz).
    pub c: f64,
}

impl Default for Floors {
    fn default() -> Self {
        Floors { d: 1e-3, c: 1e-3 }
    }
}

/// Adam's moments per parameter block (empty for gradient descent).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MethodState {
    /// Steps taken.
    pub steps: u64,
    /// First and second moments, one pair per fitted block in a fixed order.
    pub moments: Vec<(Vec<f64>, Vec<f64>)>,
}

/// One fitted block: values, gradient, effective learning rate, lower bound, and whether the
/// step acts on ln(value) (then the gradient used is value * grad).
struct Block<'a> {
    values: &'a mut [f64],
    grad: &'a [f64],
    lr: f64,
    floor: Option<f64>,
    log: bool,
}

fn missing(name: &str) -> OptimError {
    OptimError::Config(format!("the gradient of {name} was not computed"))
}

/// Which parameter a fitted block holds.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Force,
    D,
    Force0,
    Fr(usize),
    C(usize),
}

/// A fitted block: its kind, the condition whose gradient it takes (0 for the fields of
/// [`Params`]), whether it is kept per condition, and its values.
type Fitted<'a> = (Kind, usize, bool, &'a mut [f64]);

/// One condition's fitted values in the fixed order force, d, force0, fr (neuron by neuron),
/// c (neuron by neuron); `None` fields are not this condition's to fit.
#[allow(clippy::too_many_arguments)]
fn condition_blocks<'a>(
    out: &mut Vec<Fitted<'a>>,
    fit: GradRequest,
    condition: usize,
    own: [bool; 4],
    force: Option<&'a mut Vec<f64>>,
    d: Option<&'a mut f64>,
    force0: Option<&'a mut Option<Vec<f64>>>,
    rates: Option<&'a mut Rates>,
) -> Result<(), OptimError> {
    let [own_force, own_d, own_force0, own_rates] = own;
    if let (true, Some(v)) = (fit.force, force) {
        out.push((Kind::Force, condition, own_force, v));
    }
    if let (true, Some(v)) = (fit.d, d) {
        out.push((Kind::D, condition, own_d, std::slice::from_mut(v)));
    }
    if let (true, Some(v)) = (fit.force0, force0) {
        let v = v
            .as_mut()
            .ok_or_else(|| OptimError::Config("F0 is fitted but the model has no p0".into()))?;
        out.push((Kind::Force0, condition, own_force0, v));
    }
    if let (true, Some(rates)) = (fit.fr || fit.c, rates) {
        let Rates::Log { fr, c } = rates else {
            return Err(OptimError::Config(
                "fitting Fr or C needs rates in the (Fr, C) representation".into(),
            ));
        };
        if fit.fr {
            out.extend(
                fr.iter_mut()
                    .enumerate()
                    .map(|(n, v)| (Kind::Fr(n), condition, own_rates, &mut v[..])),
            );
        }
        if fit.c {
            out.extend(
                c.iter_mut()
                    .enumerate()
                    .map(|(n, v)| (Kind::C(n), condition, own_rates, std::slice::from_mut(v))),
            );
        }
    }
    Ok(())
}

/// The fitted parameters: condition 0's (the fields of [`Params`]: every fitted parameter),
/// then each further condition's own, each in the order of [`condition_blocks`].
fn fitted(params: &mut Params, fit: GradRequest) -> Result<Vec<Fitted<'_>>, OptimError> {
    let mut out = Vec::new();
    let sharing = params
        .conditions
        .as_ref()
        .map(|c| c.sharing)
        .unwrap_or_default();
    let own = [sharing.force, sharing.d, sharing.force0, sharing.rates]
        .map(|s| s == Sharing::PerCondition);
    condition_blocks(
        &mut out,
        fit,
        0,
        own,
        Some(&mut params.force),
        Some(&mut params.d),
        Some(&mut params.force0),
        Some(&mut params.rates),
    )?;
    for (k, o) in params
        .conditions
        .iter_mut()
        .flat_map(|c| &mut c.others)
        .enumerate()
    {
        if fit.force0 && own[2] && o.force0.is_none() {
            return Err(OptimError::Config(format!(
                "F0 is fitted but condition {} has no p0",
                k + 1
            )));
        }
        condition_blocks(
            &mut out,
            fit,
            k + 1,
            own,
            o.force.as_mut(),
            o.d.as_mut(),
            o.force0.is_some().then_some(&mut o.force0),
            o.rates.as_mut(),
        )?;
    }
    Ok(out)
}

/// The fitted parameters as one vector, in the coordinates gradient descent moves on a
/// straight line (C as ln C under [`RateScale::PerSpike`]): what the RKC method integrates.
pub(crate) fn flow_coordinates(
    params: &Params,
    fit: GradRequest,
    scale: RateScale,
) -> Result<Vec<f64>, OptimError> {
    let mut p = params.clone();
    let log_c = scale == RateScale::PerSpike;
    Ok(fitted(&mut p, fit)?
        .into_iter()
        .flat_map(|(kind, _, _, v)| {
            v.iter()
                .map(|&x| match kind {
                    Kind::C(_) if log_c => x.ln(),
                    _ => x,
                })
                .collect::<Vec<_>>()
        })
        .collect())
}

/// `params` with the fitted parameters set from flow coordinates `y` (the inverse of
/// [`flow_coordinates`]), D and C raised to their floors.
pub(crate) fn with_flow_coordinates(
    params: &Params,
    fit: GradRequest,
    scale: RateScale,
    floors: &Floors,
    y: &[f64],
) -> Result<Params, OptimError> {
    let mut p = params.clone();
    let log_c = scale == RateScale::PerSpike;
    let mut k = 0;
    for (kind, _, _, v) in fitted(&mut p, fit)? {
        for x in v.iter_mut() {
            let yk = *y.get(k).ok_or_else(|| {
                OptimError::Config("flow coordinates shorter than the parameters".into())
            })?;
            *x = match kind {
                Kind::C(_) if log_c => yk.exp().max(floors.c),
                Kind::C(_) => yk.max(floors.c),
                Kind::D => yk.max(floors.d),
                _ => yk,
            };
            k += 1;
        }
    }
    Ok(p)
}

/// The fitted blocks in the order of [`fitted`], each with its gradient and its learning
/// rate times `factor` and the [`RateScale`]'s data scale (a parameter kept per condition is
/// scaled by its condition's spikes).
fn blocks<'a>(
    params: &'a mut Params,
    grad: &'a ParamGradients,
    fit: GradRequest,
    lr: &LearningRates,
    floors: &Floors,
    counts: &SpikeCounts,
    factor: f64,
) -> Result<Vec<Block<'a>>, OptimError> {
    let per_spike = lr.scale == RateScale::PerSpike;
    let data_scale = |spikes: u64| {
        if per_spike {
            REFERENCE_SPIKES / spikes.max(1) as f64
        } else {
            1.0
        }
    };
    fitted(params, fit)?
        .into_iter()
        .map(|(kind, condition, own, values)| {
            let grad: &Gradients = if condition == 0 {
                &grad.first
            } else {
                grad.others.get(condition - 1).ok_or_else(|| {
                    OptimError::Config(format!("no gradient for condition {condition}"))
                })?
            };
            let spikes = counts.of(own.then_some(condition));
            let all = data_scale(spikes.iter().sum());
            let neuron = |n: usize| data_scale(spikes.get(n).copied().unwrap_or(0));
            let (grad, lr, floor, log): (&[f64], f64, Option<f64>, bool) = match kind {
                Kind::Force => (
                    grad.force.as_deref().ok_or_else(|| missing("F"))?,
                    lr.force * all,
                    None,
                    false,
                ),
                Kind::D => (
                    std::slice::from_ref(grad.d.as_ref().ok_or_else(|| missing("D"))?),
                    lr.d * all,
                    Some(floors.d),
                    false,
                ),
                Kind::Force0 => (
                    grad.force0.as_deref().ok_or_else(|| missing("F0"))?,
                    lr.force0 * all,
                    None,
                    false,
                ),
                Kind::Fr(n) => (
                    grad.fr
                        .as_ref()
                        .and_then(|g| g.get(n))
                        .ok_or_else(|| missing("Fr"))?,
                    lr.fr * neuron(n),
                    None,
                    false,
                ),
                Kind::C(n) => (
                    std::slice::from_ref(
                        grad.c
                            .as_ref()
                            .and_then(|g| g.get(n))
                            .ok_or_else(|| missing("C"))?,
                    ),
                    lr.c * neuron(n),
                    Some(floors.c),
                    per_spike,
                ),
            };
            Ok(Block {
                values,
                grad,
                lr: lr * factor,
                floor,
                log,
            })
        })
        .collect()
}

/// Applies one update of `method` to the fitted parameters, with every learning rate
/// multiplied by `factor` (1 = the configured rates; smaller after rejected steps) and scaled
/// by `counts` as the rates' [`RateScale`] says.
pub(crate) fn step(
    method: Method,
    state: &mut MethodState,
    params: &mut Params,
    grad: &ParamGradients,
    fit: GradRequest,
    lr: &LearningRates,
    floors: &Floors,
    counts: &SpikeCounts,
    factor: f64,
) -> Result<(), OptimError> {
    let mut blocks = blocks(params, grad, fit, lr, floors, counts, factor)?;
    state.steps += 1;
    // The gradient each element is stepped with: d(-log L)/d(ln v) = v grad on log blocks.
    let g = |b: &Block, i: usize| {
        if b.log {
            b.values[i] * b.grad[i]
        } else {
            b.grad[i]
        }
    };
    // Applies a step `delta` (to be subtracted) to element i.
    let apply = |b: &mut Block, i: usize, delta: f64| {
        if b.log {
            b.values[i] *= (-delta).exp();
        } else {
            b.values[i] -= delta;
        }
    };
    match method {
        Method::GradientDescent | Method::Rkc(_) => {
            for b in &mut blocks {
                for i in 0..b.values.len() {
                    let delta = b.lr * g(b, i);
                    apply(b, i, delta);
                }
            }
        }
        Method::Adam {
            beta1,
            beta2,
            epsilon,
        } => {
            if state.moments.is_empty() {
                state.moments = blocks
                    .iter()
                    .map(|b| (vec![0.0; b.values.len()], vec![0.0; b.values.len()]))
                    .collect();
            }
            let t = state.steps as i32;
            let (c1, c2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
            for (b, (m, v)) in blocks.iter_mut().zip(state.moments.iter_mut()) {
                for i in 0..b.values.len() {
                    let gi = g(b, i);
                    m[i] = beta1 * m[i] + (1.0 - beta1) * gi;
                    v[i] = beta2 * v[i] + (1.0 - beta2) * gi * gi;
                    let delta = b.lr * (m[i] / c1) / ((v[i] / c2).sqrt() + epsilon);
                    apply(b, i, delta);
                }
            }
        }
    }
    for b in &mut blocks {
        if let Some(floor) = b.floor {
            b.values.iter_mut().for_each(|v| *v = v.max(floor));
        }
    }
    Ok(())
}
