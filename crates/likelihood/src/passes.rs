//! Forward and backward passes over one trial (method.md §3–§4), in the dark operator's
//! eigenbasis, with the scale factors c_i that keep the messages at unit norm.
//!
//! The dark eigenvalues are used shifted by their minimum (`mu - mu_min`) so that a long
//! interval cannot underflow every component; the shift contributes `mu_min * duration` to
//! -log L and cancels everywhere else (messages are only ever normalised). Both passes are
//! compiled for the widest instruction set the CPU offers (runtime dispatch by `pulp`; same bits).

use std::cell::RefCell;

use latentflow_data::Trial;
use latentflow_spectral::dense::{Mat, matmul};
use pulp::{Arch, Simd, WithSimd};

use crate::kernels::{dot, mat_vec, mat_vec_prefix, norm};
use crate::{Likelihood, LikelihoodError};

/// Number of intervals whose backward messages are gathered before one matrix-product update.
const BLOCK: usize = 256;

/// Pairs of dark eigenvalues with |mu_j - mu_k| * (mean interval) below this use the
/// cancellation-free per-interval form of I_jk; the others use divided differences of two
/// matrix products, whose relative round-off is ~ eps / (|mu_j - mu_k| t) <= 1e-13.
const CLOSE_PAIR: f64 = 1e-3;

/// Components decayed by more than exp(-DECAY_CUT) ~ 1e-20 over one interval are dropped.
const DECAY_CUT: f64 = 46.0;

/// Largest scratch buffer (entries) kept for the next trial: 64 MiB.
const SCRATCH_KEEP: usize = 1 << 23;

thread_local! {
    /// Per-thread buffers of the forward messages and decays, reused from trial to trial:
    /// fresh multi-megabyte allocations cost more in page faults than the pass itself.
    static SCRATCH: RefCell<(Vec<f64>, Vec<f64>)> = RefCell::default();
}

/// `buf` with length `len`, reusing its allocation (contents unspecified).
fn resized(mut buf: Vec<f64>, len: usize) -> Vec<f64> {
    buf.resize(len, 0.0);
    buf
}

/// What one trial contributes to the gradients.
#[derive(Debug, Clone)]
pub(crate) struct TrialGrad {
    pub neg_loglik: f64,
    /// G accumulated over the intervals (before the absorption term), dark basis.
    pub g_intervals: Mat,
    /// alpha_S beta^T at the absorption step (absorbing, uncensored trials).
    pub g_abs: Option<Mat>,
    /// Sum over spikes of neuron n of (E alpha_{i-1}) beta^T, dark basis.
    pub g_spikes: Vec<Mat>,
    /// alpha_last / c_end.
    pub alpha_end: Vec<f64>,
    /// beta_0 = beta / c_0.
    pub beta0: Vec<f64>,
}

impl Likelihood {
    fn mu_min(&self) -> f64 {
        self.mu.iter().cloned().fold(f64::INFINITY, f64::min)
    }

    /// exp(-(mu - mu_min) dt) into `e`; returns the number r of leading components that are
    /// not negligible. The dark eigenvalues ascend, so components r.. decay by more than
    /// exp(-DECAY_CUT) and are set to 0 (a change below round-off of the surviving ones).
    #[inline(always)]
    fn decay(&self, mu_min: f64, dt: f64, e: &mut [f64]) -> usize {
        let mut r = 0;
        for (ek, mk) in e.iter_mut().zip(&self.mu) {
            let x = (mk - mu_min) * dt;
            if x > DECAY_CUT {
                break;
            }
            *ek = (-x).exp();
            r += 1;
        }
        e[r..].fill(0.0);
        r.max(1)
    }

    fn spike_op(&self, trial: usize, event: usize, neuron: u32) -> Result<&Mat, LikelihoodError> {
        self.spike_ops
            .get(neuron as usize)
            .ok_or(LikelihoodError::NeuronOutOfRange {
                trial,
                event,
                neuron,
                num_neurons: self.spike_ops.len(),
            })
    }

    fn applies_absorption(&self, trial: &Trial) -> Option<&Mat> {
        self.absorption.as_ref().filter(|_| !trial.censored())
    }

