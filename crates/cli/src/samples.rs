//! The seeds of an experiment's samples, shared by `experiment` and `plateau`.

/// The seed of sample `k` (SplitMix64 of the experiment seed and k): independent streams that
/// do not depend on the shard or the thread count.
pub fn sample_seed(seed: u64, k: usize) -> u64 {
    let mut z = seed ^ (k as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
