//! The summary of an experiment: merging the sample results of one or more directories into
//! `summary.json`, its one-line account, and the summary figures.

use std::path::{Path, PathBuf};

use anyhow::bail;
use latentflow::recovery::{RECOVERY_KL, WELL_PROMINENCE};
use latentflow::synth::Potential;
use serde_json::{Value, json};

use super::results::{MethodResult, SampleResult, portable_settings, read_results};
use crate::plots::{GREY, HLine, LinePlot, Points, Series, Style, save_panels};
use crate::report::{potential, potential_range, truth_series};

/// Reads every `sample-*/result.json` under `dirs`, writes `out/summary.json` and the summary
/// figures, and returns the summary. The summary depends only on the sample results (no
/// timings), so merged shards give the same file as one unsharded run.
pub fn merge(dirs: &[PathBuf], out: &Path) -> anyhow::Result<Value> {
    let results = read_results(dirs)?;
    if let Some(r) = results
        .iter()
        .find(|r| r.experiment != results[0].experiment)
    {
        bail!(
            "sample {} is from {}, not {}",
            r.sample,
            r.experiment,
            results[0].experiment
        );
    }
    let method = |m: fn(&SampleResult) -> &MethodResult| {
        let n = results.iter().filter(|r| m(r).recovered).count();
        json!({
            "recovered": n,
            "failed": results.len() - n,
            "kl_to_truth": results.iter().map(|r| m(r).kl_to_truth[0]).collect::<Vec<_>>(),
            "wells": results.iter().map(|r| m(r).wells[0].len()).collect::<Vec<_>>(),
        })
    };
    let per_sample: Vec<Value> = results
        .iter()
        .map(|r| {
            let m = |m: &MethodResult| {
                json!({
                    "feature_complexity": m.feature_complexity,
                    "iteration": m.iteration,
                    "kl_to_truth": m.kl_to_truth,
                    "wells": m.wells,
                    "recovered": m.recovered,
                })
            };
            json!({
                "sample": r.sample, "seed": r.seed, "spikes": r.spikes, "trials": r.trials,
                "iterations": r.iterations, "stopped_early": r.stopped_early,
                "feature_consistency": m(&r.feature_consistency),
                "best_generalization": m(&r.best_generalization),
            })
        })
        .collect();
    let summary = json!({
        "format": "latentflow-experiment-summary",
        "version": 1,
        "experiment": results[0].experiment,
        "samples": results.len(),
        "true_wells": results[0].true_wells,
        "well_prominence": WELL_PROMINENCE,
        "recovery_kl": RECOVERY_KL,
        "settings": portable_settings(results[0].settings.clone()),
        "feature_consistency": method(|r| &r.feature_consistency),
        "best_generalization": method(|r| &r.best_generalization),
        "per_sample": per_sample,
    });
    summary_figures(&results, out)?;
    let file = out.join("summary.json");
    latentflow::data::write_atomic(&file, serde_json::to_string_pretty(&summary)?.as_bytes())?;
    Ok(summary)
}

pub(super) fn summary_line(s: &Value) -> String {
    format!(
        "{} samples of {}: feature consistency recovered the truth in {}, best generalisation in {}",
        s["samples"],
        s["experiment"],
        s["feature_consistency"]["recovered"],
        s["best_generalization"]["recovered"]
    )
}

/// Figures in the style of the paper's Extended Data: every sample's selected potential over
/// the ground truth (one panel per method), the divergence curves with M*, the validation
/// curves with their minima.
fn summary_figures(results: &[SampleResult], out: &Path) -> anyhow::Result<()> {
    let first = &results[0].feature_consistency;
    let x = first.x.clone();
    let grid_truth = |r: &SampleResult| -> anyhow::Result<Vec<f64>> {
        let potential = match r.experiment.as_str() {
            "triple-well" => Potential::triple_well(),
            "four-well" => Potential::four_well(),
            _ => Potential::paper_double_well(),
        };
        Ok(potential.peq(&r.feature_consistency.x, &r.feature_consistency.w)?)
    };
    let truth = grid_truth(&results[0])?;
    let potentials = |title: &str, m: fn(&SampleResult) -> &MethodResult| {
        let mut p = LinePlot::new(title, "x", "Phi = -ln peq");
        p.y_range = potential_range(&[], Some(&truth));
        p.series.push(truth_series(&x, &truth));
        for (i, r) in results.iter().enumerate() {
            let colour = if i % 10 == GREY { 9 } else { i % 10 };
            p.series.push(
                Series::new(
                    format!("sample {}", r.sample),
                    x.clone(),
                    potential(&m(r).peq),
                )
                .style(Style::colour(colour).width(1)),
            );
        }
        p
    };
    save_panels(
        &[
            potentials("Feature consistency", |r| &r.feature_consistency),
            potentials("Best generalisation", |r| &r.best_generalization),
        ],
        2,
        &out.join("summary_potentials"),
    )?;
    let mut div = LinePlot::new(
        "Divergence between the halves",
        "feature complexity",
        "symmetrised KL",
    );
    let mut val = LinePlot::new(
        "Validation (half 1)",
        "iteration",
        "-log L - (-log L at iteration 0)",
    );
    val.log_x = true;
    for (i, r) in results.iter().enumerate() {
        let colour = if i % 10 == GREY { 9 } else { i % 10 };
        let fc = &r.feature_consistency;
        let unwrap =
            |v: &Vec<Option<f64>>| v.iter().map(|d| d.unwrap_or(f64::NAN)).collect::<Vec<_>>();
        let axis = unwrap(&fc.curve[0]);
        let d = unwrap(&fc.curve[1]);
        let at = axis.iter().position(|&a| a == fc.feature_complexity);
        div.series.push(
            Series::new(format!("sample {}", r.sample), axis.clone(), d.clone())
                .style(Style::colour(colour).width(1)),
        );
        if let Some(j) = at {
            div.points.push(Points::marker(axis[j], d[j], colour, 4));
        }
        let bg = &r.best_generalization;
        let it: Vec<f64> = unwrap(&bg.curve[0])
            .into_iter()
            .map(|i| i.max(1.0))
            .collect();
        let v = unwrap(&bg.curve[1]);
        let v0 = v.first().copied().unwrap_or(0.0);
        let v: Vec<f64> = v.iter().map(|y| y - v0).collect();
        if let Some(j) = it
            .iter()
            .position(|&i| i == (bg.iteration[0] as f64).max(1.0))
        {
            val.points.push(Points::marker(it[j], v[j], colour, 4));
        }
        val.series.push(
            Series::new(format!("sample {}", r.sample), it, v)
                .style(Style::colour(colour).width(1)),
        );
    }
    if let Some(t) = results[0].settings["consistency_kl"]["threshold"].as_f64() {
        div.hlines.push(HLine {
            y: t,
            label: format!("threshold {t}"),
            style: Style::colour(GREY).dashed(),
        });
    }
    save_panels(&[div, val], 2, &out.join("summary_curves"))?;
    Ok(())
}
