//! Edit distance one, deletions and doubled letters: the typo arithmetic shared by the rule
//! files' lexicon and the reader's vocabulary.

/// `w` (ASCII) without its byte `k`, written into `buf`.
pub(super) fn delete_into(w: &str, k: usize, buf: &mut String) {
    buf.clear();
    buf.push_str(&w[..k]);
    buf.push_str(&w[k + 1..]);
}

pub(super) fn squeeze_owned(w: &str) -> String {
    let mut out = String::with_capacity(w.len());
    let mut last = None;
    for c in w.chars() {
        if last != Some(c) {
            out.push(c);
        }
        last = Some(c);
    }
    out
}

/// True when `a` and `b` differ by exactly one insertion, deletion, substitution or
/// transposition of adjacent characters (optimal-string-alignment distance 1).
pub(super) fn within_one_edit(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        one_edit(a.as_bytes(), b.as_bytes())
    } else {
        let mut ab = ['\0'; 32];
        let mut bb = ['\0'; 32];
        let (Some(la), Some(lb)) = (fill(&mut ab, a), fill(&mut bb, b)) else {
            return false;
        };
        one_edit(&ab[..la], &bb[..lb])
    }
}

fn fill(buf: &mut [char; 32], s: &str) -> Option<usize> {
    let mut n = 0;
    for c in s.chars() {
        *buf.get_mut(n)? = c;
        n += 1;
    }
    Some(n)
}

fn one_edit<T: Eq>(a: &[T], b: &[T]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() - short.len() > 1 {
        return false;
    }
    let i = short
        .iter()
        .zip(long.iter())
        .take_while(|(x, y)| x == y)
        .count();
    if short.len() == long.len() {
        if i == short.len() {
            return false; // equal
        }
        // substitution
        if short[i + 1..] == long[i + 1..] {
            return true;
        }
        // transposition
        i + 1 < short.len()
            && short[i] == long[i + 1]
            && short[i + 1] == long[i]
            && short[i + 2..] == long[i + 2..]
    } else {
        short[i..] == long[i + 1..]
    }
}

/// Collapses doubled letters ("skiip" -> "skip", "pleease" -> "please").
pub(crate) fn squeeze(w: &str) -> Option<String> {
    // Most words have no doubled letter: answer without allocating.
    let b = w.as_bytes();
    if !b.windows(2).any(|p| p[0] == p[1]) && w.is_ascii() {
        return None;
    }
    let mut out = String::with_capacity(w.len());
    let mut last = '\0';
    let mut changed = false;
    for c in w.chars() {
        if c == last {
            changed = true;
            continue;
        }
        out.push(c);
        last = c;
    }
    changed.then_some(out)
}

/// A Bloom-style filter over the keys of a deletion index (a word and its one-letter
/// deletions, ASCII): which of an unknown word's deletions may be a key, found without
/// building any of them. Most words of a long message are near no known word, so most
/// probes end here, in a few multiplications per letter, instead of in `len + 1` string
/// hashes and map lookups.
#[derive(Debug, Clone)]
pub(super) struct DeletionFilter {
    bits: Vec<u64>,
}

impl Default for DeletionFilter {
    fn default() -> Self {
        DeletionFilter::new()
    }
}

/// log2 of the filter's bits: 2^18 bits (32 KiB), two per key, keep ten thousand keys at
/// about half a per cent of false hits per probe (one bit per key in 16 KiB let half the
/// words through to the map, whose cache misses are what a probe costs).
const FILTER_BITS: u32 = 18;
const BASE: u64 = 0x100_0000_01b3;

impl DeletionFilter {
    pub fn new() -> DeletionFilter {
        DeletionFilter {
            bits: vec![0; 1 << (FILTER_BITS - 6)],
        }
    }

