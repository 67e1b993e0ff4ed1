//! `latentflow select`: the whole pipeline on one data set — split into halves, fit both from
//! the same initial model, select by feature consistency and by best generalisation, report.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use indicatif::MultiProgress;
use latentflow::data::{SpikeData, Split};
use latentflow::optim::Observer;

use crate::progress::ProgressObserver;
use latentflow::orientation::Orientation;
use latentflow::pipeline::EarlyStop;
use latentflow::select::FeatureConsistency;
use latentflow::{Pipeline, PipelineConfig, PipelineResult};
use serde_json::{Value, json};

use crate::init::InitArgs;
use crate::rates::StepArgs;
use crate::report;

/// How trials are divided between the two halves.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitChoice {
    /// Even trials to half 1, odd trials to half 2.
    Alternating,
    /// The first half of the trials to half 1, the rest to half 2.
    Halves,
}

/// Fit and selection options shared by `select`, `demo` and `experiment`.
#[derive(clap::Args, Debug, Clone)]
pub struct PipelineArgs {
    /// How trials are split into halves.
    #[arg(long, value_enum, default_value_t = SplitChoice::Alternating)]
    pub split: SplitChoice,
    /// Most gradient-descent iterations per half (the paper ran 50,000).
    #[arg(long, default_value_t = 50_000, value_parser = crate::select::count)]
    pub iterations: u64,
    #[command(flatten)]
    pub step: StepArgs,
    /// Feature-consistency threshold for the symmetrised KL divergence (paper: 0.01).
    #[arg(long, default_value_t = 0.01, value_parser = positive, allow_hyphen_values = true)]
    pub threshold: f64,
    /// Threshold of the Jensen-Shannon variant.
    #[arg(long, default_value_t = 0.002, value_parser = positive, allow_hyphen_values = true)]
    pub threshold_js: f64,
    /// Run to --iterations instead of stopping once the KL curve has crossed its threshold
    /// by --margin and both validation minima are behind.
    #[arg(long)]
    pub no_early_stop: bool,
    /// Feature-complexity units the fits must run past M* before stopping early.
    #[arg(long, default_value_t = 1.0, value_parser = non_negative, allow_hyphen_values = true)]
    pub margin: f64,
    /// Iterations between early-stop checks; the period doubles from 50 periods on, each time
    /// the iteration count doubles (e.g. 500 up to 25,000, 1,000 up to 50,000, ...).
    #[arg(long, default_value_t = 500, value_parser = crate::select::count)]
    pub check_every: u64,
    /// Checkpoint every this many iterations.
    #[arg(long, default_value_t = 1000, value_parser = crate::select::count)]
    pub checkpoint_every: u64,
}

/// A whole number >= 1 (for clap): iterations and periods.
pub fn count(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("must be a whole number >= 1 (got {text})")),
    }
}

/// A finite number > 0 (for clap).
pub fn positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("must be a finite number > 0 (got {text})")),
    }
}

/// A finite number >= 0 (for clap).
pub fn non_negative(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("must be a finite number >= 0 (got {text})")),
    }
}

impl PipelineArgs {
    /// The pipeline settings for `grid`, `nv` and the initial model's fitted parameters.
    pub fn config(
        &self,
        init: &crate::init::InitSetup,
        checkpoints: &Path,
    ) -> anyhow::Result<PipelineConfig> {
        Ok(PipelineConfig {
            grid: init.spec,
            boundary: init.model.boundary(),
            nv: init.nv,
            split: match self.split {
                SplitChoice::Alternating => Split::Alternating,
                SplitChoice::Halves => Split::Halves,
            },
            fit: self.step.fit_config(self.iterations, init.fit)?,
            consistency_kl: FeatureConsistency {
                threshold: self.threshold,
                ..FeatureConsistency::kl()
            },
            consistency_js: FeatureConsistency {
                threshold: self.threshold_js,
                ..FeatureConsistency::js()
            },
            early_stop: (!self.no_early_stop).then_some(EarlyStop {
                check_every: self.check_every,
                margin: self.margin,
                ..EarlyStop::default()
            }),
            checkpoint_dir: Some(checkpoints.to_path_buf()),
            checkpoint_every: self.checkpoint_every,
            sharing: init.sharing,
        })
    }
}

