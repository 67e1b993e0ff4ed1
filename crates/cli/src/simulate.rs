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
    /// Task conditions, one per value: condition c's trials start from a narrow Gaussian p0
    /// centred at the c-th value (inside (-1, 1)); --spikes / --seconds then apply per
    /// condition, and each trial records its condition (e.g. a decision task with
    /// `--boundary absorbing --p0-wells -0.3,0,0.3`).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    p0_wells: Option<Vec<f64>>,
    /// Standard deviation of each --p0-wells density.
    #[arg(
        long,
        default_value_t = 0.05,
        requires = "p0_wells",
        allow_negative_numbers = true
    )]
    p0_width: f64,
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
    let length = TrialLength::Fixed(args.trial_length);
    let (sim, out) = match &args.p0_wells {
        None => {
            let sim = Simulator::new(config)?;
            let out = sim.run(amount, length, args.seed)?;
            (sim, out)
        }
        Some(wells) => {
            let width = args.p0_width;
            if !(width.is_finite() && width > 0.0) {
                bail!("--p0-width {width}: must be a positive number");
            }
            if let Some(c) = wells.iter().find(|c| !(c.is_finite() && c.abs() < 1.0)) {
                bail!("--p0-wells: {c} is not inside (-1, 1)");
            }
            let sims = wells
                .iter()
                .map(|&c| {
                    let p0 = Potential::from_fn(move |x| (x - c) * (x - c) / (2.0 * width * width));
                    Simulator::new(SimulationConfig {
                        initial: InitialState::Density { potential: p0 },
                        ..config.clone()
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = Simulator::run_conditions(&sims, amount, length, args.seed)?;
            (Simulator::new(config)?, out)
        }
    };
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
    let conditions = match out.data.num_conditions() {
        1 => String::new(),
        n => format!(" in {n} conditions"),
    };
    println!(
        "simulated {} trials{conditions}, {} spikes, {:.3} s ({}, D = {}, {}, seed {}) -> {}{latent_note}",
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
