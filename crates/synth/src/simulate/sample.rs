//! One simulated trial: its spikes, its length and, if recorded, its latent path.

use latentflow_data::Trial;
use serde::{Deserialize, Serialize};

use crate::SynthError;

/// A recorded latent path: x(t_i) at times t_i (s from the trial start).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatentPath {
    /// Times (s), increasing; the last one is the trial end.
    pub t: Vec<f64>,
    /// Latent state at those times.
    pub x: Vec<f64>,
}

/// One spike.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spike {
    /// Time from the trial start (s).
    pub time: f64,
    /// Neuron id.
    pub neuron: u32,
}

/// One simulated trial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialSample {
    /// Spikes of all neurons, in time order, all before `duration`.
    pub spikes: Vec<Spike>,
    /// Trial length (s): the drawn length, or the exit time if absorbed.
    pub duration: f64,
    /// The latent state left the domain (absorbing bounds) at `duration`.
    pub absorbed: bool,
    /// Absorbing bounds, but the trial reached its length before absorption.
    pub censored: bool,
    /// The latent path, if recorded.
    pub latent: Option<LatentPath>,
}

impl TrialSample {
    /// The trial as inter-event intervals: one per spike, then the silent tail to the end.
    pub fn to_trial(&self) -> Result<Trial, SynthError> {
        let mut isi = Vec::with_capacity(self.spikes.len() + 1);
        let mut neuron = Vec::with_capacity(self.spikes.len() + 1);
        let mut prev = 0.0;
        for s in &self.spikes {
            isi.push(s.time - prev);
            neuron.push(Some(s.neuron));
            prev = s.time;
        }
        isi.push(self.duration - prev);
        neuron.push(None);
        Ok(Trial::new(isi, neuron)?.with_censored(self.censored))
    }

    /// Cuts the trial at `end` < duration: later spikes and path points are dropped (the path
    /// gets a linearly interpolated point at `end`); a cut absorbing trial is censored.
    pub(super) fn truncate(&mut self, end: f64, absorbing: bool) {
        self.spikes.retain(|s| s.time < end);
        self.duration = end;
        self.absorbed = false;
        self.censored = absorbing;
        if let Some(path) = &mut self.latent {
            let keep = path.t.partition_point(|&t| t < end);
            if keep < path.t.len() {
                let x_end = if keep == 0 {
                    path.x[0]
                } else {
                    let (t0, t1) = (path.t[keep - 1], path.t[keep]);
                    let (x0, x1) = (path.x[keep - 1], path.x[keep]);
                    x0 + (x1 - x0) * (end - t0) / (t1 - t0)
                };
                path.t.truncate(keep);
                path.x.truncate(keep);
                path.t.push(end);
                path.x.push(x_end);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_cuts_spikes_and_path() {
        let mut s = TrialSample {
            spikes: vec![
                Spike {
                    time: 0.1,
                    neuron: 0,
                },
                Spike {
                    time: 0.6,
                    neuron: 0,
                },
            ],
            duration: 1.0,
            absorbed: false,
            censored: false,
            latent: Some(LatentPath {
                t: vec![0.0, 0.4, 0.8, 1.0],
                x: vec![0.0, 0.4, 0.8, 0.5],
            }),
        };
        s.truncate(0.5, true);
        assert_eq!(s.spikes.len(), 1);
        assert_eq!(s.duration, 0.5);
        assert!(s.censored);
        let p = s.latent.unwrap();
        assert_eq!(p.t, vec![0.0, 0.4, 0.5]);
        assert!((p.x[2] - 0.5).abs() < 1e-12);
    }
}