    /// -log L of one trial by the forward pass alone.
    pub(crate) fn trial_neg_loglik(
        &self,
        index: usize,
        trial: &Trial,
    ) -> Result<f64, LikelihoodError> {
        struct Op<'a>(&'a Likelihood, usize, &'a Trial);
        impl WithSimd for Op<'_> {
            type Output = Result<f64, LikelihoodError>;
            #[inline(always)]
            fn with_simd<S: Simd>(self, _: S) -> Self::Output {
                self.0.trial_neg_loglik_inline(self.1, self.2)
            }
        }
        Arch::new().dispatch(Op(self, index, trial))
    }

    #[inline(always)]
    fn trial_neg_loglik_inline(&self, index: usize, trial: &Trial) -> Result<f64, LikelihoodError> {
        let m = self.nv();
        let mu_min = self.mu_min();
        let mut a = self.alpha0.clone();
        let mut tmp = vec![0.0; m];
        let mut e = vec![0.0; m];
        let mut log_c = self.c0.ln() - mu_min * trial.duration();
        for (i, (&dt, &neuron)) in trial.isi().iter().zip(trial.neuron()).enumerate() {
            let r = self.decay(mu_min, dt, &mut e);
            a.iter_mut().zip(&e).for_each(|(x, y)| *x *= y);
            if let Some(n) = neuron {
                mat_vec_prefix(self.spike_op(index, i, n)?, &a, r, &mut tmp);
                std::mem::swap(&mut a, &mut tmp);
            }
            log_c += normalise(&mut a).map_err(|_| step_error(index, i, neuron))?;
        }
        if let Some(abs) = self.applies_absorption(trial) {
            mat_vec(abs, &a, &mut tmp);
            std::mem::swap(&mut a, &mut tmp);
            log_c += normalise(&mut a).map_err(|_| LikelihoodError::NonPositiveNormaliser {
                trial: index,
                value: 0.0,
            })?;
        }
        let c_end = dot(&self.b, &a);
        if !(c_end.is_finite() && c_end > 0.0) {
            return Err(LikelihoodError::NonPositiveNormaliser {
                trial: index,
                value: c_end,
            });
        }
        Ok(-(log_c + c_end.ln()))
    }

    /// Forward and backward pass of one trial, with its gradient accumulators.
    pub(crate) fn trial_grad(
        &self,
        index: usize,
        trial: &Trial,
    ) -> Result<TrialGrad, LikelihoodError> {
        struct Op<'a>(&'a Likelihood, usize, &'a Trial);
        impl WithSimd for Op<'_> {
            type Output = Result<TrialGrad, LikelihoodError>;
            #[inline(always)]
            fn with_simd<S: Simd>(self, _: S) -> Self::Output {
                self.0.trial_grad_inline(self.1, self.2)
            }
        }
        Arch::new().dispatch(Op(self, index, trial))
    }

    #[inline(always)]
    fn trial_grad_inline(&self, index: usize, trial: &Trial) -> Result<TrialGrad, LikelihoodError> {
        let m = self.nv();
        let k_neurons = self.spike_ops.len();
        let s = trial.isi().len();
        let mu_min = self.mu_min();
        let isi = trial.isi();
        let neurons = trial.neuron();

        // Forward, keeping alpha_{i-1} (column i-1) and E_i for every interval (every column
        // is overwritten below, so the reused buffers need no clearing).
        let (alphas_buf, decays_buf) = SCRATCH.with(|b| std::mem::take(&mut *b.borrow_mut()));
        let mut alphas = Mat::from_col_major(m, s + 1, resized(alphas_buf, m * (s + 1)));
        let mut decays = Mat::from_col_major(m, s, resized(decays_buf, m * s));
        let mut scales = vec![0.0; s];
        alphas.col_mut(0).copy_from_slice(&self.alpha0);
        let mut a = self.alpha0.clone();
        let mut tmp = vec![0.0; m];
        let mut log_c = self.c0.ln() - mu_min * trial.duration();
        let mut active = vec![0usize; s];
        for i in 0..s {
            let r = self.decay(mu_min, isi[i], decays.col_mut(i));
            active[i] = r;
            a.iter_mut().zip(decays.col(i)).for_each(|(x, y)| *x *= y);
            if let Some(n) = neurons[i] {
                mat_vec_prefix(self.spike_op(index, i, n)?, &a, r, &mut tmp);
                std::mem::swap(&mut a, &mut tmp);
            }
            let lc = normalise(&mut a).map_err(|_| step_error(index, i, neurons[i]))?;
            scales[i] = lc.exp();
            log_c += lc;
            alphas.col_mut(i + 1).copy_from_slice(&a);
        }
        let absorption = self.applies_absorption(trial);
        let mut c_abs = 1.0;
        let alpha_s = a.clone();
        if let Some(abs) = absorption {
            mat_vec(abs, &a, &mut tmp);
            std::mem::swap(&mut a, &mut tmp);
            let lc = normalise(&mut a).map_err(|_| LikelihoodError::NonPositiveNormaliser {
                trial: index,
                value: 0.0,
            })?;
            c_abs = lc.exp();
            log_c += lc;
        }
        let c_end = dot(&self.b, &a);
        if !(c_end.is_finite() && c_end > 0.0) {
            return Err(LikelihoodError::NonPositiveNormaliser {
                trial: index,
                value: c_end,
            });
        }
        let neg_loglik = -(log_c + c_end.ln());
        let alpha_end: Vec<f64> = a.iter().map(|v| v / c_end).collect();

        // Backward.
        let mut beta: Vec<f64> = self.b.iter().map(|v| v / c_end).collect();
        let g_abs = absorption.map(|abs| {
            beta.iter_mut().for_each(|v| *v /= c_abs);
            let mut g = Mat::zeros(m, m);
            for k in 0..m {
                let col = g.col_mut(k);
                for j in 0..m {
                    col[j] = alpha_s[j] * beta[k];
                }
            }
            mat_vec(abs, &beta, &mut tmp);
            std::mem::swap(&mut beta, &mut tmp);
            g
        });

        let mean_dt = (trial.duration() / s as f64).max(f64::MIN_POSITIVE);
        let close = close_pairs(&self.mu, CLOSE_PAIR / mean_dt);
        let mu_shifted: Vec<f64> = self.mu.iter().map(|v| v - mu_min).collect();
        let mut acc = BlockAccumulator::new(m, k_neurons, close);
        // Leading non-zero components of beta (all of them before the first decay).
        let mut beta_len = m;
        let mut hi = s;
        while hi > 0 {
            let lo = hi.saturating_sub(BLOCK);
            for i in (lo..hi).rev() {
                let col = i - lo;
                let inv = 1.0 / scales[i];
                beta.iter_mut().for_each(|v| *v *= inv);
                acc.spike[col] = neurons[i];
                if let Some(n) = neurons[i] {
                    acc.pre.col_mut(col).copy_from_slice(&beta);
                    mat_vec_prefix(&self.spike_ops[n as usize], &beta, beta_len, &mut tmp);
                    std::mem::swap(&mut beta, &mut tmp);
                }
                acc.post.col_mut(col).copy_from_slice(&beta);
                beta.iter_mut()
                    .zip(decays.col(i))
                    .for_each(|(x, y)| *x *= y);
                beta_len = active[i];
            }
            acc.flush(lo, hi, &alphas, &decays, &active, isi, &mu_shifted);
            hi = lo;
        }
        let beta0: Vec<f64> = beta.iter().map(|v| v / self.c0).collect();
        let (g_intervals, g_spikes) = acc.finish(&self.mu);
        if alphas.nrows() * alphas.ncols() <= SCRATCH_KEEP {
            SCRATCH.with(|b| {
                *b.borrow_mut() = (alphas.into_col_major(), decays.into_col_major());
            });
        }
        Ok(TrialGrad {
            neg_loglik,
            g_intervals,
            g_abs,
            g_spikes,
            alpha_end,
            beta0,
        })
    }
}

