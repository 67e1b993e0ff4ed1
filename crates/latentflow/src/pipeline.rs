//! The end-to-end pipeline of the paper: split the data into two halves, fit both from the same
//! initial model (each validated on the other half) in lockstep, and select by feature
//! consistency (KL and Jensen–Shannon variants) and by best generalisation.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use latentflow_data::{SpikeData, Split};
use latentflow_likelihood::{ConditionModels, Model, ParameterSharing};
use latentflow_optim::{
    CheckpointConfig, Fit, FitConfig, FitPath, Observer, Params, SavedModel, SpikeProblem,
    checkpoint_exists,
};
use latentflow_select::{
    BestGeneralizationResult, FeatureConsistency, FeatureConsistencyResult, PathPoint,
    best_generalization,
};
use latentflow_spectral::{BandedSolver, BoundaryMode, Grid};
use serde::{Deserialize, Serialize};

use crate::orientation::{Orientation, OrientationChoice, choose_orientation, path_points};
use crate::{Error, GridSpec};

/// When to stop the two fits before the iteration cap: the KL consistency curve has crossed
/// its threshold at least `margin` feature-complexity units before the current end of the
/// axis, and both validation minima lie in the first `validation_behind` fraction of the run.
/// Checked every `check_every` iterations up to [`EarlyStop::DOUBLING`] x `check_every`, then
/// with the period doubled each time the iteration count doubles ([`EarlyStop::next_check`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStop {
    /// Iterations between checks early in a run (the period that later doubles).
    pub check_every: u64,
    /// Feature-complexity units the axis must extend past M*.
    pub margin: f64,
    /// The validation minimum must lie before this fraction of the iterations run.
    pub validation_behind: f64,
}

impl EarlyStop {
    /// True if the rule ends two paths that have run `iterations` iterations: the consistency
    /// curve of `consistency` (quadrature weights `w`) has crossed its threshold at least
    /// `margin` before the end of its axis and both validation minima lie before
    /// `validation_behind * iterations`. Works on saved paths too (to replay the rule).
    pub fn reached(
        &self,
        consistency: &FeatureConsistency,
        w: &[f64],
        paths: [&[PathPoint]; 2],
        iterations: u64,
    ) -> Result<bool, Error> {
        let kl = consistency.select(w, paths[0], paths[1])?;
        let Some(end) = kl.axis.last().copied() else {
            return Ok(false);
        };
        let crossed = kl.crossed && kl.m_star + self.margin <= end;
        let behind = paths.iter().all(|p| {
            best_generalization(p)
                .map(|bg| (bg.iteration as f64) < self.validation_behind * iterations as f64)
                .unwrap_or(false)
        });
        Ok(crossed && behind)
    }
}

impl EarlyStop {
    /// The check period doubles first at `DOUBLING x check_every` iterations and then each
    /// time the count doubles, so it stays between 1/50 and 1/25 of the iterations run: a
    /// stop comes at most ~4% of the run later than with a check at every iteration.
    pub const DOUBLING: u64 = 50;

    /// The period of the checks that follow iteration `t`: `check_every x 2^k`, with k the bit
    /// length of `t / (DOUBLING x check_every)`.
    fn period(&self, t: u64) -> u64 {
        let every = self.check_every.max(1);
        let q = t / Self::DOUBLING.saturating_mul(every);
        every.saturating_mul(1u64 << (u64::BITS - q.leading_zeros()).min(40))
    }

    /// The first check after iteration `t`. Every check is a multiple of `check_every`.
    pub fn next_check(&self, t: u64) -> u64 {
        let p = self.period(t);
        (t / p).saturating_add(1).saturating_mul(p)
    }

    /// True if iteration `t` (> 0) is a check.
    pub fn is_check(&self, t: u64) -> bool {
        t > 0 && t.is_multiple_of(self.period(t - 1))
    }

    /// Checks the ranges: a check period of at least 1, a finite margin >= 0, and
    /// 0 < validation_behind <= 1.
    pub fn validate(&self) -> Result<(), Error> {
        if self.check_every == 0 {
            return Err(Error::Config(
                "early stop: the check period must be at least 1".into(),
            ));
        }
        if !(self.margin.is_finite() && self.margin >= 0.0) {
            return Err(Error::Config(format!(
                "early stop: the margin {} must be finite and >= 0",
                self.margin
            )));
        }
        if !(self.validation_behind > 0.0 && self.validation_behind <= 1.0) {
            return Err(Error::Config(format!(
                "early stop: validation_behind {} must lie in (0, 1]",
                self.validation_behind
            )));
        }
        Ok(())
    }
}

