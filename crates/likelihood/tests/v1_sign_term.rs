//! The term the paper's code added to the F gradient when its eigensolver returned the ground
//! state of H0 negated (`Likelihood::neg_loglik_grad_and_v1_sign_term`, docs/method.md §10):
//! against the paper's code itself (`fixtures/v1/sign_term.json`, written by
//! `fixtures/v1/make_sign_term.py` with neuralflow v1.0.0), against a brute-force computation
//! with dense propagators, and its shape (0 at a, -2 per trial at b, non-increasing).

use std::path::Path;
use std::sync::Arc;

use latentflow_data::{SpikeData, Trial};
use latentflow_likelihood::{GradRequest, Likelihood, Model, ModelParts, peq_from_force};
use latentflow_spectral::dense::{Mat, matmul};
use latentflow_spectral::{BoundaryMode, DenseSolver, Grid};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

/// max_i |a_i - b_i| / max_i |b_i|.
fn rel_max(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / scale
}

/// The paper's code's case: model, data, nv and the expected values.
fn v1_case() -> (Model, SpikeData, usize, Value) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/v1/sign_term.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let g = &v["grid"];
    let dim = |k: &str| g[k].as_u64().unwrap() as usize;
    let grid = Arc::new(
        Grid::new(
            g["xbegin"].as_f64().unwrap(),
            g["xend"].as_f64().unwrap(),
            dim("ne"),
            dim("np"),
        )
        .unwrap(),
    );
    let m = &v["model"];
    let model = Model::new(
        grid,
        ModelParts {
            boundary: BoundaryMode::Reflecting,
            peq: floats(&m["peq"]),
            p0: None,
            d: m["d"].as_f64().unwrap(),
            rates: m["fr"].as_array().unwrap().iter().map(floats).collect(),
        },
    )
    .unwrap();
    let trials = v["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let neuron = t["neuron"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| Some(n.as_u64().unwrap() as u32))
                .collect();
            Trial::new(floats(&t["isi"]), neuron).unwrap()
        })
        .collect();
    let data = SpikeData::new(1, trials).unwrap();
    (
        model,
        data,
        v["nv"].as_u64().unwrap() as usize,
        v["expected"].clone(),
    )
}

/// The paper's code (neuralflow v1.0.0) run with the ground state as +sqrt(peq) and negated:
/// the difference of its two F gradients is delta. Its -log L and true F gradient are ours
/// too (same formula, same units).
#[test]
fn equals_the_difference_of_the_paper_codes_two_gradients() {
    let (model, data, nv, expected) = v1_case();
    let lik = Likelihood::new(&model, nv, &DenseSolver).unwrap();
    let (nll, grads, delta) = lik
        .neg_loglik_grad_and_v1_sign_term(&data, GradRequest::FORCE)
        .unwrap();
    let v1_nll = expected["neg_loglik"].as_f64().unwrap();
    assert!(
        ((nll - v1_nll) / v1_nll).abs() < 1e-9,
        "-log L {nll} vs v1's {v1_nll}"
    );
    let v1_grad = floats(&expected["grad_f"]);
    let err = rel_max(grads.force.as_ref().unwrap(), &v1_grad);
    println!("grad F vs v1: rel max {err:.1e}");
    // Measured: 7e-11.
    assert!(
        err < 1e-8,
        "grad F differs from v1's by {err:.2e} (relative)"
    );
    let v1_delta: Vec<f64> = floats(&expected["grad_f_negated"])
        .iter()
        .zip(&v1_grad)
        .map(|(neg, pos)| neg - pos)
        .collect();
    let err = rel_max(&delta, &v1_delta);
    // Measured: 4e-13.
    assert!(
        err < 1e-10,
        "delta differs from v1's by {err:.2e} (relative)"
    );
    println!("delta vs v1: rel max {err:.1e}");
}

/// exp(-t H) for a symmetric positive semi-definite H, by scaling and squaring of the Taylor
/// series (no eigendecomposition).
fn expm_neg(h: &Mat, t: f64) -> Mat {
    let n = h.nrows();
    let norm = (0..n)
        .map(|j| h.col(j).iter().map(|v| v.abs()).sum::<f64>())
        .fold(0.0, f64::max)
        * t;
    let squarings = (norm / 0.25).log2().ceil().max(0.0) as i32;
    let s = -t / 2f64.powi(squarings);
    let x = Mat::from_col_major(n, n, h.as_slice().iter().map(|v| v * s).collect());
    let mut sum = Mat::identity(n);
    let mut term = Mat::identity(n);
    for k in 1..=20 {
        let mut next = Mat::zeros(n, n);
        matmul(&mut next, &term, false, &x, false, 1.0 / k as f64, 0.0);
        term = next;
        sum.as_mut_slice()
            .iter_mut()
            .zip(term.as_slice())
            .for_each(|(a, b)| *a += b);
    }
    for _ in 0..squarings {
        let mut sq = Mat::zeros(n, n);
        matmul(&mut sq, &sum, false, &sum, false, 1.0, 0.0);
        sum = sq;
    }
    sum
}

