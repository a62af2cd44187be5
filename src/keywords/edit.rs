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

#[cfg(test)]
mod tests {
    use super::*;

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