impl Default for EarlyStop {
    fn default() -> Self {
        EarlyStop {
            check_every: 500,
            margin: 1.0,
            validation_behind: 0.8,
        }
    }
}

/// Settings of the pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineConfig {
    /// Grid (paper: [-1, 1], 256 x 8).
    pub grid: GridSpec,
    /// Boundary mode.
    pub boundary: BoundaryMode,
    /// Eigenmodes kept (paper: 64).
    pub nv: usize,
    /// How the data are split into halves.
    pub split: Split,
    /// The fit of each half; `iterations` is the cap. With a `v1_sign_term`, half h draws
    /// from its `stream(h)`.
    pub fit: FitConfig,
    /// Feature consistency with the symmetrised KL divergence (paper: threshold 0.01).
    pub consistency_kl: FeatureConsistency,
    /// Feature consistency with the Jensen–Shannon divergence (threshold 0.002).
    pub consistency_js: FeatureConsistency,
    /// Optional early stop of the lockstep fits.
    pub early_stop: Option<EarlyStop>,
    /// Directory for the fits' checkpoints (a rerun resumes from them); none if `None`.
    pub checkpoint_dir: Option<PathBuf>,
    /// Checkpoint every this many iterations.
    pub checkpoint_every: u64,
    /// Data of several task conditions: which parameters are shared by all conditions and
    /// which kept per condition (docs/method.md §12); unused for data of one condition.
    #[serde(default)]
    pub sharing: ParameterSharing,
}

impl PipelineConfig {
    /// Checks every setting: the fit's ([`FitConfig::validate`]), both selections', the early
    /// stop's, nv >= 1 and a checkpoint period >= 1.
    pub fn validate(&self) -> Result<(), Error> {
        self.fit.validate()?;
        self.consistency_kl.validate()?;
        self.consistency_js.validate()?;
        if let Some(rule) = &self.early_stop {
            rule.validate()?;
        }
        if self.nv == 0 {
            return Err(Error::Config(
                "at least one eigenmode must be kept (nv >= 1)".into(),
            ));
        }
        if self.checkpoint_every == 0 {
            return Err(Error::Config(
                "checkpoints need a period of at least 1 iteration".into(),
            ));
        }
        Ok(())
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            grid: GridSpec::PAPER,
            boundary: BoundaryMode::Reflecting,
            nv: 64,
            split: Split::Alternating,
            fit: FitConfig::default(),
            consistency_kl: FeatureConsistency::kl(),
            consistency_js: FeatureConsistency::js(),
            early_stop: None,
            checkpoint_dir: None,
            checkpoint_every: 1000,
            sharing: ParameterSharing::default(),
        }
    }
}

/// The initial parameters of a fit to data of `num_conditions` task conditions: every
/// condition starts from `initial`, shared as `sharing` says (one condition: `initial`'s own
/// parameters). `log_rates` as in [`Params::from_model`].
pub fn initial_params(
    initial: &Model,
    num_conditions: usize,
    sharing: ParameterSharing,
    log_rates: bool,
) -> Result<Params, Error> {
    Ok(if num_conditions > 1 {
        let models = ConditionModels::new(vec![initial.clone(); num_conditions], sharing)?;
        Params::from_models(&models, log_rates)?
    } else {
        Params::from_model(initial, log_rates)?
    })
}

/// What the pipeline found: both fit paths, both selections, with their curves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PipelineResult {
    /// The settings used.
    pub config: PipelineConfig,
    /// The fit paths of the two halves (as fitted).
    pub paths: [FitPath; 2],
    /// How half 2's models were turned before the comparison (fitted tuning curves leave the
    /// mirror x -> a + b - x open; see [`crate::orientation`]). The selections' densities
    /// are compared in this orientation.
    pub orientation: OrientationChoice,
    /// Feature consistency, symmetrised KL.
    pub feature_consistency: FeatureConsistencyResult,
    /// Feature consistency, Jensen–Shannon.
    pub feature_consistency_js: FeatureConsistencyResult,
    /// Best generalisation on each half's path (validated on the other half).
    pub best_generalization: [BestGeneralizationResult; 2],
    /// Iterations each fit ran.
    pub iterations: u64,
    /// True if the early-stop rule ended the fits before the cap.
    pub stopped_early: bool,
    /// Wall time of the fits and the selection (s).
    pub seconds: f64,
    /// Fits resumed from their previous checkpoint because the current one was missing or
    /// corrupt: why, and from which iteration (empty otherwise).
    #[serde(default)]
    pub resume_notes: Vec<String>,
}

