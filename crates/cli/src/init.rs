//! The initial model of a fit, from a file or from the paper's defaults.

use std::path::PathBuf;
use std::sync::Arc;

use latentflow::data::SpikeData;
use latentflow::likelihood::{GradRequest, Model, ModelParts, ParameterSharing, Sharing};
use latentflow::optim::Params;
use latentflow::spectral::{BoundaryMode, Grid};
use latentflow::{DefaultInitial, GridSpec, InitialRates, ModelFile};

/// Firing-rate model of the default initial model.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateChoice {
    /// `paper` for data of one neuron, `mean` for more.
    Auto,
    /// One neuron, f(x) = max(100 (x + 1), 1) Hz (the paper's ground truth).
    Paper,
    /// Each neuron at its mean rate in the data: constant in x when the rates are held fixed;
    /// when Fr is fitted, tilted along the first principal component of the binned population
    /// activity (flat rates are a stationary point of the fit; see `initial_tuning`).
    Mean,
}

/// Boundary mode on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoundaryChoice {
    /// Zero flux.
    Reflecting,
    /// Trials end when x leaves the domain.
    Absorbing,
}

/// A parameter that can be fitted.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamChoice {
    /// Driving force F.
    #[value(name = "F")]
    Force,
    /// D.
    #[value(name = "D")]
    D,
    /// Initial-density force F0.
    #[value(name = "F0")]
    Force0,
    /// Firing-rate log-derivatives.
    #[value(name = "Fr")]
    Fr,
    /// Firing-rate scales.
    #[value(name = "C")]
    C,
}

/// A parameter that several task conditions can keep each to itself.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionParam {
    /// Driving force F (the potential).
    #[value(name = "F")]
    Force,
    /// D.
    #[value(name = "D")]
    D,
    /// Initial-density force F0 (p0).
    #[value(name = "F0")]
    Force0,
    /// The firing rates (Fr and C).
    #[value(name = "rates")]
    Rates,
}

/// Options that define the initial model and what is fitted.
#[derive(clap::Args, Debug, Clone)]
pub struct InitArgs {
    /// Initial model file (JSON); default: peq ~ cos^2(pi x / 2) with --d and --rate on the grid below.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// D of the default initial model (1/s).
    #[arg(long, default_value_t = 10.0)]
    pub d: f64,
    /// Firing rates of the default initial model.
    #[arg(long, value_enum, default_value_t = RateChoice::Auto)]
    pub rate: RateChoice,
    /// Boundary mode of the default initial model.
    #[arg(long, value_enum, default_value_t = BoundaryChoice::Reflecting)]
    pub boundary: BoundaryChoice,
    /// Elements of the default grid on [-1, 1].
    #[arg(long, default_value_t = 256)]
    pub ne: usize,
    /// GLL nodes per element of the default grid.
    #[arg(long, default_value_t = 8)]
    pub np: usize,
    /// Eigenmodes kept.
    #[arg(long, default_value_t = 64)]
    pub nv: usize,
    /// Parameters to fit (comma-separated). Fitting F0 without an --init model starts p0 at
    /// the initial peq.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "F")]
    pub fit: Vec<ParamChoice>,
    /// Data of several task conditions: the parameters each condition keeps to itself
    /// (comma-separated); the others are shared by all conditions (docs/method.md §12). Every
    /// condition starts from the same initial model.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub per_condition: Vec<ConditionParam>,
}

/// A ready initial model.
#[derive(Debug, Clone)]
pub struct InitSetup {
    /// Grid.
    pub grid: Arc<Grid>,
    /// Its parameters.
    pub spec: GridSpec,
    /// The model.
    pub model: Model,
    /// Modes kept.
    pub nv: usize,
    /// What is fitted.
    pub fit: GradRequest,
    /// How the parameters are shared between task conditions.
    pub sharing: ParameterSharing,
}

impl InitSetup {
    /// The initial parameters for data of `num_conditions` task conditions: every condition
    /// starts from the initial model, shared as [`InitSetup::sharing`] says.
    pub fn params(&self, num_conditions: usize) -> anyhow::Result<Params> {
        let log_rates = self.fit.fr || self.fit.c;
        Ok(latentflow::initial_params(
            &self.model,
            num_conditions,
            self.sharing,
            log_rates,
        )?)
    }
}

impl InitArgs {
    /// The parameters to fit.
    pub fn request(&self) -> GradRequest {
        let has = |p| self.fit.contains(&p);
        GradRequest {
            force: has(ParamChoice::Force),
            d: has(ParamChoice::D),
            force0: has(ParamChoice::Force0),
            fr: has(ParamChoice::Fr),
            c: has(ParamChoice::C),
        }
    }

    /// Builds the initial model (reading --init if given) for `data`.
    pub fn build(&self, data: &SpikeData) -> anyhow::Result<InitSetup> {
        let request = self.request();
        let model = match &self.init {
            Some(path) => {
                let model = ModelFile::read(path)?;
                if request.force0 && model.p0().is_none() {
                    anyhow::bail!(
                        "--fit F0: the --init model {} has no p0 (an equilibrium model); give it one",
                        path.display()
                    );
                }
                model
            }
            None => self.default_model(data)?,
        };
        if !self.per_condition.is_empty() && data.num_conditions() < 2 {
            anyhow::bail!(
                "--per-condition: the data have one task condition; it needs trials of several"
            );
        }
        let own = |p| {
            if self.per_condition.contains(&p) {
                Sharing::PerCondition
            } else {
                Sharing::Shared
            }
        };
        let sharing = ParameterSharing {
            force: own(ConditionParam::Force),
            force0: own(ConditionParam::Force0),
            d: own(ConditionParam::D),
            rates: own(ConditionParam::Rates),
        };
        let g = model.grid();
        let spec = GridSpec::of(g);
        if data.num_neurons() > model.num_neurons() {
            anyhow::bail!(
                "the data have {} neurons but the initial model has rates for {}; use --rate mean or an --init model",
                data.num_neurons(),
                model.num_neurons()
            );
        }
        if self.nv == 0 || self.nv > g.n() - 2 {
            anyhow::bail!(
                "--nv {}: the grid of {} nodes has {} modes; choose 1 to {}",
                self.nv,
                g.n(),
                g.n() - 2,
                g.n() - 2
            );
        }
        Ok(InitSetup {
            grid: g.clone(),
            spec,
            nv: self.nv,
            fit: request,
            sharing,
            model,
        })
    }

    fn default_model(&self, data: &SpikeData) -> anyhow::Result<Model> {
        let initial = DefaultInitial {
            spec: GridSpec {
                xbegin: -1.0,
                xend: 1.0,
                ne: self.ne,
                np: self.np,
            },
            d: self.d,
            rates: match self.rate {
                RateChoice::Auto => InitialRates::Auto,
                RateChoice::Paper => InitialRates::Paper,
                RateChoice::Mean => InitialRates::Mean,
            },
            boundary: match self.boundary {
                BoundaryChoice::Reflecting => BoundaryMode::Reflecting,
                BoundaryChoice::Absorbing => BoundaryMode::Absorbing,
            },
        };
        let model = initial.build(data, self.fit.contains(&ParamChoice::Fr))?;
        if !self.fit.contains(&ParamChoice::Force0) {
            return Ok(model);
        }
        Ok(Model::new(
            model.grid().clone(),
            ModelParts {
                boundary: model.boundary(),
                peq: model.peq().to_vec(),
                p0: Some(model.peq().to_vec()),
                d: model.d(),
                rates: model.rates().to_vec(),
            },
        )?)
    }
}
