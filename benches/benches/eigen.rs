//! Criterion group `eigen`: the lowest 64 Fokker–Planck modes of the paper's double well
//! (ne = 256, np = 8, N = 1793, D = 10, reflecting). Each iteration assembles the problem and
//! solves it, as one fit iteration does.
//!
//! - `fast_ne256_nv64`: banded solver, cold start (shift-invert Lanczos).
//! - `warm_ne256_nv64`: banded solver on F + 1e-3 cos(pi x) (about one gradient step),
//!   warm-started from the modes of F.
//! - `dense_ne256`: dense reference solver (all modes, O(N^3)).

use criterion::{Criterion, criterion_group, criterion_main};
use latentflow_benches::{PAPER_D, paper_grid, paper_model};
use latentflow_likelihood::peq_from_force;
use latentflow_spectral::{BandedSolver, BoundaryMode, DenseSolver, FokkerPlanck};

const NV: usize = 64;

fn eigen(c: &mut Criterion) {
    let grid = paper_grid();
    let model = paper_model(&grid, BoundaryMode::Reflecting);
    let peq = model.peq().to_vec();
    let pi = std::f64::consts::PI;
    let nudged_force: Vec<f64> = model
        .force()
        .iter()
        .zip(grid.x())
        .map(|(f, x)| f + 1e-3 * (pi * x).cos())
        .collect();
    let nudged = peq_from_force(&grid, &nudged_force).expect("peq");
    let solver = BandedSolver::default();
    let reflecting = BoundaryMode::Reflecting;
    let previous = FokkerPlanck::new(&grid, &peq, PAPER_D, reflecting)
        .and_then(|fp| fp.solve(NV, &solver, None))
        .expect("cold solve");

    let mut group = c.benchmark_group("eigen");
    group.bench_function("fast_ne256_nv64", |b| {
        b.iter(|| {
            FokkerPlanck::new(&grid, &peq, PAPER_D, reflecting)
                .and_then(|fp| fp.solve(NV, &solver, None))
                .expect("cold solve")
        })
    });
    group.bench_function("warm_ne256_nv64", |b| {
        b.iter(|| {
            FokkerPlanck::new(&grid, &nudged, PAPER_D, reflecting)
                .and_then(|fp| fp.solve(NV, &solver, Some(&previous)))
                .expect("warm solve")
        })
    });
    group.sample_size(10);
    group.bench_function("dense_ne256", |b| {
        b.iter(|| {
            FokkerPlanck::new(&grid, &peq, PAPER_D, reflecting)
                .and_then(|fp| fp.solve(NV, &DenseSolver, None))
                .expect("dense solve")
        })
    });
    group.finish();
}

criterion_group!(benches, eigen);
criterion_main!(benches);
