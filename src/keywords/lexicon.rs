//! The compiled word table: every word any rule file mentions, with all its roles, in one
//! hash map, so the matcher does a single lookup per token whatever the number of rules.

use super::edit::{DeletionFilter, delete_into, squeeze_owned, within_one_edit};
pub(super) use super::fxhash::FxMap;
use super::schema::{Item, ParsedFile};
use super::{OPT_OUT_WORDS, is_opt_out_word};

/// Role flags of a word or phrase.
pub(super) mod flag {
    pub const NEGATION: u16 = 1 << 0;
    pub const LEAD_IN: u16 = 1 << 1;
    pub const REQUEST: u16 = 1 << 2;
    pub const OBJECT: u16 = 1 << 3;
    pub const BREAK: u16 = 1 << 4;
    pub const COMMON: u16 = 1 << 5;
    pub const OPT_OUT: u16 = 1 << 6;
}

/// Everything known about one word or phrase. `Copy` and small: the matcher keeps one
/// per segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Info {
    pub flags: u16,
    /// Index of the rule this keyword triggers, or `NO_RULE`.
    pub rule: u16,
    /// Index into `Lexicon::keyword_text` (the canonical keyword).
    pub kw: u32,
    /// Value as a number word ("two" = 2), 0 if none.
    pub number: u32,
    /// Days per unit ("week" = 7), 0 if none.
    pub unit_days: u32,
}

pub(super) const NO_RULE: u16 = u16::MAX;

impl Default for Info {
    fn default() -> Self {
        Info {
            flags: 0,
            rule: NO_RULE,
            kw: 0,
            number: 0,
            unit_days: 0,
        }
    }
}

impl Info {
    #[inline]
    pub fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }
    #[inline]
    pub fn is_keyword(&self) -> bool {
        self.rule != NO_RULE
    }
    /// Known in any role: such a word is never "corrected" into a keyword.
    #[inline]
    pub fn is_known(&self) -> bool {
        self.flags != 0 || self.rule != NO_RULE || self.number != 0 || self.unit_days != 0
    }
    fn merge(&mut self, other: &Info, rank: impl Fn(u16) -> (i32, usize)) {
        self.flags |= other.flags;
        if other.rule != NO_RULE && (self.rule == NO_RULE || rank(other.rule) > rank(self.rule)) {
            self.rule = other.rule;
            self.kw = other.kw;
        }
        if self.number == 0 {
            self.number = other.number;
        }
        if self.unit_days == 0 {
            self.unit_days = other.unit_days;
        }
    }
}

/// A multi-word entry, stored under its first word.
#[derive(Debug, Clone)]
pub(super) struct Phrase {
    /// The words after the first.
    pub rest: Box<[Box<str>]>,
    pub info: Info,
}

#[derive(Debug, Clone, Default)]
struct Entry {
    info: Info,
    /// Phrases starting with this word, longest first: `phrases[start..start + len]`.
    phrase_start: u32,
    phrase_len: u32,
}

