//! Grid and Fokker–Planck eigenvalues against the original package (`fixtures/reference`).

use std::path::Path;

use latentflow_spectral::{
    BandedSolver, BoundaryMode, DenseSolver, EigenSolver, FokkerPlanck, Grid,
};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn grid_and_eigenvalues_match_every_reference_case() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/reference");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        count += 1;
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let g = &v["grid"];
        let grid = Grid::new(
            g["xbegin"].as_f64().unwrap(),
            g["xend"].as_f64().unwrap(),
            g["ne"].as_u64().unwrap() as usize,
            g["np"].as_u64().unwrap() as usize,
        )
        .unwrap();
        let m = &v["model"];
        for (name, ours) in [("x", grid.x()), ("w", grid.w())] {
            for (a, b) in ours.iter().zip(floats(&m[name])) {
                assert!(
                    (a - b).abs() < 1e-13,
                    "{}: {name} {a} vs {b}",
                    path.display()
                );
            }
        }
        let mode = match v["boundary"].as_str().unwrap() {
            "reflecting" => BoundaryMode::Reflecting,
            _ => BoundaryMode::Absorbing,
        };
        let fp =
            FokkerPlanck::new(&grid, &floats(&m["peq"]), m["d"].as_f64().unwrap(), mode).unwrap();
        let expected = floats(&v["expected"]["eigenvalues"]);
        let solvers: [&dyn EigenSolver; 2] = [&DenseSolver, &BandedSolver::default()];
        for solver in solvers {
            let modes = fp.solve(expected.len(), solver, None).unwrap();
            for (k, (a, b)) in modes.lambda.iter().zip(&expected).enumerate() {
                if b.abs() < 1e-6 {
                    assert!(a.abs() < 1e-8, "{}: lambda_{k} = {a}", path.display());
                } else {
                    assert!(
                        ((a - b) / b).abs() < 1e-9,
                        "{} {solver:?}: lambda_{k} = {a}, expected {b}",
                        path.display()
                    );
                }
            }
        }
    }
    assert_eq!(count, 5);
}