fn apply(m: &Mat, v: &[f64]) -> Vec<f64> {
    (0..m.nrows())
        .map(|i| (0..m.ncols()).map(|j| m.get(i, j) * v[j]).sum())
        .collect()
}

fn unit(v: Vec<f64>) -> Vec<f64> {
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.iter().map(|x| x / n).collect()
}

/// delta from the formula of docs/method.md §10 with the messages computed independently: in
/// the H0 basis of all modes, with dense propagators exp(-t Hd) (Taylor, scaling and squaring),
/// Hd = diag(lambda) + Psi^T diag(w f_tot) Psi, spike operators Psi^T diag(w f_n) Psi and the
/// absorption operator diag(lambda); the posteriors at the trial's ends are the messages
/// divided by their integral against sqrt(peq).
fn brute_force(lik: &Likelihood, data: &SpikeData) -> Vec<f64> {
    let model = lik.model();
    let grid = model.grid();
    let (w, peq) = (grid.w(), model.peq());
    let modes = lik.modes();
    let (psi, lambda) = (&modes.psi, &modes.lambda);
    let m = lambda.len();
    let gram = |f: &[f64]| {
        let mut out = Mat::zeros(m, m);
        for j in 0..m {
            for k in 0..m {
                let v = (0..grid.n())
                    .map(|i| psi.get(i, j) * w[i] * f[i] * psi.get(i, k))
                    .sum();
                out.set(j, k, v);
            }
        }
        out
    };
    let spike: Vec<Mat> = model.rates().iter().map(|r| gram(r)).collect();
    let total: Vec<f64> = (0..grid.n())
        .map(|i| model.rates().iter().map(|r| r[i]).sum())
        .collect();
    let mut hd = gram(&total);
    for k in 0..m {
        hd.set(k, k, hd.get(k, k) + lambda[k]);
    }
    let wsp: Vec<f64> = (0..grid.n()).map(|i| w[i] * peq[i].sqrt()).collect();
    let b: Vec<f64> = (0..m)
        .map(|k| (0..grid.n()).map(|i| psi.get(i, k) * wsp[i]).sum())
        .collect();
    let absorbing = model.boundary() == BoundaryMode::Absorbing;
    let flux = |v: &[f64]| -> Vec<f64> { v.iter().zip(lambda).map(|(x, l)| x * l).collect() };
    // Posterior density on the nodes from a message in the H0 basis.
    let posterior = |v: &[f64]| -> Vec<f64> {
        let nodes: Vec<f64> = (0..grid.n())
            .map(|i| (0..m).map(|k| psi.get(i, k) * v[k]).sum())
            .collect();
        let mass: f64 = nodes.iter().zip(&wsp).map(|(a, b)| a * b).sum();
        nodes
            .iter()
            .zip(peq)
            .map(|(a, p)| p.sqrt() * a / mass)
            .collect()
    };
    let mut density = vec![0.0; grid.n()];
    for trial in data.trials() {
        let props: Vec<Mat> = trial.isi().iter().map(|&t| expm_neg(&hd, t)).collect();
        let absorbed = absorbing && !trial.censored();
        let mut a = unit(b.clone());
        for (e, n) in props.iter().zip(trial.neuron()) {
            a = apply(e, &a);
            if let Some(n) = n {
                a = apply(&spike[*n as usize], &a);
            }
            a = unit(a);
        }
        if absorbed {
            a = unit(flux(&a));
        }
        let mut beta = unit(if absorbed { flux(&b) } else { b.clone() });
        for (e, n) in props.iter().zip(trial.neuron()).rev() {
            if let Some(n) = n {
                beta = apply(&spike[*n as usize], &beta);
            }
            beta = unit(apply(e, &beta));
        }
        for (d, (x, y)) in density
            .iter_mut()
            .zip(posterior(&a).iter().zip(&posterior(&beta)))
        {
            *d += x + y;
        }
    }
    grid.antiderivative(&density).iter().map(|v| -v).collect()
}

