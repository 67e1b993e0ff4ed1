//! The decays exp(-(mu - mu_min) dt_i) of a trial's intervals in the dark eigenbasis, cut where
//! they fall below exp(-DECAY_CUT): shared by the passes and the interval sums.

use rayon::prelude::*;

use crate::kernels::{exp_nonpositive, simd};

/// Components decayed by more than exp(-DECAY_CUT) ~ 1e-20 over one interval are dropped.
pub(crate) const DECAY_CUT: f64 = 46.0;

/// Intervals per unit of parallel work in the decays.
const CHUNK: usize = 1024;

/// The decays E_i = exp(-(mu - mu_min) dt_i) of a trial's intervals, interval i keeping only
/// its first r_i components: the dark eigenvalues ascend, and the components beyond decay by
/// more than exp(-DECAY_CUT) (taken as 0, a change below round-off of the surviving ones).
pub(crate) struct Decays {
    values: Vec<f64>,
    /// Interval i's components are values[start[i]..start[i + 1]].
    start: Vec<usize>,
    /// r_i (at least 1).
    pub active: Vec<usize>,
}

impl Decays {
    /// Computes the decays in parallel over chunks of intervals, on `buf`'s allocation.
    pub(crate) fn new(mu: &[f64], isi: &[f64], mut buf: Vec<f64>) -> Decays {
        let mu_min = mu.iter().cloned().fold(f64::INFINITY, f64::min);
        let active: Vec<usize> = isi
            .iter()
            .map(|&dt| {
                mu.partition_point(|&mk| (mk - mu_min) * dt <= DECAY_CUT)
                    .max(1)
            })
            .collect();
        let mut start = Vec::with_capacity(isi.len() + 1);
        start.push(0);
        for &r in &active {
            start.push(start.last().unwrap() + r);
        }
        buf.resize(start[isi.len()], 0.0);
        // Split the values at chunk boundaries (each value is computed on its own, so the
        // split does not change any bits).
        let mut chunks = Vec::new();
        let mut rest = buf.as_mut_slice();
        for lo in (0..isi.len()).step_by(CHUNK) {
            let hi = (lo + CHUNK).min(isi.len());
            let (head, tail) = rest.split_at_mut(start[hi] - start[lo]);
            chunks.push((&isi[lo..hi], &active[lo..hi], head));
            rest = tail;
        }
        chunks.into_par_iter().for_each(|(isi, active, values)| {
            simd!(|mu: &'a [f64],
                   mu_min: f64,
                   isi: &'a [f64],
                   active: &'a [usize],
                   values: &'a mut [f64]|
             -> () {
                let mut e = values.iter_mut();
                for (&dt, &r) in isi.iter().zip(active) {
                    // mu first: zip stops at its end without taking one more value.
                    for (mk, v) in mu[..r].iter().zip(e.by_ref()) {
                        *v = exp_nonpositive(-(mk - mu_min) * dt);
                    }
                }
            }(mu, mu_min, isi, active, values))
        });
        Decays {
            values: buf,
            start,
            active,
        }
    }

    /// The values' allocation, for the next trial's decays.
    pub(crate) fn into_buffer(self) -> Vec<f64> {
        self.values
    }

    /// E_i (its first r_i components).
    #[inline(always)]
    pub(crate) fn of(&self, i: usize) -> &[f64] {
        &self.values[self.start[i]..self.start[i + 1]]
    }

    /// v <- E_i v; returns r_i (the entries of v beyond it become 0).
    #[inline(always)]
    pub(crate) fn apply(&self, i: usize, v: &mut [f64]) -> usize {
        let e = self.of(i);
        v.iter_mut().zip(e).for_each(|(x, y)| *x *= y);
        v[e.len()..].fill(0.0);
        e.len()
    }
}
