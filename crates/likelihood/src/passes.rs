//! Forward and backward passes over one trial (docs/method.md §3–§4), in the dark operator's
//! eigenbasis, with scale factors that keep the messages at unit norm.
//!
//! The dark eigenvalues are used shifted by their minimum (`mu - mu_min`) so that a long
//! interval cannot underflow every component; the shift contributes `mu_min * duration` to
//! -log L and cancels everywhere else (messages are only ever normalised).
//!
//! For the gradients the two passes run at the same time: the backward pass normalises its
//! messages by their own norms d_i instead of the forward scale factors c_i, and the stored
//! backward messages are rescaled afterwards by kappa_i = prod_{l >= i} d_l / c_l (over
//! c_end c_abs). The decays are computed first, in parallel over chunks of intervals.

use std::cell::RefCell;

use latentflow_data::Trial;
use latentflow_spectral::dense::Mat;

use crate::accumulate::{Buffers, IntervalSums, Layout, interval_sums};
use crate::decays::Decays;
use crate::kernels::{mat_vec, mat_vec_prefix, simd};
use crate::{Likelihood, LikelihoodError};
use latentflow_spectral::{dot, norm};

/// Largest scratch (entries of the decays and both message buffers) kept for the next trial:
/// 64 MiB.
const SCRATCH_KEEP: usize = 1 << 23;

/// Per-thread buffers of a trial's messages and decays, reused from trial to trial: fresh
/// multi-megabyte allocations cost more in page faults than the passes themselves.
#[derive(Default)]
struct Scratch {
    decays: Vec<f64>,
    alpha: Vec<f64>,
    e_alpha: Vec<f64>,
    beta: Vec<f64>,
    e_beta: Vec<f64>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// `buf` with length `len`, reusing its allocation (contents unspecified).
fn resized(mut buf: Vec<f64>, len: usize) -> Vec<f64> {
    buf.resize(len, 0.0);
    buf
}

/// What one trial contributes to the gradients.
#[derive(Debug, Clone)]
pub(crate) struct TrialGrad {
    pub neg_loglik: f64,
    /// The sums over the intervals that make G and the G1_n.
    pub intervals: IntervalSums,
    /// alpha_S beta^T at the absorption step (absorbing, uncensored trials).
    pub g_abs: Option<Mat>,
    /// alpha_last / c_end.
    pub alpha_end: Vec<f64>,
    /// beta_0 = beta / c_0.
    pub beta0: Vec<f64>,
}

/// Where the gradient's forward pass keeps alpha_{i-1}, (E_i alpha_{i-1})[..bound] (layout
/// order) and ln c_i.
struct ForwardStore<'s> {
    layout: &'s Layout,
    alpha: &'s mut [f64],
    e_alpha: &'s mut [f64],
    log_c: &'s mut [f64],
}

/// The end of a forward pass.
struct ForwardEnd {
    neg_loglik: f64,
    /// The message before the absorption step.
    alpha_s: Vec<f64>,
    /// ln c_abs (0 without absorption) and c_end.
    log_c_abs: f64,
    c_end: f64,
    /// alpha_last / c_end.
    alpha_end: Vec<f64>,
}

impl Likelihood {
    pub(crate) fn mu_min(&self) -> f64 {
        self.mu.iter().cloned().fold(f64::INFINITY, f64::min)
    }

    pub(crate) fn spike_op(
        &self,
        trial: usize,
        event: usize,
        neuron: u32,
    ) -> Result<&Mat, LikelihoodError> {
        self.spike_ops
            .get(neuron as usize)
            .ok_or(LikelihoodError::NeuronOutOfRange {
                trial,
                event,
                neuron,
                num_neurons: self.spike_ops.len(),
            })
    }

    pub(crate) fn applies_absorption(&self, trial: &Trial) -> Option<&Mat> {
        self.absorption.as_ref().filter(|_| !trial.censored())
    }

    /// -log L of one trial by the forward pass alone.
    pub(crate) fn trial_neg_loglik(
        &self,
        index: usize,
        trial: &Trial,
    ) -> Result<f64, LikelihoodError> {
        let mut scratch = SCRATCH.with(|b| std::mem::take(&mut *b.borrow_mut()));
        let decays = Decays::new(&self.mu, trial.isi(), std::mem::take(&mut scratch.decays));
        let end = simd!(|lik: &'a Likelihood,
                         index: usize,
                         trial: &'a Trial,
                         decays: &'a Decays|
         -> Result<ForwardEnd, LikelihoodError> {
            lik.forward(index, trial, decays, None)
        }(self, index, trial, &decays));
        scratch.decays = decays.into_buffer();
        keep_scratch(scratch);
        end.map(|end| end.neg_loglik)
    }