/// Accumulates G and G1_n over blocks of intervals with matrix products.
///
/// With E_i = exp(-mu dt_i) and I_jk(t) = (E_j - E_k) / (mu_k - mu_j) for distinct mu,
/// sum_i alpha_{i-1,j} beta_{i,k} I_jk(dt_i) = (P - R)_jk / (mu_k - mu_j) with
/// P = sum_i (E_i alpha_{i-1}) beta_i^T and R = sum_i alpha_{i-1} (E_i beta_i)^T. Close pairs
/// (and the diagonal) are summed per interval with the stable form instead.
///
/// E_i is zero beyond its first r_i components (the decay cut), so the intervals are grouped
/// by r_i into classes with r_i <= bound (16, 32, 64, ... up to m) and each class's products
/// run over the first `bound` rows of E alpha and E beta only.
struct BlockAccumulator {
    m: usize,
    /// Row bound of each class, ascending; the last is m.
    bounds: Vec<usize>,
    /// P restricted to rows < bound, per class (bound x m).
    p: Vec<Mat>,
    /// R restricted to columns < bound, per class (m x bound).
    r: Vec<Mat>,
    /// G1_n restricted to rows < bound, per neuron and class (bound x m).
    g_spikes: Vec<Vec<Mat>>,
    close: Vec<(usize, usize)>,
    close_sum: Vec<f64>,
    /// The diagonal of G, sum_i alpha_{i-1,j} beta_{i,j} dt_i E_j(dt_i).
    diag_sum: Vec<f64>,
    /// Backward messages after the spike operator (the beta of the G term), one column per interval.
    post: Mat,
    /// Backward messages before the spike operator, at spike intervals.
    pre: Mat,
    /// The neuron whose spike ends each interval of the block.
    spike: Vec<Option<u32>>,
}

