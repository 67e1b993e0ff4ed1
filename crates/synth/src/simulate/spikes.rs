//! Spikes by time rescaling: a neuron fires when its integrated rate passes an exponential
//! threshold.

use rand::RngExt;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::Exp1;

use super::sample::Spike;

/// Emits the spikes of one neuron within a step of length `span` from `t0` whose integrated
/// rate `inc` exceeds the remaining threshold `*remaining`; leaves the remaining threshold.
#[inline]
pub(super) fn emit(
    rng: &mut Xoshiro256PlusPlus,
    remaining: &mut f64,
    inc: f64,
    t0: f64,
    span: f64,
    neuron: u32,
    spikes: &mut Vec<Spike>,
) {
    let mut acc = *remaining;
    loop {
        spikes.push(Spike {
            time: t0 + span * (acc / inc),
            neuron,
        });
        acc += rng.sample::<f64, _>(Exp1);
        if acc >= inc {
            *remaining = acc - inc;
            return;
        }
    }
}