    /// The forward pass, keeping its messages in `store` if given.
    #[inline(always)]
    fn forward(
        &self,
        index: usize,
        trial: &Trial,
        decays: &Decays,
        mut store: Option<ForwardStore>,
    ) -> Result<ForwardEnd, LikelihoodError> {
        let mut a = self.alpha0.clone();
        let mut tmp = vec![0.0; a.len()];
        let mut log_c = self.c0.ln() - self.mu_min() * trial.duration();
        for (i, &neuron) in trial.neuron().iter().enumerate() {
            if let Some(st) = &mut store {
                st.alpha[st.layout.full(i)].copy_from_slice(&a);
            }
            let r = decays.apply(i, &mut a);
            if let Some(st) = &mut store {
                let ea = &mut st.e_alpha[st.layout.short(i)];
                ea.copy_from_slice(&a[..ea.len()]);
            }
            if let Some(n) = neuron {
                mat_vec_prefix(self.spike_op(index, i, n)?, &a, r, &mut tmp);
                std::mem::swap(&mut a, &mut tmp);
            }
            let lc = normalise(&mut a).map_err(|_| step_error(index, i, neuron))?;
            log_c += lc;
            if let Some(st) = &mut store {
                st.log_c[i] = lc;
            }
        }
        let alpha_s = a.clone();
        let mut log_c_abs = 0.0;
        if let Some(abs) = self.applies_absorption(trial) {
            mat_vec(abs, &alpha_s, &mut a);
            log_c_abs = normalise(&mut a).map_err(|_| LikelihoodError::NonPositiveNormaliser {
                trial: index,
                value: 0.0,
            })?;
            log_c += log_c_abs;
        }
        let c_end = dot(&self.b, &a);
        if !(c_end.is_finite() && c_end > 0.0) {
            return Err(LikelihoodError::NonPositiveNormaliser {
                trial: index,
                value: c_end,
            });
        }
        Ok(ForwardEnd {
            neg_loglik: -(log_c + c_end.ln()),
            alpha_s,
            log_c_abs,
            c_end,
            alpha_end: a.iter().map(|v| v / c_end).collect(),
        })
    }

    /// The backward pass normalised by its own norms: stores each interval's unit-norm message
    /// before the spike operator in `beta` and the first `bound` entries of the one after it in
    /// `e_beta` (layout order); returns ln d_i per interval and the message after the first
    /// interval's decay.
    #[inline(always)]
    fn backward(
        &self,
        index: usize,
        trial: &Trial,
        decays: &Decays,
        layout: &Layout,
        beta_out: &mut [f64],
        post_out: &mut [f64],
    ) -> Result<(Vec<f64>, Vec<f64>), LikelihoodError> {
        let m = self.nv();
        let neurons = trial.neuron();
        let mut beta = self.b.clone();
        let mut tmp = vec![0.0; m];
        if let Some(abs) = self.applies_absorption(trial) {
            mat_vec(abs, &self.b, &mut beta);
        }
        let mut log_d = vec![0.0; neurons.len()];
        // Leading non-zero components of beta (all of them before the first decay).
        let mut beta_len = m;
        for i in (0..neurons.len()).rev() {
            log_d[i] =
                normalise(&mut beta).map_err(|_| LikelihoodError::NonPositiveNormaliser {
                    trial: index,
                    value: 0.0,
                })?;
            beta_out[layout.full(i)].copy_from_slice(&beta);
            if let Some(n) = neurons[i] {
                mat_vec_prefix(self.spike_op(index, i, n)?, &beta, beta_len, &mut tmp);
                std::mem::swap(&mut beta, &mut tmp);
            }
            let post = &mut post_out[layout.short(i)];
            post.copy_from_slice(&beta[..post.len()]);
            beta_len = decays.apply(i, &mut beta);
        }
        Ok((log_d, beta))
    }