impl BlockAccumulator {
    fn new(m: usize, k: usize, close: Vec<(usize, usize)>) -> Self {
        let mut bounds = Vec::new();
        let mut b = 16;
        while b < m {
            bounds.push(b);
            b *= 2;
        }
        bounds.push(m);
        BlockAccumulator {
            m,
            p: bounds.iter().map(|&b| Mat::zeros(b, m)).collect(),
            r: bounds.iter().map(|&b| Mat::zeros(m, b)).collect(),
            g_spikes: (0..k)
                .map(|_| bounds.iter().map(|&b| Mat::zeros(b, m)).collect())
                .collect(),
            bounds,
            close_sum: vec![0.0; close.len()],
            diag_sum: vec![0.0; m],
            close,
            post: Mat::zeros(m, BLOCK),
            pre: Mat::zeros(m, BLOCK),
            spike: vec![None; BLOCK],
        }
    }

    /// Adds the block of intervals lo..hi (columns 0..hi-lo of `post`, `pre` and `spike`);
    /// `active[i]` is the number of non-zero decays of interval i.
    #[inline(always)]
    fn flush(
        &mut self,
        lo: usize,
        hi: usize,
        alphas: &Mat,
        decays: &Mat,
        active: &[usize],
        isi: &[f64],
        mu: &[f64],
    ) {
        let m = self.m;
        let len = hi - lo;
        for c in 0..len {
            // I_jj(t) = t E_j(t), with the decay already computed (and cut where negligible).
            let t = isi[lo + c];
            let (a, b, e) = (alphas.col(lo + c), self.post.col(c), decays.col(lo + c));
            for j in 0..m {
                self.diag_sum[j] += a[j] * b[j] * (t * e[j]);
            }
        }
        for (slot, &(j, k)) in self.close.iter().enumerate() {
            let mut s = 0.0;
            for c in 0..len {
                let kernel = interval_kernel(mu[j], mu[k], isi[lo + c]);
                s += alphas.get(j, lo + c) * self.post.get(k, c) * kernel;
            }
            self.close_sum[slot] += s;
        }
        let mut class_start = 0;
        for (class, &bound) in self.bounds.iter().enumerate() {
            let cols: Vec<usize> = (0..len)
                .filter(|&c| {
                    let r = active[lo + c];
                    class_start < r && r <= bound
                })
                .collect();
            class_start = bound;
            if cols.is_empty() {
                continue;
            }
            let nc = cols.len();
            let mut a = Mat::zeros(m, nc);
            let mut post = Mat::zeros(m, nc);
            let mut ea = Mat::zeros(bound, nc);
            let mut eb = Mat::zeros(bound, nc);
            for (t, &c) in cols.iter().enumerate() {
                let (al, e, b) = (alphas.col(lo + c), decays.col(lo + c), self.post.col(c));
                a.col_mut(t).copy_from_slice(al);
                post.col_mut(t).copy_from_slice(b);
                let ea = ea.col_mut(t);
                for j in 0..bound {
                    ea[j] = e[j] * al[j];
                }
                let eb = eb.col_mut(t);
                for j in 0..bound {
                    eb[j] = e[j] * b[j];
                }
            }
            matmul(&mut self.p[class], &ea, false, &post, true, 1.0, 1.0);
            matmul(&mut self.r[class], &a, false, &eb, true, 1.0, 1.0);
            for (n, g1) in self.g_spikes.iter_mut().enumerate() {
                let hits: Vec<usize> = (0..nc)
                    .filter(|&t| self.spike[cols[t]] == Some(n as u32))
                    .collect();
                if hits.is_empty() {
                    continue;
                }
                let mut x = Mat::zeros(bound, hits.len());
                let mut y = Mat::zeros(m, hits.len());
                for (h, &t) in hits.iter().enumerate() {
                    x.col_mut(h).copy_from_slice(ea.col(t));
                    y.col_mut(h).copy_from_slice(self.pre.col(cols[t]));
                }
                matmul(&mut g1[class], &x, false, &y, true, 1.0, 1.0);
            }
        }
    }

