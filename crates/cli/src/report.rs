//! Figures and JSON reports of fits and of the pipeline.
//!
//! Potentials are drawn as Phi = -ln peq shifted to a minimum of 0 (the paper's convention);
//! -log L curves as the change from the initial model, so training and validation share an
//! axis; iterations on a log axis (iteration 0 is drawn at 1).

use std::path::Path;

use anyhow::Context;
use latentflow::PipelineResult;
use latentflow::optim::{FitPath, SavedModel};
use latentflow::orientation::{Orientation, fitted_rates, mirrored};
use latentflow::select::FeatureConsistencyResult;
use latentflow::spectral::Grid;
use serde_json::{Value, json};

use crate::plots::{
    Band, GREY, HLine, Legend, LinePlot, Points, Series, Style, VLine, save, save_panels,
};

/// Phi = -ln peq, shifted so that its minimum is 0.
pub fn potential(peq: &[f64]) -> Vec<f64> {
    let phi: Vec<f64> = peq.iter().map(|p| -p.ln()).collect();
    let min = phi.iter().copied().fold(f64::INFINITY, f64::min);
    phi.iter().map(|v| v - min).collect()
}

/// A y range for potential plots: the walls of a fitted potential near the domain ends can rise
/// far above the wells, so the axis stops at 1.5 x the ground truth's maximum (or, without a
/// truth, at 1.5 x the 90th percentile of the drawn potentials).
pub fn potential_range(drawn: &[Vec<f64>], truth: Option<&[f64]>) -> Option<(f64, f64)> {
    let top = match truth {
        Some(t) => potential(t).into_iter().fold(0.0, f64::max),
        None => {
            let mut all: Vec<f64> = drawn
                .iter()
                .flatten()
                .copied()
                .filter(|v| v.is_finite())
                .collect();
            all.sort_by(f64::total_cmp);
            *all.get(all.len() * 9 / 10)?
        }
    };
    (top > 0.0).then_some((-0.05 * 1.5 * top, 1.5 * top))
}

/// The ground truth (a density on the nodes `x`) as a grey dashed line.
pub fn truth_series(x: &[f64], truth: &[f64]) -> Series {
    Series::new("ground truth", x.to_vec(), potential(truth))
        .style(Style::colour(GREY).dashed().width(3))
}

/// Training and validation -log L (change from iteration 0) against iteration, from the saved
/// models (log-spaced), with the best-generalisation point if there is validation data.
fn loglik_panel(path: &FitPath, title: &str, best: Option<u64>) -> LinePlot {
    let models = &path.models;
    let it: Vec<f64> = models
        .iter()
        .map(|m| (m.record.iteration as f64).max(1.0))
        .collect();
    let mut plot = LinePlot::new(title, "iteration", "-log L - (-log L at iteration 0)");
    plot.log_x = true;
    plot.legend = Legend::UpperRight;
    if let Some(first) = models.first() {
        let t0 = first.record.train_neg_loglik;
        plot.series.push(
            Series::new(
                "training",
                it.clone(),
                models
                    .iter()
                    .map(|m| m.record.train_neg_loglik - t0)
                    .collect(),
            )
            .style(Style::colour(0)),
        );
        if let Some(v0) = first.record.validation_neg_loglik {
            let val = |m: &SavedModel| m.record.validation_neg_loglik.map_or(f64::NAN, |v| v - v0);
            plot.series.push(
                Series::new("validation", it.clone(), models.iter().map(val).collect())
                    .style(Style::colour(1)),
            );
            if let Some(m) = best.and_then(|b| models.iter().find(|m| m.record.iteration == b)) {
                plot.points.push(Points {
                    label: format!("best generalisation (iteration {})", m.record.iteration),
                    x: vec![(m.record.iteration as f64).max(1.0)],
                    y: vec![val(m)],
                    colour: 3,
                    radius: 6,
                });
            }
        }
    }
    plot
}

