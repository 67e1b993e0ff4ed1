//! The .npz of `latentflow decode`, and JSON helpers.

use std::path::Path;

use latentflow::data::{NpzArray, NpzValues, Psth, write_npz_arrays};
use latentflow::likelihood::Model;
use serde_json::{Value, json};

use super::Decoded;

/// Rows of numbers with NaN as null (JSON has no NaN).
pub(super) fn nan_to_null(rows: &[Vec<f64>]) -> Value {
    json!(
        rows.iter()
            .map(|r| r
                .iter()
                .map(|v| v.is_finite().then_some(*v))
                .collect::<Vec<_>>())
            .collect::<Vec<_>>()
    )
}

/// The .npz: per decoded trial `t_<k>`, `mean_<k>`, `sd_<k>`, `lower_<k>`, `upper_<k>`
/// (and `density_<k>`, times x nodes, with --density), `viterbi_t_<k>`, `viterbi_x_<k>`;
/// the grid `x`; `psth_t`, `psth_rate`, `psth_sem`, `psth_model` (neurons x windows).
pub(super) fn write_npz(
    path: &Path,
    decoded: &[Decoded],
    psth: &Psth,
    predicted: &[Vec<f64>],
    model: &Model,
) -> anyhow::Result<()> {
    let f64s = |name: String, v: &[f64]| NpzArray::vector(name, NpzValues::F64(v.to_vec()));
    let matrix = |name: &str, rows: &[Vec<f64>]| NpzArray {
        name: name.into(),
        shape: vec![
            rows.len() as u64,
            rows.first().map_or(0, |r| r.len()) as u64,
        ],
        values: NpzValues::F64(rows.concat()),
    };
    let mut arrays = vec![f64s("x".into(), model.grid().x())];
    for d in decoded {
        let (k, p) = (d.trial, &d.posterior);
        arrays.push(f64s(format!("t_{k}"), &p.times));
        arrays.push(f64s(format!("mean_{k}"), &p.mean));
        arrays.push(f64s(format!("sd_{k}"), &p.sd));
        arrays.push(f64s(format!("lower_{k}"), &p.lower));
        arrays.push(f64s(format!("upper_{k}"), &p.upper));
        if !p.density.is_empty() {
            arrays.push(matrix(&format!("density_{k}"), &p.density));
        }
        if let Some(v) = &d.viterbi {
            arrays.push(f64s(format!("viterbi_t_{k}"), &v.times));
            arrays.push(f64s(format!("viterbi_x_{k}"), &v.x));
        }
    }
    arrays.push(f64s("psth_t".into(), &psth.times));
    arrays.push(matrix("psth_rate", &psth.rate));
    arrays.push(matrix("psth_sem", &psth.sem));
    arrays.push(matrix("psth_model", predicted));
    write_npz_arrays(path, &arrays)?;
    Ok(())
}
