//! Feature consistency: compare two fit paths at equal feature complexity (docs/method.md §6).
//! See [`FeatureConsistency`] for the precise reading of the method used here.

use crate::density::{check_density, check_weights, js_kernel, sym_kl_kernel};
use crate::{Divergence, SelectError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;

/// Largest number of axis points accepted (guards against a tiny stride).
pub const MAX_AXIS_POINTS: usize = 1_000_000;

/// One saved model of a fit path, as the selection sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathPoint {
    /// Optimisation iteration at which the model was saved.
    pub iteration: u64,
    /// Feature complexity of the model, `(1/4) sum w F^2 peq`
    /// (`latentflow_likelihood::feature_complexity`); finite, >= 0.
    pub feature_complexity: f64,
    /// Equilibrium density at the grid nodes, normalised for the grid's weights.
    pub peq: Vec<f64>,
    /// Initial density p0 of a non-stationary model, normalised likewise (`None` for an
    /// equilibrium model). When both paths carry it, the halves must agree on it too: the
    /// divergence of a pair is the larger of the two densities' (docs/method.md §6).
    #[serde(default)]
    pub p0: Option<Vec<f64>>,
    /// A model of several task conditions (docs/method.md §12): the further densities the
    /// halves must agree on, each compared with the same entry of the other path's model —
    /// every further condition's p0, and its peq when the potential is kept per condition.
    /// Empty for one condition. The divergence of a pair is the largest over all densities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub condition_densities: Vec<Vec<f64>>,
    /// Validation -log L of the model (held-out data), if it was computed.
    pub validation_neg_loglik: Option<f64>,
}

/// Configuration of the feature-consistency selection. `Default` is [`FeatureConsistency::kl`].
///
/// In serialised form every field is optional and falls back to the KL defaults.
///
/// # Precise reading of docs/method.md §6
///
/// - Axis: `FC = k * stride` for `k = 0, 1, ...` up to `axis_end` inclusive (default: the smaller
///   of the largest FC each path reaches — for the usual path whose FC grows, its final FC).
/// - Candidates of a path at axis point `c`: all its models with `|FC - c| <= radius`
///   (inclusive, with a 1e-12 relative allowance for rounding). To keep the cost bounded, when a
///   path has more than `max_candidates` such models, the candidates are, for `max_candidates`
///   targets evenly spaced over `[c - radius, c + radius]`, the in-radius model nearest to each
///   target (duplicates removed): a subsample spread evenly in FC that is never empty when the
///   full set is not. With the defaults (stride 0.1, radius 1, 21 candidates) the targets are
///   the axis points of the window, close to what the original implementation does (it takes
///   the model nearest to each axis point within the window, without the radius check).
/// - The divergence at `c` is the minimum divergence over all candidate pairs; ties go to the
///   pair with the lowest index in path 1, then in path 2 (the earliest models). Pair values are
///   cached, so neighbouring axis points share the work.
/// - A point where either path has no candidate is skipped (`None` in the curve); after the
///   first evaluated point such a gap also gives a [`SelectionWarning::Gap`] (leading points
///   below the paths' initial FC do not).
/// - `M*` is the last evaluated point before the first point whose divergence is strictly
///   greater than the threshold (a divergence equal to the threshold does not exceed it).
///   Above the threshold already at the first evaluated point: that point is selected — the
///   simplest comparable pair — with [`SelectionWarning::AboveThresholdAtFirstPoint`].
///   Never above: the last evaluated point, with [`SelectionWarning::NeverExceeded`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeatureConsistency {
    /// Divergence between the two paths' models.
    pub divergence: Divergence,
    /// Selection threshold on the divergence (nats): 0.01 for KL in the paper (0.02 for complex
    /// potentials with little data), ~0.002 for JS.
    pub threshold: f64,
    /// Spacing of the common FC axis (> 0).
    pub stride: f64,
    /// Largest `|FC - axis point|` of a model compared at that point (>= 0).
    pub radius: f64,
    /// End of the FC axis; `None`: the smaller of the largest FC each path reaches (its final
    /// FC when FC grows along the path).
    pub axis_end: Option<f64>,
    /// Most models per path compared at one axis point (>= 1); bounds the cost at
    /// `max_candidates^2` divergences per point.
    pub max_candidates: usize,
}

