//! The sign error of the paper's code, reproduced for experiments on its effect
//! (docs/method.md §10).

use rand::SeedableRng;
use rand::{RngExt, rngs::StdRng};
use serde::{Deserialize, Serialize};

/// Reproduces the sign error of the paper's code (neuralflow v1.0.0): its eigensolver returned
/// the ground state of H0 negated in about half of the evaluations, and each time the F
/// gradient gained the term delta of docs/method.md §10. With this setting each iteration's
/// evaluation is, with probability 1/2, one with the negated ground state: delta is added to
/// its F gradient (from the same passes: `Problem::evaluate_with_v1_sign_term`). The draw
/// comes from a stream seeded by (`seed`, iteration), so a resumed fit draws the same, and a
/// rejected step's retries share their iteration's draw. Needs F fitted and an equilibrium
/// model, as in the paper's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1SignTerm {
    /// Seed of the draws.
    pub seed: u64,
}

impl V1SignTerm {
    /// True if the evaluation of `iteration` is one whose ground state came back negated.
    pub fn negated(&self, iteration: u64) -> bool {
        let stream = self.seed ^ iteration.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        StdRng::seed_from_u64(stream).random()
    }

    /// The setting for the `k`-th of several fits that share this one (SplitMix64 of the seed
    /// and k): independent draws for, e.g., the two halves of a pipeline.
    pub fn stream(&self, k: u64) -> V1SignTerm {
        let mut z = self.seed ^ (k + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        V1SignTerm {
            seed: z ^ (z >> 31),
        }
    }
}
