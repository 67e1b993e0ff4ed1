//! The crate's error type.

/// Everything that can go wrong in `latentflow-select`. Each variant names the offending input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SelectError {
    /// An input slice or path that must be non-empty is empty.
    #[error("{what} is empty")]
    Empty {
        /// Which input.
        what: String,
    },
    /// Two inputs that must have the same length do not.
    #[error("{what} has length {found}, expected {expected} (the length of the weights / nodes)")]
    LengthMismatch {
        /// Which input.
        what: String,
        /// The required length.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// An entry is NaN or infinite.
    #[error("{what}[{index}] = {value} is not finite")]
    NonFinite {
        /// Which input.
        what: String,
        /// Position of the entry.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// An entry that must be non-negative is negative.
    #[error("{what}[{index}] = {value} is negative")]
    Negative {
        /// Which input.
        what: String,
        /// Position of the entry.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A quadrature weight is not strictly positive.
    #[error("quadrature weight w[{index}] = {value} is not > 0")]
    NonPositiveWeight {
        /// Position of the weight.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A density does not integrate to 1 (tolerance 1e-6).
    #[error("{what} is not normalised: sum w p = {integral} (must be 1 within 1e-6)")]
    NotNormalised {
        /// Which density.
        what: String,
        /// Its integral `sum w p`.
        integral: f64,
    },
    /// A density vanishes where the other one does not, which makes a KL divergence infinite.
    #[error(
        "{zero} is 0 at node {index} where {other} = {other_value} > 0: the KL divergence is infinite"
    )]
    ZeroDensity {
        /// The density that is zero.
        zero: String,
        /// The other density.
        other: String,
        /// Node index.
        index: usize,
        /// The other density's value at that node.
        other_value: f64,
    },
    /// A density is zero at a node where its logarithm is needed (wells: Phi = -log peq).
    #[error("{what}[{index}] = 0: -log peq is infinite there")]
    ZeroEntry {
        /// Which input.
        what: String,
        /// Position of the entry.
        index: usize,
    },
    /// Grid nodes are not strictly increasing.
    #[error("nodes are not strictly increasing: x[{index}] = {next} <= x[{prev_index}] = {prev}", prev_index = index - 1)]
    NotIncreasing {
        /// Position of the first node that is not larger than its predecessor (>= 1).
        index: usize,
        /// `x[index - 1]`.
        prev: f64,
        /// `x[index]`.
        next: f64,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {field} = {value}: {reason}")]
    InvalidConfig {
        /// The field name.
        field: &'static str,
        /// The offending value, formatted.
        value: String,
        /// What is required.
        reason: &'static str,
    },
    /// A path whose models give p0 for some and not for others.
    #[error("{what}: p0 is given for some models of the path and not for others")]
    MixedP0 {
        /// The model.
        what: String,
    },
    /// Models (of one path or of the two) with different numbers of condition densities.
    #[error(
        "{what}: its number of condition densities differs from the path's first model's \
         (models of different numbers of conditions)"
    )]
    MixedConditions {
        /// The model.
        what: String,
    },
    /// No point of the path carries a validation -log L.
    #[error("no point of the path has a validation -log L: best generalisation needs one")]
    NoValidation,
    /// No axis point had a model of both paths within the radius.
    #[error(
        "no point of the feature-complexity axis 0..{axis_end} has models of both paths within radius {radius}: nothing to compare"
    )]
    NoComparablePoints {
        /// End of the axis.
        axis_end: f64,
        /// The radius used.
        radius: f64,
    },
}