/// A keyword that a one-edit typo may be corrected to.
#[derive(Debug, Clone)]
struct TypoTarget {
    word: Box<str>,
    chars: usize,
    info: Info,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Lexicon {
    map: FxMap<Box<str>, u32>,
    entries: Vec<Entry>,
    phrases: Vec<Phrase>,
    /// Word with every doubled letter collapsed -> entry, for elongated words
    /// ("skiip", "pleease"). Ambiguous collapsed forms are left out.
    squeezed: FxMap<Box<str>, u32>,
    typo_targets: Vec<TypoTarget>,
    /// Each ASCII typo target and its one-letter deletions -> the targets: a word one edit
    /// from a target shares one of these keys with it (the SymSpell trick), so a lookup
    /// costs a few hash probes instead of a scan of every keyword.
    typo_index: FxMap<Box<str>, Vec<u32>>,
    /// Which deletions of a word may be keys of `typo_index`.
    typo_filter: DeletionFilter,
    /// The typo targets that are not ASCII, compared one by one.
    accented: Vec<u32>,
    /// Canonical keyword texts, indexed by `Info::kw`.
    pub keyword_text: Vec<Box<str>>,
    /// The keyword for a message made only of "?", if a rule lists "?".
    pub question: Option<Info>,
}

impl Lexicon {
    /// Builds the table from validated files. `priorities[i]` belongs to rule index `i`
    /// in file order (the order the caller compiles rules in).
    pub fn build(files: &[ParsedFile], priorities: &[i32]) -> Lexicon {
        // Higher priority wins; on a tie the rule loaded first.
        let rank = |r: u16| -> (i32, usize) {
            let i = usize::from(r);
            (
                priorities.get(i).copied().unwrap_or(i32::MIN),
                usize::MAX - i,
            )
        };
        let mut words: FxMap<Box<str>, Info> = FxMap::default();
        let mut phrases: FxMap<Box<str>, Info> = FxMap::default();
        let mut keyword_text: Vec<Box<str>> = Vec::new();
        let mut question = None;

        let mut add = |norm: &str, info: Info| {
            let target = if norm.contains(' ') {
                &mut phrases
            } else {
                &mut words
            };
            target
                .entry(norm.into())
                .and_modify(|e| e.merge(&info, rank))
                .or_insert(info);
        };
        let role = |flags: u16| Info {
            flags,
            ..Info::default()
        };

        for w in OPT_OUT_WORDS {
            add(w, role(flag::OPT_OUT));
        }
        let mut rule_idx: u16 = 0;
        for f in files {
            for r in &f.rules {
                for item in r.keywords.iter().chain(r.phrases.iter()) {
                    let kw = keyword_text.len() as u32;
                    keyword_text.push(item.raw.as_str().into());
                    let info = Info {
                        rule: rule_idx,
                        kw,
                        ..Info::default()
                    };
                    if item.norm == "?" {
                        match question {
                            Some(Info { rule, .. }) if rank(rule) >= rank(rule_idx) => {}
                            _ => question = Some(info),
                        }
                    } else {
                        add(&item.norm, info);
                    }
                }
                rule_idx = rule_idx.saturating_add(1);
            }
            let g = &f.grammar;
            let lists: [(&[Item], u16); 6] = [
                (&g.negations, flag::NEGATION),
                (&g.lead_ins, flag::LEAD_IN),
                (&g.requests, flag::REQUEST),
                (&g.objects, flag::OBJECT),
                (&g.clause_breaks, flag::BREAK),
                (&g.common_words, flag::COMMON),
            ];
            for (list, fl) in lists {
                for item in list {
                    add(&item.norm, role(fl));
                }
            }
            for u in &f.units {
                add(
                    &u.item.norm,
                    Info {
                        unit_days: u.value,
                        ..Info::default()
                    },
                );
            }
            for n in &f.numbers {
                add(
                    &n.item.norm,
                    Info {
                        number: n.value,
                        ..Info::default()
                    },
                );
            }
        }

        // Group phrases under their first word, longest first so the longest match wins.
        let mut grouped: FxMap<Box<str>, Vec<Phrase>> = FxMap::default();
        for (text, info) in phrases {
            let mut it = text.split(' ');
            let first: Box<str> = it.next().unwrap_or_default().into();
            let rest: Box<[Box<str>]> = it.map(Into::into).collect();
            grouped
                .entry(first)
                .or_default()
                .push(Phrase { rest, info });
        }
        let mut lex = Lexicon {
            keyword_text,
            question,
            ..Lexicon::default()
        };
        for (w, info) in words {
            let idx = lex.entries.len() as u32;
            lex.entries.push(Entry {
                info,
                ..Entry::default()
            });
            lex.map.insert(w, idx);
        }
        let mut firsts: Vec<_> = grouped.into_iter().collect();
        firsts.sort_by(|a, b| a.0.cmp(&b.0));
        for (first, mut list) in firsts {
            list.sort_by(|a, b| {
                b.rest
                    .len()
                    .cmp(&a.rest.len())
                    .then_with(|| a.rest.cmp(&b.rest))
            });
            let idx = match lex.map.get(&first) {
                Some(i) => *i,
                None => {
                    let i = lex.entries.len() as u32;
                    lex.entries.push(Entry::default());
                    lex.map.insert(first, i);
                    i
                }
            };
            let e = &mut lex.entries[idx as usize];
            e.phrase_start = lex.phrases.len() as u32;
            e.phrase_len = list.len() as u32;
            lex.phrases.extend(list);
        }

        // Elongation table. Opt-out words win a collision: missing a STOP is the one
        // mistake that must not happen.
        let mut squeezed: FxMap<Box<str>, Option<u32>> = FxMap::default();
        for (w, idx) in &lex.map {
            if !lex.entries[*idx as usize].info.is_known() {
                continue;
            }
            let key: Box<str> = squeeze_owned(w).into();
            squeezed
                .entry(key)
                .and_modify(|slot| {
                    let is_opt = |i: u32| lex.entries[i as usize].info.has(flag::OPT_OUT);
                    *slot = match *slot {
                        Some(prev) if prev == *idx => Some(prev),
                        Some(prev) if is_opt(prev) && !is_opt(*idx) => Some(prev),
                        Some(prev) if is_opt(*idx) && !is_opt(prev) => Some(*idx),
                        _ => None,
                    };
                })
                .or_insert(Some(*idx));
        }
        lex.squeezed = squeezed
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();

        // Typo targets: single-word keywords of at least four letters.
        for (w, idx) in &lex.map {
            let info = lex.entries[*idx as usize].info;
            let chars = w.chars().count();
            if info.is_keyword() && chars >= 4 && w.chars().all(char::is_alphabetic) {
                lex.typo_targets.push(TypoTarget {
                    word: w.clone(),
                    chars,
                    info,
                });
            }
        }
        lex.typo_targets
            .sort_by(|a, b| a.chars.cmp(&b.chars).then_with(|| a.word.cmp(&b.word)));
        lex.index_typo_targets();
        lex
    }