/// The plateau of one fit, where the models the selection chooses between lie: training and
/// validation -log L relative to their values at the validation minimum, from the first saved
/// model whose validation -log L is within max(2, 2% of the initial drop) nats of the minimum;
/// the validation minimum (best generalisation) and the feature-consistency model marked.
fn plateau_panel(path: &FitPath, title: &str, consistent: Option<u64>) -> Option<LinePlot> {
    let models = &path.models;
    let val = |m: &SavedModel| m.record.validation_neg_loglik;
    let (best, v_min) = models
        .iter()
        .enumerate()
        .filter_map(|(k, m)| val(m).map(|v| (k, v)))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    let drop = val(&models[0]).map_or(0.0, |v0| v0 - v_min);
    let within = (0.02 * drop).max(2.0);
    let start = models
        .iter()
        .position(|m| val(m).is_some_and(|v| v <= v_min + within))?;
    let shown = &models[start..];
    let it: Vec<f64> = shown
        .iter()
        .map(|m| (m.record.iteration as f64).max(1.0))
        .collect();
    let t_best = models[best].record.train_neg_loglik;
    let train: Vec<f64> = shown
        .iter()
        .map(|m| m.record.train_neg_loglik - t_best)
        .collect();
    let v: Vec<f64> = shown
        .iter()
        .map(|m| val(m).map_or(f64::NAN, |v| v - v_min))
        .collect();
    let mut plot = LinePlot::new(
        title,
        "iteration",
        "-log L - (-log L at the validation minimum)",
    );
    plot.log_x = true;
    plot.legend = Legend::UpperRight;
    let (lo, hi) = train
        .iter()
        .chain(&v)
        .filter(|y| y.is_finite())
        .fold((0.0f64, within), |(a, b), &y| (a.min(y), b.max(y)));
    let pad = 0.08 * (hi - lo);
    plot.y_range = Some((lo - pad, hi + pad));
    plot.series
        .push(Series::new("training", it.clone(), train).style(Style::colour(0)));
    plot.series
        .push(Series::new("validation", it, v).style(Style::colour(1)));
    plot.points.push(Points {
        label: format!(
            "best generalisation (iteration {})",
            models[best].record.iteration
        ),
        x: vec![(models[best].record.iteration as f64).max(1.0)],
        y: vec![0.0],
        colour: 3,
        radius: 6,
    });
    if let Some(m) = consistent.and_then(|c| models.iter().find(|m| m.record.iteration == c)) {
        plot.points.push(Points {
            label: format!("feature consistency (iteration {})", m.record.iteration),
            x: vec![(m.record.iteration as f64).max(1.0)],
            y: vec![val(m).map_or(f64::NAN, |v| v - v_min)],
            colour: 2,
            radius: 6,
        });
    }
    Some(plot)
}

/// Saved models at about `k` log-spaced iterations (always the first and the last).
fn spread(models: &[SavedModel], k: usize) -> Vec<&SavedModel> {
    let n = models.len();
    if n <= k {
        return models.iter().collect();
    }
    let mut idx: Vec<usize> = (0..k).map(|j| j * (n - 1) / (k - 1)).collect();
    idx.dedup();
    idx.into_iter().map(|i| &models[i]).collect()
}

