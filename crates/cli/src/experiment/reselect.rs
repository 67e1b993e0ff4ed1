//! `latentflow experiment reselect`: a finished run's feature-consistency selections again at
//! another threshold, from the fit paths its samples kept, without refitting (ED Fig. 5c and
//! 5d are the same samples at thresholds 0.01 and 0.02).
//!
//! The early-stop rule stops a run only once the consistency curve has crossed the run's
//! threshold `margin` before the end of its axis. A lower threshold crosses no later, so a
//! run's paths serve any threshold up to its own; a higher one needs a run that was not
//! stopped early (the cap), and is refused otherwise. Best generalisation is not touched.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use latentflow::GridSpec;
use latentflow::optim::FitPath;
use latentflow::orientation::{Orientation, path_points};
use latentflow::recovery::wells;
use latentflow::select::FeatureConsistency;

use super::results::{SampleResult, consistency_result, read_results};
use super::summary::{merge, summary_line};

/// Arguments of `latentflow experiment reselect`.
#[derive(clap::Args, Debug)]
pub struct ReselectArgs {
    /// A finished run's directory (its `sample-<k>/` hold `result.json` and both fit paths).
    dir: PathBuf,
    /// The new feature-consistency threshold (symmetrised KL).
    #[arg(long, value_parser = crate::select::positive)]
    threshold: f64,
    /// Output directory: `sample-<k>/result.json` per sample and the summary.
    #[arg(long)]
    out: PathBuf,
}

/// One sample's result with its feature consistency selected again at `threshold`.
fn reselect(dir: &Path, old: &SampleResult, threshold: f64) -> anyhow::Result<SampleResult> {
    let where_ = dir.display();
    let mut kl: FeatureConsistency = serde_json::from_value(old.settings["consistency_kl"].clone())
        .with_context(|| format!("{where_}: no feature-consistency settings"))?;
    if threshold > kl.threshold && old.stopped_early {
        bail!(
            "{where_}: the run stopped early at threshold {}, so its paths may end before a \
             higher threshold {threshold} is crossed; rerun with that threshold",
            kl.threshold
        );
    }
    kl.threshold = threshold;
    kl.validate()?;
    let grid: GridSpec = serde_json::from_value(old.settings["grid"].clone())
        .with_context(|| format!("{where_}: no grid in the settings"))?;
    let grid = grid.build()?;
    let paths = [1, 2].map(|h| {
        let file = dir.join(format!("fit_path_half{h}.json"));
        FitPath::read_json(&file).with_context(|| format!("reading {}", file.display()))
    });
    let [p1, p2] = paths;
    let (p1, p2) = (p1?, p2?);
    // The experiments fit F only (fixed tuning): the halves are compared as fitted.
    let points = [
        path_points(&grid, &p1.models, Orientation::AsFitted)?,
        path_points(&grid, &p2.models, Orientation::AsFitted)?,
    ];
    let sel = kl.select(grid.w(), &points[0], &points[1])?;
    let true_peq = super::truth(&old.experiment)?.peq(grid.x(), grid.w())?;
    let fc = consistency_result(
        &grid,
        &true_peq,
        wells(&grid, &true_peq)?.len(),
        [&p1, &p2],
        &sel,
    )?;
    let mut new = old.clone();
    new.settings["consistency_kl"]["threshold"] = threshold.into();
    new.feature_consistency = fc;
    Ok(new)
}

/// Runs `latentflow experiment reselect`.
pub fn run(args: ReselectArgs) -> anyhow::Result<()> {
    let results = read_results(std::slice::from_ref(&args.dir))?;
    crate::output::prepare(&args.out)?;
    for old in &results {
        let dir = args.dir.join(format!("sample-{}", old.sample));
        let new = reselect(&dir, old, args.threshold)?;
        let out = args.out.join(format!("sample-{}", old.sample));
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
        latentflow::data::write_atomic(
            &out.join("result.json"),
            serde_json::to_string_pretty(&new)?.as_bytes(),
        )?;
    }
    let summary = merge(std::slice::from_ref(&args.out), &args.out)?;
    println!("{}", summary_line(&summary));
    Ok(())
}
