//! The backtracking (Armijo) line search for D and C ([`LineSearch`]).

use latentflow_likelihood::GradRequest;

use crate::method::{Method, MethodState, SpikeCounts, step};
use crate::{FitConfig, LineSearch, ParamGradients, Params, Problem, Rates};

/// D and C after a line search from `base` (where -log L is `value` and its gradient `grad`):
/// a gradient step of D and C alone with the rates times `factor * alpha`, alpha = 1, 1/2,
/// 1/4, ..., the first that lowers -log L by at least `armijo` times the first-order decrease
/// sum g (theta - theta'). If none does, D and C stay put. A trial point the model rejects
/// (e.g. an impossible spike) counts as no decrease.
#[allow(clippy::too_many_arguments)]
pub(crate) fn line_search<P: Problem>(
    problem: &mut P,
    base: &Params,
    config: &FitConfig,
    counts: &SpikeCounts,
    factor: f64,
    ls: LineSearch,
    value: f64,
    grad: &ParamGradients,
    batch: Option<&[usize]>,
) -> (f64, Option<Vec<f64>>) {
    let fit = GradRequest {
        d: config.fit.d,
        c: config.fit.c,
        ..GradRequest::default()
    };
    let c_of = |p: &Params| match &p.rates {
        Rates::Log { c, .. } => Some(c.clone()),
        Rates::Fixed(_) => None,
    };
    let g_d = if fit.d {
        grad.first.d.unwrap_or(0.0)
    } else {
        0.0
    };
    let g_c: &[f64] = match (fit.c, &grad.first.c) {
        (true, Some(g)) => g,
        _ => &[],
    };
    let mut alpha = 1.0;
    for _ in 0..=ls.max_halvings {
        let mut trial = base.clone();
        let stepped = step(
            Method::GradientDescent,
            &mut MethodState::default(),
            &mut trial,
            grad,
            fit,
            &config.learning_rates,
            &config.floors,
            counts,
            factor * alpha,
        );
        if stepped.is_ok() {
            let (c0, c1) = (
                c_of(base).unwrap_or_default(),
                c_of(&trial).unwrap_or_default(),
            );
            let decrease = g_d * (base.d - trial.d)
                + g_c
                    .iter()
                    .zip(c0.iter().zip(&c1))
                    .map(|(g, (a, b))| g * (a - b))
                    .sum::<f64>();
            if let Ok(v) = problem.value(&trial, batch)
                && v.is_finite()
                && v <= value - ls.armijo * decrease
            {
                return (trial.d, c_of(&trial));
            }
        }
        alpha *= 0.5;
    }
    (base.d, c_of(base))
}
