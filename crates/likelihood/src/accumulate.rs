//! The sums over intervals that the gradients need (docs/method.md §4), by matrix products.
//!
//! With E_i = exp(-mu dt_i) and I_jk(t) = (E_j - E_k) / (mu_k - mu_j) for distinct mu,
//! G_jk = sum_i alpha_{i-1,j} beta_{i,k} I_jk(dt_i) = (P - R)_jk / (mu_k - mu_j) with
//! P = sum_i (E_i alpha_{i-1}) beta_i^T and R = sum_i alpha_{i-1} (E_i beta_i)^T; close pairs
//! and the diagonal are summed per interval with the stable form instead. Here beta_i is the
//! backward message after interval i's spike operator S_n and beta'_i the one before it, so
//! G1_n = sum over spikes of neuron n of (E_i alpha_{i-1}) beta'_i^T and, S_n being symmetric,
//! the spike intervals' part of P is sum_n G1_n S_n: P needs its own product only for the
//! intervals that end without a spike.
//!
//! E_i is zero beyond its first r_i components (the decay cut), so the intervals are grouped
//! by decay class (r_i <= bound, bounds 16, 32, 64, ... up to m) and by the neuron that ends
//! them; each group's columns are stored contiguously and its products run over the first
//! `bound` rows of E alpha and E beta only.

use latentflow_spectral::dense::{Mat, matmul, matmul_abt_seq};
use rayon::prelude::*;

use crate::decays::{DECAY_CUT, Decays};

/// Pairs of dark eigenvalues with |mu_j - mu_k| * (mean interval) below this use the
/// cancellation-free per-interval form of I_jk; the others use divided differences of two
/// matrix products, whose relative round-off, summed over the data, is ~ eps / (|mu_j - mu_k|
/// mean interval) <= 1e-13.
const CLOSE_PAIR: f64 = 1e-3;

/// Intervals of one trial that share a decay class and an ending neuron.
struct Group {
    bound: usize,
    neuron: Option<u32>,
    /// The intervals, ascending.
    intervals: Vec<usize>,
    /// First column in the m-row buffers.
    col: usize,
    /// First entry in the bound-row buffers.
    start: usize,
}

/// Where each interval of a trial keeps its columns.
pub(crate) struct Layout {
    m: usize,
    groups: Vec<Group>,
    /// Per interval: column in the m-row buffers, offset and length in the bound-row buffers.
    col: Vec<usize>,
    short: Vec<(usize, usize)>,
    short_len: usize,
}

impl Layout {
    /// `active[i]` is the number of non-zero decays of interval i (1..=m), `neurons[i]` the
    /// neuron whose spike ends it.
    pub(crate) fn new(m: usize, active: &[usize], neurons: &[Option<u32>]) -> Layout {
        let mut bounds = Vec::new();
        let mut b = 16;
        while b < m {
            bounds.push(b);
            b *= 2;
        }
        bounds.push(m);
        let neuron_slots = neurons
            .iter()
            .flatten()
            .max()
            .map_or(0, |&n| n as usize + 1)
            + 1;
        let key = |i: usize| {
            let class = bounds.partition_point(|&b| b < active[i]);
            class * neuron_slots + neurons[i].map_or(0, |n| n as usize + 1)
        };
        let mut by_key: Vec<Vec<usize>> = vec![Vec::new(); bounds.len() * neuron_slots];
        for i in 0..active.len() {
            by_key[key(i)].push(i);
        }
        let (mut col, mut start) = (0, 0);
        let mut groups = Vec::new();
        for (k, intervals) in by_key.into_iter().enumerate() {
            if intervals.is_empty() {
                continue;
            }
            let bound = bounds[k / neuron_slots];
            let neuron = (k % neuron_slots).checked_sub(1).map(|n| n as u32);
            let n = intervals.len();
            groups.push(Group {
                bound,
                neuron,
                intervals,
                col,
                start,
            });
            col += n;
            start += n * bound;
        }
        let mut cols = vec![0; active.len()];
        let mut short = vec![(0, 0); active.len()];
        for g in &groups {
            for (t, &i) in g.intervals.iter().enumerate() {
                cols[i] = g.col + t;
                short[i] = (g.start + t * g.bound, g.bound);
            }
        }
        Layout {
            m,
            groups,
            col: cols,
            short,
            short_len: start,
        }
    }

