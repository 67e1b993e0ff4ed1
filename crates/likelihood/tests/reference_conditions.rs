//! Several conditions against the original package (`fixtures/reference_conditions`, written by
//! its `make_cases.py` with neuralflow 3.0.0): per-condition -log L and gradients from neuralflow,
//! shared parameters' gradients summed over conditions (docs/method.md §12). Tolerances as for
//! the single-condition cases (`reference.rs`).

mod common;

use common::{boundary_of, case_files, floats, grid_of, trials_of};
use latentflow_data::SpikeData;
use latentflow_likelihood::{
    ByCondition, ConditionLikelihoods, ConditionModels, GradRequest, Model, ModelParts,
    ParameterSharing, Sharing,
};
use latentflow_spectral::BandedSolver;
use serde_json::Value;

fn rel_l2(ours: &[f64], theirs: &[f64]) -> f64 {
    assert_eq!(ours.len(), theirs.len());
    let num: f64 = ours.iter().zip(theirs).map(|(a, b)| (a - b).powi(2)).sum();
    let den: f64 = theirs.iter().map(|b| b * b).sum();
    (num / den).sqrt()
}

fn sharing(v: &Value, key: &str) -> Sharing {
    match v[key].as_str().unwrap() {
        "shared" => Sharing::Shared,
        "per_condition" => Sharing::PerCondition,
        other => panic!("unknown sharing {other}"),
    }
}

/// The expected gradient of one parameter: per condition, or summed if shared.
fn expected<T: Clone>(per: &[T], s: Sharing, add: impl Fn(&T, &T) -> T) -> ByCondition<T> {
    match s {
        Sharing::PerCondition => ByCondition::PerCondition(per.to_vec()),
        Sharing::Shared => {
            ByCondition::Shared(per[1..].iter().fold(per[0].clone(), |a, b| add(&a, b)))
        }
    }
}

fn flat<T: Clone>(b: &ByCondition<T>) -> Vec<T> {
    match b {
        ByCondition::Shared(v) => vec![v.clone()],
        ByCondition::PerCondition(v) => v.clone(),
    }
}

fn add(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a + b).collect()
}

#[test]
fn several_conditions_match_the_original() {
    for path in case_files("reference_conditions") {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let name = v["name"].as_str().unwrap().to_string();
        let grid = grid_of(&v);
        let dx = grid
            .x()
            .iter()
            .zip(floats(&v["x"]))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(dx < 1e-13, "{name}: grid differs by {dx}");
        let boundary = boundary_of(&v);
        let s = &v["sharing"];
        let sharing = ParameterSharing {
            force: sharing(s, "peq"),
            force0: sharing(s, "p0"),
            d: sharing(s, "D"),
            rates: sharing(s, "fr"),
        };
        let models: Vec<Model> = v["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                Model::new(
                    grid.clone(),
                    ModelParts {
                        boundary,
                        peq: floats(&m["peq"]),
                        p0: (!m["p0"].is_null()).then(|| floats(&m["p0"])),
                        d: m["d"].as_f64().unwrap(),
                        rates: m["fr"].as_array().unwrap().iter().map(floats).collect(),
                    },
                )
                .unwrap()
            })
            .collect();
        let equilibrium = models[0].p0().is_none();
        let neurons = models[0].num_neurons();
        let trials = trials_of(&v);
        let data = SpikeData::new(neurons, trials).unwrap();
        let models = ConditionModels::new(models, sharing).unwrap();
        let liks = ConditionLikelihoods::new(
            &models,
            v["nv"].as_u64().unwrap() as usize,
            &BandedSolver::default(),
        )
        .unwrap();
        let request = GradRequest {
            force: true,
            d: true,
            force0: !equilibrium,
            fr: true,
            c: true,
        };
        let (nll, got) = liks.neg_loglik_and_grad(&data, request).unwrap();

        let exp = v["expected"].as_array().unwrap();
        let total: f64 = exp.iter().map(|e| e["neg_loglik"].as_f64().unwrap()).sum();
        assert!(
            ((nll - total) / total).abs() < 1e-6,
            "{name}: -log L {nll} vs {total}"
        );
        let per =
            |key: &str| -> Vec<Vec<f64>> { exp.iter().map(|e| floats(&e["grad"][key])).collect() };
        let check = |label: &str, ours: Vec<Vec<f64>>, theirs: Vec<Vec<f64>>| {
            assert_eq!(ours.len(), theirs.len(), "{name}: {label}: shared or not");
            for (c, (a, b)) in ours.iter().zip(&theirs).enumerate() {
                let err = rel_l2(a, b);
                assert!(
                    err < 1e-5,
                    "{name}: {label}[{c}] relative L2 error {err:.3e}"
                );
            }
        };
        check(
            "F",
            flat(got.force.as_ref().unwrap()),
            flat(&expected(
                &per("F"),
                sharing.force,
                |a: &Vec<f64>, b: &Vec<f64>| add(a, b),
            )),
        );
        let d_per: Vec<Vec<f64>> = exp
            .iter()
            .map(|e| vec![e["grad"]["D"].as_f64().unwrap()])
            .collect();
        let d_ours: Vec<Vec<f64>> = flat(got.d.as_ref().unwrap())
            .into_iter()
            .map(|d| vec![d])
            .collect();
        check(
            "D",
            d_ours,
            flat(&expected(
                &d_per,
                sharing.d,
                |a: &Vec<f64>, b: &Vec<f64>| add(a, b),
            )),
        );
        check(
            "C",
            flat(got.c.as_ref().unwrap()),
            flat(&expected(
                &per("C"),
                sharing.rates,
                |a: &Vec<f64>, b: &Vec<f64>| add(a, b),
            )),
        );
        let fr_per: Vec<Vec<f64>> = exp
            .iter()
            .map(|e| {
                e["grad"]["Fr"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(floats)
                    .collect()
            })
            .collect();
        let fr_ours: Vec<Vec<f64>> = flat(got.fr.as_ref().unwrap())
            .into_iter()
            .map(|f| f.concat())
            .collect();
        check(
            "Fr",
            fr_ours,
            flat(&expected(
                &fr_per,
                sharing.rates,
                |a: &Vec<f64>, b: &Vec<f64>| add(a, b),
            )),
        );
        if !equilibrium {
            check(
                "F0",
                flat(got.force0.as_ref().unwrap()),
                flat(&expected(
                    &per("F0"),
                    sharing.force0,
                    |a: &Vec<f64>, b: &Vec<f64>| add(a, b),
                )),
            );
        }
        println!("{name}: -log L {nll:.6} (neuralflow {total:.6})");
    }
}
