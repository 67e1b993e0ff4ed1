//! How a fit steps, from the command line: learning rates per parameter, their scale, the
//! update rule, the paper's code's sign error. Shared by `fit`, `select`, `demo` and
//! `experiment`.

use latentflow::likelihood::GradRequest;
use latentflow::optim::{FitConfig, LearningRates, Method, Rkc, V1SignTerm};

use crate::init::ParamChoice;

/// Learning-rate and update-rule options.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct StepArgs {
    /// Learning rate of one parameter, as NAME=VALUE with NAME one of F, D, F0, Fr, C (a bare
    /// VALUE sets F); repeat for several. Rates are per 10,000 fitted spikes: a step is
    /// lr x 10,000 / S times the gradient (S the spikes fitted; for Fr_n and C_n the spikes of
    /// neuron n; C is stepped on ln C), so a rate means the same on any amount of data and
    /// F 0.005 is the paper's step on its 10,000-spike halves. Defaults: F 0.005, D 0.01,
    /// F0 0.005, Fr 0.0001, C 0.00001.
    #[arg(long = "lr", value_name = "NAME=VALUE", value_parser = parse_rate, allow_hyphen_values = true)]
    pub lr: Vec<(ParamChoice, f64)>,
    /// Take the rates as the paper's absolute steps (theta -= lr x gradient of the summed
    /// -log L, C on C itself), which grow with the data; defaults then F 0.005, D 0.01,
    /// F0 0.005, Fr 0.005, C 0.01. With F 0.005 this is the original code's exact path.
    #[arg(long)]
    pub absolute_lr: bool,
    /// How the descent path is followed: `rkc` (the default), gradient descent's path by a
    /// Runge–Kutta–Chebyshev integrator with error control (one record per step of many
    /// iterations and per saved iteration it passes, far fewer gradient evaluations on long
    /// paths, the same selected models);
    /// `gd`, plain gradient descent (one evaluation per iteration, the paper's method, and the
    /// default with --v1-sign-term); `adam`, Adam instead of gradient descent (a different
    /// path).
    #[arg(long, value_enum)]
    pub method: Option<PathMethod>,
    /// The RKC path method's local error tolerance per step, relative and absolute, on the
    /// fitted parameters (docs/method.md §5); default 1e-3. Looser tolerances take longer
    /// steps (fewer gradient evaluations) and follow gradient descent's path less closely.
    /// Only with the RKC method.
    #[arg(long, value_name = "TOL", value_parser = parse_tolerance)]
    pub rkc_tolerance: Option<f64>,
    /// Reproduce the sign error of the paper's code (neuralflow v1.0.0), to study its effect:
    /// at each iteration, with probability 1/2, add to the F gradient the term v1 added when
    /// its eigensolver returned the ground state negated (docs/method.md §10). Draws are
    /// seeded by SEED (each half and each sample of an experiment draws its own). Off by
    /// default; needs F fitted and an equilibrium model; every step is then taken (no step
    /// rejection), as v1 did.
    #[arg(long, value_name = "SEED")]
    pub v1_sign_term: Option<u64>,
}

/// The `--method` choices.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathMethod {
    /// Plain gradient descent.
    Gd,
    /// Gradient descent's path by the RKC integrator.
    Rkc,
    /// Adam.
    Adam,
}

/// Parses `NAME=VALUE` or `VALUE` (for F); the value must be finite and > 0.
fn parse_rate(text: &str) -> Result<(ParamChoice, f64), String> {
    let (name, value) = match text.split_once('=') {
        Some((n, v)) => (n.trim(), v.trim()),
        None => ("F", text.trim()),
    };
    let param = match name {
        "F" => ParamChoice::Force,
        "D" => ParamChoice::D,
        "F0" => ParamChoice::Force0,
        "Fr" => ParamChoice::Fr,
        "C" => ParamChoice::C,
        other => {
            return Err(format!(
                "unknown parameter '{other}' (use F, D, F0, Fr or C)"
            ));
        }
    };
    let v: f64 = value
        .parse()
        .map_err(|_| format!("'{value}' is not a number"))?;
    if !(v.is_finite() && v > 0.0) {
        return Err(format!(
            "a learning rate must be finite and > 0 (got {value})"
        ));
    }
    Ok((param, v))
}

/// Parses an RKC tolerance: a number in (0, 1).
fn parse_tolerance(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v < 1.0 => Ok(v),
        _ => Err(format!("must be a number in (0, 1) (got {text})")),
    }
}

impl StepArgs {
    /// The learning rates: the defaults of the chosen scale with the `--lr` values over them
    /// (a later `--lr` of the same parameter wins).
    pub fn learning_rates(&self) -> LearningRates {
        let mut rates = if self.absolute_lr {
            LearningRates::paper()
        } else {
            LearningRates::default()
        };
        for &(param, v) in &self.lr {
            match param {
                ParamChoice::Force => rates.force = v,
                ParamChoice::D => rates.d = v,
                ParamChoice::Force0 => rates.force0 = v,
                ParamChoice::Fr => rates.fr = v,
                ParamChoice::C => rates.c = v,
            }
        }
        rates
    }