    /// Forward and backward pass of one trial with its interval sums; `close` are the pairs
    /// of dark eigenvalues summed with the stable form.
    pub(crate) fn trial_grad(
        &self,
        index: usize,
        trial: &Trial,
        close: &[(usize, usize)],
    ) -> Result<TrialGrad, LikelihoodError> {
        let m = self.nv();
        let s = trial.isi().len();
        let isi = trial.isi();
        // Every entry of the reused buffers that is read is written first.
        let scratch = SCRATCH.with(|b| std::mem::take(&mut *b.borrow_mut()));
        let decays = Decays::new(&self.mu, isi, scratch.decays);
        let layout = Layout::new(m, &decays.active, trial.neuron());
        let mut alpha = resized(scratch.alpha, m * s);
        let mut e_alpha = resized(scratch.e_alpha, layout.short_len());
        let mut beta = resized(scratch.beta, m * s);
        let mut e_beta = resized(scratch.e_beta, layout.short_len());

        // Both passes at once; the forward one keeps alpha_{i-1}, E_i alpha_{i-1} and ln c_i.
        let mut log_c = vec![0.0; s];
        let store = ForwardStore {
            layout: &layout,
            alpha: &mut alpha,
            e_alpha: &mut e_alpha,
            log_c: &mut log_c,
        };
        let (fwd, bwd) = rayon::join(
            || {
                simd!(|lik: &'a Likelihood,
                       index: usize,
                       trial: &'a Trial,
                       decays: &'a Decays,
                       store: ForwardStore<'a>|
                 -> Result<ForwardEnd, LikelihoodError> {
                    lik.forward(index, trial, decays, Some(store))
                }(self, index, trial, &decays, store))
            },
            || {
                simd!(
                    |lik: &'a Likelihood,
                     index: usize,
                     trial: &'a Trial,
                     decays: &'a Decays,
                     layout: &'a Layout,
                     beta: &'a mut [f64],
                     e_beta: &'a mut [f64]|
                     -> Result<(Vec<f64>, Vec<f64>), LikelihoodError> {
                        lik.backward(index, trial, decays, layout, beta, e_beta)
                    }(
                        self, index, trial, &decays, &layout, &mut beta, &mut e_beta
                    )
                )
            },
        );
        let end = fwd?;
        let (log_d, beta_last) = bwd?;

        // The true backward message at interval i is kappa_i times the stored one.
        let log_k_end = -(end.c_end.ln() + end.log_c_abs);
        let mut kappa = vec![0.0; s];
        let mut log_k = log_k_end;
        for i in (0..s).rev() {
            log_k += log_d[i] - log_c[i];
            kappa[i] = log_k.exp();
        }
        let g_abs = self.applies_absorption(trial).map(|_| {
            let scale = log_k_end.exp();
            let mut g = Mat::zeros(m, m);
            for k in 0..m {
                let bk = self.b[k] * scale;
                g.col_mut(k)
                    .iter_mut()
                    .zip(&end.alpha_s)
                    .for_each(|(g, a)| *g = a * bk);
            }
            g
        });
        let scale0 = kappa.first().map_or(log_k_end.exp(), |k| *k) / self.c0;
        let beta0: Vec<f64> = beta_last.iter().map(|v| v * scale0).collect();

        let mu_min = self.mu_min();
        let mu_shifted: Vec<f64> = self.mu.iter().map(|v| v - mu_min).collect();
        let buffers = Buffers {
            alpha: &alpha,
            e_alpha: &mut e_alpha,
            beta: &beta,
            e_beta: &mut e_beta,
        };
        let neurons = self.spike_ops.len();
        let intervals = simd!(|layout: &'a Layout,
                               buffers: Buffers<'a>,
                               decays: &'a Decays,
                               isi: &'a [f64],
                               kappa: &'a [f64],
                               mu: &'a [f64],
                               close: &'a [(usize, usize)],
                               neurons: usize|
         -> IntervalSums {
            interval_sums(layout, buffers, decays, isi, kappa, mu, close, neurons)
        }(
            &layout,
            buffers,
            &decays,
            isi,
            &kappa,
            &mu_shifted,
            close,
            neurons
        ));
        keep_scratch(Scratch {
            decays: decays.into_buffer(),
            alpha,
            e_alpha,
            beta,
            e_beta,
        });
        Ok(TrialGrad {
            neg_loglik: end.neg_loglik,
            intervals,
            g_abs,
            alpha_end: end.alpha_end,
            beta0,
        })
    }
}

/// Keeps `scratch` for the thread's next trial unless it is very large.
fn keep_scratch(scratch: Scratch) {
    let len = scratch.decays.len() + scratch.alpha.len() + scratch.beta.len();
    if len <= SCRATCH_KEEP {
        SCRATCH.with(|b| *b.borrow_mut() = scratch);
    }
}

pub(crate) fn step_error(trial: usize, event: usize, neuron: Option<u32>) -> LikelihoodError {
    match neuron {
        Some(neuron) => LikelihoodError::ImpossibleSpike {
            trial,
            event,
            neuron,
        },
        None => LikelihoodError::NonPositiveNormaliser { trial, value: 0.0 },
    }
}

/// Scales `a` to unit norm and returns log of the old norm; Err if it was 0 or not finite.
#[inline(always)]
pub(crate) fn normalise(a: &mut [f64]) -> Result<f64, ()> {
    let c = norm(a);
    if !(c.is_finite() && c > 0.0) {
        return Err(());
    }
    let inv = 1.0 / c;
    a.iter_mut().for_each(|v| *v *= inv);
    Ok(c.ln())
}
