//! Peri-stimulus time histograms: trial-averaged firing rates of every neuron in a sliding
//! rectangular window, as the original package computes them for its figures.

use crate::error::DataError;
use crate::spike_data::SpikeData;

/// Most windows a PSTH may have (a window or step far too small for the data).
pub const MAX_PSTH_WINDOWS: usize = 1_000_000;

/// Trial-averaged firing rates: window centres t_k = window/2 + k step up to the longest trial.
/// A trial counts at t_k when the whole window [t_k - window/2, t_k + window/2) lies inside it,
/// so trials of different lengths (absorbed ones) are averaged over those still running.
#[derive(Debug, Clone, PartialEq)]
pub struct Psth {
    /// Window centres (s from the trial start).
    pub times: Vec<f64>,
    /// Rate per neuron and window (Hz): spikes in the window / window, averaged over trials;
    /// NaN where no trial covers the window.
    pub rate: Vec<Vec<f64>>,
    /// Standard error of that mean over trials (NaN with fewer than 2 trials).
    pub sem: Vec<Vec<f64>>,
    /// Trials covering each window.
    pub trials: Vec<usize>,
}

impl SpikeData {
    /// The PSTH of every neuron with a rectangular `window` (s) moved in steps of `step` (s).
    ///
    /// # Errors
    /// [`DataError::InvalidArgument`] if `window` or `step` is not a positive finite number, the
    /// window is longer than every trial, or there would be more than [`MAX_PSTH_WINDOWS`].
    pub fn psth(&self, window: f64, step: f64) -> Result<Psth, DataError> {
        for (name, v) in [("window", window), ("step", step)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(DataError::InvalidArgument(format!(
                    "PSTH {name} must be a positive number of seconds, got {v}"
                )));
            }
        }
        let longest = self
            .trials()
            .iter()
            .map(|t| t.duration())
            .fold(0.0, f64::max);
        if window > longest {
            return Err(DataError::InvalidArgument(format!(
                "the PSTH window {window} s is longer than the longest trial ({longest} s)"
            )));
        }
        let count = ((longest - window) / step).floor() + 1.0;
        if count > MAX_PSTH_WINDOWS as f64 {
            return Err(DataError::InvalidArgument(format!(
                "a PSTH window step of {step} s gives {count} windows over {longest} s (at most {MAX_PSTH_WINDOWS})"
            )));
        }
        let times: Vec<f64> = (0..count as usize)
            .map(|k| window / 2.0 + k as f64 * step)
            .collect();
        let k = self.num_neurons();
        let mut sum = vec![vec![0.0; times.len()]; k];
        let mut sum_sq = vec![vec![0.0; times.len()]; k];
        let mut trials = vec![0usize; times.len()];
        for trial in self.trials() {
            // Spike times per neuron (ascending).
            let mut spikes = vec![Vec::new(); k];
            let mut t = 0.0;
            for (dt, n) in trial.isi().iter().zip(trial.neuron()) {
                t += dt;
                if let Some(n) = n {
                    spikes[*n as usize].push(t);
                }
            }
            let duration = trial.duration();
            for (j, &c) in times.iter().enumerate() {
                let (lo, hi) = (c - window / 2.0, c + window / 2.0);
                if hi > duration * (1.0 + 1e-12) {
                    break;
                }
                trials[j] += 1;
                for (n, s) in spikes.iter().enumerate() {
                    let count = s.partition_point(|&x| x < hi) - s.partition_point(|&x| x < lo);
                    let r = count as f64 / window;
                    sum[n][j] += r;
                    sum_sq[n][j] += r * r;
                }
            }
        }
        let mut rate = vec![vec![f64::NAN; times.len()]; k];
        let mut sem = vec![vec![f64::NAN; times.len()]; k];
        for n in 0..k {
            for (j, &m) in trials.iter().enumerate() {
                if m == 0 {
                    continue;
                }
                let mean = sum[n][j] / m as f64;
                rate[n][j] = mean;
                if m > 1 {
                    let var = ((sum_sq[n][j] - m as f64 * mean * mean) / (m - 1) as f64).max(0.0);
                    sem[n][j] = (var / m as f64).sqrt();
                }
            }
        }
        Ok(Psth {
            times,
            rate,
            sem,
            trials,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{SpikeData, Trial};

    #[test]
    fn counts_spikes_in_windows_over_running_trials() {
        // Trial 0: 1 s, neuron 0 at 0.1, 0.2, 0.7; trial 1: 0.5 s, neuron 0 at 0.3.
        let t0 = Trial::new(
            vec![0.1, 0.1, 0.5, 0.3],
            vec![Some(0), Some(0), Some(0), None],
        )
        .unwrap();
        let t1 = Trial::new(vec![0.3, 0.2], vec![Some(0), None]).unwrap();
        let data = SpikeData::new(1, vec![t0, t1]).unwrap();
        let p = data.psth(0.5, 0.25).unwrap();
        assert_eq!(p.times, vec![0.25, 0.5, 0.75]);
        assert_eq!(p.trials, vec![2, 1, 1]);
        // Window [0, 0.5): trial 0 has 2 spikes (4 Hz), trial 1 has 1 (2 Hz).
        assert!((p.rate[0][0] - 3.0).abs() < 1e-12);
        assert!((p.sem[0][0] - 1.0).abs() < 1e-12);
        // [0.25, 0.75): trial 0 only, one spike (0.7).
        assert!((p.rate[0][1] - 2.0).abs() < 1e-12 && p.sem[0][1].is_nan());
        // [0.5, 1.0): one spike.
        assert!((p.rate[0][2] - 2.0).abs() < 1e-12);
    }

    #[test]
    fn rejects_bad_windows() {
        let t = Trial::new(vec![0.5], vec![None]).unwrap();
        let data = SpikeData::new(1, vec![t]).unwrap();
        for (w, s) in [
            (0.0, 0.1),
            (0.1, -1.0),
            (f64::NAN, 0.1),
            (1.0, 0.1),
            (0.1, 1e-12),
        ] {
            let err = data.psth(w, s).unwrap_err().to_string();
            assert!(err.contains("PSTH") || err.contains("window"), "{err}");
        }
    }
}
