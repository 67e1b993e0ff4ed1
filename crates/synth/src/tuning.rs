//! Tuning curves: firing rate f(x) (Hz) of a neuron as a function of the latent state.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::SynthError;
use crate::interp::Table;

/// One Gaussian bump amplitude exp(-(x - center)^2 / width^2) (as the original's `peaks`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GaussianPeak {
    /// Position of the peak.
    pub center: f64,
    /// Width (> 0); the bump falls to 1/e at center ± width.
    pub width: f64,
    /// Height at the center (Hz).
    pub amplitude: f64,
}

/// The shape of a tuning curve before the floor is applied (rates in Hz, x dimensionless).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TuningShape {
    /// f = rate.
    Constant {
        /// Rate (Hz).
        rate: f64,
    },
    /// f = slope x + intercept.
    Linear {
        /// Hz per unit x.
        slope: f64,
        /// Rate at x = 0 (Hz).
        intercept: f64,
    },
    /// f = slope (x - x_thresh); with the floor this is the rectified linear
    /// max(slope (x - x_thresh), floor) of the paper (slope 100, x_thresh = -1).
    RectifiedLinear {
        /// Hz per unit x.
        slope: f64,
        /// Where the line crosses 0.
        x_thresh: f64,
    },
    /// f = sum of Gaussian peaks.
    Peaks {
        /// The peaks.
        peaks: Vec<GaussianPeak>,
    },
    /// f = bias + amplitude sin(frequency x + phase).
    Sinusoid {
        /// Mean rate (Hz).
        bias: f64,
        /// Amplitude (Hz).
        amplitude: f64,
        /// Angular frequency (radians per unit x).
        frequency: f64,
        /// Phase (radians).
        phase: f64,
    },
    /// Rates tabulated at points (monotone cubic interpolation, end values outside).
    Table(Table),
    /// A user-supplied f(x).
    #[serde(skip)]
    Function(RateFunction),
}

/// A user-supplied firing-rate function f(x) (Hz).
#[derive(Clone)]
pub struct RateFunction(Arc<dyn Fn(f64) -> f64 + Send + Sync>);

impl fmt::Debug for RateFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RateFunction(..)")
    }
}

/// A neuron's tuning curve: rate(x) = max(shape(x), floor) in Hz, floor >= 0.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TuningCurve {
    /// The shape.
    pub shape: TuningShape,
    /// Lowest rate (Hz, finite, >= 0).
    pub floor: f64,
}

impl TuningCurve {
    /// A curve of the given shape with floor 0 (negative values of the shape are cut to 0).
    pub fn new(shape: TuningShape) -> TuningCurve {
        TuningCurve { shape, floor: 0.0 }
    }

    /// The same curve with another floor rate (Hz).
    pub fn with_floor(mut self, floor: f64) -> TuningCurve {
        self.floor = floor;
        self
    }

    /// The paper's neuron: f(x) = max(100 (x + 1), 1) Hz (rectified linear, slope 100 Hz,
    /// threshold -1, floor 1 Hz so that f > 0 on all of [-1, 1]).
    pub fn paper() -> TuningCurve {
        TuningCurve {
            shape: TuningShape::RectifiedLinear {
                slope: 100.0,
                x_thresh: -1.0,
            },
            floor: 1.0,
        }
    }

    /// A constant rate (Hz).
    pub fn constant(rate: f64) -> TuningCurve {
        TuningCurve::new(TuningShape::Constant { rate })
    }

    /// Rates tabulated at points (x strictly increasing), floor 0.
    pub fn table(x: Vec<f64>, rate: Vec<f64>) -> Result<TuningCurve, SynthError> {
        Ok(TuningCurve::new(TuningShape::Table(Table::new(x, rate)?)))
    }

    /// A user-supplied f(x) (Hz), floor 0.
    pub fn from_fn(f: impl Fn(f64) -> f64 + Send + Sync + 'static) -> TuningCurve {
        TuningCurve::new(TuningShape::Function(RateFunction(Arc::new(f))))
    }

    /// The rate at x (Hz): max(shape(x), floor), or NaN where the shape is NaN (so that
    /// validation can report it).
    pub fn rate(&self, x: f64) -> f64 {
        let v = match &self.shape {
            TuningShape::Constant { rate } => *rate,
            TuningShape::Linear { slope, intercept } => slope * x + intercept,
            TuningShape::RectifiedLinear { slope, x_thresh } => slope * (x - x_thresh),
            TuningShape::Peaks { peaks } => peaks
                .iter()
                .map(|p| p.amplitude * (-((x - p.center) / p.width).powi(2)).exp())
                .sum(),
            TuningShape::Sinusoid {
                bias,
                amplitude,
                frequency,
                phase,
            } => bias + amplitude * (frequency * x + phase).sin(),
            TuningShape::Table(t) => t.value(x),
            TuningShape::Function(f) => (f.0)(x),
        };
        if v.is_nan() { v } else { v.max(self.floor) }
    }