    /// G over all intervals and the G1_n, in the dark basis.
    fn finish(self, mu: &[f64]) -> (Mat, Vec<Mat>) {
        let m = self.m;
        let p = sum_classes(&self.p, m);
        let r = sum_classes(&self.r, m);
        let mut g = Mat::zeros(m, m);
        for k in 0..m {
            for j in 0..m {
                if j != k {
                    g.set(j, k, (p.get(j, k) - r.get(j, k)) / (mu[k] - mu[j]));
                }
            }
        }
        for (&(j, k), &v) in self.close.iter().zip(&self.close_sum) {
            g.set(j, k, v);
        }
        for (j, &v) in self.diag_sum.iter().enumerate() {
            g.set(j, j, v);
        }
        let g_spikes = self
            .g_spikes
            .iter()
            .map(|classes| sum_classes(classes, m))
            .collect();
        (g, g_spikes)
    }
}

/// The m x m sum of per-class parts, each covering the leading rows or columns.
fn sum_classes(parts: &[Mat], m: usize) -> Mat {
    let mut total = Mat::zeros(m, m);
    for part in parts {
        for k in 0..part.ncols() {
            for j in 0..part.nrows() {
                total.set(j, k, total.get(j, k) + part.get(j, k));
            }
        }
    }
    total
}

/// I_jk(t) = int_0^t exp(-mu_j s) exp(-mu_k (t - s)) ds without cancellation:
/// exp(-min(mu) t) (-expm1(-|mu_j - mu_k| t)) / |mu_j - mu_k|, and t exp(-mu t) for equal mu.
/// Callers pass mu shifted by its minimum, as the decays are; the shift cancels against the
/// scale factors.
pub(crate) fn interval_kernel(mu_j: f64, mu_k: f64, t: f64) -> f64 {
    let gap = (mu_j - mu_k).abs();
    let x = mu_j.min(mu_k) * t;
    if x > DECAY_CUT {
        // Below exp(-DECAY_CUT) of the leading term, as the decays are cut.
        return 0.0;
    }
    let head = (-x).exp();
    if gap == 0.0 {
        head * t
    } else {
        head * (-(-gap * t).exp_m1()) / gap
    }
}

/// Ordered pairs (j, k), j != k, with |mu_j - mu_k| < threshold.
fn close_pairs(mu: &[f64], threshold: f64) -> Vec<(usize, usize)> {
    let m = mu.len();
    let mut pairs = Vec::new();
    for k in 0..m {
        for j in 0..m {
            if j != k && (mu[j] - mu[k]).abs() < threshold {
                pairs.push((j, k));
            }
        }
    }
    pairs
}

fn step_error(trial: usize, event: usize, neuron: Option<u32>) -> LikelihoodError {
    match neuron {
        Some(neuron) => LikelihoodError::ImpossibleSpike {
            trial,
            event,
            neuron,
        },
        None => LikelihoodError::NonPositiveNormaliser { trial, value: 0.0 },
    }
}

/// Scales `a` to unit norm and returns log of the old norm; Err if it was 0 or not finite.
fn normalise(a: &mut [f64]) -> Result<f64, ()> {
    let c = norm(a);
    if !(c.is_finite() && c > 0.0) {
        return Err(());
    }
    let inv = 1.0 / c;
    a.iter_mut().for_each(|v| *v *= inv);
    Ok(c.ln())
}
