//! The initial densities p0 of the selected non-stationary models, one panel per task
//! condition (`initial_densities.png/.svg`), and their JSON for the report.

use std::path::Path;

use latentflow::PipelineResult;
use latentflow::optim::SavedModel;
use latentflow::orientation::{Orientation, mirrored};
use latentflow::spectral::Grid;
use serde_json::{Value, json};

use crate::plots::{GREY, Legend, LinePlot, Series, Style, save_panels};

/// p0 of each condition of `saved` (in the comparison's orientation for half 2).
fn initial_densities(
    saved: &SavedModel,
    grid: &std::sync::Arc<Grid>,
    result: &PipelineResult,
    half: usize,
) -> anyhow::Result<Vec<Vec<f64>>> {
    let models = saved.params.to_models(grid, result.paths[half].boundary)?;
    let turn = half == 1 && result.orientation.half2 == Orientation::Mirrored;
    Ok(models
        .models()
        .iter()
        .filter_map(|m| m.p0())
        .map(|p0| if turn { mirrored(p0) } else { p0.to_vec() })
        .collect())
}

/// Draws p0 of the feature-consistency and best-generalisation selections of both halves,
/// a row per condition, with the true p0 of each condition if given; returns their JSON
/// (`None` for equilibrium models, which have no p0).
pub fn write(
    result: &PipelineResult,
    grid: &std::sync::Arc<Grid>,
    truth: Option<&[Vec<f64>]>,
    out: &Path,
) -> anyhow::Result<Option<Value>> {
    let fc = &result.feature_consistency.selected;
    let bg = &result.best_generalization;
    let picks = [
        ("feature consistency", [fc.index1, fc.index2]),
        ("best generalisation", [bg[0].index, bg[1].index]),
    ];
    let mut panels = Vec::new();
    let mut per_method = Vec::new();
    for (label, index) in picks {
        let halves = [
            initial_densities(&result.paths[0].models[index[0]], grid, result, 0)?,
            initial_densities(&result.paths[1].models[index[1]], grid, result, 1)?,
        ];
        if halves[0].is_empty() {
            return Ok(None);
        }
        per_method.push(json!({ "half1": halves[0], "half2": halves[1] }));
        for c in 0..halves[0].len() {
            let x = grid.x().to_vec();
            let mut plot = LinePlot::new(format!("Condition {c}: p0 at {label}"), "x", "p0");
            plot.legend = Legend::UpperLeft;
            if let Some(t) = truth.and_then(|t| t.get(c)) {
                plot.series.push(
                    Series::new("ground truth", x.clone(), t.clone()).style(Style::colour(GREY)),
                );
            }
            plot.series.push(
                Series::new("half 1", x.clone(), halves[0][c].clone()).style(Style::colour(c)),
            );
            plot.series.push(
                Series::new("half 2", x, halves[1][c].clone()).style(Style::colour(c).dashed()),
            );
            panels.push(plot);
        }
    }
    // Rows: conditions; columns: the two methods.
    let n = panels.len() / 2;
    let ordered: Vec<LinePlot> = (0..n)
        .flat_map(|c| [panels[c].clone(), panels[n + c].clone()])
        .collect();
    save_panels(&ordered, 2, &out.join("initial_densities"))?;
    Ok(Some(json!({
        "x": grid.x(),
        "w": grid.w(),
        "feature_consistency": per_method[0],
        "best_generalization": per_method[1],
    })))
}