    /// Drops the typo targets another corrector already covers (the reader corrects typos
    /// of its built-in words before the rules see them), so a word is not probed twice.
    pub fn drop_typo_targets(&mut self, covered: impl Fn(&str) -> bool) {
        self.typo_targets.retain(|t| !covered(&t.word));
        self.index_typo_targets();
    }

    fn index_typo_targets(&mut self) {
        self.typo_index.clear();
        self.accented.clear();
        self.typo_filter = DeletionFilter::new();
        let lex = self;
        for (i, t) in lex.typo_targets.iter().enumerate() {
            if !t.word.is_ascii() {
                lex.accented.push(i as u32);
                continue;
            }
            let mut keys = vec![t.word.clone()];
            let mut buf = String::new();
            for k in 0..t.word.len() {
                delete_into(&t.word, k, &mut buf);
                keys.push(buf.as_str().into());
            }
            for key in keys {
                lex.typo_filter.insert(&key);
                let list = lex.typo_index.entry(key).or_default();
                if !list.contains(&(i as u32)) {
                    list.push(i as u32);
                }
            }
        }
    }

    /// The canonical keyword text of `kw`.
    pub fn keyword(&self, kw: u32) -> &str {
        self.keyword_text.get(kw as usize).map_or("", |k| k)
    }

    /// Looks a normalised word up: exactly, then with doubled letters collapsed if the
    /// word has any ("skiip" -> "skip", "stopp" -> "stop").
    #[inline]
    pub fn lookup(&self, word: &str) -> Option<(Info, u32)> {
        let idx = match self.map.get(word) {
            Some(i) => *i,
            None => self.lookup_squeezed(word)?,
        };
        let e = &self.entries[idx as usize];
        Some((e.info, idx))
    }

