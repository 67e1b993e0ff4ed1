//! Criterion benches for latentflow live in `benches/`.