    /// The chosen method: `--method`, else RKC (gradient descent with the sign term, which
    /// RKC does not take).
    pub fn method(&self) -> PathMethod {
        self.method.unwrap_or(if self.v1_sign_term.is_some() {
            PathMethod::Gd
        } else {
            PathMethod::Rkc
        })
    }

    /// The fit settings for `iterations` iterations of the parameters `fit`; an error if
    /// `--rkc-tolerance` is given with another method than RKC.
    pub fn fit_config(&self, iterations: u64, fit: GradRequest) -> anyhow::Result<FitConfig> {
        let defaults = FitConfig::default();
        let method = self.method();
        if self.rkc_tolerance.is_some() && method != PathMethod::Rkc {
            anyhow::bail!("--rkc-tolerance applies only to --method rkc");
        }
        Ok(FitConfig {
            iterations,
            method: match method {
                PathMethod::Gd => Method::GradientDescent,
                PathMethod::Rkc => Method::Rkc(Rkc {
                    tolerance: self.rkc_tolerance.unwrap_or(Rkc::default().tolerance),
                    ..Rkc::default()
                }),
                PathMethod::Adam => Method::adam(),
            },
            learning_rates: self.learning_rates(),
            fit,
            backtracking: defaults
                .backtracking
                .filter(|_| self.v1_sign_term.is_none()),
            v1_sign_term: self.v1_sign_term.map(|seed| V1SignTerm { seed }),
            ..defaults
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latentflow::optim::RateScale;

    #[test]
    fn rates_parse_by_name_and_bare_values_set_f() {
        assert_eq!(parse_rate("0.01").unwrap(), (ParamChoice::Force, 0.01));
        assert_eq!(parse_rate("Fr=0.2").unwrap(), (ParamChoice::Fr, 0.2));
        assert_eq!(parse_rate("C = 1e-3").unwrap(), (ParamChoice::C, 1e-3));
        for bad in ["-0.005", "0", "NaN", "inf", "F=abc", "X=0.1", "D=-1"] {
            assert!(parse_rate(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn tolerances_outside_the_unit_interval_are_refused() {
        assert_eq!(parse_tolerance("1e-3"), Ok(1e-3));
        for bad in ["0", "1", "-1e-4", "NaN", "inf", "abc"] {
            assert!(parse_tolerance(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn every_rate_reaches_the_fit_configuration() {
        let args = StepArgs {
            lr: vec![
                (ParamChoice::Force, 0.1),
                (ParamChoice::D, 0.2),
                (ParamChoice::Force0, 0.3),
                (ParamChoice::Fr, 0.4),
                (ParamChoice::C, 0.5),
            ],
            absolute_lr: false,
            method: Some(PathMethod::Adam),
            rkc_tolerance: None,
            v1_sign_term: None,
        };
        let c = args.fit_config(7, GradRequest::FORCE).unwrap();
        let r = c.learning_rates;
        assert_eq!(
            (r.force, r.d, r.force0, r.fr, r.c),
            (0.1, 0.2, 0.3, 0.4, 0.5)
        );
        assert_eq!(r.scale, RateScale::PerSpike);
        assert_eq!(c.method, Method::adam());
        assert_eq!(c.iterations, 7);
        assert_eq!(c.backtracking, FitConfig::default().backtracking);
        assert_eq!(c.v1_sign_term, None);
        let v1 = StepArgs {
            v1_sign_term: Some(42),
            ..StepArgs::default()
        }
        .fit_config(7, GradRequest::FORCE)
        .unwrap();
        assert_eq!(v1.v1_sign_term, Some(V1SignTerm { seed: 42 }));
        assert_eq!(v1.backtracking, None);
        assert_eq!(
            v1.method,
            Method::GradientDescent,
            "the sign term's default method"
        );
        let plain = StepArgs::default()
            .fit_config(7, GradRequest::FORCE)
            .unwrap();
        assert_eq!(
            plain.method,
            Method::Rkc(Rkc::default()),
            "the default method"
        );
        let loose = StepArgs {
            rkc_tolerance: Some(1e-2),
            ..StepArgs::default()
        };
        assert_eq!(
            loose.fit_config(7, GradRequest::FORCE).unwrap().method,
            Method::Rkc(Rkc {
                tolerance: 1e-2,
                ..Rkc::default()
            })
        );
        let clash = StepArgs {
            method: Some(PathMethod::Gd),
            ..loose
        };
        assert!(clash.fit_config(7, GradRequest::FORCE).is_err());
        let paper = StepArgs {
            absolute_lr: true,
            ..StepArgs::default()
        };
        assert_eq!(paper.learning_rates(), LearningRates::paper());
        assert_eq!(
            StepArgs::default().learning_rates(),
            LearningRates::default()
        );
    }
}
