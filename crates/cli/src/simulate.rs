//! `latentflow simulate` (being written).

/// Arguments of `latentflow simulate`.
#[derive(clap::Args, Debug)]
pub struct SimulateArgs {}

/// Runs `latentflow simulate`.
pub fn run(_args: SimulateArgs) -> anyhow::Result<()> {
    anyhow::bail!("simulate is not written yet")
}
