//! `latentflow experiment compare A B`: how closely two runs of the same experiment (e.g. two
//! path methods) agree, sample by sample — the fidelity test of a path method: the feature
//! consistency selections of the two runs must have M* within [`M_STAR_TOLERANCE`] and
//! selected models within symmetrised KL [`FC_KL`], best generalisation's within [`BG_KL`].

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use latentflow::optim::FitPath;
use latentflow::select::symmetric_kl;
use serde::Serialize;

use super::results::{MethodResult, SampleResult, read_results};

/// Largest difference of M* between the runs.
pub const M_STAR_TOLERANCE: f64 = 0.2;
/// Largest symmetrised KL between the runs' feature-consistency selections (per half).
pub const FC_KL: f64 = 0.005;
/// Largest symmetrised KL between the runs' best-generalisation selections (per half).
pub const BG_KL: f64 = 0.01;

/// One sample in both runs.
#[derive(Debug, Serialize)]
pub struct Row {
    /// Sample index.
    pub sample: usize,
    /// M* of run A and run B.
    pub m_star: [f64; 2],
    /// Symmetrised KL between the runs' feature-consistency selections, halves 1 and 2.
    pub fc_kl: [f64; 2],
    /// The same for best generalisation.
    pub bg_kl: [f64; 2],
    /// Feature consistency agrees (M* and KL within tolerance).
    pub fc_agrees: bool,
    /// Best generalisation agrees.
    pub bg_agrees: bool,
    /// Gradient evaluations of both halves, runs A and B.
    pub evaluations: [u64; 2],
    /// Iterations each run's fits ran.
    pub iterations: [u64; 2],
    /// Wall time of the sample (s), runs A and B.
    pub seconds: [f64; 2],
}

/// Gradient evaluations of one half's fit: the last record's count, or (paths written before
/// records counted them) one per record plus the rejected steps.
fn evaluations(path: &Path) -> anyhow::Result<u64> {
    let p = FitPath::read_json(path)?;
    let last = p.records.last().map_or(0, |r| r.evaluations);
    Ok(if last > 0 {
        last
    } else {
        p.records
            .iter()
            .map(|r| 1 + u64::from(r.rejected_steps))
            .sum()
    })
}

fn sample_evaluations(dir: &Path, k: usize) -> anyhow::Result<u64> {
    let d = dir.join(format!("sample-{k}"));
    Ok(evaluations(&d.join("fit_path_half1.json"))? + evaluations(&d.join("fit_path_half2.json"))?)
}

fn kl(a: &MethodResult, b: &MethodResult) -> anyhow::Result<[f64; 2]> {
    if a.w != b.w {
        bail!("the two runs use different grids");
    }
    Ok([
        symmetric_kl(&a.w, &a.peq, &b.peq)?,
        symmetric_kl(&a.w, &a.peq_half2, &b.peq_half2)?,
    ])
}

/// Compares the samples finished in both `a` and `b`.
pub fn compare(a: &Path, b: &Path) -> anyhow::Result<Vec<Row>> {
    let ra = read_results(&[a.to_path_buf()])?;
    let rb = read_results(&[b.to_path_buf()])?;
    let mut rows = Vec::new();
    for x in &ra {
        let Some(y) = rb.iter().find(|y| y.sample == x.sample) else {
            continue;
        };
        if x.seed != y.seed || x.experiment != y.experiment {
            bail!(
                "sample {}: the runs simulated different data ({} seed {} / {} seed {})",
                x.sample,
                x.experiment,
                x.seed,
                y.experiment,
                y.seed
            );
        }
        rows.push(row(a, b, x, y)?);
    }
    if rows.is_empty() {
        bail!(
            "no sample is finished in both {} and {}",
            a.display(),
            b.display()
        );
    }
    Ok(rows)
}

fn row(a: &Path, b: &Path, x: &SampleResult, y: &SampleResult) -> anyhow::Result<Row> {
    let fc_kl = kl(&x.feature_consistency, &y.feature_consistency)?;
    let bg_kl = kl(&x.best_generalization, &y.best_generalization)?;
    let m_star = [
        x.feature_consistency.feature_complexity,
        y.feature_consistency.feature_complexity,
    ];
    Ok(Row {
        sample: x.sample,
        m_star,
        fc_kl,
        bg_kl,
        fc_agrees: (m_star[0] - m_star[1]).abs() <= M_STAR_TOLERANCE + 1e-9
            && fc_kl.iter().all(|&k| k <= FC_KL),
        bg_agrees: bg_kl.iter().all(|&k| k <= BG_KL),
        evaluations: [
            sample_evaluations(a, x.sample)?,
            sample_evaluations(b, y.sample)?,
        ],
        iterations: [x.iterations, y.iterations],
        seconds: [x.seconds, y.seconds],
    })
}

/// The rows as a Markdown table with a closing count.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| sample | M* A / B | FC: KL A-B (half 1 / 2) | BG: KL A-B (half 1 / 2) | iterations A / B | evaluations A / B | wall A / B |\n\
         |---:|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let mark = |ok: bool| if ok { "" } else { " (differs)" };
        out.push_str(&format!(
            "| {} | {:.1} / {:.1} | {:.1e} / {:.1e}{} | {:.1e} / {:.1e}{} | {} / {} | {} / {} ({:.1}x) | {:.0} s / {:.0} s |\n",
            r.sample,
            r.m_star[0],
            r.m_star[1],
            r.fc_kl[0],
            r.fc_kl[1],
            mark(r.fc_agrees),
            r.bg_kl[0],
            r.bg_kl[1],
            mark(r.bg_agrees),
            r.iterations[0],
            r.iterations[1],
            r.evaluations[0],
            r.evaluations[1],
            r.evaluations[0] as f64 / r.evaluations[1].max(1) as f64,
            r.seconds[0],
            r.seconds[1],
        ));
    }
    let n = rows.len();
    let fc = rows.iter().filter(|r| r.fc_agrees).count();
    let bg = rows.iter().filter(|r| r.bg_agrees).count();
    let (ea, eb): (u64, u64) = (
        rows.iter().map(|r| r.evaluations[0]).sum(),
        rows.iter().map(|r| r.evaluations[1]).sum(),
    );
    out.push_str(&format!(
        "\nFeature consistency agrees (|M* A - M* B| <= {M_STAR_TOLERANCE}, KL <= {FC_KL} on both \
         halves) in {fc} of {n} samples; best generalisation (KL <= {BG_KL}) in {bg} of {n}. \
         Evaluations: {ea} (A) / {eb} (B), {:.1}x.\n",
        ea as f64 / eb.max(1) as f64
    ));
    out
}

/// Arguments of `latentflow experiment compare`.
#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// Run A's output directory (e.g. plain gradient descent).
    a: PathBuf,
    /// Run B's output directory (e.g. the RKC path method), same experiment and seed.
    b: PathBuf,
    /// Also write the rows as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Runs `experiment compare`: prints the table, writes the JSON if asked.
pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let rows = compare(&args.a, &args.b)?;
    print!("{}", table(&rows));
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&rows)?;
        latentflow::data::write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
