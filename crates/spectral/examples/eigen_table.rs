//! Prints cold and warm solve times of the Fokker–Planck eigenproblem on the paper's double
//! well (reflecting, D = 10, np = 8) for a range of grid sizes and mode counts, as a Markdown
//! table. Run with `cargo run --release -p latentflow-spectral --example eigen_table`.

use std::time::Instant;

use latentflow_spectral::{BandedSolver, BoundaryMode, EigenSolver, FokkerPlanck, FpModes, Grid};

/// peq = exp(-Phi) / Z for the paper's double well, optionally tilted by eps cos(pi x) in F.
fn double_well(grid: &Grid, eps: f64) -> Vec<f64> {
    let pi = std::f64::consts::PI;
    let f: Vec<f64> = grid
        .x()
        .iter()
        .map(|&x| {
            let s = x / 0.6;
            // F = -Phi' with Phi = 2 (s^4 - 2 s^2).
            -2.0 * (4.0 * s.powi(3) - 4.0 * s) / 0.6 + eps * (pi * x).cos()
        })
        .collect();
    let log_p = grid.antiderivative(&f);
    let top = log_p.iter().cloned().fold(f64::MIN, f64::max);
    let mut p: Vec<f64> = log_p.iter().map(|v| (v - top).exp()).collect();
    let z = grid.integrate(&p);
    p.iter_mut().for_each(|v| *v /= z);
    p
}

/// Median wall time (ms) of `reps` runs of `f`.
fn median_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[reps / 2]
}

fn main() -> Result<(), latentflow_spectral::SpectralError> {
    let solver = BandedSolver::default();
    println!("| ne | N | nv | cold (ms) | warm (ms) |");
    println!("|---:|---:|---:|---:|---:|");
    for ne in [64, 128, 256, 512, 1024] {
        let grid = Grid::new(-1.0, 1.0, ne, 8)?;
        let fp0 = FokkerPlanck::new(
            &grid,
            &double_well(&grid, 0.0),
            10.0,
            BoundaryMode::Reflecting,
        )?;
        let fp1 = FokkerPlanck::new(
            &grid,
            &double_well(&grid, 1e-3),
            10.0,
            BoundaryMode::Reflecting,
        )?;
        for nv in [16, 32, 64, 128, 256] {
            if 2 * nv > fp0.max_modes() {
                continue;
            }
            let prev: FpModes = fp0.solve(nv, &solver, None)?;
            let reps = if grid.n() > 4000 { 3 } else { 7 };
            let cold = median_ms(reps, || {
                fp1.solve(nv, &solver as &dyn EigenSolver, None)
                    .map(drop)
                    .ok();
            });
            let warm = median_ms(reps, || {
                fp1.solve(nv, &solver, Some(&prev)).map(drop).ok();
            });
            println!("| {ne} | {} | {nv} | {cold:.2} | {warm:.2} |", grid.n());
        }
    }
    Ok(())
}
