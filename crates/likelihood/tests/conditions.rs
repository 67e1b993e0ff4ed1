//! Several conditions (docs/method.md §12): -log L is the sum over conditions, and the
//! gradients (shared parameters summed over conditions, per-condition ones separate) agree with
//! central finite differences of the total -log L.

mod common;

use common::{case_files, load};
use latentflow_data::{SpikeData, Trial};
use latentflow_likelihood::{
    ByCondition, ConditionLikelihoods, ConditionModels, GradRequest, Likelihood, Model, ModelParts,
    ParameterSharing, Sharing, force_from_peq, peq_from_force,
};
use latentflow_spectral::{BandedSolver, BoundaryMode};

/// The absorbing reference case (non-equilibrium p0, all modes) as three conditions: p0 and the
/// rates per condition, the potential and D shared; trial k in condition k mod 3.
fn three_conditions() -> (ConditionModels, SpikeData, usize) {
    let path = case_files("reference")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("absorbing_linear_2n"))
        .unwrap();
    let case = load(&path);
    let grid = case.model.grid().clone();
    let f0 = force_from_peq(&grid, case.model.p0().unwrap()).unwrap();
    let models: Vec<Model> = (0..3)
        .map(|c| {
            let shift = 0.5 * c as f64;
            let f0c: Vec<f64> = f0
                .iter()
                .zip(grid.x())
                .map(|(f, x)| f + shift * x)
                .collect();
            let scale = 1.0 + 0.2 * c as f64;
            Model::new(
                grid.clone(),
                ModelParts {
                    boundary: BoundaryMode::Absorbing,
                    peq: case.model.peq().to_vec(),
                    p0: Some(peq_from_force(&grid, &f0c).unwrap()),
                    d: case.model.d(),
                    rates: case
                        .model
                        .rates()
                        .iter()
                        .map(|r| r.iter().map(|v| v * scale).collect())
                        .collect(),
                },
            )
            .unwrap()
        })
        .collect();
    let sharing = ParameterSharing {
        force: Sharing::Shared,
        force0: Sharing::PerCondition,
        d: Sharing::Shared,
        rates: Sharing::PerCondition,
    };
    let trials: Vec<Trial> = case
        .data
        .trials()
        .iter()
        .enumerate()
        .map(|(k, t)| t.clone().with_condition((k % 3) as u32))
        .collect();
    let data = SpikeData::new(case.model.num_neurons(), trials).unwrap();
    (
        ConditionModels::new(models, sharing).unwrap(),
        data,
        case.nv,
    )
}

fn total(models: Vec<Model>, sharing: ParameterSharing, data: &SpikeData, nv: usize) -> f64 {
    let models = ConditionModels::new(models, sharing).unwrap();
    ConditionLikelihoods::new(&models, nv, &BandedSolver::default())
        .unwrap()
        .neg_loglik(data)
        .unwrap()
}

fn close(fd: f64, analytic: f64, what: &str) {
    let err = (fd - analytic).abs() / analytic.abs().max(1e-3);
    assert!(
        err < 1e-5,
        "{what}: finite differences {fd}, gradient {analytic} (rel {err})"
    );
}

