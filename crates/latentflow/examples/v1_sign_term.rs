//! The term the paper's code added to the F gradient through its sign error (docs/method.md
//! §10), measured along the paper's gradient-descent path: the w-norm of delta and
//! |delta| / |grad F| (w-norms, |g| = sqrt(sum_i w_i g_i^2)) at iterations 0, 20, 50, 100 and
//! 200 of a fit run without the term and of one with it (`FitConfig::v1_sign_term`), and where
//! the second ends, in -log L, on the first's path.
//!
//! Setting: the paper grid (256 x 8 nodes, 64 modes), the cos^2 start
//! (`latentflow::paper_initial_model`: D 10, one neuron max(100 (x + 1), 1) Hz), the original
//! package's benchmark trial (`fixtures/bench/paper_double_well_10k.json`: 100 s, 9,857
//! spikes), F only, the paper's absolute rate 0.005, every step taken.
//!
//! ```text
//! cargo run --release -p latentflow --example v1_sign_term [SEED]
//! ```

use std::path::Path;

use latentflow::data::SpikeData;
use latentflow::likelihood::GradRequest;
use latentflow::optim::{Fit, FitConfig, LearningRates, Params, Problem, SpikeProblem, V1SignTerm};
use latentflow::spectral::{BandedSolver, BoundaryMode};
use latentflow::{GridSpec, paper_initial_model};

type Failure = Box<dyn std::error::Error>;

const ITERATIONS: u64 = 200;
/// Modes kept (the paper).
const NV: usize = 64;
const MEASURED: [u64; 5] = [0, 20, 50, 100, 200];

fn main() -> Result<(), Failure> {
    let seed: u64 = std::env::args().nth(1).map_or(Ok(1), |s| s.parse())?;
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/bench/paper_double_well_10k.json");
    let data = SpikeData::read(&file)?;
    let spec = GridSpec::PAPER;
    let grid = spec.build()?;
    let initial = Params::from_model(&paper_initial_model(&grid)?, false)?;
    let problem = || {
        SpikeProblem::new(
            grid.clone(),
            BoundaryMode::Reflecting,
            data.clone(),
            None,
            NV,
            Box::new(BandedSolver::default()),
        )
    };
    let fit = |v1_sign_term| {
        Fit::new(
            problem(),
            initial.clone(),
            FitConfig {
                iterations: ITERATIONS + 1,
                learning_rates: LearningRates::paper(),
                fit: GradRequest::FORCE,
                backtracking: None,
                v1_sign_term,
                ..FitConfig::default()
            },
            spec,
            BoundaryMode::Reflecting,
            NV,
        )
    };
    let w_norm = |g: &[f64]| -> f64 {
        grid.w()
            .iter()
            .zip(g)
            .map(|(w, g)| w * g * g)
            .sum::<f64>()
            .sqrt()
    };

    // Runs a fit, printing |grad F|, |delta| and their ratio at the measured iterations.
    let run = |v1_sign_term: Option<V1SignTerm>| -> Result<Vec<f64>, Failure> {
        let mut fit = fit(v1_sign_term)?;
        let mut measure = problem();
        println!("iteration  -log L          |grad F|   |delta|   |delta|/|grad F|  delta(+1)");
        while !fit.is_done() {
            let i = fit.state().iteration;
            if MEASURED.contains(&i) {
                let params = &fit.state().params;
                let (eval, delta) =
                    measure.evaluate_with_v1_sign_term(params, GradRequest::FORCE, None)?;
                let grad = eval.grad.first.force.as_deref().ok_or("no F gradient")?;
                let (g, d) = (w_norm(grad), w_norm(&delta));
                println!(
                    "{i:9}  {:14.4}  {g:8.4}  {d:8.4}  {:15.1}%  {:9.6}",
                    eval.value,
                    100.0 * d / g,
                    delta[delta.len() - 1]
                );
            }
            fit.step()?;
        }
        Ok(fit
            .path()
            .records
            .iter()
            .map(|r| r.train_neg_loglik)
            .collect())
    };

    println!(
        "{} spikes in {:.1} s; seed of the draws {seed}",
        data.num_spikes(),
        data.total_time()
    );
    println!("without the term:");
    let exact = run(None)?;
    let v1 = V1SignTerm { seed };
    let drawn = (0..=ITERATIONS).filter(|&i| v1.negated(i)).count();
    println!(
        "with the term ({drawn} of {} evaluations drew it; |grad F| is the true gradient):",
        ITERATIONS + 1
    );
    let paper = run(Some(v1))?;
    let end = paper[ITERATIONS as usize];
    let reached = exact
        .iter()
        .position(|&v| v <= end)
        .map_or("beyond the end".to_string(), |k| format!("iteration {k}"));
    println!(
        "-log L at iteration {ITERATIONS} with the term {end:.4}: the exact path's at {reached} \
         (exact: {:.4})",
        exact[ITERATIONS as usize]
    );
    Ok(())
}
