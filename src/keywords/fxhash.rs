//! A fast hash for the word tables.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FxHash (as used by rustc): a few cycles per word. The keys are the rule files' own
/// words, not attacker-chosen, and lookups of shopper text only read the table, so
/// hash flooding cannot grow anything.
#[derive(Default, Clone, Copy)]
pub(super) struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // The tail as a zero-padded little-endian word, built without a call to memcpy
            // (most words are shorter than 8 bytes, so this is the common path).
            let w = rest
                .iter()
                .enumerate()
                .fold(0u64, |w, (i, b)| w | u64::from(*b) << (8 * i));
            self.add(w);
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(SEED);
    }
}

pub(super) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The model's buckets are these hashes: the tail must hash as a zero-padded word.
    #[test]
    fn the_tail_is_a_zero_padded_word() {
        for text in ["", "a", "skip", "delay it", "reschedule", "\u{e9}t\u{e9}"] {
            let bytes = text.as_bytes();
            let mut a = FxHasher::default();
            a.write(bytes);
            let mut b = FxHasher::default();
            for c in bytes.chunks(8) {
                let mut w = [0u8; 8];
                w[..c.len()].copy_from_slice(c);
                b.add(u64::from_le_bytes(w));
            }
            assert_eq!(a.finish(), b.finish(), "{text:?}");
        }
    }
}
