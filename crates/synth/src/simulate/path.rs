//! The latent path of one trial: Euler–Maruyama steps with reflection or absorption at the
//! bounds (Brownian-bridge crossings included), integrating the spike clocks as it goes, and
//! the per-trial random streams.

use latentflow_spectral::BoundaryMode;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Exp1, StandardNormal};

use super::Simulator;
use super::sample::{LatentPath, Spike, TrialSample};
use super::spikes::emit;
use crate::TrialLength;

/// Brownian-bridge crossing probabilities exp(-d0 d1 / (D dt)) below exp(-BRIDGE_CUTOFF)
/// (~1e-11) are neglected.
const BRIDGE_CUTOFF: f64 = 25.0;

impl Simulator {
    pub(super) fn trial_unchecked(
        &self,
        seed: u64,
        index: u64,
        length: TrialLength,
    ) -> TrialSample {
        let mut rng = trial_rng(seed, index);
        let len = length.draw(&mut rng);
        match self.config.boundary {
            BoundaryMode::Reflecting => self.path::<false>(&mut rng, len),
            BoundaryMode::Absorbing => self.path::<true>(&mut rng, len),
        }
    }

    /// One trial of length `len`; `ABSORBING` selects the boundary treatment.
    fn path<const ABSORBING: bool>(&self, rng: &mut Xoshiro256PlusPlus, len: f64) -> TrialSample {
        let dt = self.config.dt;
        let (a, b) = (self.tables.a, self.tables.b);
        let k = self.config.neurons.len();
        let n_steps = (len / dt).ceil() as u64;
        let mut x = self.tables.draw_initial(rng);
        let mut remaining: Vec<f64> = (0..k).map(|_| rng.sample(Exp1)).collect();
        let mut half_rate = vec![0.0; k];
        let capacity = ((self.tables.expected_rate * len * 1.2) as usize).min(1 << 20) + 16;
        let mut spikes: Vec<Spike> = Vec::with_capacity(capacity);
        let stride = self.config.latent_stride.unwrap_or(0);
        let mut latent = (stride > 0).then(|| LatentPath {
            t: vec![0.0],
            x: vec![x],
        });
        let mut countdown = stride;

        let c = self.tables.rate_row(x, k);
        for n in 0..k {
            half_rate[n] = c[2 * n] + c[2 * n + 1] * x;
        }
        let mut end = len;
        let mut absorbed = false;
        // Time of the current state x.
        let mut t_x = 0.0;
        for step in 0..n_steps {
            let t0 = step as f64 * dt;
            let z: f64 = StandardNormal.sample(rng);
            let [p, q] = self.tables.step[self.tables.cell(x)];
            let mut xn = (p + self.sigma * z) + q * x;
            if ABSORBING {
                // (bound, fraction of the step at which it is reached)
                let exit = if xn <= a {
                    Some((a, (x - a) / (x - xn)))
                } else if xn >= b {
                    Some((b, (b - x) / (xn - x)))
                } else {
                    self.bridge_exit(rng, x, xn)
                };
                if let Some((bound, theta)) = exit {
                    let t_exit = t0 + theta * dt;
                    let c = self.tables.rate_row(bound, k);
                    for n in 0..k {
                        let inc = theta * (half_rate[n] + c[2 * n] + c[2 * n + 1] * bound);
                        if inc > remaining[n] {
                            let r = &mut remaining[n];
                            emit(rng, r, inc, t0, theta * dt, n as u32, &mut spikes);
                        }
                    }
                    x = bound;
                    t_x = t_exit;
                    if t_exit < len {
                        end = t_exit;
                        absorbed = true;
                    }
                    break;
                }
            } else if xn < a || xn > b {
                xn = reflect(xn, a, b);
            }
            let c = self.tables.rate_row(xn, k);
            for n in 0..k {
                let h = c[2 * n] + c[2 * n + 1] * xn;
                let inc = half_rate[n] + h;
                half_rate[n] = h;
                if inc > remaining[n] {
                    emit(rng, &mut remaining[n], inc, t0, dt, n as u32, &mut spikes);
                } else {
                    remaining[n] -= inc;
                }
            }
            x = xn;
            t_x = t0 + dt;
            if stride > 0 {
                countdown -= 1;
                if countdown == 0 {
                    countdown = stride;
                    if let Some(p) = &mut latent {
                        p.t.push(t_x);
                        p.x.push(x);
                    }
                }
            }
        }
        if k > 1 {
            spikes.sort_by(|p, q| p.time.total_cmp(&q.time));
        }
        let mut sample = TrialSample {
            spikes,
            duration: len,
            absorbed: false,
            censored: ABSORBING,
            latent,
        };
        if let Some(p) = &mut sample.latent
            && p.t.last().is_some_and(|&t| t < t_x)
        {
            p.t.push(t_x);
            p.x.push(x);
        }
        if absorbed {
            sample.duration = end;
            sample.absorbed = true;
            sample.censored = false;
        } else {
            // The last step may run past the trial length.
            sample.truncate(len, ABSORBING);
        }
        sample
    }