    /// Adds a key (ASCII; other keys are never asked for).
    pub fn insert(&mut self, key: &str) {
        let h = key
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(BASE).wrapping_add(u64::from(b)));
        for (word, bit) in slots(h) {
            self.bits[word] |= bit;
        }
    }

    fn has(&self, h: u64) -> bool {
        slots(h)
            .iter()
            .all(|(word, bit)| self.bits[*word] & bit != 0)
    }

    /// Every `k` in `0..=len`, in order, whose deletion of byte `k` (`k == len`: the word
    /// itself) may be a key. `w` must be ASCII; past 24 bytes, every `k`.
    pub fn candidates(&self, w: &str) -> impl Iterator<Item = usize> {
        let b = w.as_bytes();
        let n = b.len();
        let mut mask = u32::MAX;
        if n <= 24 {
            // prefix[k]: the hash of b[..k]; suffix[k]: of b[k..], each letter weighted by its
            // place from the end, so hash(b without k) = prefix[k] * BASE^(n-1-k) + suffix[k+1].
            let mut prefix = [0u64; 25];
            let mut suffix = [0u64; 26];
            let mut pow = [1u64; 25];
            for k in 0..n {
                prefix[k + 1] = prefix[k].wrapping_mul(BASE).wrapping_add(u64::from(b[k]));
                pow[k + 1] = pow[k].wrapping_mul(BASE);
            }
            for k in (0..n).rev() {
                suffix[k] =
                    suffix[k + 1].wrapping_add(u64::from(b[k]).wrapping_mul(pow[n - 1 - k]));
            }
            mask = u32::from(self.has(prefix[n])) << n;
            for k in 0..n {
                let h = prefix[k]
                    .wrapping_mul(pow[n - 1 - k])
                    .wrapping_add(suffix[k + 1]);
                mask |= u32::from(self.has(h)) << k;
            }
        }
        (0..=n).filter(move |&k| k > 24 || mask >> k & 1 == 1)
    }
}

/// The two bits of a key: two 18-bit indices from one mixed hash.
fn slots(h: u64) -> [(usize, u64); 2] {
    // Mixed, then the high bits: the polynomial's low bits depend on the last letters only.
    let m = (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let m = m ^ (m >> 32);
    let at = |i: u64| {
        let i = (i & ((1 << FILTER_BITS) - 1)) as usize;
        (i >> 6, 1u64 << (i & 63))
    };
    [at(m >> (64 - FILTER_BITS)), at(m >> (64 - 2 * FILTER_BITS))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_finds_every_deletion_that_is_a_key() {
        let mut f = DeletionFilter::new();
        let mut buf = String::new();
        for key in ["skip", "delay", "postpone"] {
            f.insert(key);
            for k in 0..key.len() {
                delete_into(key, k, &mut buf);
                f.insert(&buf);
            }
        }
        // A typo shares a key with its word: "sikp" without "i" is "skp", a deletion of
        // "skip"; "dealy" without "a" is "dely"; the word itself is its own key.
        let hits = |w: &str| f.candidates(w).collect::<Vec<_>>();
        assert!(hits("sikp").contains(&1));
        assert!(hits("dealy").contains(&2));
        assert!(hits("skip").contains(&4));
        assert!(hits("postpne").contains(&7));
        // And agrees with building each deletion: no key is missed.
        for w in ["skipp", "dlay", "postpones", "xyzzy", "kitchen"] {
            let got = hits(w);
            for k in 0..=w.len() {
                let key = if k == w.len() {
                    w.to_owned()
                } else {
                    delete_into(w, k, &mut buf);
                    buf.clone()
                };
                let mut single = DeletionFilter::new();
                single.insert(&key);
                assert!(single.candidates(w).any(|j| j == k), "{w} without {k}");
                let is_key = ["skip", "delay", "postpone"].iter().any(|t| {
                    *t == key
                        || (0..t.len()).any(|j| {
                            let mut b = String::new();
                            delete_into(t, j, &mut b);
                            b == key
                        })
                });
                if is_key {
                    assert!(got.contains(&k), "{w}: deletion {k} ({key}) missed");
                }
            }
        }
    }

    #[test]
    fn one_edit_cases() {
        assert!(within_one_edit("sikp", "skip"));
        assert!(within_one_edit("dealy", "delay"));
        assert!(within_one_edit("skp", "skip"));
        assert!(within_one_edit("skipp", "skip"));
        assert!(within_one_edit("slip", "skip"));
        assert!(!within_one_edit("skip", "skip"));
        assert!(!within_one_edit("stop", "skip"));
        assert!(!within_one_edit("spik", "skip"));
        assert!(within_one_edit("sauté", "saute"));
    }
}