impl Default for FeatureConsistency {
    fn default() -> Self {
        Self::kl()
    }
}

impl FeatureConsistency {
    /// Symmetrised KL, threshold 0.01, stride 0.1, radius 1.0 (the paper's settings).
    pub fn kl() -> Self {
        Self {
            divergence: Divergence::SymmetricKl,
            threshold: Divergence::SymmetricKl.default_threshold(),
            stride: 0.1,
            radius: 1.0,
            axis_end: None,
            max_candidates: 21,
        }
    }

    /// Jensen–Shannon, threshold 0.002, otherwise as [`FeatureConsistency::kl`].
    pub fn js() -> Self {
        Self {
            divergence: Divergence::JensenShannon,
            threshold: Divergence::JensenShannon.default_threshold(),
            ..Self::kl()
        }
    }

    /// Checks the configuration.
    ///
    /// # Errors
    /// [`SelectError::InvalidConfig`] naming the field: threshold not finite or < 0, stride not
    /// finite or <= 0, radius not finite or < 0, axis end not finite or < 0, max_candidates 0.
    pub fn validate(&self) -> Result<(), SelectError> {
        let bad = |field, value: f64, reason| SelectError::InvalidConfig {
            field,
            value: value.to_string(),
            reason,
        };
        if !(self.threshold.is_finite() && self.threshold >= 0.0) {
            return Err(bad("threshold", self.threshold, "must be finite and >= 0"));
        }
        if !(self.stride.is_finite() && self.stride > 0.0) {
            return Err(bad("stride", self.stride, "must be finite and > 0"));
        }
        if !(self.radius.is_finite() && self.radius >= 0.0) {
            return Err(bad("radius", self.radius, "must be finite and >= 0"));
        }
        if let Some(end) = self.axis_end
            && !(end.is_finite() && end >= 0.0)
        {
            return Err(bad("axis_end", end, "must be finite and >= 0"));
        }
        if self.max_candidates == 0 {
            return Err(SelectError::InvalidConfig {
                field: "max_candidates",
                value: "0".into(),
                reason: "must be >= 1",
            });
        }
        Ok(())
    }