    /// Interval i's column (of m entries) in `Buffers::alpha` and `Buffers::beta`.
    #[inline(always)]
    pub(crate) fn full(&self, i: usize) -> std::ops::Range<usize> {
        self.col[i] * self.m..(self.col[i] + 1) * self.m
    }

    /// Interval i's column (of `bound` entries) in `Buffers::e_alpha` and `Buffers::e_beta`.
    #[inline(always)]
    pub(crate) fn short(&self, i: usize) -> std::ops::Range<usize> {
        let (o, b) = self.short[i];
        o..o + b
    }

    /// Length of the bound-row buffers.
    pub(crate) fn short_len(&self) -> usize {
        self.short_len
    }
}

/// A trial's messages in the layout's order.
pub(crate) struct Buffers<'a> {
    /// alpha_{i-1}, the forward message before interval i (m rows).
    pub alpha: &'a [f64],
    /// (E_i alpha_{i-1})[..bound], scaled by kappa_i in `interval_sums`.
    pub e_alpha: &'a mut [f64],
    /// beta'_i / kappa_i (beta_i / kappa_i for intervals without a spike), m rows.
    pub beta: &'a [f64],
    /// beta_i[..bound] / kappa_i on entry; (E_i beta_i)[..bound] after `interval_sums`.
    pub e_beta: &'a mut [f64],
}

/// The per-trial sums, added over trials before [`IntervalSums::finish`].
#[derive(Debug, Clone)]
pub(crate) struct IntervalSums {
    /// P over the intervals that end without a spike.
    p: Mat,
    r: Mat,
    /// G1_n per neuron.
    g1: Vec<Mat>,
    diag: Vec<f64>,
    /// Stable per-interval sums for the close pairs.
    close: Vec<f64>,
}

impl IntervalSums {
    pub(crate) fn new(m: usize, neurons: usize, close: usize) -> Self {
        IntervalSums {
            p: Mat::zeros(m, m),
            r: Mat::zeros(m, m),
            g1: (0..neurons).map(|_| Mat::zeros(m, m)).collect(),
            diag: vec![0.0; m],
            close: vec![0.0; close],
        }
    }

    pub(crate) fn add(&mut self, o: &IntervalSums) {
        let mats = std::iter::once((&mut self.p, &o.p))
            .chain(std::iter::once((&mut self.r, &o.r)))
            .chain(self.g1.iter_mut().zip(&o.g1));
        for (a, b) in mats {
            add_to(a.as_mut_slice(), b.as_slice());
        }
        add_to(&mut self.diag, &o.diag);
        add_to(&mut self.close, &o.close);
    }

    /// G and the G1_n in the dark basis; `mu` are the dark eigenvalues, `spike_ops` the S_n.
    pub(crate) fn finish(
        mut self,
        mu: &[f64],
        close: &[(usize, usize)],
        spike_ops: &[Mat],
    ) -> (Mat, Vec<Mat>) {
        let m = mu.len();
        for (g1, s) in self.g1.iter().zip(spike_ops) {
            matmul(&mut self.p, g1, false, s, false, 1.0, 1.0);
        }
        let mut g = Mat::zeros(m, m);
        for k in 0..m {
            for j in 0..m {
                if j != k {
                    let v = (self.p.get(j, k) - self.r.get(j, k)) / (mu[k] - mu[j]);
                    g.set(j, k, v);
                }
            }
        }
        for (&(j, k), &v) in close.iter().zip(&self.close) {
            g.set(j, k, v);
        }
        for (j, &v) in self.diag.iter().enumerate() {
            g.set(j, j, v);
        }
        (g, self.g1)
    }
}

