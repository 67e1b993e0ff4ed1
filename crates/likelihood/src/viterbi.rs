//! The most likely latent path of one trial on the grid nodes (Viterbi), computed as the
//! original package (neuralflow 3.0) computes it (docs/method.md §11).
//!
//! The path is sampled at the trial start and at every event. A step over an interval of
//! length dt from node j to node i has the log weight ln max(K_ij, 1e-10), with
//! K_ij = sqrt(peq_i) sum_k U_ik exp(-mu_k dt) U_jk / sqrt(peq_j) the dark propagator's
//! density (no spike in the interval; mu unshifted); a spike of neuron n at the interval's end
//! adds ln f_n(x_i); the start has ln p0. Like the original, the path keeps off `margin` nodes
//! at each end: their rows and columns of K are 0 (so floored), and their running score is
//! reset to 0 after every step (margin 1 with absorbing bounds, N / 30 with reflecting ones,
//! where the original found paths stuck to the bounds otherwise). An absorbed trial's path
//! ends at the nearer-scoring bound. Where latentflow differs: a censored trial's path (one
//! that reached the end of its time without being absorbed) ends at its best node instead of a
//! bound, and the last state index is the end node (the original leaves it 0 with reflecting
//! bounds).

use latentflow_data::Trial;
use latentflow_spectral::BoundaryMode;
use latentflow_spectral::dense::{Mat, matmul};
use rayon::prelude::*;

use crate::decays::DECAY_CUT;
use crate::{Likelihood, LikelihoodError};

/// The floor of a transition density before its logarithm (the original's).
const FLOOR: f64 = 1e-10;

/// A most likely path on the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct ViterbiPath {
    /// The trial start and every event time (s from the trial start).
    pub times: Vec<f64>,
    /// The node index at each time.
    pub states: Vec<usize>,
    /// The node's x at each time.
    pub x: Vec<f64>,
}

impl Likelihood {
    /// Nodes kept off at each end by [`Likelihood::viterbi`]: 1 (absorbing), N / 30 (reflecting).
    pub fn viterbi_margin(&self) -> usize {
        let n = self.model.grid().n();
        match self.model.boundary() {
            BoundaryMode::Absorbing => 1,
            BoundaryMode::Reflecting => n / 30,
        }
    }