    /// Runs the selection on two fit paths (one per data half) on the grid with quadrature
    /// weights `w`. Paths need not have equal lengths nor be monotone in FC.
    ///
    /// # Errors
    /// Invalid configuration; an empty path; a point with a non-finite or negative FC or an
    /// invalid density (wrong length, negative, non-normalised — the error names path, point and
    /// iteration); a symmetric KL that is infinite because one compared density is zero where the
    /// other is not; no axis point with models of both paths within the radius.
    pub fn select(
        &self,
        w: &[f64],
        path1: &[PathPoint],
        path2: &[PathPoint],
    ) -> Result<FeatureConsistencyResult, SelectError> {
        self.validate()?;
        check_weights(w)?;
        let side1 = Side::new(w, path1, 1, self.divergence)?;
        let side2 = Side::new(w, path2, 2, self.divergence)?;
        if path1[0].condition_densities.len() != path2[0].condition_densities.len() {
            return Err(SelectError::MixedConditions {
                what: "path 2".into(),
            });
        }

        let axis_end = self
            .axis_end
            .unwrap_or_else(|| side1.max_fc.min(side2.max_fc));
        let steps = (axis_end / self.stride * (1.0 + 1e-12)).floor();
        if steps >= MAX_AXIS_POINTS as f64 {
            return Err(SelectError::InvalidConfig {
                field: "stride",
                value: self.stride.to_string(),
                reason: "gives more than 1e6 axis points for this axis end",
            });
        }
        let axis: Vec<f64> = (0..=steps as usize)
            .map(|k| k as f64 * self.stride)
            .collect();

        let mut cache: HashMap<(usize, usize), f64> = HashMap::new();
        let mut pair_divergence = |i: usize, j: usize| -> Result<f64, SelectError> {
            if let Some(&d) = cache.get(&(i, j)) {
                return Ok(d);
            }
            let d = self.pair_divergence(w, &side1, i, &side2, j)?;
            cache.insert((i, j), d);
            Ok(d)
        };
        let mut divergence = Vec::with_capacity(axis.len());
        let mut pairs = Vec::with_capacity(axis.len());
        // (axis index, divergence, index in path 1, index in path 2) of every evaluated point.
        let mut evaluated: Vec<(usize, f64, usize, usize)> = Vec::new();
        let mut warnings = Vec::new();
        for (axis_index, &c) in axis.iter().enumerate() {
            let cand1 = side1.candidates(c, self.radius, self.max_candidates);
            let cand2 = side2.candidates(c, self.radius, self.max_candidates);
            let (Some(&i0), Some(&j0)) = (cand1.first(), cand2.first()) else {
                let missing = match (cand1.is_empty(), cand2.is_empty()) {
                    (true, true) => GapSide::Both,
                    (true, false) => GapSide::Path1,
                    _ => GapSide::Path2,
                };
                // Points below both paths' start (the axis begins at 0, fits start at the
                // initial model's FC) are expected, not a warning.
                if !evaluated.is_empty() {
                    warnings.push(SelectionWarning::Gap {
                        axis_index,
                        fc: c,
                        missing,
                    });
                }
                divergence.push(None);
                pairs.push(None);
                continue;
            };
            // Candidates are in ascending index order; strict `<` keeps the earliest pair on ties.
            let mut best = (pair_divergence(i0, j0)?, i0, j0);
            for &i in &cand1 {
                for &j in &cand2 {
                    let d = pair_divergence(i, j)?;
                    if d < best.0 {
                        best = (d, i, j);
                    }
                }
            }
            let (d, i, j) = best;
            divergence.push(Some(d));
            pairs.push(Some((i, j)));
            evaluated.push((axis_index, d, i, j));
        }

        if evaluated.is_empty() {
            return Err(SelectError::NoComparablePoints {
                axis_end,
                radius: self.radius,
            });
        }
        let exceeding = evaluated.iter().position(|e| e.1 > self.threshold);
        let chosen = match exceeding {
            None => {
                let last = evaluated.len() - 1;
                warnings.push(SelectionWarning::NeverExceeded {
                    last_fc: axis[evaluated[last].0],
                    max_divergence: evaluated.iter().map(|e| e.1).fold(0.0, f64::max),
                });
                last
            }
            Some(0) => {
                warnings.push(SelectionWarning::AboveThresholdAtFirstPoint {
                    fc: axis[evaluated[0].0],
                    divergence: evaluated[0].1,
                });
                0
            }
            Some(pos) => pos - 1,
        };
        let (chosen, divergence_at_m_star, index1, index2) = evaluated[chosen];
        let first_exceeding = exceeding.map(|pos| evaluated[pos].0);
        let selected = SelectedPair {
            axis_index: chosen,
            index1,
            index2,
            iteration1: path1[index1].iteration,
            iteration2: path2[index2].iteration,
            feature_complexity1: path1[index1].feature_complexity,
            feature_complexity2: path2[index2].feature_complexity,
            divergence: divergence_at_m_star,
        };
        Ok(FeatureConsistencyResult {
            config: FeatureConsistency {
                axis_end: Some(axis_end),
                ..*self
            },
            threshold: self.threshold,
            m_star: axis[chosen],
            axis,
            divergence,
            pairs,
            crossed: first_exceeding.is_some(),
            first_exceeding,
            selected,
            warnings,
        })
    }

