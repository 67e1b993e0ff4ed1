//! `latentflow simulate`: spike data (and optionally the latent path) from a known potential.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use latentflow::data::write_atomic;
use latentflow::spectral::BoundaryMode;
use latentflow::synth::{
    Amount, DEFAULT_DT, InitialState, Potential, SimulationConfig, Simulator, TrialLength,
    TuningCurve,
};
use serde_json::json;

/// Spikes simulated when neither `--spikes` nor `--seconds` is given.
const DEFAULT_SPIKES: u64 = 20_000;

/// Floor of the simulated cos^2 density: steep enough to look like cos^2, gentle enough for
/// dt = 1e-4 s at D = 10 (the force peaks at about 50 near the ends).
const COS2_FLOOR: f64 = 1e-3;

/// Euler–Maruyama steps between recorded points of the latent path (`--latent`).
const LATENT_STRIDE: usize = 10;

/// The ground-truth potentials.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PotentialChoice {
    /// The paper's double well (minima at ±0.6, barrier 2).
    DoubleWell,
    /// Wells at -0.6, 0, 0.6 (docs/method.md §7).
    TripleWell,
    /// Wells at -0.75, -0.25, 0.25, 0.75 (docs/method.md §7).
    FourWell,
    /// Flat potential (free diffusion).
    Uniform,
    /// peq ~ cos^2(pi x / 2) + 1e-3.
    Cos2,
}

impl PotentialChoice {
    fn potential(self) -> Potential {
        match self {
            PotentialChoice::DoubleWell => Potential::paper_double_well(),
            PotentialChoice::TripleWell => Potential::triple_well(),
            PotentialChoice::FourWell => Potential::four_well(),
            PotentialChoice::Uniform => Potential::uniform(),
            PotentialChoice::Cos2 => Potential::CosSquared {
                xbegin: -1.0,
                xend: 1.0,
                floor: COS2_FLOOR,
            },
        }
    }
}

/// Boundary conditions of the latent dynamics.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoundaryArg {
    /// Mirror reflection at ±1.
    Reflecting,
    /// A trial ends when x reaches ±1.
    Absorbing,
}

/// Arguments of `latentflow simulate`.
#[derive(clap::Args, Debug)]
pub struct SimulateArgs {
    /// Ground-truth potential on [-1, 1].
    #[arg(long, value_enum, default_value_t = PotentialChoice::DoubleWell)]
    potential: PotentialChoice,
    /// About this many spikes: whole trials until the count reaches it (default 20000).
    #[arg(long, conflicts_with = "seconds")]
    spikes: Option<u64>,
    /// Exactly this much recorded time (s); the last trial is cut to fit.
    #[arg(long, allow_negative_numbers = true)]
    seconds: Option<f64>,
    /// Length of each trial (s); absorbing trials end earlier when x exits.
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    trial_length: f64,
    /// D (1/s).
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    d: f64,
    /// Boundary conditions.
    #[arg(long, value_enum, default_value_t = BoundaryArg::Reflecting)]
    boundary: BoundaryArg,
    /// Random seed: the same seed gives the same data on every machine.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Euler–Maruyama time step (s).
    #[arg(long, default_value_t = DEFAULT_DT, allow_negative_numbers = true)]
    dt: f64,
    /// Output spike data: .json or .npz (by extension), written atomically.
    #[arg(long)]
    out: PathBuf,
    /// Also write the latent path (every 10 steps and at each trial end) to this JSON file.
    #[arg(long)]
    latent: Option<PathBuf>,
}

/// Checks that `path` ends in one of `allowed` (case-insensitive).
fn check_extension(option: &str, path: &Path, allowed: &[&str]) -> anyhow::Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if ext.is_some_and(|e| allowed.contains(&e.as_str())) {
        return Ok(());
    }
    let list: Vec<String> = allowed.iter().map(|e| format!(".{e}")).collect();
    bail!(
        "{option} {}: the file name must end in {}",
        path.display(),
        list.join(" or ")
    )
}

/// Runs `latentflow simulate`.
pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    check_extension("--out", &args.out, &["json", "npz"])?;
    if let Some(latent) = &args.latent {
        check_extension("--latent", latent, &["json"])?;
    }
    let amount = match (args.spikes, args.seconds) {
        (_, Some(t)) => Amount::Seconds(t),
        (Some(s), None) => Amount::Spikes(s),
        (None, None) => Amount::Spikes(DEFAULT_SPIKES),
    };
    let boundary = match args.boundary {
        BoundaryArg::Reflecting => BoundaryMode::Reflecting,
        BoundaryArg::Absorbing => BoundaryMode::Absorbing,
    };
    let config = SimulationConfig {
        potential: args.potential.potential(),
        initial: InitialState::Equilibrium,
        d: args.d,
        boundary,
        xbegin: -1.0,
        xend: 1.0,
        neurons: vec![TuningCurve::paper()],
        dt: args.dt,
        latent_stride: args.latent.is_some().then_some(LATENT_STRIDE),
    };
    let sim = Simulator::new(config)?;
    let out = sim.run(amount, TrialLength::Fixed(args.trial_length), args.seed)?;
    // The data crate's errors name the file.
    out.data.write(&args.out)?;
    if let Some(path) = &args.latent {
        let trials: Vec<_> = out
            .latent
            .iter()
            .map(|p| json!({ "t": p.t, "x": p.x }))
            .collect();
        let potential =
            serde_json::to_value(&sim.config().potential).context("encoding the potential")?;
        let doc = json!({
            "potential": potential,
            "d": args.d,
            "dt": args.dt,
            "seed": args.seed,
            "trials": trials,
        });
        let bytes = serde_json::to_vec(&doc).context("encoding the latent path")?;
        write_atomic(path, &bytes)?;
    }
    let latent_note = args
        .latent
        .as_ref()
        .map(|p| format!(", latent path in {}", p.display()))
        .unwrap_or_default();
    println!(
        "simulated {} trials, {} spikes, {:.3} s ({}, D = {}, {}, seed {}) -> {}{latent_note}",
        out.data.num_trials(),
        out.data.num_spikes(),
        out.data.total_time(),
        sim.config().potential.name(),
        args.d,
        match boundary {
            BoundaryMode::Reflecting => "reflecting",
            BoundaryMode::Absorbing => "absorbing",
        },
        args.seed,
        args.out.display(),
    );
    Ok(())
}
