//! Synthetic-data bench (`synth` group): the paper's ground truth (double well, D = 10, one
//! neuron 100 (x + 1) Hz, reflecting, dt = 1e-4 s), 100 s of latent path and spikes in one
//! trial (10^6 Euler–Maruyama steps). The original package takes about 15.5 s for this.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use latentflow_synth::{Amount, SimulationConfig, Simulator, TrialLength};

fn synth(c: &mut Criterion) {
    let mut group = c.benchmark_group("synth");
    let sim = Simulator::new(SimulationConfig::paper()).expect("paper config");
    let mut seed = 0u64;
    group.bench_function("double_well_100s", |b| {
        b.iter(|| {
            seed += 1;
            let out = sim
                .run(
                    Amount::Seconds(100.0),
                    TrialLength::Fixed(100.0),
                    black_box(seed),
                )
                .expect("simulation");
            black_box(out.data.num_spikes())
        })
    });
    group.finish();
}

criterion_group!(benches, synth);
criterion_main!(benches);