    fn pair_divergence(
        &self,
        w: &[f64],
        side1: &Side<'_>,
        i: usize,
        side2: &Side<'_>,
        j: usize,
    ) -> Result<f64, SelectError> {
        let (a, b) = (&side1.path[i], &side2.path[j]);
        let peq = self.density_divergence(
            w,
            (&a.peq, &side1.logs, side1, i),
            (&b.peq, &side2.logs, side2, j),
        )?;
        let first = match (&a.p0, &b.p0) {
            (Some(p), Some(q)) => {
                let p0 = self.density_divergence(
                    w,
                    (p, &side1.logs0, side1, i),
                    (q, &side2.logs0, side2, j),
                )?;
                Ok(peq.max(p0))
            }
            _ => Ok(peq),
        }?;
        let mut largest = first;
        for (k, (p, q)) in a
            .condition_densities
            .iter()
            .zip(&b.condition_densities)
            .enumerate()
        {
            let (l1, l2) = (
                side1.logs_more.get(k).map_or(&[][..], |v| &v[..]),
                side2.logs_more.get(k).map_or(&[][..], |v| &v[..]),
            );
            largest =
                largest.max(self.density_divergence(w, (p, l1, side1, i), (q, l2, side2, j))?);
        }
        Ok(largest)
    }

    /// The divergence between one density of model i of side 1 and one of model j of side 2
    /// (`logs`: their logarithms per model, for KL).
    fn density_divergence(
        &self,
        w: &[f64],
        (p, logs1, side1, i): (&[f64], &[Vec<f64>], &Side<'_>, usize),
        (q, logs2, side2, j): (&[f64], &[Vec<f64>], &Side<'_>, usize),
    ) -> Result<f64, SelectError> {
        match self.divergence {
            Divergence::JensenShannon => Ok(js_kernel(w, p, q)),
            Divergence::SymmetricKl => {
                sym_kl_kernel(w, p, &logs1[i], q, &logs2[j]).map_err(|node| {
                    let (zero, other, other_value) = if p[node] == 0.0 {
                        (side1.name(i), side2.name(j), q[node])
                    } else {
                        (side2.name(j), side1.name(i), p[node])
                    };
                    SelectError::ZeroDensity {
                        zero,
                        other,
                        index: node,
                        other_value,
                    }
                })
            }
        }
    }
}

/// One validated path with its FC order and (for KL) the logs of its densities.
struct Side<'a> {
    path: &'a [PathPoint],
    number: u8,
    /// `(FC, model index)` sorted by FC, then index.
    sorted: Vec<(f64, usize)>,
    /// `ln peq` per model (empty for JS).
    logs: Vec<Vec<f64>>,
    /// `ln p0` per model (empty for JS or equilibrium models).
    logs0: Vec<Vec<f64>>,
    /// `ln` of each further condition density (outer index), per model (empty for JS).
    logs_more: Vec<Vec<Vec<f64>>>,
    /// Largest FC on the path.
    max_fc: f64,
}

impl<'a> Side<'a> {
    fn new(
        w: &[f64],
        path: &'a [PathPoint],
        number: u8,
        divergence: Divergence,
    ) -> Result<Self, SelectError> {
        if path.is_empty() {
            return Err(SelectError::Empty {
                what: format!("path {number}"),
            });
        }
        for (k, point) in path.iter().enumerate() {
            let what = format!("path {number} point {k} (iteration {})", point.iteration);
            let fc = point.feature_complexity;
            if !fc.is_finite() {
                return Err(SelectError::NonFinite {
                    what: format!("{what} feature complexity"),
                    index: 0,
                    value: fc,
                });
            }
            if fc < 0.0 {
                return Err(SelectError::Negative {
                    what: format!("{what} feature complexity"),
                    index: 0,
                    value: fc,
                });
            }
            check_density(w, &point.peq, &format!("{what} peq"))?;
            if point.p0.is_some() != path[0].p0.is_some() {
                return Err(SelectError::MixedP0 { what });
            }
            if let Some(p0) = &point.p0 {
                check_density(w, p0, &format!("{what} p0"))?;
            }
            if point.condition_densities.len() != path[0].condition_densities.len() {
                return Err(SelectError::MixedConditions { what });
            }
            for (c, p) in point.condition_densities.iter().enumerate() {
                check_density(w, p, &format!("{what} condition density {}", c + 1))?;
            }
        }
        let mut sorted: Vec<(f64, usize)> = path
            .iter()
            .enumerate()
            .map(|(k, p)| (p.feature_complexity, k))
            .collect();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let max_fc = sorted.last().map_or(0.0, |e| e.0);
        let ln = |v: &[f64]| -> Vec<f64> { v.iter().map(|v| v.ln()).collect() };
        let (logs, logs0) = match divergence {
            Divergence::SymmetricKl => (
                path.iter().map(|p| ln(&p.peq)).collect(),
                path.iter()
                    .filter_map(|p| p.p0.as_deref().map(ln))
                    .collect(),
            ),
            Divergence::JensenShannon => (Vec::new(), Vec::new()),
        };
        let logs_more = match divergence {
            Divergence::SymmetricKl => (0..path[0].condition_densities.len())
                .map(|k| path.iter().map(|p| ln(&p.condition_densities[k])).collect())
                .collect(),
            Divergence::JensenShannon => Vec::new(),
        };
        Ok(Self {
            path,
            number,
            sorted,
            logs,
            logs0,
            logs_more,
            max_fc,
        })
    }

