//! Figures per task condition of the selected models: each condition's p0 for non-stationary
//! fits (`initial_densities.png/.svg`) and each condition's potential when the potential is
//! kept per condition (`condition_potentials.png/.svg`), with their JSON for the report.

use std::path::Path;
use std::sync::Arc;

use latentflow::PipelineResult;
use latentflow::likelihood::Sharing;
use latentflow::optim::SavedModel;
use latentflow::orientation::{Orientation, mirrored};
use latentflow::spectral::Grid;
use serde_json::{Value, json};

use crate::plots::{GREY, Legend, LinePlot, Series, Style, save_panels};
use crate::report::{potential, potential_range};

/// Which density of a condition's model a figure shows.
#[derive(Clone, Copy)]
enum Shown {
    /// The initial density p0, drawn as a density.
    P0,
    /// The equilibrium density, drawn as the potential -ln peq.
    Potential,
}

/// One density of each condition of `saved` (in the comparison's orientation for half 2);
/// empty if the models have no p0 and p0 is asked for.
fn per_condition(
    saved: &SavedModel,
    grid: &Arc<Grid>,
    result: &PipelineResult,
    half: usize,
    shown: Shown,
) -> anyhow::Result<Vec<Vec<f64>>> {
    let models = saved.params.to_models(grid, result.paths[half].boundary)?;
    let turn = half == 1 && result.orientation.half2 == Orientation::Mirrored;
    Ok(models
        .models()
        .iter()
        .filter_map(|m| match shown {
            Shown::P0 => m.p0(),
            Shown::Potential => Some(m.peq()),
        })
        .map(|p| if turn { mirrored(p) } else { p.to_vec() })
        .collect())
}

/// Draws one density per condition at feature consistency and best generalisation, both
/// halves (rows: conditions; columns: the methods) into `out/STEM.png/.svg`, with the true
/// density of each condition if given; returns the densities as JSON, or `None` if there is
/// nothing to draw.
fn figure(
    result: &PipelineResult,
    grid: &Arc<Grid>,
    truth: &[Vec<f64>],
    shown: Shown,
    out: &Path,
) -> anyhow::Result<Option<Value>> {
    let fc = &result.feature_consistency.selected;
    let bg = &result.best_generalization;
    let picks = [
        ("feature consistency", [fc.index1, fc.index2]),
        ("best generalisation", [bg[0].index, bg[1].index]),
    ];
    let (stem, what, y) = match shown {
        Shown::P0 => ("initial_densities", "p0", "p0"),
        Shown::Potential => ("condition_potentials", "potential", "Phi = -ln peq"),
    };
    let draw = |p: &[f64]| match shown {
        Shown::P0 => p.to_vec(),
        Shown::Potential => potential(p),
    };
    let mut columns: Vec<Vec<LinePlot>> = Vec::new();
    let mut per_method = Vec::new();
    for (label, index) in picks {
        let halves = [
            per_condition(&result.paths[0].models[index[0]], grid, result, 0, shown)?,
            per_condition(&result.paths[1].models[index[1]], grid, result, 1, shown)?,
        ];
        if halves[0].is_empty() {
            return Ok(None);
        }
        let x = grid.x().to_vec();
        let mut column = Vec::new();
        for c in 0..halves[0].len() {
            let mut plot = LinePlot::new(format!("Condition {c}: {what} at {label}"), "x", y);
            plot.legend = Legend::UpperLeft;
            if let Some(t) = truth.get(c) {
                plot.series.push(
                    Series::new("ground truth", x.clone(), draw(t)).style(Style::colour(GREY)),
                );
            }
            if let Shown::Potential = shown {
                let drawn = [draw(&halves[0][c]), draw(&halves[1][c])];
                plot.y_range = potential_range(&drawn, truth.get(c).map(|t| &t[..]));
            }
            for (h, dens) in halves.iter().enumerate() {
                let style = Style::colour(c);
                let style = if h == 1 { style.dashed() } else { style };
                plot.series.push(
                    Series::new(format!("half {}", h + 1), x.clone(), draw(&dens[c])).style(style),
                );
            }
            column.push(plot);
        }
        columns.push(column);
        per_method.push(json!({ "half1": halves[0], "half2": halves[1] }));
    }
    let panels: Vec<LinePlot> = (0..columns[0].len())
        .flat_map(|c| columns.iter().map(move |col| col[c].clone()))
        .collect();
    save_panels(&panels, 2, &out.join(stem))?;
    Ok(Some(json!({
        "x": grid.x(),
        "w": grid.w(),
        "feature_consistency": per_method[0],
        "best_generalization": per_method[1],
    })))
}

/// Writes the figures that apply to `result` and returns the report's keys for them:
/// `initial_densities` (each condition's p0; non-stationary fits, truth `truth_p0`) and
/// `condition_potentials` (each condition's peq; when the potential is kept per condition).
pub fn write(
    result: &PipelineResult,
    grid: &Arc<Grid>,
    truth_p0: Option<&[Vec<f64>]>,
    out: &Path,
) -> anyhow::Result<Vec<(&'static str, Value)>> {
    let mut keys = Vec::new();
    if let Some(v) = figure(result, grid, truth_p0.unwrap_or_default(), Shown::P0, out)? {
        keys.push(("initial_densities", v));
    }
    let own_potential = result.paths[0].models[0]
        .params
        .conditions
        .as_ref()
        .is_some_and(|c| c.sharing.force == Sharing::PerCondition);
    if own_potential && let Some(v) = figure(result, grid, &[], Shown::Potential, out)? {
        keys.push(("condition_potentials", v));
    }
    Ok(keys)
}