/// A small random equilibrium model with two neurons and a few trials of random length, each
/// ending in a silent tail except one that ends with a spike; the last trial is censored in
/// absorbing mode.
fn random_case(rng: &mut StdRng, boundary: BoundaryMode) -> (Model, SpikeData) {
    let grid = Arc::new(Grid::new(-1.0, 1.0, 6, 6).unwrap());
    let x = grid.x();
    let (a1, a3) = (rng.random_range(-3.0..3.0), rng.random_range(-3.0..3.0));
    let force: Vec<f64> = x.iter().map(|&x| a1 * x + a3 * x.powi(3)).collect();
    let rates = (0..2)
        .map(|n| {
            let slope = if n == 0 { 20.0 } else { -20.0 };
            x.iter().map(|&x| 25.0 + slope * x).collect()
        })
        .collect();
    let model = Model::new(
        grid.clone(),
        ModelParts {
            boundary,
            peq: peq_from_force(&grid, &force).unwrap(),
            p0: None,
            d: rng.random_range(0.5..2.0),
            rates,
        },
    )
    .unwrap();
    let count = 4;
    let trials = (0..count)
        .map(|t| {
            let spikes = rng.random_range(1..12usize);
            let isi = (0..=spikes)
                .map(|_| rng.random_range(0.005..0.3))
                .collect::<Vec<f64>>();
            let mut neuron: Vec<Option<u32>> = (0..=spikes)
                .map(|_| Some(rng.random_range(0..2u32)))
                .collect();
            if t != 1 {
                neuron[spikes] = None;
            }
            Trial::new(isi, neuron)
                .unwrap()
                .with_censored(boundary == BoundaryMode::Absorbing && t + 1 == count)
        })
        .collect();
    (model, SpikeData::new(2, trials).unwrap())
}

#[test]
fn equals_a_brute_force_computation_in_both_boundary_modes() {
    let mut rng = StdRng::seed_from_u64(7);
    for boundary in [BoundaryMode::Reflecting, BoundaryMode::Absorbing] {
        for _ in 0..3 {
            let (model, data) = random_case(&mut rng, boundary);
            let lik = Likelihood::new(&model, model.grid().n() - 2, &DenseSolver).unwrap();
            let (_, _, delta) = lik
                .neg_loglik_grad_and_v1_sign_term(&data, GradRequest::FORCE)
                .unwrap();
            let err = rel_max(&delta, &brute_force(&lik, &data));
            println!("{boundary:?}: rel max {err:.1e}");
            // Measured: up to 5e-14.
            assert!(err < 1e-11, "{boundary:?}: delta differs by {err:.2e}");
        }
    }
}

/// 0 at a, -2 per trial at b (each message integrates to 1 against sqrt(peq)); with
/// reflecting ends non-increasing (sqrt(peq) times either message is a posterior density). An
/// absorbed trial's end message is the absorption flux, which need not be positive.
#[test]
fn runs_from_zero_to_minus_two_per_trial_and_falls_with_reflecting_ends() {
    let mut cases = vec![v1_case()];
    let mut rng = StdRng::seed_from_u64(11);
    for boundary in [BoundaryMode::Reflecting, BoundaryMode::Absorbing] {
        let (model, data) = random_case(&mut rng, boundary);
        let nv = model.grid().n() - 2;
        cases.push((model, data, nv, Value::Null));
    }
    for (model, data, nv, _) in cases {
        let lik = Likelihood::new(&model, nv, &DenseSolver).unwrap();
        let (_, _, delta) = lik
            .neg_loglik_grad_and_v1_sign_term(&data, GradRequest::FORCE)
            .unwrap();
        let end = -2.0 * data.num_trials() as f64;
        assert_eq!(delta[0], 0.0);
        let last = *delta.last().unwrap();
        assert!(
            ((last - end) / end).abs() < 1e-12,
            "delta(b) = {last}, not {end}"
        );
        let rise = delta.windows(2).map(|p| p[1] - p[0]).fold(0.0f64, f64::max);
        println!("{:?}, nv {nv}: largest rise {rise:.1e}", model.boundary());
        // Measured: 0 (the v1 case with 64 of 111 modes, and all modes).
        if model.boundary() == BoundaryMode::Reflecting {
            assert!(rise <= 1e-12 * end.abs(), "delta rises by {rise:.2e}");
        }
    }
}

#[test]
fn gradients_are_those_of_the_plain_evaluation_and_p0_is_refused() {
    let mut rng = StdRng::seed_from_u64(3);
    let (model, data) = random_case(&mut rng, BoundaryMode::Reflecting);
    let lik = Likelihood::new(&model, 20, &DenseSolver).unwrap();
    let every = GradRequest {
        force0: false,
        ..GradRequest::ALL
    };
    let (nll, grads) = lik.neg_loglik_and_grad(&data, every).unwrap();
    let (nll2, grads2, _) = lik.neg_loglik_grad_and_v1_sign_term(&data, every).unwrap();
    assert_eq!((nll.to_bits(), &grads), (nll2.to_bits(), &grads2));

    let non_eq = Model::new(
        model.grid().clone(),
        ModelParts {
            boundary: BoundaryMode::Reflecting,
            peq: model.peq().to_vec(),
            p0: Some(model.peq().to_vec()),
            d: model.d(),
            rates: model.rates().to_vec(),
        },
    )
    .unwrap();
    let lik = Likelihood::new(&non_eq, 20, &DenseSolver).unwrap();
    let err = lik
        .neg_loglik_grad_and_v1_sign_term(&data, GradRequest::FORCE)
        .unwrap_err();
    assert!(err.to_string().contains("equilibrium models only"), "{err}");
}