/// A prepared pipeline: the halves, the initial parameters, the grid.
#[derive(Debug)]
pub struct Pipeline {
    config: PipelineConfig,
    grid: Arc<Grid>,
    halves: [SpikeData; 2],
    initial: Params,
}

impl Pipeline {
    /// Checks `config` ([`PipelineConfig::validate`]), splits `data` (within each condition)
    /// and prepares the fits from `initial` (whose grid must be `config.grid`); for data of
    /// several conditions every condition starts from `initial`, shared as `config.sharing`
    /// says.
    pub fn new(
        data: &SpikeData,
        initial: &Model,
        config: PipelineConfig,
    ) -> Result<Pipeline, Error> {
        config.validate()?;
        let grid = config.grid.build()?;
        if grid.n() != initial.grid().n() {
            return Err(Error::File {
                path: "initial model".into(),
                message: format!(
                    "its grid has {} nodes, the pipeline's grid {}",
                    initial.grid().n(),
                    grid.n()
                ),
            });
        }
        let (a, b) = data.split(config.split)?;
        let log_rates = config.fit.fit.fr || config.fit.fit.c;
        let initial = initial_params(initial, data.num_conditions(), config.sharing, log_rates)?;
        Ok(Pipeline {
            initial,
            config,
            grid,
            halves: [a, b],
        })
    }

    /// The two halves of the data.
    pub fn halves(&self) -> &[SpikeData; 2] {
        &self.halves
    }

    fn fit_for(&self, half: usize) -> Result<Fit<SpikeProblem>, Error> {
        let c = &self.config;
        let problem = SpikeProblem::new(
            self.grid.clone(),
            c.boundary,
            self.halves[half].clone(),
            Some(self.halves[1 - half].clone()),
            c.nv,
            Box::new(BandedSolver::default()),
        );
        let mut fit_config = c.fit.clone();
        fit_config.v1_sign_term = c.fit.v1_sign_term.map(|v| v.stream(half as u64));
        if let Some(dir) = &c.checkpoint_dir {
            let path = dir.join(format!("half-{}.ckpt", half + 1));
            fit_config.checkpoint = Some(CheckpointConfig {
                path: path.clone(),
                every: c.checkpoint_every,
            });
            if checkpoint_exists(&path) {
                return Ok(Fit::resume(problem, fit_config, &path)?);
            }
        }
        Ok(Fit::new(
            problem,
            self.initial.clone(),
            fit_config,
            c.grid,
            c.boundary,
            c.nv,
        )?)
    }

    /// Runs both fits (in parallel) from check to check of the early-stop rule, then the
    /// selections. Each check sees both paths as they were at its iteration (their models up
    /// to it): a step of the path method may pass a check ([`Fit::run_until`]), and a run the
    /// rule stops ends at the check, its paths cut there, whatever the path method.
    pub fn run(&self, observers: [Option<&mut dyn Observer>; 2]) -> Result<PipelineResult, Error> {
        let start = Instant::now();
        let c = &self.config;
        let mut fits = [self.fit_for(0)?, self.fit_for(1)?];
        let [mut obs0, mut obs1] = observers;
        let total = c.fit.iterations;
        // Resumed fits (from checkpoints) make every check they have passed again, on the
        // same paths, so they stop where the uninterrupted run stopped (or did not).
        let mut target = 0;
        let mut stopped_at = None;
        loop {
            if fits.iter().all(|f| f.state().iteration >= target) {
                if target > 0
                    && let Some(rule) = &c.early_stop
                    && rule.is_check(target)
                    && self.should_stop(&fits, rule, target)?
                {
                    stopped_at = Some(target);
                    break;
                }
                if target >= total {
                    break;
                }
                target = match &c.early_stop {
                    Some(rule) => rule.next_check(target).min(total),
                    None => total,
                };
                continue;
            }
            let [f0, f1] = &mut fits;
            let (mut o0, mut o1): (Vec<&mut dyn Observer>, Vec<&mut dyn Observer>) =
                (Vec::new(), Vec::new());
            if let Some(o) = obs0.as_mut() {
                o0.push(&mut **o);
            }
            if let Some(o) = obs1.as_mut() {
                o1.push(&mut **o);
            }
            let (r0, r1) = rayon::join(
                || f0.run_until(target, &mut o0),
                || f1.run_until(target, &mut o1),
            );
            // Each fit checkpointed its last good state on an error.
            r0?;
            r1?;
        }
        for f in &mut fits {
            f.checkpoint()?;
        }
        for o in [obs0, obs1].into_iter().flatten() {
            o.finish();
        }
        let iterations = stopped_at.unwrap_or(total);
        let resume_notes = fits
            .iter()
            .filter_map(|f| f.resume_note().map(str::to_string))
            .collect();
        let paths = fits.map(|f| {
            let mut path = f.into_path();
            path.truncate(iterations);
            path
        });
        let Selections {
            kl,
            js,
            bg,
            orientation,
        } = self.select(&paths)?;
        Ok(PipelineResult {
            config: self.config.clone(),
            paths,
            orientation,
            feature_consistency: kl,
            feature_consistency_js: js,
            best_generalization: bg,
            iterations,
            stopped_early: stopped_at.is_some(),
            seconds: start.elapsed().as_secs_f64(),
            resume_notes,
        })
    }