/// Arguments of `latentflow select`.
#[derive(clap::Args, Debug)]
pub struct SelectArgs {
    /// Spike data (.json or .npz).
    #[arg(long)]
    data: PathBuf,
    /// Output directory (report.json, plots, the fit paths, checkpoints).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    init: InitArgs,
    #[command(flatten)]
    pipeline: PipelineArgs,
    /// Continue from the checkpoints in OUT/checkpoints (same data and settings).
    #[arg(long)]
    resume: bool,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `latentflow select`.
pub fn run(args: SelectArgs) -> anyhow::Result<()> {
    let data = SpikeData::read(&args.data)?;
    let init = args.init.build(&data)?;
    let json = json!({ "data": { "file": args.data.display().to_string() } });
    let target = RunTarget {
        out: &args.out,
        resume: args.resume,
        quiet: args.quiet,
        truth: None,
        truth_p0: None,
        extra: json,
    };
    run_pipeline(&data, &init, &args.pipeline, target)?;
    Ok(())
}

/// Where a pipeline run writes and how it behaves.
pub struct RunTarget<'a> {
    /// Output directory (report, figures, fit paths, `checkpoints/`).
    pub out: &'a Path,
    /// Continue from the checkpoints in `out/checkpoints` (otherwise they are removed first).
    pub resume: bool,
    /// No progress bars and no summary on stdout.
    pub quiet: bool,
    /// The true density on the grid (simulated data), drawn in the figures.
    pub truth: Option<&'a [f64]>,
    /// The true initial density p0 of each condition (simulated non-stationary data).
    pub truth_p0: Option<&'a [Vec<f64>]>,
    /// Keys added to the report (data source and the like).
    pub extra: Value,
}