    fn name(&self, k: usize) -> String {
        format!(
            "path {} point {k} (iteration {}) peq",
            self.number, self.path[k].iteration
        )
    }

    /// Model indices (ascending) compared at axis point `c`; see the module docs.
    fn candidates(&self, c: f64, radius: f64, max: usize) -> Vec<usize> {
        let slack = 1e-12 * (1.0 + c.abs() + radius);
        let lo = self.sorted.partition_point(|e| e.0 < c - radius - slack);
        let hi = self.sorted.partition_point(|e| e.0 <= c + radius + slack);
        let window = &self.sorted[lo..hi];
        let mut out: Vec<usize> = if window.len() <= max {
            window.iter().map(|e| e.1).collect()
        } else {
            (0..max)
                .map(|t| {
                    let target = if max == 1 {
                        c
                    } else {
                        c - radius + 2.0 * radius * t as f64 / (max - 1) as f64
                    };
                    nearest(window, target)
                })
                .collect()
        };
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Model index of the entry of the non-empty, FC-sorted `window` nearest to `target`
/// (ties: the lower FC).
fn nearest(window: &[(f64, usize)], target: f64) -> usize {
    let pos = window.partition_point(|e| e.0 < target);
    match (
        pos.checked_sub(1).map(|p| window[p]),
        window.get(pos).copied(),
    ) {
        (Some(below), Some(above)) => {
            if target - below.0 <= above.0 - target {
                below.1
            } else {
                above.1
            }
        }
        (Some(only), None) | (None, Some(only)) => only.1,
        (None, None) => window[0].1,
    }
}

/// Which path lacks models near an axis point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GapSide {
    /// Path 1 has no model within the radius.
    Path1,
    /// Path 2 has no model within the radius.
    Path2,
    /// Neither path has.
    Both,
}

/// A condition of the selection that the user should know about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SelectionWarning {
    /// The divergence exceeds the threshold already at the first evaluated axis point; the pair
    /// at that point (the simplest comparable models) is selected.
    AboveThresholdAtFirstPoint {
        /// FC of that axis point.
        fc: f64,
        /// Divergence there.
        divergence: f64,
    },
    /// The divergence never exceeds the threshold; the last evaluated point is selected (the
    /// paths may not have been run long enough to show the inconsistency).
    NeverExceeded {
        /// FC of the last evaluated axis point.
        last_fc: f64,
        /// Largest divergence on the curve.
        max_divergence: f64,
    },
    /// An axis point was skipped: a path has no model within the radius.
    Gap {
        /// Index into the axis.
        axis_index: usize,
        /// FC of the skipped point.
        fc: f64,
        /// Which path(s) had no model there.
        missing: GapSide,
    },
}

impl fmt::Display for SelectionWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectionWarning::AboveThresholdAtFirstPoint { fc, divergence } => write!(
                f,
                "divergence {divergence:.3e} exceeds the threshold already at the first point (FC {fc}): selected the simplest comparable models"
            ),
            SelectionWarning::NeverExceeded {
                last_fc,
                max_divergence,
            } => write!(
                f,
                "divergence never exceeds the threshold (max {max_divergence:.3e}): selected the last point (FC {last_fc}); longer fits may be needed"
            ),
            SelectionWarning::Gap {
                axis_index,
                fc,
                missing,
            } => write!(
                f,
                "axis point {axis_index} (FC {fc}) skipped: {} no model within the radius",
                match missing {
                    GapSide::Path1 => "path 1 has",
                    GapSide::Path2 => "path 2 has",
                    GapSide::Both => "neither path has",
                }
            ),
        }
    }
}

