//! Text normalisation and tokenisation: the single pass every message goes through
//! before any lookup.
//!
//! The output is a canonical, space-separated token string plus token offsets into it:
//!
//! * NFKC (full-width letters, ligatures and the like become plain letters), lower case,
//!   then canonical decomposition with combining marks dropped, so "Sí", "SI" and "si"
//!   are the same word and "día" matches "dia". Pure-ASCII input skips all of this.
//! * A word is a run of letters or a run of digits; "2weeks" is two tokens, because
//!   shoppers type durations that way.
//! * Runs of three or more identical letters are cut to two ("skiiiip" -> "skiip"); the
//!   lexicon then resolves the doubled form (see `Lexicon::lookup`). Two is kept rather
//!   than one because real words have double letters ("weeks", "too").
//! * Apostrophes join English contractions ("don't" -> "dont") but split French elisions
//!   ("n'annulez" -> "n annulez", "d'une" -> "d une") so the negation and the verb stay
//!   separate words.
//! * Sentence punctuation (`. ! , ; :` and line breaks) becomes a clause break `.`; `?`
//!   stays a `?` token because a question changes what a keyword means. `/` and `+` are
//!   tokens of their own (dates such as `3/21`, sums such as `2 weeks + 1 day`), `&` is
//!   the word `and`, and the emoji shoppers use as words become them: ⏭ `skip`, ⏩ `later`,
//!   ⏸ `hold`, 🙅 `no`. Everything else (other emoji, quotes, `¿`, `¡`) only separates words.
//!
//! The output is a fixed point: normalising it again yields the same string (a property
//! test holds this), so normalised text can be stored and re-read safely.

use unicode_normalization::char::{decompose_canonical, is_combining_mark};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokKind {
    /// A run of letters.
    Word,
    /// A run of digits (any script; only ASCII digits are ever read as numbers).
    Number,
    /// A `?`.
    Question,
    /// A clause break: sentence punctuation or a line break.
    Break,
}

/// One token: a byte range of [`Normalized::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Token {
    pub start: u32,
    pub end: u32,
    pub kind: TokKind,
}

/// A normalised message.
#[derive(Debug, Clone, Default)]
pub(super) struct Normalized {
    /// Tokens separated by single spaces; breaks are written `.`, questions `?`.
    pub text: String,
    pub tokens: Vec<Token>,
}

impl Normalized {
    /// The text of token `i`.
    #[inline]
    pub fn word(&self, i: usize) -> &str {
        let t = self.tokens[i];
        &self.text[t.start as usize..t.end as usize]
    }
}

/// Normalises `input` (see the module docs).
pub(super) fn normalize(input: &str) -> Normalized {
    let mut out = Normalized::default();
    normalize_into(input, &mut out);
    out
}

/// Like [`normalize`], reusing `out`'s buffers (the matcher keeps one per thread so the
/// hot path does not allocate for them).
pub(super) fn normalize_into(input: &str, out: &mut Normalized) {
    let mut b = Builder::reuse(std::mem::take(out), input.len());
    if input.is_ascii() {
        for c in input.chars() {
            b.push(c.to_ascii_lowercase());
        }
    } else {
        // Most non-ASCII messages are already NFKC (accents, emoji): skip that pass then.
        let composed: String;
        let src = if is_nfkc_quick(input.chars()) == IsNormalized::Yes {
            input
        } else {
            composed = input.nfkc().collect();
            &composed
        };
        for c in src.chars() {
            if c.is_ascii() {
                b.push(c.to_ascii_lowercase());
                continue;
            }
            // Lower-case, decompose, drop the marks. Canonical reordering of NFD is not
            // needed: it only moves combining marks, and every one is dropped.
            for l in c.to_lowercase() {
                decompose_canonical(l, |d| {
                    if !is_combining_mark(d) {
                        b.push(d);
                    }
                });
            }
        }
    }
    *out = b.finish();
}

/// Normalises `input` and returns just the canonical text.
#[cfg(test)]
pub(super) fn normalize_text(input: &str) -> String {
    normalize(input).text
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Digit,
}

fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '\u{2019}' | '\u{2018}' | '\u{02BC}' | '`' | '\u{00B4}'
    )
}

