//! The per-spike default learning rate must select the same models as the paper's absolute
//! rate on the demo's data (`demo --quick` settings: the paper's double well, 20,000 spikes,
//! seed 2020; grid 64 x 8, 32 modes, rate 0.01, early stop every 250 iterations). On the demo's
//! halves of ~10,000 spikes the two conventions take steps within a few percent of each other.

use latentflow::data::Split;
use latentflow::optim::{FitConfig, LearningRates, RateScale};
use latentflow::pipeline::EarlyStop;
use latentflow::select::symmetric_kl;
use latentflow::synth::{Amount, SimulationConfig, Simulator, TrialLength};
use latentflow::{GridSpec, Pipeline, PipelineConfig, PipelineResult};

const GRID: GridSpec = GridSpec {
    xbegin: -1.0,
    xend: 1.0,
    ne: 64,
    np: 8,
};

fn run(scale: RateScale) -> PipelineResult {
    let data = Simulator::new(SimulationConfig::paper())
        .unwrap()
        .run(Amount::Spikes(20_000), TrialLength::Fixed(10.0), 2020)
        .unwrap()
        .data;
    let grid = GRID.build().unwrap();
    let initial = latentflow::paper_initial_model(&grid).unwrap();
    let config = PipelineConfig {
        grid: GRID,
        nv: 32,
        split: Split::Alternating,
        fit: FitConfig {
            iterations: 3_000,
            learning_rates: LearningRates {
                force: 0.01,
                scale,
                ..LearningRates::paper()
            },
            ..FitConfig::default()
        },
        early_stop: Some(EarlyStop {
            check_every: 250,
            ..EarlyStop::default()
        }),
        ..PipelineConfig::default()
    };
    Pipeline::new(&data, &initial, config)
        .unwrap()
        .run([None, None])
        .unwrap()
}

#[test]
fn the_per_spike_default_selects_the_paper_rates_models() {
    let paper = run(RateScale::Absolute);
    let default = run(RateScale::PerSpike);
    let w = GRID.build().unwrap().w().to_vec();
    let (a, b) = (&paper.feature_consistency, &default.feature_consistency);
    eprintln!(
        "M*: absolute {} (iterations {} / {}), per spike {} (iterations {} / {})",
        a.m_star,
        a.selected.iteration1,
        a.selected.iteration2,
        b.m_star,
        b.selected.iteration1,
        b.selected.iteration2
    );
    assert!((a.m_star - b.m_star).abs() <= 0.2);
    for half in 0..2 {
        let index = |r: &PipelineResult| {
            let s = &r.feature_consistency.selected;
            [s.index1, s.index2][half]
        };
        let fc = symmetric_kl(
            &w,
            &paper.paths[half].models[index(&paper)].peq,
            &default.paths[half].models[index(&default)].peq,
        )
        .unwrap();
        let bg = symmetric_kl(
            &w,
            &paper.paths[half].models[paper.best_generalization[half].index].peq,
            &default.paths[half].models[default.best_generalization[half].index].peq,
        )
        .unwrap();
        eprintln!(
            "half {}: KL between the selections: FC {fc:.2e}, BG {bg:.2e}",
            half + 1
        );
        assert!(
            fc < 0.005 && bg < 0.01,
            "half {}: FC {fc}, BG {bg}",
            half + 1
        );
    }
}