/// The models selected at `M*`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SelectedPair {
    /// Index of `M*` in the axis.
    pub axis_index: usize,
    /// Index of the selected model in path 1.
    pub index1: usize,
    /// Index of the selected model in path 2.
    pub index2: usize,
    /// Its iteration in path 1.
    pub iteration1: u64,
    /// Its iteration in path 2.
    pub iteration2: u64,
    /// FC of the path-1 model.
    pub feature_complexity1: f64,
    /// FC of the path-2 model.
    pub feature_complexity2: f64,
    /// Divergence between the two.
    pub divergence: f64,
}

/// Outcome of [`FeatureConsistency::select`]: the whole curve, not just the choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureConsistencyResult {
    /// The configuration used, with `axis_end` resolved.
    pub config: FeatureConsistency,
    /// The FC axis: `k * stride`.
    pub axis: Vec<f64>,
    /// Divergence at each axis point; `None` where the point was skipped (gap).
    pub divergence: Vec<Option<f64>>,
    /// The `(path-1 index, path-2 index)` pair realising each divergence.
    pub pairs: Vec<Option<(usize, usize)>>,
    /// The threshold used.
    pub threshold: f64,
    /// Whether the divergence exceeds the threshold at some evaluated point
    /// (`first_exceeding.is_some()`): `false` means the paths never became inconsistent.
    pub crossed: bool,
    /// Axis index of the first point whose divergence exceeds the threshold, if any.
    pub first_exceeding: Option<usize>,
    /// The selected feature complexity `M*` (an axis value).
    pub m_star: f64,
    /// The pair selected at `M*`.
    pub selected: SelectedPair,
    /// Edge cases met (skipped points, threshold never / immediately exceeded).
    pub warnings: Vec<SelectionWarning>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(iteration: u64, fc: f64) -> PathPoint {
        PathPoint {
            iteration,
            feature_complexity: fc,
            peq: vec![1.0],
            p0: None,
            condition_densities: Vec::new(),
            validation_neg_loglik: None,
        }
    }

    #[test]
    fn candidates_are_capped_and_spread_over_the_window() {
        // 201 models with FC 0.00, 0.01, ..., 2.00.
        let path: Vec<PathPoint> = (0..=200).map(|k| point(k, k as f64 * 0.01)).collect();
        let side = Side::new(&[1.0], &path, 1, Divergence::JensenShannon).unwrap();
        // Window [0, 2] holds all 201 models; 5 targets 0, 0.5, 1, 1.5, 2.
        assert_eq!(side.candidates(1.0, 1.0, 5), vec![0, 50, 100, 150, 200]);
        // Small windows are taken whole, boundaries inclusive.
        assert_eq!(side.candidates(0.5, 0.02, 21), vec![48, 49, 50, 51, 52]);
        // One candidate: the model nearest to the point.
        assert_eq!(side.candidates(1.234, 1.0, 1), vec![123]);
        // Beyond the path: nothing within the radius.
        assert!(side.candidates(2.5, 0.4, 21).is_empty());
        // The cap never empties a non-empty window, even for clustered FCs.
        let clustered: Vec<PathPoint> = (0..50).map(|k| point(k, 0.9 + 1e-4 * k as f64)).collect();
        let side = Side::new(&[1.0], &clustered, 1, Divergence::JensenShannon).unwrap();
        let c = side.candidates(0.0, 1.0, 3);
        assert!(!c.is_empty() && c.len() <= 3, "{c:?}");
    }
}