/// Runs the pipeline on `data` from `init` into `target.out` and writes the report last, so a
/// `report.json` is always complete.
pub fn run_pipeline(
    data: &SpikeData,
    init: &crate::init::InitSetup,
    args: &PipelineArgs,
    target: RunTarget,
) -> anyhow::Result<(PipelineResult, Value)> {
    let RunTarget {
        out,
        resume,
        quiet,
        truth,
        truth_p0,
        extra,
    } = target;
    let start = Instant::now();
    crate::output::prepare(out)?;
    let stale = out.join("report.json");
    if stale.exists() {
        std::fs::remove_file(&stale).with_context(|| format!("removing {}", stale.display()))?;
    }
    let checkpoints = out.join("checkpoints");
    if !resume && checkpoints.exists() {
        std::fs::remove_dir_all(&checkpoints)
            .with_context(|| format!("removing old checkpoints {}", checkpoints.display()))?;
    }
    let config = args.config(init, &checkpoints)?;
    let pipeline = Pipeline::new(data, &init.model, config)?;
    let result = {
        let multi = MultiProgress::new();
        let mut bars: Vec<ProgressObserver> = (1..=2)
            .map(|k| {
                let o = ProgressObserver::new(&format!("half {k}"), args.iterations);
                multi.add(o.bar().clone());
                o
            })
            .collect();
        if quiet {
            multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        let [b0, b1] = &mut bars[..] else {
            unreachable!("two bars")
        };
        pipeline.run([Some(b0 as &mut dyn Observer), Some(b1 as &mut dyn Observer)])?
    };
    for note in &result.resume_notes {
        eprintln!("note: {note}");
    }
    for (k, p) in result.paths.iter().enumerate() {
        let file = out.join(format!("fit_path_half{}.json", k + 1));
        p.write_json(&file)?;
    }
    write_selected_models(&result, &init.grid, out)?;
    let halves = pipeline.halves();
    let mut extra = extra;
    if let Value::Object(map) = &mut extra {
        map.insert(
            "halves".into(),
            json!(
                halves
                    .iter()
                    .map(|h| json!({"trials": h.num_trials(), "spikes": h.num_spikes()}))
                    .collect::<Vec<_>>()
            ),
        );
        map.insert("wall_seconds".into(), json!(start.elapsed().as_secs_f64()));
        for (key, value) in crate::condition_figures::write(&result, &init.grid, truth_p0, out)? {
            map.insert(key.into(), value);
        }
    }
    let report = report::pipeline_report(&result, &init.grid, truth, extra, out)?;
    if !quiet {
        print_summary(&result, out);
    }
    Ok((result, report))
}

/// Writes the four selected models as model files (`docs/formats.md`), as fitted, for
/// `latentflow decode` and `loglik`: `model_feature_consistency_half{1,2}.json` and
/// `model_best_generalization_half{1,2}.json`; for data of several conditions one file per
/// condition c, `..._half{1,2}_condition{c}.json`.
fn write_selected_models(
    result: &PipelineResult,
    grid: &std::sync::Arc<latentflow::spectral::Grid>,
    out: &Path,
) -> anyhow::Result<()> {
    let fc = &result.feature_consistency.selected;
    let bg = &result.best_generalization;
    let picks = [
        ("feature_consistency", 0, fc.index1, fc.iteration1),
        ("feature_consistency", 1, fc.index2, fc.iteration2),
        ("best_generalization", 0, bg[0].index, bg[0].iteration),
        ("best_generalization", 1, bg[1].index, bg[1].iteration),
    ];
    for (method, half, index, iteration) in picks {
        let path = &result.paths[half];
        let saved = path
            .models
            .get(index)
            .filter(|m| m.record.iteration == iteration)
            .with_context(|| {
                format!("half {}: the selected model (iteration {iteration}) is not among the saved models", half + 1)
            })?;
        let name = format!("model_{method}_half{}", half + 1);
        write_models(&saved.params, grid, path.boundary, out, &name)?;
    }
    Ok(())
}

/// Writes the model of `params` as `dir/STEM.json`, or for several conditions each
/// condition c's as `dir/STEM_condition{c}.json`.
pub fn write_models(
    params: &latentflow::optim::Params,
    grid: &std::sync::Arc<latentflow::spectral::Grid>,
    boundary: latentflow::spectral::BoundaryMode,
    dir: &Path,
    stem: &str,
) -> anyhow::Result<()> {
    let models = params.to_models(grid, boundary)?;
    match models.models() {
        [one] => latentflow::ModelFile::write(one, &dir.join(format!("{stem}.json")))?,
        several => {
            for (c, model) in several.iter().enumerate() {
                let file = dir.join(format!("{stem}_condition{c}.json"));
                latentflow::ModelFile::write(model, &file)?;
            }
        }
    }
    Ok(())
}

fn print_summary(result: &PipelineResult, out: &Path) {
    let kl = &result.feature_consistency;
    let bg = &result.best_generalization;
    println!(
        "{} iterations per half in {:.0} s{}",
        result.iterations,
        result.seconds,
        if result.stopped_early {
            " (stopped early: the consistency curve crossed its threshold)"
        } else {
            ""
        }
    );
    println!(
        "feature consistency: M* = {:.2} (iterations {} / {}){}",
        kl.m_star,
        kl.selected.iteration1,
        kl.selected.iteration2,
        kl.warnings
            .iter()
            .map(|w| format!("\n  warning: {w}"))
            .collect::<String>()
    );
    if result.orientation.half2 == Orientation::Mirrored {
        println!(
            "half 2 converged to the mirror image of half 1 (x -> -x; its tuning curves agree \
             with half 1's that way round) and was compared mirrored"
        );
    }
    println!(
        "best generalisation: iterations {} / {} (feature complexity {:.2} / {:.2})",
        bg[0].iteration, bg[1].iteration, bg[0].feature_complexity, bg[1].feature_complexity
    );
    println!("report and figures in {}", out.display());
}
