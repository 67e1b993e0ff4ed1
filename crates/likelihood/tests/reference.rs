//! Agreement with the original package's numbers (`fixtures/reference/*.json`, format in
//! `fixtures/README.md`). Set `LATENTFLOW_REFERENCE_DIR` to check every `*.json` in
//! another directory instead.

mod common;

use common::{Case, case_files, floats, load};
use latentflow_likelihood::{GradRequest, Likelihood};
use latentflow_spectral::{BandedSolver, DenseSolver, EigenSolver};

fn rel_l2(ours: &[f64], theirs: &[f64]) -> f64 {
    assert_eq!(ours.len(), theirs.len());
    let num: f64 = ours.iter().zip(theirs).map(|(a, b)| (a - b).powi(2)).sum();
    let den: f64 = theirs.iter().map(|b| b * b).sum();
    (num / den).sqrt()
}

fn rel_max(ours: &[f64], theirs: &[f64]) -> f64 {
    let scale = theirs.iter().map(|b| b.abs()).fold(0.0, f64::max);
    ours.iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
        / scale
}

fn check_case(case: &Case, solver: &dyn EigenSolver) {
    let name = format!("{} ({solver:?})", case.name);
    let lik = Likelihood::new(&case.model, case.nv, solver).unwrap();

    let ev = floats(&case.expected["eigenvalues"]);
    let lambda = &lik.modes().lambda;
    for (k, (a, b)) in lambda.iter().zip(&ev).enumerate() {
        if b.abs() < 1e-6 {
            assert!(a.abs() < 1e-8, "{name}: lambda_{k} = {a}, expected ~0");
        } else {
            assert!(
                ((a - b) / b).abs() < 1e-9,
                "{name}: lambda_{k} = {a}, expected {b}"
            );
        }
    }

    let expected_nll = case.expected["neg_loglik"].as_f64().unwrap();
    let nll_only = lik.neg_loglik(&case.data).unwrap();
    assert!(
        ((nll_only - expected_nll) / expected_nll).abs() < 1e-6,
        "{name}: -log L = {nll_only}, expected {expected_nll}"
    );

    let grad = &case.expected["grad"];
    let request = GradRequest {
        force: !grad["F"].is_null(),
        d: !grad["D"].is_null(),
        force0: !grad["F0"].is_null(),
        fr: !grad["Fr"].is_null(),
        c: !grad["C"].is_null(),
    };
    let (nll, got) = lik.neg_loglik_and_grad(&case.data, request).unwrap();
    assert!(
        ((nll - nll_only) / nll_only).abs() < 1e-12,
        "{name}: forward-only and gradient paths disagree: {nll_only} vs {nll}"
    );
    let mut report = vec![format!(
        "{name}: -log L rel err {:.2e}",
        ((nll - expected_nll) / expected_nll).abs()
    )];
    let mut check = |label: &str, ours: &[f64], theirs: &[f64]| {
        let (l2, mx) = (rel_l2(ours, theirs), rel_max(ours, theirs));
        report.push(format!("{label}: rel L2 {l2:.2e}, rel max {mx:.2e}"));
        assert!(l2 < 1e-5, "{name}: grad {label} relative L2 error {l2:.3e}");
    };
    if request.force {
        check("F", got.force.as_ref().unwrap(), &floats(&grad["F"]));
    }
    if request.force0 {
        check("F0", got.force0.as_ref().unwrap(), &floats(&grad["F0"]));
    }
    if request.d {
        check("D", &[got.d.unwrap()], &[grad["D"].as_f64().unwrap()]);
    }
    if request.fr {
        for (n, theirs) in grad["Fr"].as_array().unwrap().iter().enumerate() {
            check(
                &format!("Fr[{n}]"),
                &got.fr.as_ref().unwrap()[n],
                &floats(theirs),
            );
        }
    }
    if request.c {
        check("C", got.c.as_ref().unwrap(), &floats(&grad["C"]));
    }
    println!("{}", report.join("; "));
    let _ = &case.grid;
}

#[test]
fn every_reference_case_matches_with_the_banded_solver() {
    for path in case_files("reference") {
        check_case(&load(&path), &BandedSolver::default());
    }
}

#[test]
fn every_reference_case_matches_with_the_dense_solver() {
    for path in case_files("reference") {
        check_case(&load(&path), &DenseSolver);
    }
}
