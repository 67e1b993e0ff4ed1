//! The term the paper's code added to the F gradient when its eigensolver returned the ground
//! state of H0 negated (docs/method.md §10).

use latentflow_data::SpikeData;

use crate::{GradRequest, Gradients, Likelihood, LikelihoodError};

impl Likelihood {
    /// -log L, the requested gradients and, on the nodes, the term the paper's code (neuralflow
    /// v1.0.0) added to the F gradient whenever its eigensolver returned the ground state of H0
    /// as -sqrt(peq) instead of +sqrt(peq) (docs/method.md §10):
    ///
    /// ```text
    /// delta(x) = - sum over trials of int_a^x sqrt(peq) (U alpha_last / c_end + U beta_0),
    /// ```
    ///
    /// with the messages of §4. It is in the F gradient's units (a functional derivative on
    /// the nodes, §4) and is minus the summed distribution functions of the latent state's
    /// posteriors at the end and at the start of each trial: 0 at a, -2 per trial at b,
    /// non-increasing in between. One set of passes serves both; plain gradient evaluations
    /// ([`Likelihood::neg_loglik_and_grad`]) do not compute the term. Equilibrium models only,
    /// as in the paper's code.
    pub fn neg_loglik_grad_and_v1_sign_term(
        &self,
        data: &SpikeData,
        request: GradRequest,
    ) -> Result<(f64, Gradients, Vec<f64>), LikelihoodError> {
        if self.model.p0().is_some() {
            return Err(LikelihoodError::InvalidRequest(
                "the paper's code's sign term is defined for equilibrium models only (no p0)"
                    .into(),
            ));
        }
        self.check_request(request)?;
        let (total, close) = self.totals(data)?;
        let u_alpha = self.on_nodes(&total.alpha_end);
        let u_beta = self.on_nodes(&total.beta0);
        let integrand: Vec<f64> = self
            .model
            .peq()
            .iter()
            .zip(u_alpha.iter().zip(&u_beta))
            .map(|(p, (a, b))| p.sqrt() * (a + b))
            .collect();
        let mut delta = self.model.grid().antiderivative(&integrand);
        delta.iter_mut().for_each(|v| *v = -*v);
        let neg_loglik = total.neg_loglik;
        Ok((neg_loglik, self.assemble(total, &close, request), delta))
    }
}
