//! Update rules: gradient descent (the paper's) and Adam, with per-parameter learning rates.

use latentflow_likelihood::{GradRequest, Gradients};
use serde::{Deserialize, Serialize};

use crate::{OptimError, Params, Rates};

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

/// Learning rate per parameter. For F, F0 and Fr the gradient is the functional derivative of
/// -log L, so one step is F <- F - lr * grad_F on the nodes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LearningRates {
    /// Driving force F (paper: 0.005).
    pub force: f64,
    /// D.
    pub d: f64,
    /// Initial-density force F0.
    pub force0: f64,
    /// Rate log-derivatives Fr.
    pub fr: f64,
    /// Rate scales C.
    pub c: f64,
}

impl Default for LearningRates {
    fn default() -> Self {
        LearningRates {
            force: 0.005,
            d: 0.01,
            force0: 0.005,
            fr: 0.005,
            c: 0.01,
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

/// One fitted block: values, gradient, learning rate and lower bound.
struct Block<'a> {
    values: &'a mut [f64],
    grad: &'a [f64],
    lr: f64,
    floor: Option<f64>,
}

fn missing(name: &str) -> OptimError {
    OptimError::Config(format!("the gradient of {name} was not computed"))
}

/// The fitted blocks in the fixed order force, d, force0, fr (neuron by neuron), c.
fn blocks<'a>(
    params: &'a mut Params,
    grad: &'a Gradients,
    fit: GradRequest,
    lr: &LearningRates,
    floors: &Floors,
) -> Result<Vec<Block<'a>>, OptimError> {
    let mut out = Vec::new();
    if fit.force {
        let g = grad.force.as_deref().ok_or_else(|| missing("F"))?;
        out.push(Block {
            values: &mut params.force,
            grad: g,
            lr: lr.force,
            floor: None,
        });
    }
    if fit.d {
        let g = grad.d.as_ref().ok_or_else(|| missing("D"))?;
        out.push(Block {
            values: std::slice::from_mut(&mut params.d),
            grad: std::slice::from_ref(g),
            lr: lr.d,
            floor: Some(floors.d),
        });
    }
    if fit.force0 {
        let g = grad.force0.as_deref().ok_or_else(|| missing("F0"))?;
        let v = params
            .force0
            .as_mut()
            .ok_or_else(|| OptimError::Config("F0 is fitted but the model has no p0".into()))?;
        out.push(Block {
            values: v,
            grad: g,
            lr: lr.force0,
            floor: None,
        });
    }
    if fit.fr || fit.c {
        let Rates::Log { fr, c } = &mut params.rates else {
            return Err(OptimError::Config(
                "fitting Fr or C needs rates in the (Fr, C) representation".into(),
            ));
        };
        if fit.fr {
            let g = grad.fr.as_ref().ok_or_else(|| missing("Fr"))?;
            for (v, g) in fr.iter_mut().zip(g) {
                out.push(Block {
                    values: v,
                    grad: g,
                    lr: lr.fr,
                    floor: None,
                });
            }
        }
        if fit.c {
            let g = grad.c.as_deref().ok_or_else(|| missing("C"))?;
            out.push(Block {
                values: c,
                grad: g,
                lr: lr.c,
                floor: Some(floors.c),
            });
        }
    }
    Ok(out)
}

/// Applies one update of `method` to the fitted parameters.
pub(crate) fn step(
    method: Method,
    state: &mut MethodState,
    params: &mut Params,
    grad: &Gradients,
    fit: GradRequest,
    lr: &LearningRates,
    floors: &Floors,
) -> Result<(), OptimError> {
    let mut blocks = blocks(params, grad, fit, lr, floors)?;
    state.steps += 1;
    match method {
        Method::GradientDescent => {
            for b in &mut blocks {
                for (v, g) in b.values.iter_mut().zip(b.grad) {
                    *v -= b.lr * g;
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
                    let g = b.grad[i];
                    m[i] = beta1 * m[i] + (1.0 - beta1) * g;
                    v[i] = beta2 * v[i] + (1.0 - beta2) * g * g;
                    b.values[i] -= b.lr * (m[i] / c1) / ((v[i] / c2).sqrt() + epsilon);
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