#[test]
fn gradients_of_shared_and_per_condition_parameters_match_finite_differences() {
    let (models, data, nv) = three_conditions();
    let sharing = models.sharing();
    let liks = ConditionLikelihoods::new(&models, nv, &BandedSolver::default()).unwrap();
    let request = GradRequest {
        force: true,
        d: true,
        force0: true,
        fr: false,
        c: true,
    };
    let (nll, g) = liks.neg_loglik_and_grad(&data, request).unwrap();

    // The sum over conditions, each condition's trials under its own model.
    let parts = data.by_condition().unwrap();
    let direct: f64 = models
        .models()
        .iter()
        .zip(&parts)
        .map(|(m, d)| {
            Likelihood::new(m, nv, &BandedSolver::default())
                .unwrap()
                .neg_loglik(d)
                .unwrap()
        })
        .sum();
    assert!((nll - direct).abs() < 1e-9 * direct.abs());

    let grid = models.models()[0].grid().clone();
    let w = grid.w();
    let dir: Vec<f64> = grid.x().iter().map(|x| (2.0 * x).sin() + 0.3).collect();
    let h = 1e-5;
    let fd = |perturb: &dyn Fn(&Model, usize, f64) -> Model| -> f64 {
        let at = |s: f64| {
            let ms: Vec<Model> = models
                .models()
                .iter()
                .enumerate()
                .map(|(c, m)| perturb(m, c, s))
                .collect();
            total(ms, sharing, &data, nv)
        };
        (at(h) - at(-h)) / (2.0 * h)
    };
    let along = |grad: &[f64]| -> f64 {
        grad.iter()
            .zip(&dir)
            .zip(w)
            .map(|((g, d), w)| g * d * w)
            .sum()
    };

    // Shared F: moved in every condition at once.
    let Some(ByCondition::Shared(gf)) = &g.force else {
        panic!("F is shared")
    };
    let fd_f = fd(&|m, _, s| {
        let f: Vec<f64> = force_from_peq(&grid, m.peq())
            .unwrap()
            .iter()
            .zip(&dir)
            .map(|(f, d)| f + s * d)
            .collect();
        m.with_peq(peq_from_force(&grid, &f).unwrap()).unwrap()
    });
    close(fd_f, along(gf), "shared F");

    // Shared D.
    let Some(ByCondition::Shared(gd)) = g.d else {
        panic!("D is shared")
    };
    let fd_d = fd(&|m, _, s| {
        Model::new(
            grid.clone(),
            ModelParts {
                d: m.d() + s,
                ..m.parts()
            },
        )
        .unwrap()
    });
    close(fd_d, gd, "shared D");

    // Per-condition F0: condition 1's only.
    let Some(ByCondition::PerCondition(gf0)) = &g.force0 else {
        panic!("F0 is per condition")
    };
    let fd_f0 = fd(&|m, c, s| {
        if c != 1 {
            return m.clone();
        }
        let f0: Vec<f64> = force_from_peq(&grid, m.p0().unwrap())
            .unwrap()
            .iter()
            .zip(&dir)
            .map(|(f, d)| f + s * d)
            .collect();
        Model::new(
            grid.clone(),
            ModelParts {
                p0: Some(peq_from_force(&grid, &f0).unwrap()),
                ..m.parts()
            },
        )
        .unwrap()
    });
    close(fd_f0, along(&gf0[1]), "F0 of condition 1");

    // Per-condition C: neuron 1 of condition 2 (rates scale with C).
    let Some(ByCondition::PerCondition(gc)) = &g.c else {
        panic!("C is per condition")
    };
    let fd_c = fd(&|m, c, s| {
        if c != 2 {
            return m.clone();
        }
        let mut parts = m.parts();
        let c1 = parts.rates[1][0];
        parts.rates[1].iter_mut().for_each(|v| *v *= (c1 + s) / c1);
        Model::new(grid.clone(), parts).unwrap()
    });
    close(fd_c, gc[2][1], "C_1 of condition 2");
}

#[test]
fn mismatches_are_refused_with_the_condition_named() {
    let (models, data, nv) = three_conditions();
    let mut ms = models.models().to_vec();
    let other = ms[0].with_peq(ms[1].p0().unwrap().to_vec()).unwrap();
    ms[2] = other;
    let err = ConditionModels::new(ms, models.sharing())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("condition 2") && err.contains("potential"),
        "{err}"
    );
    let two = ConditionModels::new(models.models()[..2].to_vec(), models.sharing()).unwrap();
    let liks = ConditionLikelihoods::new(&two, nv, &BandedSolver::default()).unwrap();
    let err = liks.neg_loglik(&data).unwrap_err().to_string();
    assert!(
        err.contains("3 conditions") && err.contains("models 2"),
        "{err}"
    );
}