    /// The rule at check `target` on both paths as they were there (their models up to it).
    fn should_stop(
        &self,
        fits: &[Fit<SpikeProblem>; 2],
        rule: &EarlyStop,
        target: u64,
    ) -> Result<bool, Error> {
        let models = [fits[0].path(), fits[1].path()].map(|p| p.models_until(target));
        let [p0, p1] = self.oriented_points(models)?.1;
        rule.reached(
            &self.config.consistency_kl,
            self.grid.w(),
            [&p0, &p1],
            target,
        )
    }

    /// Both paths' saved models as selection reads them, half 2 turned the way its tuning
    /// curves agree with half 1's, and that choice.
    fn oriented_points(
        &self,
        models: [&[SavedModel]; 2],
    ) -> Result<(OrientationChoice, [Vec<PathPoint>; 2]), Error> {
        let choice = choose_orientation(&self.grid, models[0], models[1])?;
        Ok((
            choice,
            [
                path_points(&self.grid, models[0], Orientation::AsFitted)?,
                path_points(&self.grid, models[1], choice.half2)?,
            ],
        ))
    }

    fn select(&self, paths: &[FitPath; 2]) -> Result<Selections, Error> {
        let (orientation, [p0, p1]) = self.oriented_points([&paths[0].models, &paths[1].models])?;
        let w = self.grid.w();
        Ok(Selections {
            kl: self.config.consistency_kl.select(w, &p0, &p1)?,
            js: self.config.consistency_js.select(w, &p0, &p1)?,
            bg: [best_generalization(&p0)?, best_generalization(&p1)?],
            orientation,
        })
    }
}

/// What [`Pipeline::run`] selects from two paths.
struct Selections {
    kl: FeatureConsistencyResult,
    js: FeatureConsistencyResult,
    bg: [BestGeneralizationResult; 2],
    orientation: OrientationChoice,
}

#[cfg(test)]
mod tests {
    use super::EarlyStop;

    #[test]
    fn checks_follow_the_doubling_schedule() {
        let rule = EarlyStop::default();
        assert_eq!(rule.next_check(0), 500);
        assert_eq!(rule.next_check(24_999), 25_000);
        assert_eq!(rule.next_check(25_000), 26_000);
        assert_eq!(rule.next_check(50_000), 52_000);
        assert_eq!(rule.next_check(400_000), 416_000);
        assert!(rule.is_check(25_000) && rule.is_check(26_000) && !rule.is_check(25_500));
        // On a small period, against brute force: the checks are exactly the chain from 0,
        // each a multiple of check_every, and the period stays within 1/50..1/25 of t.
        for every in [1, 3, 7] {
            let rule = EarlyStop {
                check_every: every,
                ..EarlyStop::default()
            };
            let mut chain = vec![0];
            while *chain.last().unwrap() < 5_000 {
                chain.push(rule.next_check(*chain.last().unwrap()));
            }
            for t in 1..5_000u64 {
                assert_eq!(rule.is_check(t), chain.contains(&t), "every {every}, t {t}");
                let next = rule.next_check(t);
                assert!(chain.contains(&next) && next > t && next.is_multiple_of(every));
                let gap = next - chain.iter().rev().find(|&&c| c <= t).unwrap();
                assert!(
                    gap == every || (gap * 50 >= t && gap * 25 <= t + gap),
                    "t {t}, gap {gap}"
                );
            }
        }
    }
}
