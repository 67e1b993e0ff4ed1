//! The mirror: a model and its mirror image (potential and tuning mirrored) explain the data
//! equally well. Two fits of the same data, one from a model and one from its mirror image,
//! trace mirror-image paths; the selection must turn the second round (its tuning curves agree
//! with the first's that way) and then find the two paths in agreement everywhere.

use std::sync::Arc;

use latentflow::likelihood::{Model, ModelParts, peq_from_force};
use latentflow::optim::{Fit, FitConfig, FitPath, Params, SpikeProblem};
use latentflow::orientation::{Orientation, choose_orientation, mirrored, path_points};
use latentflow::select::FeatureConsistency;
use latentflow::spectral::{BandedSolver, BoundaryMode, Grid, GridSpec};
use latentflow::synth::{Amount, SimulationConfig, Simulator, TrialLength, TuningCurve};

const NV: usize = 24;

fn fit(grid: &Arc<Grid>, model: &Model, data: &latentflow::data::SpikeData) -> FitPath {
    let problem = SpikeProblem::new(
        grid.clone(),
        BoundaryMode::Reflecting,
        data.clone(),
        None,
        NV,
        Box::new(BandedSolver::default()),
    );
    // Tuning in the (Fr, C) form, as when it is fitted; F is what moves here.
    let params = Params::from_model(model, true).unwrap();
    let config = FitConfig {
        iterations: 150,
        ..FitConfig::default()
    };
    let mut fit = Fit::new(
        problem,
        params,
        config,
        GridSpec::of(grid),
        BoundaryMode::Reflecting,
        NV,
    )
    .unwrap();
    fit.run(&mut []).unwrap();
    fit.into_path()
}

#[test]
fn mirror_image_fits_are_turned_round_and_agree() {
    let grid = Arc::new(Grid::new(-1.0, 1.0, 16, 8).unwrap());
    let rising = |x: f64| 5.0 + 30.0 * (x + 1.0) / 2.0;
    let peaked = |x: f64| 4.0 + 25.0 * (-((x - 0.4) / 0.3f64).powi(2)).exp();
    let data = Simulator::new(SimulationConfig {
        neurons: vec![TuningCurve::from_fn(rising), TuningCurve::from_fn(peaked)],
        ..SimulationConfig::paper()
    })
    .unwrap()
    .run(Amount::Spikes(4_000), TrialLength::Fixed(5.0), 5)
    .unwrap()
    .data;
    // A lopsided start: a tilted potential and two different tuning curves.
    let force: Vec<f64> = grid.x().iter().map(|x| 1.0 - 2.0 * x).collect();
    let rates: Vec<Vec<f64>> = vec![
        grid.x().iter().map(|&x| rising(x)).collect(),
        grid.x().iter().map(|&x| peaked(x)).collect(),
    ];
    let model = Model::new(
        grid.clone(),
        ModelParts {
            boundary: BoundaryMode::Reflecting,
            peq: peq_from_force(&grid, &force).unwrap(),
            p0: None,
            d: 10.0,
            rates: rates.clone(),
        },
    )
    .unwrap();
    let mirror = Model::new(
        grid.clone(),
        ModelParts {
            boundary: BoundaryMode::Reflecting,
            peq: mirrored(model.peq()),
            p0: None,
            d: 10.0,
            rates: rates.iter().map(|r| mirrored(r)).collect(),
        },
    )
    .unwrap();
    let a = fit(&grid, &model, &data);
    let b = fit(&grid, &mirror, &data);

    let choice = choose_orientation(&grid, &a.models, &b.models).unwrap();
    assert_eq!(choice.half2, Orientation::Mirrored, "{choice:?}");
    assert!(choice.distance_mirrored.unwrap() < 1e-12 * choice.distance_as_fitted.unwrap());

    let w = grid.w();
    let fc = FeatureConsistency::kl();
    let turned = fc
        .select(
            w,
            &path_points(&grid, &a.models, Orientation::AsFitted).unwrap(),
            &path_points(&grid, &b.models, Orientation::Mirrored).unwrap(),
        )
        .unwrap();
    let largest = turned
        .divergence
        .iter()
        .flatten()
        .fold(0.0f64, |m, &d| m.max(d));
    assert!(largest < 1e-8, "mirrored paths differ by {largest}");
    assert!(!turned.crossed);
    // As fitted, the two paths disagree from the start.
    let as_fitted = fc
        .select(
            w,
            &path_points(&grid, &a.models, Orientation::AsFitted).unwrap(),
            &path_points(&grid, &b.models, Orientation::AsFitted).unwrap(),
        )
        .unwrap();
    assert!(
        as_fitted
            .divergence
            .iter()
            .flatten()
            .any(|&d| d > fc.threshold)
    );
}