/// Plots of one fit: `potentials` (models along the path over the ground truth, if known) and
/// `loglik` (training and validation curves).
pub fn fit_plots(
    grid: &Grid,
    path: &FitPath,
    truth: Option<&[f64]>,
    out: &Path,
) -> anyhow::Result<()> {
    let mut pot = LinePlot::new("Potential along the fit", "x", "Phi = -ln peq");
    pot.legend = Legend::UpperLeft;
    if let Some(t) = truth {
        pot.series.push(truth_series(grid.x(), t));
    }
    let shown = spread(&path.models, 6);
    let drawn: Vec<Vec<f64>> = shown.iter().map(|m| potential(&m.peq)).collect();
    pot.y_range = potential_range(&drawn, truth);
    for (k, (m, phi)) in shown.iter().zip(drawn).enumerate() {
        pot.series.push(
            Series::new(
                format!("iteration {}", m.record.iteration),
                grid.x().to_vec(),
                phi,
            )
            .style(Style::colour(k)),
        );
    }
    save(&pot, &out.join("potentials"))?;
    let best = path
        .models
        .iter()
        .filter_map(|m| {
            m.record
                .validation_neg_loglik
                .map(|v| (m.record.iteration, v))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i);
    save(
        &loglik_panel(path, "-log L along the fit", best),
        &out.join("loglik"),
    )?;
    Ok(())
}

/// The potential panel of one selection method: the two halves' selected models, the band
/// between them, and the ground truth.
fn selection_panel(grid: &Grid, title: &str, peqs: [&[f64]; 2], truth: Option<&[f64]>) -> LinePlot {
    let x = grid.x().to_vec();
    let [a, b] = [potential(peqs[0]), potential(peqs[1])];
    let mut plot = LinePlot::new(title, "x", "Phi = -ln peq");
    plot.legend = Legend::UpperLeft;
    plot.y_range = potential_range(&[a.clone(), b.clone()], truth);
    plot.bands.push(Band {
        label: "between the halves".into(),
        x: x.clone(),
        lower: a.iter().zip(&b).map(|(u, v)| u.min(*v)).collect(),
        upper: a.iter().zip(&b).map(|(u, v)| u.max(*v)).collect(),
        colour: 0,
    });
    if let Some(t) = truth {
        plot.series.push(truth_series(grid.x(), t));
    }
    plot.series
        .push(Series::new("half 1", x.clone(), a).style(Style::colour(0)));
    plot.series
        .push(Series::new("half 2", x, b).style(Style::colour(0).dashed()));
    plot
}

/// Divergence against feature complexity with the threshold and M*.
fn divergence_panel(fc: &FeatureConsistencyResult, title: &str) -> LinePlot {
    let mut plot = LinePlot::new(title, "feature complexity", "divergence between the halves");
    plot.legend = Legend::UpperLeft;
    plot.series.push(Series::new(
        "divergence",
        fc.axis.clone(),
        fc.divergence
            .iter()
            .map(|d| d.unwrap_or(f64::NAN))
            .collect(),
    ));
    plot.hlines.push(HLine {
        y: fc.threshold,
        label: format!("threshold {}", fc.threshold),
        style: Style::colour(GREY).dashed(),
    });
    plot.vlines.push(VLine {
        x: fc.m_star,
        label: format!("M* = {:.2}", fc.m_star),
        style: Style::colour(3).dashed(),
    });
    plot
}

/// The tuning curves f_n(x) of one selection's two models (half 1 solid, half 2 dashed, in
/// the orientation of the comparison), one colour per neuron; `None` if the rates were not
/// fitted.
fn tuning_panel(
    grid: &Grid,
    title: &str,
    models: [&SavedModel; 2],
    orientation: Orientation,
) -> anyhow::Result<Option<LinePlot>> {
    let (Some(a), Some(b)) = (
        fitted_rates(grid, &models[0].params.rates)?,
        fitted_rates(grid, &models[1].params.rates)?,
    ) else {
        return Ok(None);
    };
    let x = grid.x().to_vec();
    let mut plot = LinePlot::new(title, "x", "firing rate f_n(x) (Hz)");
    plot.legend = Legend::UpperLeft;
    for (n, (fa, fb)) in a.iter().zip(&b).enumerate() {
        let fb = match orientation {
            Orientation::AsFitted => fb.clone(),
            Orientation::Mirrored => mirrored(fb),
        };
        let (la, lb) = if n == 0 {
            ("half 1 (solid)", "half 2 (dashed)")
        } else {
            ("", "")
        };
        plot.series
            .push(Series::new(la, x.clone(), fa.clone()).style(Style::colour(n)));
        plot.series
            .push(Series::new(lb, x.clone(), fb).style(Style::colour(n).dashed()));
    }
    Ok(Some(plot))
}

/// The density of a model on the grid, as the per-sample files store it.
pub fn density_json(grid: &Grid, peq: &[f64]) -> Value {
    json!({ "x": grid.x(), "w": grid.w(), "peq": peq })
}

/// JSON of one feature-consistency result: M*, the selected pair, warnings, the curve.
fn consistency_json(
    fc: &FeatureConsistencyResult,
    paths: &[FitPath; 2],
    grid: &Grid,
    turn: &dyn Fn(&[f64]) -> Vec<f64>,
) -> Value {
    let s = &fc.selected;
    json!({
        "divergence": fc.config.divergence,
        "threshold": fc.threshold,
        "m_star": fc.m_star,
        "crossed": fc.crossed,
        "selected": s,
        "warnings": fc.warnings,
        "curve": { "feature_complexity": fc.axis, "divergence": fc.divergence },
        "half1": density_json(grid, &paths[0].models[s.index1].peq),
        "half2": density_json(grid, &turn(&paths[1].models[s.index2].peq)),
    })
}

/// What step control did along a fit: steps rejected because the training -log L rose, and
/// the smallest factor the learning rates came down to.
pub fn step_control_json(path: &FitPath) -> Value {
    let rejected: u64 = path.records.iter().map(|r| r.rejected_steps as u64).sum();
    let first = path.records.iter().find(|r| r.rejected_steps > 0);
    let smallest = path
        .records
        .iter()
        .map(|r| r.step_factor)
        .fold(1.0, f64::min);
    json!({
        "rejected_steps": rejected,
        "first_rejection_at": first.map(|r| r.iteration),
        "smallest_step_factor": smallest,
        "final_step_factor": path.records.last().map(|r| r.step_factor),
    })
}

/// The warning, in words, for a fit in which steps were rejected (`label`: "half 1", "fit"),
/// printed to stderr. `None` if every step was taken.
pub fn step_warning(path: &FitPath, label: &str) -> Option<String> {
    let rejected: u64 = path.records.iter().map(|r| r.rejected_steps as u64).sum();
    let first = path.records.iter().find(|r| r.rejected_steps > 0)?;
    let smallest = path
        .records
        .iter()
        .map(|r| r.step_factor)
        .fold(1.0, f64::min);
    let warning = format!(
        "{label}: {rejected} step{s} raised the training -log L and {was} not taken (first at \
         iteration {it}); the learning rates were scaled down to {smallest:.3} of their set \
         values at the lowest and the fit went on from the last good model. Many rejections \
         mean the rates are too large for these data (--lr, docs/guide.md).",
        s = if rejected == 1 { "" } else { "s" },
        was = if rejected == 1 { "was" } else { "were" },
        it = first.iteration,
    );
    eprintln!("warning: {warning}");
    Some(warning)
}

/// Writes the pipeline's report into `out`: `report.json` (settings, M*, the selected models,
/// the curves, timing, versions; `extra` is merged in) and the figures `potentials`,
/// `loglik`, `divergence` (PNG and SVG). Returns the JSON.
pub fn pipeline_report(
    result: &PipelineResult,
    grid: &Grid,
    truth: Option<&[f64]>,
    extra: Value,
    out: &Path,
) -> anyhow::Result<Value> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let paths = &result.paths;
    let kl = &result.feature_consistency;
    let bg = &result.best_generalization;
    let orientation = result.orientation.half2;
    // Half 2's densities in the orientation of the comparison.
    let turn = |peq: &[f64]| match orientation {
        Orientation::AsFitted => peq.to_vec(),
        Orientation::Mirrored => mirrored(peq),
    };
    let fc_models = [
        &paths[0].models[kl.selected.index1],
        &paths[1].models[kl.selected.index2],
    ];
    let bg_models = [&paths[0].models[bg[0].index], &paths[1].models[bg[1].index]];
    let fc_half2 = turn(&fc_models[1].peq);
    let bg_half2 = turn(&bg_models[1].peq);
    let fc_peqs = [fc_models[0].peq.as_slice(), fc_half2.as_slice()];
    let bg_peqs = [bg_models[0].peq.as_slice(), bg_half2.as_slice()];
    let mut panels = vec![
        selection_panel(
            grid,
            &format!("Feature consistency (M* = {:.2})", kl.m_star),
            fc_peqs,
            truth,
        ),
        selection_panel(
            grid,
            &format!(
                "Best generalisation (iterations {} / {})",
                bg[0].iteration, bg[1].iteration
            ),
            bg_peqs,
            truth,
        ),
    ];
    let tuning = [
        tuning_panel(
            grid,
            "Tuning at feature consistency",
            fc_models,
            orientation,
        )?,
        tuning_panel(
            grid,
            "Tuning at best generalisation",
            bg_models,
            orientation,
        )?,
    ];
    panels.extend(tuning.into_iter().flatten());
    save_panels(&panels, 2, &out.join("potentials"))?;
    let mut loglik = vec![
        loglik_panel(
            &paths[0],
            "Half 1 (validated on half 2): the whole fit",
            Some(bg[0].iteration),
        ),
        loglik_panel(
            &paths[1],
            "Half 2 (validated on half 1): the whole fit",
            Some(bg[1].iteration),
        ),
    ];
    let consistent = [kl.selected.iteration1, kl.selected.iteration2];
    loglik.extend((0..2).filter_map(|k| {
        plateau_panel(
            &paths[k],
            &format!("Half {}: the plateau", k + 1),
            Some(consistent[k]),
        )
    }));
    save_panels(&loglik, 2, &out.join("loglik"))?;
    save_panels(
        &[
            divergence_panel(kl, "Feature consistency: symmetrised KL"),
            divergence_panel(
                &result.feature_consistency_js,
                "Feature consistency: Jensen-Shannon",
            ),
        ],
        2,
        &out.join("divergence"),
    )?;
    let bg_json = |k: usize| {
        json!({
            "iteration": bg[k].iteration,
            "validation_neg_loglik": bg[k].validation_neg_loglik,
            "feature_complexity": bg[k].feature_complexity,
            "model": density_json(grid, bg_peqs[k]),
        })
    };
    let curve = |p: &FitPath| {
        json!({
            "iteration": p.models.iter().map(|m| m.record.iteration).collect::<Vec<_>>(),
            "train_neg_loglik": p.models.iter().map(|m| m.record.train_neg_loglik).collect::<Vec<_>>(),
            "validation_neg_loglik": p.models.iter().map(|m| m.record.validation_neg_loglik).collect::<Vec<_>>(),
            "feature_complexity": p.models.iter().map(|m| m.record.feature_complexity).collect::<Vec<_>>(),
        })
    };
    let mut report = json!({
        "format": "latentflow-report",
        "version": 1,
        "latentflow_version": env!("CARGO_PKG_VERSION"),
        "settings": result.config,
        "iterations": result.iterations,
        "stopped_early": result.stopped_early,
        "seconds": result.seconds,
        "orientation": result.orientation,
        "feature_consistency": consistency_json(kl, paths, grid, &turn),
        "feature_consistency_js": consistency_json(&result.feature_consistency_js, paths, grid, &turn),
        "best_generalization": { "half1": bg_json(0), "half2": bg_json(1) },
        "curves": { "half1": curve(&paths[0]), "half2": curve(&paths[1]) },
        "fit_warnings": result.paths.iter().zip(["half 1", "half 2"])
            .filter_map(|(p, label)| step_warning(p, label))
            .collect::<Vec<_>>(),
        "step_control": {
            "half1": step_control_json(&paths[0]),
            "half2": step_control_json(&paths[1]),
        },
    });
    if let (Value::Object(map), Value::Object(more)) = (&mut report, extra) {
        map.extend(more);
    }
    let file = out.join("report.json");
    latentflow::data::write_atomic(&file, serde_json::to_string_pretty(&report)?.as_bytes())
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(report)
}
