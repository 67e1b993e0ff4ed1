//! The mirror ambiguity of fitted tuning curves, and the fit path as model selection reads it.
//!
//! With fitted rates a model is identifiable only up to the mirror x -> a + b - x: the mirrored
//! potential with mirrored tuning curves gives the same likelihood, so two halves of one
//! recording can converge to mirror images of each other. Before feature consistency compares
//! them, half 2 is turned the way round in which its tuning curves agree with half 1's
//! ([`choose_orientation`]).

use latentflow_likelihood::{peq_from_force, rate_from_fr};
use latentflow_optim::{Rates, SavedModel};
use latentflow_select::PathPoint;
use latentflow_spectral::Grid;
use serde::{Deserialize, Serialize};

use crate::Error;

/// How half 2's models are compared with half 1's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Orientation {
    /// As fitted.
    AsFitted,
    /// Mirrored, x -> a + b - x.
    Mirrored,
}

/// The orientation chosen for half 2, and why.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OrientationChoice {
    /// The orientation of half 2.
    pub half2: Orientation,
    /// Tuning-curve distance of the two halves' last models as fitted (`None` when the rates
    /// were not fitted: fixed tuning pins the orientation).
    pub distance_as_fitted: Option<f64>,
    /// The same with half 2 mirrored.
    pub distance_mirrored: Option<f64>,
}

impl OrientationChoice {
    /// Half 2 as fitted, no comparison made (fixed tuning curves).
    pub const FIXED: OrientationChoice = OrientationChoice {
        half2: Orientation::AsFitted,
        distance_as_fitted: None,
        distance_mirrored: None,
    };
}

/// Firing rates (Hz) on the nodes of a saved model's parameters, `None` if they are fixed.
pub fn fitted_rates(grid: &Grid, rates: &Rates) -> Result<Option<Vec<Vec<f64>>>, Error> {
    match rates {
        Rates::Fixed(_) => Ok(None),
        Rates::Log { fr, c } => Ok(Some(
            fr.iter()
                .zip(c)
                .map(|(f, c)| rate_from_fr(grid, f, *c))
                .collect::<Result<_, _>>()?,
        )),
    }
}

/// `values` on the mirrored grid (node i takes node N - 1 - i; the GLL grid of equal elements
/// is symmetric about its centre).
pub fn mirrored(values: &[f64]) -> Vec<f64> {
    values.iter().rev().copied().collect()
}

/// Chooses the orientation of path `b` against path `a` (their saved models, in iteration
/// order) from the tuning curves of their last models: the one with the smaller mean over
/// neurons of sum_i w_i pbar_i (ln f_a,n(x_i) - ln f_b,n(x_i))^2, pbar the mean of the two
/// densities in that orientation. With fixed tuning curves [`OrientationChoice::FIXED`].
pub fn choose_orientation(
    grid: &Grid,
    a: &[SavedModel],
    b: &[SavedModel],
) -> Result<OrientationChoice, Error> {
    let (Some(ma), Some(mb)) = (a.last(), b.last()) else {
        return Ok(OrientationChoice::FIXED);
    };
    let (Some(ra), Some(rb)) = (
        fitted_rates(grid, &ma.params.rates)?,
        fitted_rates(grid, &mb.params.rates)?,
    ) else {
        return Ok(OrientationChoice::FIXED);
    };
    let distance = |flip: bool| {
        let orient = |v: &[f64]| if flip { mirrored(v) } else { v.to_vec() };
        let pb = orient(&mb.peq);
        let mut total = 0.0;
        for (fa, fb) in ra.iter().zip(&rb) {
            let fb = orient(fb);
            total += grid
                .w()
                .iter()
                .zip(ma.peq.iter().zip(&pb))
                .zip(fa.iter().zip(&fb))
                .map(|((w, (p, q)), (x, y))| w * 0.5 * (p + q) * (x.ln() - y.ln()).powi(2))
                .sum::<f64>();
        }
        total / ra.len().max(1) as f64
    };
    let (same, flipped) = (distance(false), distance(true));
    Ok(OrientationChoice {
        half2: if flipped < same {
            Orientation::Mirrored
        } else {
            Orientation::AsFitted
        },
        distance_as_fitted: Some(same),
        distance_mirrored: Some(flipped),
    })
}

/// Saved models of a path (on `grid`) as model selection reads them, in `orientation`;
/// a non-stationary model's p0 goes with them, so that both densities are compared.
pub fn path_points(
    grid: &Grid,
    models: &[SavedModel],
    orientation: Orientation,
) -> Result<Vec<PathPoint>, Error> {
    let turn = |v: Vec<f64>| match orientation {
        Orientation::AsFitted => v,
        Orientation::Mirrored => mirrored(&v),
    };
    models
        .iter()
        .map(|m| {
            let density =
                |f: &[f64]| -> Result<Vec<f64>, Error> { Ok(turn(peq_from_force(grid, f)?)) };
            let p0 = match &m.params.force0 {
                Some(f0) => Some(density(f0)?),
                None => None,
            };
            let mut condition_densities = Vec::new();
            for o in m.params.conditions.iter().flat_map(|c| &c.others) {
                for f in [&o.force, &o.force0].into_iter().flatten() {
                    condition_densities.push(density(f)?);
                }
            }
            Ok(PathPoint {
                iteration: m.record.iteration,
                feature_complexity: m.record.feature_complexity,
                peq: turn(m.peq.clone()),
                p0,
                condition_densities,
                validation_neg_loglik: m.record.validation_neg_loglik,
            })
        })
        .collect()
}
