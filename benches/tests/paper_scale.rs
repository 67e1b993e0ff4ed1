//! The original package's -log L at paper scale (ne = 256, np = 8, N = 1793) on its
//! 10,000-spike benchmark data (`fixtures/bench`, `fixtures/README.md`), and on the
//! three-condition decision task of `fixtures/bench/decision_3c.json`.

use latentflow_benches::{paper_data, paper_grid, paper_model};
use latentflow_likelihood::Likelihood;
use latentflow_spectral::{BandedSolver, BoundaryMode};

#[test]
fn reflecting_nv64_matches_the_original() {
    let model = paper_model(&paper_grid(), BoundaryMode::Reflecting);
    let lik = Likelihood::new(&model, 64, &BandedSolver::default()).unwrap();
    let nll = lik.neg_loglik(&paper_data()).unwrap();
    let expected = -36039.46996002277;
    assert!(
        ((nll - expected) / expected).abs() < 1e-7,
        "{nll} vs {expected}"
    );
}

#[test]
#[ignore = "all 1791 modes: about a minute; run with --ignored"]
fn absorbing_all_modes_matches_the_original() {
    let m = paper_model(&paper_grid(), BoundaryMode::Absorbing);
    let nv = m.grid().n() - 2;
    let lik = Likelihood::new(&m, nv, &BandedSolver::default()).unwrap();
    let nll = lik.neg_loglik(&paper_data()).unwrap();
    let expected = -35894.79869397788;
    assert!(
        ((nll - expected) / expected).abs() < 1e-7,
        "{nll} vs {expected}"
    );
}

#[test]
fn decision_task_conditions_match_the_original() {
    use latentflow_benches::{decision_3c, decision_3c_expected};
    use latentflow_likelihood::ConditionLikelihoods;
    let (models, data, nv) = decision_3c();
    let liks = ConditionLikelihoods::new(&models, nv, &BandedSolver::default()).unwrap();
    let parts = data.by_condition().unwrap();
    let expected = decision_3c_expected();
    for (c, (lik, part)) in liks.likelihoods().iter().zip(&parts).enumerate() {
        let nll = lik.neg_loglik(part).unwrap();
        assert!(
            ((nll - expected[c]) / expected[c]).abs() < 1e-7,
            "condition {c}: {nll} vs {}",
            expected[c]
        );
    }
    let total: f64 = expected.iter().sum();
    let nll = liks.neg_loglik(&data).unwrap();
    assert!(((nll - total) / total).abs() < 1e-7, "{nll} vs {total}");
}