/// Sentence punctuation, brackets (an aside: "skip (traveling)") and dashes used as
/// punctuation ("skip — we're away").
fn is_break(c: char) -> bool {
    matches!(
        c,
        '.' | '!'
            | ','
            | ';'
            | ':'
            | '\n'
            | '\r'
            | '('
            | ')'
            | '['
            | ']'
            | '{'
            | '}'
            | '|'
            | '\u{2013}'
            | '\u{2014}'
            | '\u{2022}'
            | '\u{2026}'
            | '\u{3002}'
    )
}

/// Emoji that shoppers write as words.
fn emoji_word(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{23ED}' => "skip",  // ⏭ next track
        '\u{23E9}' => "later", // ⏩ fast forward
        '\u{23F8}' => "hold",  // ⏸ pause
        '\u{1F645}' => "no",   // 🙅 no gesture
        _ => return None,
    })
}

/// French elided articles and pronouns: an apostrophe after one of these separates words.
fn is_elision(word: &str) -> bool {
    matches!(
        word,
        "l" | "j"
            | "n"
            | "d"
            | "c"
            | "m"
            | "t"
            | "s"
            | "qu"
            | "jusqu"
            | "lorsqu"
            | "puisqu"
            | "presqu"
            | "quoiqu"
    )
}

struct Builder {
    out: String,
    tokens: Vec<Token>,
    /// Class of the word being built, if any.
    cur: Option<Class>,
    /// Start of the word being built.
    start: usize,
    last: char,
    run: u8,
    /// An apostrophe was seen right after a word; resolved by the next character.
    apostrophe: bool,
}

impl Builder {
    fn reuse(old: Normalized, n: usize) -> Self {
        let (mut out, mut tokens) = (old.text, old.tokens);
        out.clear();
        out.reserve(n + 8);
        tokens.clear();
        tokens.reserve(n / 3 + 2);
        Builder {
            out,
            tokens,
            cur: None,
            start: 0,
            last: '\0',
            run: 0,
            apostrophe: false,
        }
    }

    fn end_word(&mut self) {
        if let Some(class) = self.cur.take() {
            let kind = match class {
                Class::Letter => TokKind::Word,
                Class::Digit => TokKind::Number,
            };
            self.tokens.push(Token {
                start: self.start as u32,
                end: self.out.len() as u32,
                kind,
            });
        }
        self.apostrophe = false;
    }

    fn begin(&mut self, class: Class) {
        if !self.out.is_empty() {
            self.out.push(' ');
        }
        self.cur = Some(class);
        self.start = self.out.len();
        self.run = 0;
        self.last = '\0';
    }

    fn push_mark(&mut self, kind: TokKind) {
        self.end_word();
        match self.tokens.last().map(|t| t.kind) {
            // Nothing to separate yet: a leading break means nothing.
            None if kind == TokKind::Break => return,
            Some(TokKind::Question) => return,
            Some(TokKind::Break) => {
                if kind == TokKind::Question {
                    // "skip.?" -> the clause is a question.
                    self.out.pop();
                    self.out.push('?');
                    if let Some(t) = self.tokens.last_mut() {
                        t.kind = TokKind::Question;
                    }
                }
                return;
            }
            _ => {}
        }
        if !self.out.is_empty() {
            self.out.push(' ');
        }
        let start = self.out.len();
        self.out
            .push(if kind == TokKind::Question { '?' } else { '.' });
        self.tokens.push(Token {
            start: start as u32,
            end: self.out.len() as u32,
            kind,
        });
    }

    fn push(&mut self, c: char) {
        let class = if c.is_alphabetic() {
            Some(Class::Letter)
        } else if c.is_numeric() {
            Some(Class::Digit)
        } else {
            None
        };
        match class {
            Some(class) => {
                if self.apostrophe {
                    self.apostrophe = false;
                    if class == Class::Letter && self.cur == Some(Class::Letter) {
                        if is_elision(&self.out[self.start..]) {
                            self.end_word();
                            self.begin(class);
                        }
                        // Otherwise a contraction: keep building the same word.
                    } else {
                        self.end_word();
                        self.begin(class);
                    }
                } else if self.cur != Some(class) {
                    self.end_word();
                    self.begin(class);
                }
                if c == self.last {
                    if class == Class::Letter && self.run >= 2 {
                        return;
                    }
                    self.run = self.run.saturating_add(1);
                } else {
                    self.run = 1;
                }
                self.last = c;
                self.out.push(c);
            }
            None if is_apostrophe(c) && self.cur == Some(Class::Letter) && !self.apostrophe => {
                self.apostrophe = true;
            }
            None if c == '?' => self.push_mark(TokKind::Question),
            None if c == '/' || c == '+' => self.push_symbol(c),
            None if c == '&' => self.push_word("and"),
            None if emoji_word(c).is_some() => self.push_word(emoji_word(c).unwrap_or("")),
            None if is_break(c) => self.push_mark(TokKind::Break),
            // A hyphen joined to a word separates ("opt-out", "mois-ci", "2-3"); one that
            // stands alone is a dash ("skip - we're away").
            None if c == '-' && self.cur.is_none() => self.push_mark(TokKind::Break),
            None => self.end_word(),
        }
    }