    /// The most likely path of `trial` (index `index`, for error messages) on the grid nodes.
    /// Costs O(S N^2 Nv) for S events on N nodes (one N x N propagator per interval).
    pub fn viterbi(&self, index: usize, trial: &Trial) -> Result<ViterbiPath, LikelihoodError> {
        let grid = self.model.grid();
        let n = grid.n();
        let margin = self.viterbi_margin();
        if n <= 2 * margin {
            return Err(LikelihoodError::InvalidRequest(format!(
                "the grid's {n} nodes leave none inside the Viterbi margins of {margin}"
            )));
        }
        let inner = margin..n - margin;
        let ni = inner.len();
        let u = self.dark_modes_on_nodes();
        let nv = u.ncols();
        let peq = self.model.peq();
        // Columns of left: sqrt(peq) U on the inner nodes; of right: U / sqrt(peq).
        let mut left = Mat::zeros(ni, nv);
        let mut right = Mat::zeros(ni, nv);
        for k in 0..nv {
            for (r, j) in inner.clone().enumerate() {
                let s = peq[j].sqrt();
                left.set(r, k, u.get(j, k) * s);
                right.set(r, k, u.get(j, k) / s);
            }
        }
        let log_rates: Vec<Vec<f64>> = self
            .model
            .rates()
            .iter()
            .map(|r| r.iter().map(|v| v.ln()).collect())
            .collect();

        let isi = trial.isi();
        let s = isi.len();
        let mut score: Vec<f64> = self
            .model
            .p0()
            .unwrap_or(peq)
            .iter()
            .map(|p| p.ln())
            .collect();
        // back[i][j]: the best predecessor of node j at event i + 1.
        let mut back: Vec<Vec<usize>> = Vec::with_capacity(s);
        // kt[old, new] = K[new, old] on the inner nodes (columns are the new nodes).
        let mut kt = Mat::zeros(ni, ni);
        let mu_min = self.mu_min();
        for (i, (&dt, &neuron)) in isi.iter().zip(trial.neuron()).enumerate() {
            // The modes that decay by less than exp(-DECAY_CUT) relative to the slowest one
            // over this interval (mu ascends); the rest change K below round-off.
            let r = self
                .mu
                .partition_point(|&m| (m - mu_min) * dt <= DECAY_CUT)
                .max(1);
            let mut scaled = right.first_cols(r);
            for k in 0..r {
                let e = (-self.mu[k] * dt).exp();
                scaled.col_mut(k).iter_mut().for_each(|v| *v *= e);
            }
            let left_r = if r == nv {
                None
            } else {
                Some(left.first_cols(r))
            };
            matmul(
                &mut kt,
                &scaled,
                false,
                left_r.as_ref().unwrap_or(&left),
                true,
                1.0,
                0.0,
            );
            let (best, next) = step(&score, &kt, margin);
            back.push(best);
            score = next;
            if let Some(nid) = neuron {
                let lr = log_rates
                    .get(nid as usize)
                    .ok_or(LikelihoodError::NeuronOutOfRange {
                        trial: index,
                        event: i,
                        neuron: nid,
                        num_neurons: log_rates.len(),
                    })?;
                score.iter_mut().zip(lr).for_each(|(v, l)| *v += l);
            }
            score[..margin].iter_mut().for_each(|v| *v = 0.0);
            score[n - margin..].iter_mut().for_each(|v| *v = 0.0);
        }

        let absorbed = self.model.boundary() == BoundaryMode::Absorbing && !trial.censored();
        let (mut node, last) = if absorbed {
            let (lo, hi) = (margin, n - 1 - margin);
            if score[lo] > score[hi] {
                (lo, 0)
            } else {
                (hi, n - 1)
            }
        } else {
            let j = argmax(&score);
            (j, j)
        };
        let mut states = vec![0; s + 1];
        states[s] = last;
        for i in (0..s).rev() {
            node = back[i][node];
            states[i] = node;
        }
        let mut times = Vec::with_capacity(s + 1);
        let mut t = 0.0;
        times.push(t);
        for dt in isi {
            t += dt;
            times.push(t);
        }
        let x = states.iter().map(|&j| grid.x()[j]).collect();
        Ok(ViterbiPath { times, states, x })
    }
}

/// One max-product step: for every node, the best predecessor under ln max(K, FLOOR) + score
/// and the new score. `kt` holds K transposed on the inner nodes; K is 0 elsewhere. Ties go to
/// the lowest index.
fn step(score: &[f64], kt: &Mat, margin: usize) -> (Vec<usize>, Vec<f64>) {
    let n = score.len();
    let ln_floor = FLOOR.ln();
    // The best predecessor among the margin nodes (their K is 0, so floored), on each side,
    // and over all nodes (for the margin rows).
    let best_of = |range: std::ops::Range<usize>| -> Option<usize> {
        range.reduce(|b, j| if score[j] > score[b] { j } else { b })
    };
    let low = best_of(0..margin);
    let high = best_of(n - margin..n);
    let all = argmax(score);
    // Scores relative to their maximum, as factors (no logarithm per pair).
    let top = score[all];
    let factor: Vec<f64> = score.iter().map(|v| (v - top).exp()).collect();
    let inner: Vec<(usize, f64)> = (0..n - 2 * margin)
        .into_par_iter()
        .map(|c| {
            let col = kt.col(c);
            let mut best = None::<(usize, f64)>;
            let mut consider = |j: usize, value: f64| {
                if best.is_none_or(|(_, v)| value > v) {
                    best = Some((j, value));
                }
            };
            if let Some(j) = low {
                consider(j, FLOOR * factor[j]);
            }
            for (r, k) in col.iter().enumerate() {
                let j = r + margin;
                consider(j, k.max(FLOOR) * factor[j]);
            }
            if let Some(j) = high {
                consider(j, FLOOR * factor[j]);
            }
            let (j, v) = best.expect("at least one node");
            (j, v.ln() + top)
        })
        .collect();
    let mut best = vec![all; n];
    let mut next = vec![ln_floor + top; n];
    for (c, (j, v)) in inner.into_iter().enumerate() {
        best[c + margin] = j;
        next[c + margin] = v;
    }
    (best, next)
}

/// The first index of the largest value.
fn argmax(v: &[f64]) -> usize {
    (0..v.len())
        .reduce(|b, j| if v[j] > v[b] { j } else { b })
        .expect("non-empty")
}
