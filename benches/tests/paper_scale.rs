//! The original package's -log L at paper scale (ne = 256, np = 8, N = 1793) on its
//! 10,000-spike benchmark data (`fixtures/bench`, `fixtures/README.md`).

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