    /// A word that did not come from letters in the input (an emoji, `&`).
    fn push_word(&mut self, word: &str) {
        self.end_word();
        self.begin(Class::Letter);
        self.out.push_str(word);
        self.last = '\0';
        self.end_word();
    }

    /// `/` or `+`: a token of its own, kept as a word so that re-normalising keeps it.
    fn push_symbol(&mut self, c: char) {
        self.end_word();
        if !self.out.is_empty() {
            self.out.push(' ');
        }
        let start = self.out.len();
        self.out.push(c);
        self.tokens.push(Token {
            start: start as u32,
            end: self.out.len() as u32,
            kind: TokKind::Word,
        });
    }

    fn finish(mut self) -> Normalized {
        self.end_word();
        // A trailing break carries no information ("skip." == "skip").
        if let Some(t) = self.tokens.last()
            && t.kind == TokKind::Break
        {
            let start = t.start as usize;
            self.tokens.pop();
            self.out.truncate(start.saturating_sub(1));
        }
        Normalized {
            text: self.out,
            tokens: self.tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalize_text(s)
    }

    #[test]
    fn basic_forms() {
        assert_eq!(n("Skip!!"), "skip");
        assert_eq!(n("skip 🙏"), "skip");
        assert_eq!(n("SKIP."), "skip");
        assert_eq!(n("  Skip,   please!! "), "skip . please");
        assert_eq!(n("skip?!"), "skip ?");
        assert_eq!(n("...skip"), "skip");
        assert_eq!(n("?"), "?");
    }

    #[test]
    fn folding_and_runs() {
        assert_eq!(n("Sí, por favor"), "si . por favor");
        assert_eq!(n("ＳＫＩＰ"), "skip");
        assert_eq!(n("Día"), "dia");
        assert_eq!(n("skiiiiip"), "skiip");
        assert_eq!(n("weeks"), "weeks");
        assert_eq!(n("2000"), "2000");
    }

    #[test]
    fn apostrophes_and_digits() {
        assert_eq!(n("don't skip"), "dont skip");
        assert_eq!(n("I’m away"), "im away");
        assert_eq!(n("n'annulez pas"), "n annulez pas");
        assert_eq!(n("d'une semaine"), "d une semaine");
        assert_eq!(n("delay 2weeks"), "delay 2 weeks");
        assert_eq!(n("3wks"), "3 wks");
        assert_eq!(n("opt-out"), "opt out");
        assert_eq!(n("skip - we're away"), "skip . were away");
        assert_eq!(n("skip (traveling)"), "skip . traveling");
        assert_eq!(n("2-3 weeks"), "2 3 weeks");
        assert_eq!(n("the 3/21"), "the 3 / 21");
        assert_eq!(n("3 weeks + 1 day"), "3 weeks + 1 day");
        assert_eq!(n("⏭️ this one"), "skip this one");
        assert_eq!(n("⏩2 weeks"), "later 2 weeks");
        assert_eq!(n("🙅‍♀️ pas ce mois-ci"), "no pas ce mois ci");
    }

    #[test]
    fn tokens_point_into_text() {
        let m = normalize("Delay 2 weeks, thanks?");
        let words: Vec<&str> = (0..m.tokens.len()).map(|i| m.word(i)).collect();
        assert_eq!(words, ["delay", "2", "weeks", ".", "thanks", "?"]);
        assert_eq!(m.tokens[1].kind, TokKind::Number);
        assert_eq!(m.tokens[3].kind, TokKind::Break);
        assert_eq!(m.tokens[5].kind, TokKind::Question);
    }
}
