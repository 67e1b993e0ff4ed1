//! Gradients in the layout of [`crate::Params`].

use latentflow_likelihood::{ByCondition, ConditionGradients, Gradients};
use serde::{Deserialize, Serialize};

/// d(-log L) with respect to a [`crate::Params`]: `first` for its own fields (condition 0's;
/// a shared parameter's gradient summed over the conditions), `others[c - 1]` for condition
/// c's per-condition parameters (empty for one condition).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ParamGradients {
    /// Gradients of the fields of the parameters.
    pub first: Gradients,
    /// Gradients of the further conditions' own parameters.
    pub others: Vec<Gradients>,
}

impl ParamGradients {
    /// The gradients of a one-condition model.
    pub fn single(grad: Gradients) -> ParamGradients {
        ParamGradients {
            first: grad,
            others: Vec::new(),
        }
    }

    /// The gradients over `num_conditions` conditions, laid out as in [`crate::Params`].
    pub fn from_conditions(grad: ConditionGradients, num_conditions: usize) -> ParamGradients {
        let mut out = ParamGradients {
            first: Gradients::default(),
            others: vec![Gradients::default(); num_conditions.saturating_sub(1)],
        };
        fn spread<T>(
            by: Option<ByCondition<T>>,
            out: &mut ParamGradients,
            field: impl Fn(&mut Gradients) -> &mut Option<T>,
        ) {
            match by {
                None => {}
                Some(ByCondition::Shared(g)) => *field(&mut out.first) = Some(g),
                Some(ByCondition::PerCondition(all)) => {
                    let targets = std::iter::once(&mut out.first).chain(out.others.iter_mut());
                    for (t, g) in targets.zip(all) {
                        *field(t) = Some(g);
                    }
                }
            }
        }
        spread(grad.force, &mut out, |g| &mut g.force);
        spread(grad.d, &mut out, |g| &mut g.d);
        spread(grad.force0, &mut out, |g| &mut g.force0);
        spread(grad.fr, &mut out, |g| &mut g.fr);
        spread(grad.c, &mut out, |g| &mut g.c);
        out
    }

    /// True if every number is finite.
    pub fn is_finite(&self) -> bool {
        std::iter::once(&self.first).chain(&self.others).all(|g| {
            [&g.force, &g.force0]
                .into_iter()
                .flatten()
                .flatten()
                .chain(g.d.iter())
                .chain(g.c.iter().flatten())
                .chain(g.fr.iter().flatten().flatten())
                .all(|v| v.is_finite())
        })
    }
}
