//! What a sample's run leaves behind: its result file (`sample-<k>/result.json`), the
//! judgement of each method's selection against the ground truth, and reading results back.

use std::path::Path;

use anyhow::{Context, bail};
use latentflow::optim::FitPath;
use latentflow::recovery::Recovery;
use latentflow::select::FeatureConsistencyResult;
use latentflow::spectral::Grid;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What one method selected in one sample.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MethodResult {
    /// M* (feature consistency) or the feature complexity of the chosen model (best
    /// generalisation).
    pub feature_complexity: f64,
    /// Iterations of the chosen models in half 1 and half 2.
    pub iteration: [u64; 2],
    /// Nodes.
    pub x: Vec<f64>,
    /// Quadrature weights.
    pub w: Vec<f64>,
    /// Selected density of half 1 on the nodes.
    pub peq: Vec<f64>,
    /// Selected density of half 2.
    pub peq_half2: Vec<f64>,
    /// Symmetrised KL to the ground truth, halves 1 and 2.
    pub kl_to_truth: [f64; 2],
    /// Well positions (prominence >= [`latentflow::recovery::WELL_PROMINENCE`]), halves 1 and 2.
    pub wells: [Vec<f64>; 2],
    /// Half 1 recovers the truth (KL < [`latentflow::recovery::RECOVERY_KL`] and the true
    /// number of wells).
    pub recovered: bool,
    /// The curve behind the choice: (feature complexity, divergence) for feature consistency,
    /// (iteration, validation -log L of half 1) for best generalisation.
    pub curve: [Vec<Option<f64>>; 2],
}

/// `DIR/sample-<k>/result.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SampleResult {
    /// `"latentflow-experiment-sample"`.
    pub format: String,
    /// 1.
    pub version: u32,
    /// double-well, triple-well or four-well.
    pub experiment: String,
    /// Sample index.
    pub sample: usize,
    /// Seed of its data.
    pub seed: u64,
    /// Spikes and trials simulated.
    pub spikes: usize,
    /// Trials simulated.
    pub trials: usize,
    /// The pipeline settings, without `checkpoint_dir` (a path in the output directory).
    pub settings: Value,
    /// Iterations each half ran, and whether the stopping rule ended them before the cap.
    pub iterations: u64,
    /// See `iterations`.
    pub stopped_early: bool,
    /// Wells of the ground truth.
    pub true_wells: Vec<f64>,
    /// Feature consistency (symmetrised KL).
    pub feature_consistency: MethodResult,
    /// Best generalisation.
    pub best_generalization: MethodResult,
    /// Wall time of this sample (s); not part of the summary.
    pub seconds: f64,
}

/// The pipeline settings without `checkpoint_dir`: that path names the output directory, and
/// the results (and the summary built from them) must not depend on where a shard wrote them.
pub(super) fn portable_settings(mut settings: Value) -> Value {
    if let Value::Object(map) = &mut settings {
        map.remove("checkpoint_dir");
    }
    settings
}

#[allow(clippy::type_complexity)]
pub(super) fn method_result(
    grid: &Grid,
    truth: &[f64],
    true_wells: usize,
    peqs: [&[f64]; 2],
    feature_complexity: f64,
    iteration: [u64; 2],
    curve: [Vec<Option<f64>>; 2],
) -> anyhow::Result<MethodResult> {
    let [half1, half2] = [
        Recovery::new(grid, peqs[0], truth)?,
        Recovery::new(grid, peqs[1], truth)?,
    ];
    Ok(MethodResult {
        feature_complexity,
        iteration,
        x: grid.x().to_vec(),
        w: grid.w().to_vec(),
        peq: peqs[0].to_vec(),
        peq_half2: peqs[1].to_vec(),
        recovered: half1.recovers(true_wells),
        kl_to_truth: [half1.kl_to_truth, half2.kl_to_truth],
        wells: [half1.wells, half2.wells],
        curve,
    })
}

/// The judged feature-consistency selection `sel` of two fit paths: the selected models, M*,
/// their iterations and the consistency curve.
pub(super) fn consistency_result(
    grid: &Grid,
    truth: &[f64],
    true_wells: usize,
    paths: [&FitPath; 2],
    sel: &FeatureConsistencyResult,
) -> anyhow::Result<MethodResult> {
    method_result(
        grid,
        truth,
        true_wells,
        [
            &paths[0].models[sel.selected.index1].peq,
            &paths[1].models[sel.selected.index2].peq,
        ],
        sel.m_star,
        [sel.selected.iteration1, sel.selected.iteration2],
        [
            sel.axis.iter().map(|&a| Some(a)).collect(),
            sel.divergence.clone(),
        ],
    )
}

pub(super) fn read_result(path: &Path) -> anyhow::Result<SampleResult> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let r: SampleResult = serde_json::from_slice(&text)
        .with_context(|| format!("{}: not a sample result", path.display()))?;
    if r.format != "latentflow-experiment-sample" || r.version != 1 {
        bail!("{}: not a version-1 sample result", path.display());
    }
    Ok(r)
}

/// Every finished sample (`sample-*/result.json`) under `dirs`, by sample index (the first
/// directory holding a sample wins); an error if there is none.
pub(super) fn read_results(dirs: &[std::path::PathBuf]) -> anyhow::Result<Vec<SampleResult>> {
    let mut results: Vec<SampleResult> = Vec::new();
    for dir in dirs {
        let entries =
            std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
        for e in entries {
            let e = e?;
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with("sample-") && e.path().join("result.json").exists() {
                let r = read_result(&e.path().join("result.json"))?;
                if !results.iter().any(|x| x.sample == r.sample) {
                    results.push(r);
                }
            }
        }
    }
    if results.is_empty() {
        bail!("no finished samples (sample-*/result.json) in {dirs:?}");
    }
    results.sort_by_key(|r| r.sample);
    Ok(results)
}