/// The sums of one trial. `kappa[i]` scales the stored backward messages of interval i to the
/// true ones; `mu` are the dark eigenvalues shifted by their minimum, as the decays are.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn interval_sums(
    layout: &Layout,
    buffers: Buffers,
    decays: &Decays,
    isi: &[f64],
    kappa: &[f64],
    mu: &[f64],
    close: &[(usize, usize)],
    neurons: usize,
) -> IntervalSums {
    let m = layout.m;
    let mut sums = IntervalSums::new(m, neurons, close.len());
    let Buffers {
        alpha,
        e_alpha,
        beta,
        e_beta,
    } = buffers;
    // Per interval: the diagonal and the close pairs; kappa into E alpha, E into beta.
    for i in 0..isi.len() {
        let span = layout.short(i);
        let (ea, eb) = (&mut e_alpha[span.clone()], &mut e_beta[span]);
        let (e, t, kappa) = (decays.of(i), isi[i], kappa[i]);
        ea.iter_mut().for_each(|v| *v *= kappa);
        // I_jj(t) = t E_j(t), and `ea` already holds E_j alpha_j.
        for ((d, a), b) in sums.diag.iter_mut().zip(ea.iter()).zip(eb.iter()) {
            *d += a * b * t;
        }
        let a = &alpha[layout.full(i)];
        for (slot, &(j, k)) in close.iter().enumerate() {
            // Pairs beyond the decay cut contribute below exp(-DECAY_CUT).
            if j < ea.len() && k < eb.len() {
                sums.close[slot] += a[j] * (eb[k] * kappa) * interval_kernel(mu[j], mu[k], t);
            }
        }
        eb.iter_mut().zip(e).for_each(|(b, e)| *b *= e * kappa);
        eb[e.len()..].fill(0.0);
    }
    // Per group: R (m x bound) and E alpha beta'^T (bound x m), groups in parallel.
    let (e_alpha, e_beta) = (&*e_alpha, &*e_beta);
    let products: Vec<(Mat, Mat)> = layout
        .groups
        .par_iter()
        .map(|g| {
            let n = g.intervals.len();
            // alpha, beta: m x n; E alpha, E beta: bound x n (column-major).
            let a = &alpha[g.col * m..(g.col + n) * m];
            let b = &beta[g.col * m..(g.col + n) * m];
            let short = g.start..g.start + n * g.bound;
            let (ea, eb) = (&e_alpha[short.clone()], &e_beta[short]);
            let mut r = Mat::zeros(m, g.bound);
            let mut x = Mat::zeros(g.bound, m);
            matmul_abt_seq(r.as_mut_slice(), a, eb, m, g.bound, n);
            matmul_abt_seq(x.as_mut_slice(), ea, b, g.bound, m, n);
            (r, x)
        })
        .collect();
    for (g, (r, x)) in layout.groups.iter().zip(&products) {
        add_block(&mut sums.r, r);
        match g.neuron {
            Some(n) => add_block(&mut sums.g1[n as usize], x),
            None => add_block(&mut sums.p, x),
        }
    }
    sums
}

/// total[..rows, ..cols] += part.
fn add_block(total: &mut Mat, part: &Mat) {
    for k in 0..part.ncols() {
        add_to(&mut total.col_mut(k)[..part.nrows()], part.col(k));
    }
}

fn add_to(a: &mut [f64], b: &[f64]) {
    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
}

/// I_jk(t) = int_0^t exp(-mu_j s) exp(-mu_k (t - s)) ds without cancellation:
/// exp(-min(mu) t) (-expm1(-|mu_j - mu_k| t)) / |mu_j - mu_k|, and t exp(-mu t) for equal mu.
/// Callers pass mu shifted by its minimum, as the decays are; the shift cancels against the
/// scale factors.
fn interval_kernel(mu_j: f64, mu_k: f64, t: f64) -> f64 {
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

/// Ordered pairs (j, k), j != k, of dark eigenvalues with |mu_j - mu_k| * mean_dt < CLOSE_PAIR,
/// `mean_dt` being the data's mean interval.
pub(crate) fn close_pairs(mu: &[f64], mean_dt: f64) -> Vec<(usize, usize)> {
    let threshold = CLOSE_PAIR / mean_dt.max(f64::MIN_POSITIVE);
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
