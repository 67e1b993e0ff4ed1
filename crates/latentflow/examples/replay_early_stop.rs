//! Replays the early-stop rule of `latentflow experiment` on a sample that ran longer than the
//! rule needed (typically to the iteration cap) and compares the selections at the iteration
//! where the rule would have stopped it with those at the end of the run: for the run's own
//! margin and for smaller ones (0.25 and 0.5 feature-complexity units).
//!
//! ```text
//! cargo run --release -p latentflow --example replay_early_stop -- DIR/sample-0 [DIR/sample-6 ...]
//! ```
//!
//! Reads each sample's `result.json` (settings) and `fit_path_half{1,2}.json` (both paths).

use std::path::Path;

use latentflow::GridSpec;
use latentflow::optim::FitPath;
use latentflow::orientation::{Orientation, path_points};
use latentflow::pipeline::EarlyStop;
use latentflow::select::{FeatureConsistency, PathPoint, best_generalization};

type Failure = Box<dyn std::error::Error>;

/// The points of both paths with iteration < `end` (the paths as they were after `end`
/// iterations).
fn truncated(paths: &[Vec<PathPoint>; 2], end: u64) -> [Vec<PathPoint>; 2] {
    paths
        .clone()
        .map(|p| p.into_iter().filter(|q| q.iteration < end).collect())
}

/// What the selections are on two paths (points with iteration < `end`).
fn selections(
    kl: &FeatureConsistency,
    w: &[f64],
    paths: &[Vec<PathPoint>; 2],
    end: u64,
) -> Result<String, Failure> {
    let cut = truncated(paths, end);
    let fc = kl.select(w, &cut[0], &cut[1])?;
    let bg = [best_generalization(&cut[0])?, best_generalization(&cut[1])?];
    Ok(format!(
        "FC: M* {:.1}, iterations {} / {}; BG: iterations {} / {}",
        fc.m_star, fc.selected.iteration1, fc.selected.iteration2, bg[0].iteration, bg[1].iteration
    ))
}

fn replay(dir: &Path) -> Result<(), Failure> {
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("result.json"))?)?;
    let settings = &result["settings"];
    let kl: FeatureConsistency = serde_json::from_value(settings["consistency_kl"].clone())?;
    let rule: EarlyStop = serde_json::from_value(settings["early_stop"].clone())?;
    let grid: GridSpec = serde_json::from_value(settings["grid"].clone())?;
    let grid = grid.build()?;
    let paths = [1, 2].map(|h| FitPath::read_json(&dir.join(format!("fit_path_half{h}.json"))));
    let [p1, p2] = paths;
    let (p1, p2) = (p1?, p2?);
    let ran = p1.records.len() as u64;
    // The experiments fit F only (fixed tuning), so the halves are compared as fitted.
    let points = [
        path_points(&grid, &p1.models, Orientation::AsFitted)?,
        path_points(&grid, &p2.models, Orientation::AsFitted)?,
    ];
    println!("{}: ran {ran} iterations", dir.display());
    println!(
        "  at the end:     {}",
        selections(&kl, grid.w(), &points, ran)?
    );
    for margin in [0.25, 0.5, rule.margin] {
        let rule = EarlyStop { margin, ..rule };
        let mut stop = None;
        let mut t = rule.next_check(0);
        while t <= ran {
            let cut = truncated(&points, t);
            if rule.reached(&kl, grid.w(), [&cut[0], &cut[1]], t)? {
                stop = Some(t);
                break;
            }
            t = rule.next_check(t);
        }
        match stop {
            Some(t) => println!(
                "  margin {margin}: stops at {t}: {}",
                selections(&kl, grid.w(), &points, t)?
            ),
            None => println!("  margin {margin}: never stops it within {ran} iterations"),
        }
    }
    Ok(())
}

fn main() -> Result<(), Failure> {
    let dirs: Vec<String> = std::env::args().skip(1).collect();
    if dirs.is_empty() {
        return Err("usage: replay_early_stop SAMPLE_DIR...".into());
    }
    for d in dirs {
        replay(Path::new(&d))?;
    }
    Ok(())
}