    /// The rates at the nodes `x` (Hz).
    pub fn rates_on(&self, x: &[f64]) -> Vec<f64> {
        x.iter().map(|&v| self.rate(v)).collect()
    }

    /// Checks the parameters: floor finite and >= 0, every parameter finite, peak widths > 0.
    /// (Rates of tables and functions are checked where they are used, on the domain.)
    pub fn validate(&self) -> Result<(), SynthError> {
        if !(self.floor.is_finite() && self.floor >= 0.0) {
            return Err(SynthError::InvalidParameter(format!(
                "tuning curve: the floor rate must be finite and >= 0, got {}",
                self.floor
            )));
        }
        let params: Vec<f64> = match &self.shape {
            TuningShape::Constant { rate } => vec![*rate],
            TuningShape::Linear { slope, intercept } => vec![*slope, *intercept],
            TuningShape::RectifiedLinear { slope, x_thresh } => vec![*slope, *x_thresh],
            TuningShape::Peaks { peaks } => {
                if let Some(p) = peaks
                    .iter()
                    .find(|p| p.width.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater))
                {
                    return Err(SynthError::InvalidParameter(format!(
                        "tuning curve: Gaussian peak at {} has width {} (must be > 0)",
                        p.center, p.width
                    )));
                }
                peaks
                    .iter()
                    .flat_map(|p| [p.center, p.width, p.amplitude])
                    .collect()
            }
            TuningShape::Sinusoid {
                bias,
                amplitude,
                frequency,
                phase,
            } => vec![*bias, *amplitude, *frequency, *phase],
            TuningShape::Table(_) | TuningShape::Function(_) => vec![],
        };
        if let Some(v) = params.iter().find(|v| !v.is_finite()) {
            return Err(SynthError::InvalidParameter(format!(
                "tuning curve: parameter {v} is not finite"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_neuron() {
        let f = TuningCurve::paper();
        assert_eq!(f.rate(0.0), 100.0);
        assert_eq!(f.rate(1.0), 200.0);
        assert_eq!(f.rate(-1.0), 1.0);
        assert_eq!(f.rates_on(&[-0.5, 0.5]), vec![50.0, 150.0]);
    }

    #[test]
    fn shapes_and_floor() {
        let lin = TuningCurve::new(TuningShape::Linear {
            slope: 50.0,
            intercept: 60.0,
        });
        assert_eq!(lin.rate(-2.0), 0.0);
        assert_eq!(lin.rate(1.0), 110.0);
        let peaks = TuningCurve::new(TuningShape::Peaks {
            peaks: vec![
                GaussianPeak {
                    center: -0.5,
                    width: 0.2,
                    amplitude: 100.0,
                },
                GaussianPeak {
                    center: 0.5,
                    width: 0.3,
                    amplitude: 80.0,
                },
            ],
        })
        .with_floor(2.0);
        assert!((peaks.rate(-0.5) - 100.0).abs() < 2e-3);
        assert!((peaks.rate(0.5) - 80.0).abs() < 1e-3);
        assert!((peaks.rate(0.7) - 80.0 * (-(0.2f64 / 0.3).powi(2)).exp()).abs() < 1e-3);
        assert_eq!(peaks.rate(5.0), 2.0);
        let sin = TuningCurve::new(TuningShape::Sinusoid {
            bias: 50.0,
            amplitude: 30.0,
            frequency: std::f64::consts::PI,
            phase: 0.0,
        });
        assert!((sin.rate(0.5) - 80.0).abs() < 1e-12);
        let table = TuningCurve::table(vec![-1.0, 1.0], vec![10.0, 30.0]).unwrap();
        assert!((table.rate(0.0) - 20.0).abs() < 1e-12);
        assert_eq!(TuningCurve::from_fn(|x| x * x).rate(3.0), 9.0);
    }

    #[test]
    fn invalid_curves() {
        assert!(TuningCurve::paper().with_floor(-1.0).validate().is_err());
        assert!(
            TuningCurve::paper()
                .with_floor(f64::NAN)
                .validate()
                .is_err()
        );
        assert!(TuningCurve::constant(f64::INFINITY).validate().is_err());
        let zero_width = TuningCurve::new(TuningShape::Peaks {
            peaks: vec![GaussianPeak {
                center: 0.0,
                width: 0.0,
                amplitude: 1.0,
            }],
        });
        assert!(zero_width.validate().is_err());
        assert!(TuningCurve::from_fn(|_| f64::NAN).rate(0.0).is_nan());
        assert!(TuningCurve::paper().validate().is_ok());
    }
}