    /// Elongation lookup. Short collapsed forms are only trusted for opt-out words
    /// ("endd" is END), since "all" -> "al" or "off" -> "of" would turn ordinary words
    /// into grammar words.
    fn lookup_squeezed(&self, word: &str) -> Option<u32> {
        let b = word.as_bytes();
        if word.is_ascii() && !b.windows(2).any(|w| w[0] == w[1]) {
            return None;
        }
        let mut buf = [0u8; 48];
        let owned;
        let key = if word.is_ascii() && word.len() <= buf.len() {
            let mut n = 0;
            for &c in b {
                if n == 0 || buf[n - 1] != c {
                    buf[n] = c;
                    n += 1;
                }
            }
            std::str::from_utf8(&buf[..n]).ok()?
        } else {
            owned = squeeze_owned(word);
            owned.as_str()
        };
        let idx = *self.squeezed.get(key)?;
        let trusted =
            key.chars().nth(3).is_some() || self.entries[idx as usize].info.has(flag::OPT_OUT);
        trusted.then_some(idx)
    }

    /// Phrases that start with the word at `entry`, longest first.
    #[inline]
    pub fn phrases_of(&self, entry: u32) -> &[Phrase] {
        let e = &self.entries[entry as usize];
        &self.phrases[e.phrase_start as usize..(e.phrase_start + e.phrase_len) as usize]
    }

    /// Whether a normalised token is an opt-out word (exactly or elongated).
    #[inline]
    pub fn is_opt_out(&self, word: &str) -> bool {
        self.lookup(word).is_some_and(|(i, _)| i.has(flag::OPT_OUT))
    }

    /// Corrects a one-edit typo of a keyword ("sikp" -> skip, "dealy" -> delay).
    ///
    /// Only for unknown words of at least four letters; never when the word is also one
    /// edit from an opt-out word (STOP must never become SKIP) or from keywords of two
    /// different rules. Words known in any role (keywords, grammar, `common_words` such
    /// as "ship") never reach here, so they are never "corrected".
    pub fn correct(&self, word: &str) -> Option<Info> {
        if self.typo_targets.is_empty() {
            return None;
        }
        let len = word.chars().count();
        if !(4..=24).contains(&len) || !word.chars().all(char::is_alphabetic) {
            return None;
        }
        let mut found: Option<Info> = None;
        let mut consider = |t: &TypoTarget| -> bool {
            if within_one_edit(word, &t.word) {
                match found {
                    Some(f) if f.rule != t.info.rule => return false,
                    Some(_) => {}
                    None => found = Some(t.info),
                }
            }
            true
        };
        if word.is_ascii() {
            // The word itself and each of its deletions, probed in the deletion index.
            let mut buf = String::with_capacity(word.len());
            for k in self.typo_filter.candidates(word) {
                let key = if k == word.len() {
                    word
                } else {
                    delete_into(word, k, &mut buf);
                    buf.as_str()
                };
                for &i in self.typo_index.get(key).into_iter().flatten() {
                    if !consider(&self.typo_targets[i as usize]) {
                        return None;
                    }
                }
            }
            // Accented targets are not indexed: compare them directly.
            for &i in &self.accented {
                if !consider(&self.typo_targets[i as usize]) {
                    return None;
                }
            }
        } else {
            for t in &self.typo_targets {
                if t.chars + 1 < len {
                    continue;
                }
                if t.chars > len + 1 {
                    break;
                }
                if !consider(t) {
                    return None;
                }
            }
        }
        // Checked last, since most words are near no keyword: one edit from an opt-out word
        // too, it is never corrected.
        found.filter(|_| {
            !(is_opt_out_word(word) || OPT_OUT_WORDS.iter().any(|o| within_one_edit(word, o)))
        })
    }
}