    /// Whether the Brownian bridge from x to xn (both inside) crossed a bound within the step:
    /// the bound and the fraction of the step at which the crossing is placed.
    #[inline(always)]
    fn bridge_exit(&self, rng: &mut Xoshiro256PlusPlus, x: f64, xn: f64) -> Option<(f64, f64)> {
        let (da0, da1) = (x - self.tables.a, xn - self.tables.a);
        let (db0, db1) = (self.tables.b - x, self.tables.b - xn);
        let (qa, qb) = (da0 * da1, db0 * db1);
        if qa.min(qb) * self.inv_ddt >= BRIDGE_CUTOFF {
            return None;
        }
        let pa = (-qa * self.inv_ddt).exp();
        let pb = (-qb * self.inv_ddt).exp();
        let u: f64 = rng.random();
        if u < pa {
            Some((self.tables.a, da0 / (da0 + da1)))
        } else if u < pa + (1.0 - pa) * pb {
            Some((self.tables.b, db0 / (db0 + db1)))
        } else {
            None
        }
    }
}

/// Mirror reflection of x into [a, b], repeated until inside (x finite, a < b); x itself if
/// already inside.
pub fn reflect(x: f64, a: f64, b: f64) -> f64 {
    if x < a {
        let y = 2.0 * a - x;
        if y <= b {
            return y;
        }
    } else if x > b {
        let y = 2.0 * b - x;
        if y >= a {
            return y;
        }
    } else {
        return x;
    }
    // Repeated reflection folds x with period 2 (b - a).
    let l = b - a;
    let mut y = (x - a).rem_euclid(2.0 * l);
    if y > l {
        y = 2.0 * l - y;
    }
    (a + y).clamp(a, b)
}

/// The random stream of trial `index` of the data set with seed `seed`: xoshiro256++ seeded
/// from a SplitMix64 hash of both.
pub(super) fn trial_rng(seed: u64, index: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(splitmix64(seed ^ splitmix64(index ^ 0x6a09_e667_f3bc_c908)))
}

/// The seed of condition `condition`'s trials in a data set of several conditions with seed
/// `seed` (each condition draws from its own family of streams).
pub(super) fn condition_seed(seed: u64, condition: u32) -> u64 {
    splitmix64(seed ^ splitmix64(u64::from(condition) ^ 0xbb67_ae85_84ca_a73b))
}

fn splitmix64(v: u64) -> u64 {
    let mut z = v.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn reflection_examples() {
        assert_eq!(reflect(0.3, -1.0, 1.0), 0.3);
        assert!((reflect(1.2, -1.0, 1.0) - 0.8).abs() < 1e-15);
        assert!((reflect(-1.5, -1.0, 1.0) + 0.5).abs() < 1e-15);
        // Out by more than the domain length: reflected at b, then at a.
        assert!((reflect(3.5, -1.0, 1.0) + 0.5).abs() < 1e-12);
        assert!((reflect(-7.25, 0.0, 1.0) - 0.75).abs() < 1e-12);
    }

    #[test]
    fn trial_streams_differ() {
        let mut r1 = trial_rng(1, 0);
        let mut r2 = trial_rng(1, 1);
        let mut r3 = trial_rng(2, 0);
        let (a, b, c) = (r1.next_u64(), r2.next_u64(), r3.next_u64());
        assert!(a != b && a != c && b != c);
        assert_eq!(trial_rng(1, 0).next_u64(), a);
    }
}
