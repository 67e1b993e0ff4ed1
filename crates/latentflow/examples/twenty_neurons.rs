//! Writes the example recording `fixtures/data/twenty_neurons.npz`: 20 neurons with different
//! tuning — 7 rising, 7 falling, 6 peaked, 5 to 40 Hz — driven by the paper's double well
//! (D = 10 /s, reflecting on [-1, 1]), about 25,000 spikes in trials of 5 s, seed 19. The
//! latent path is not stored: like a real recording, the file holds spikes only.
//!
//!     cargo run --release -p latentflow --example twenty_neurons -- fixtures/data/twenty_neurons.npz

use latentflow::synth::{Amount, SimulationConfig, Simulator, TrialLength, TuningCurve};

/// The 20 tuning curves (Hz).
fn tuning() -> Vec<TuningCurve> {
    let mut neurons = Vec::new();
    // Rising from `lo` at x = -1 to `hi` at x = 1, with curvature `p`.
    for (lo, hi, p) in [
        (5.0, 25.0, 1.0),
        (5.0, 35.0, 2.0),
        (8.0, 20.0, 0.7),
        (5.0, 40.0, 3.0),
        (6.0, 18.0, 1.0),
        (5.0, 30.0, 1.5),
        (10.0, 25.0, 0.5),
    ] {
        neurons.push(TuningCurve::from_fn(move |x: f64| {
            lo + (hi - lo) * ((x + 1.0) / 2.0).clamp(0.0, 1.0).powf(p)
        }));
    }
    // Falling: the same family mirrored, with other numbers.
    for (lo, hi, p) in [
        (5.0, 30.0, 1.0),
        (5.0, 22.0, 2.0),
        (7.0, 35.0, 1.5),
        (5.0, 18.0, 0.7),
        (6.0, 40.0, 2.5),
        (5.0, 25.0, 1.2),
        (9.0, 20.0, 0.5),
    ] {
        neurons.push(TuningCurve::from_fn(move |x: f64| {
            lo + (hi - lo) * ((1.0 - x) / 2.0).clamp(0.0, 1.0).powf(p)
        }));
    }
    // Peaked: 5 Hz baseline plus a Gaussian bump.
    for (center, amplitude) in [
        (-0.75, 30.0),
        (-0.45, 25.0),
        (-0.15, 35.0),
        (0.15, 30.0),
        (0.45, 35.0),
        (0.75, 25.0),
    ] {
        neurons.push(TuningCurve::from_fn(move |x: f64| {
            5.0 + amplitude * (-((x - center) / 0.3f64).powi(2)).exp()
        }));
    }
    neurons
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .ok_or("usage: twenty_neurons OUT.npz")?;
    let config = SimulationConfig {
        neurons: tuning(),
        ..SimulationConfig::paper()
    };
    let data = Simulator::new(config)?
        .run(Amount::Spikes(25_000), TrialLength::Fixed(5.0), 19)?
        .data;
    data.write(&out)?;
    println!(
        "{out}: {} neurons, {} trials, {} spikes",
        data.num_neurons(),
        data.num_trials(),
        data.num_spikes()
    );
    Ok(())
}
