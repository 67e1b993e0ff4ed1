//! The figures of `latentflow decode`: one panel per trial, and the PSTHs.

use latentflow::data::{Psth, SpikeData};
use latentflow::likelihood::Model;

use super::Decoded;
use super::truth::TrueLatent;
use crate::plots::{Band, LinePlot, Points, Series, Style};

/// One trial's panel: posterior band and mean, Viterbi path, true latent, spike raster below.
pub(super) fn trial_panel(
    d: &Decoded,
    data: &SpikeData,
    model: &Model,
    truth: Option<&TrueLatent>,
) -> LinePlot {
    let grid = model.grid();
    let p = &d.posterior;
    let mut plot = LinePlot::new(format!("trial {}", d.trial), "t (s)", "x");
    plot.bands.push(Band {
        label: "posterior 90%".into(),
        x: p.times.clone(),
        lower: p.lower.clone(),
        upper: p.upper.clone(),
        colour: 0,
    });
    plot.series.push(Series::new(
        "posterior mean",
        p.times.clone(),
        p.mean.clone(),
    ));
    if let Some(v) = &d.viterbi {
        plot.series.push(
            Series::new("Viterbi", v.times.clone(), v.x.clone()).style(Style::colour(1).width(1)),
        );
    }
    if let Some(t) = truth {
        plot.series.push(
            Series::new("true latent", t.t.clone(), t.x.clone())
                .style(Style::colour(2).dashed().width(1)),
        );
    }
    let trial = &data.trials()[d.trial];
    let k = data.num_neurons();
    let row = (grid.xend() - grid.xbegin()) * 0.04;
    let mut spikes = vec![(Vec::new(), Vec::new()); k];
    let mut t = 0.0;
    for (dt, n) in trial.isi().iter().zip(trial.neuron()) {
        t += dt;
        if let Some(n) = n {
            let n = *n as usize;
            spikes[n].0.push(t);
            spikes[n].1.push(grid.xbegin() - row * (n as f64 + 1.0));
        }
    }
    for (n, (x, y)) in spikes.into_iter().enumerate() {
        plot.points.push(Points {
            label: if n == 0 {
                "spikes (a row per neuron)".into()
            } else {
                String::new()
            },
            x,
            y,
            colour: 3,
            radius: 1,
        });
    }
    plot.y_range = Some((grid.xbegin() - row * (k as f64 + 1.5), grid.xend() + row));
    plot
}

/// The data's PSTH (± one standard error) and the model's, per neuron (the first 12).
pub(super) fn psth_panels(psth: &Psth, predicted: &[Vec<f64>]) -> Vec<LinePlot> {
    (0..psth.rate.len().min(12))
        .map(|n| {
            let mut plot = LinePlot::new(format!("neuron {n}"), "t (s)", "rate (Hz)");
            let lower = psth.rate[n]
                .iter()
                .zip(&psth.sem[n])
                .map(|(r, s)| r - s.max(0.0))
                .collect();
            let upper = psth.rate[n]
                .iter()
                .zip(&psth.sem[n])
                .map(|(r, s)| r + s.max(0.0))
                .collect();
            plot.bands.push(Band {
                label: String::new(),
                x: psth.times.clone(),
                lower,
                upper,
                colour: 0,
            });
            plot.series.push(Series::new(
                "data (± s.e.m.)",
                psth.times.clone(),
                psth.rate[n].clone(),
            ));
            plot.series.push(
                Series::new("model", psth.times.clone(), predicted[n].clone())
                    .style(Style::colour(1).dashed()),
            );
            plot
        })
        .collect()
}
