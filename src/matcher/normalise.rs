//! Normalisation: turns what people type into the words the matcher compares. Unicode NFKC,
//! lower case, punctuation and emoji dropped, letters repeated for emphasis squeezed ("sooo"),
//! the locale's text-speak and misspelling map applied ("fone" -> "phone"), stop words marked,
//! and a light, locale-configured suffix stemmer ("visiting" -> "visit").
//!
//! Triggers, crisis phrases and messages all go through the same `Normaliser`, so whatever it
//! does to a word it does on both sides: a stem need not be a real word, only a consistent one.
//! It never drops a word silently: stop words are kept and marked, because some questions
//! ("what can i do") are made of nothing else.

use std::collections::{HashMap, HashSet};

use unicode_normalization::UnicodeNormalization;

use crate::content::Locale;

/// Words shorter than this are never stemmed: short words are too easy to confuse.
const MIN_STEM_CHARS: usize = 3;

/// One word of a message after normalisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    /// The word after the text-speak map, before stemming: what crisis phrases compare.
    pub text: String,
    /// The stem: what topic and intent triggers compare.
    pub stem: String,
    /// A stop word ("the", "my"): counts for little when scoring.
    pub stop: bool,
}

/// One locale's normalisation rules, from `locales/<lang>/lexicon.toml`.
#[derive(Debug, Default)]
pub(crate) struct Normaliser {
    stopwords: HashSet<String>,
    /// A word and the words it stands for ("idk" -> ["i", "dont", "know"]).
    replace: HashMap<String, Vec<String>>,
    /// Suffix rules in the order they are tried: (ending, replacement).
    suffixes: Vec<(String, String)>,
}

impl Normaliser {
    pub fn new(locale: &Locale) -> Self {
        // The lexicon itself is written by people: clean its words the same way as messages.
        let clean = |s: &str| -> Vec<String> { words(s) };
        let stopwords = locale
            .stopwords
            .iter()
            .flat_map(|w| clean(w))
            .collect::<HashSet<_>>();
        let replace = locale
            .replacements
            .iter()
            .filter_map(|(from, to)| {
                let from = clean(from);
                // Only single words are keys: messages are looked up word by word.
                (from.len() == 1).then(|| (from[0].clone(), clean(to)))
            })
            .collect();
        let suffixes = locale
            .suffixes
            .iter()
            .filter_map(|rule| {
                let (from, to) = rule.split_once('>').unwrap_or((rule.as_str(), ""));
                let from = from.trim().to_lowercase();
                (!from.is_empty()).then(|| (from, to.trim().to_lowercase()))
            })
            .collect();
        Self {
            stopwords,
            replace,
            suffixes,
        }
    }

    /// Every word of `list`'s entries as a message is read: the form a word list from the
    /// content is looked up in.
    pub fn word_set(&self, list: &[String]) -> std::collections::HashSet<String> {
        list.iter()
            .flat_map(|w| self.tokens(w))
            .map(|t| t.text)
            .collect()
    }

    /// The words of `text`, text-speak expanded, each with its stem and stop-word mark.
    pub fn tokens(&self, text: &str) -> Vec<Token> {
        let mut out = Vec::new();
        for word in words(text) {
            match self.replace.get(&word) {
                Some(expansion) => {
                    for w in expansion {
                        out.push(self.token(w.clone()));
                    }
                }
                None => out.push(self.token(word)),
            }
        }
        out
    }

    /// For each token of `tokens(text)`: whether it begins a sentence other than the first, so
    /// that a crisis phrase is looked for within one sentence ("i cried all night and im not
    /// there. im ok just sad" does not say "not ok"). A sentence ends at a line break, or at
    /// ".", "!" or "?" before a space; an ellipsis ("i want to... die") ends none.
    pub fn sentence_starts(&self, text: &str) -> Vec<bool> {
        let mut starts = Vec::new();
        for sentence in sentences(text) {
            let count: usize = words(sentence)
                .iter()
                .map(|w| self.replace.get(w).map_or(1, Vec::len))
                .sum();
            for k in 0..count {
                starts.push(k == 0 && !starts.is_empty());
            }
        }
        starts
    }

    fn token(&self, text: String) -> Token {
        let stop = self.stopwords.contains(&text);
        let stem = if stop { text.clone() } else { self.stem(&text) };
        Token { text, stem, stop }
    }

    /// Strips at most two suffixes by the locale's rules (so "searches" -> "searche" ->
    /// "search"), never below `MIN_STEM_CHARS` characters, and never a number.
    pub fn stem(&self, word: &str) -> String {
        let mut stem = word.to_owned();
        if stem.chars().any(|c| c.is_numeric()) {
            return stem;
        }
        for _ in 0..2 {
            let Some((from, to)) = self
                .suffixes
                .iter()
                .find(|(from, to)| {
                    stem.ends_with(from.as_str())
                        && stem.chars().count() - from.chars().count() + to.chars().count()
                            >= MIN_STEM_CHARS
                })
                .map(|(f, t)| (f.len(), t.as_str()))
            else {
                break;
            };
            stem.truncate(stem.len() - from);
            stem.push_str(to);
            undouble(&mut stem);
        }
        stem
    }
}

/// "stopp" -> "stop", so "stopped" and "stop" meet; "ll" and "ss" stay ("call", "class").
fn undouble(stem: &mut String) {
    let bytes = stem.as_bytes();
    let n = bytes.len();
    if n >= 4
        && bytes[n - 1] == bytes[n - 2]
        && bytes[n - 1].is_ascii_alphabetic()
        && !b"aeioulsz".contains(&bytes[n - 1])
    {
        stem.pop();
    }
}

/// `text` cut after each sentence's end (see `Normaliser::sentence_starts`).
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut from = 0;
    let mut chars = text.char_indices().peekable();
    let mut before = ' ';
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        let ends = match c {
            '\n' => true,
            '.' => before != '.' && next.is_none_or(char::is_whitespace),
            '!' | '?' => next.is_none_or(char::is_whitespace),
            _ => false,
        };
        if ends {
            let end = i + c.len_utf8();
            out.push(&text[from..end]);
            from = end;
        }
        before = c;
    }
    out.push(&text[from..]);
    out
}

/// The bare words of `text`: NFKC, lower case, apostrophes joined ("can't" -> "cant"), a
/// swear word's masking symbols dropped ("sh*t" -> "sht"), any other non-alphanumeric
/// character (punctuation, emoji, symbols) a word break, and letters repeated three or more
/// times squeezed to one ("sooo" -> "so", "plsss" -> "pls").
pub(crate) fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut push = |word: &mut String| {
        if !word.is_empty() {
            out.push(squeeze(word));
            word.clear();
        }
    };
    let mut visit = |c: char, word: &mut String| {
        if is_apostrophe(c) {
            return;
        }
        if c.is_alphanumeric() {
            // Lower case can be more than one character (and NFKC was applied before).
            word.extend(c.to_lowercase());
        } else if is_mask(c) && !word.is_empty() {
            // Inside a word it stands for a letter: "this place is sh*t", read as "sh" and
            // "t", met the self-harm abbreviation "sh" and had the full crisis reply (blind
            // round 53). At a word's end the next break ends the word as before.
        } else {
            push(word);
        }
    };
    if text.is_ascii() {
        // NFKC leaves ASCII alone: skip the work on the common path.
        for c in text.chars() {
            visit(c, &mut word);
        }
    } else {
        for c in text.nfkc() {
            visit(c, &mut word);
        }
    }
    push(&mut word);
    out
}

/// `word` with every doubled letter made single ("heyy" -> "hey", "pleease" -> "please"), if
/// that changes it: tried when a word is not known as typed.
pub(crate) fn undoubled(word: &str) -> Option<String> {
    let mut out = String::with_capacity(word.len());
    let mut previous = None;
    for c in word.chars() {
        if Some(c) != previous || !c.is_alphabetic() {
            out.push(c);
        }
        previous = Some(c);
    }
    (out.len() != word.len()).then_some(out)
}

/// Symbols that stand for letters in a masked word ("f*ck", "sh*t", "b@stard").
fn is_mask(c: char) -> bool {
    // Not "!": typed without a space it ends a sentence ("help!i cant breathe").
    matches!(c, '*' | '@' | '#' | '$')
}

fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '\u{2019}' | '\u{2018}' | '`' | '\u{b4}' | '\u{2bc}'
    )
}

/// Runs of three or more of the same letter become one letter; digits are left alone ("111").
fn squeeze(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut run = 1;
        while i + run < chars.len() && chars[i + run] == c {
            run += 1;
        }
        let keep = if run >= 3 && c.is_alphabetic() {
            1
        } else {
            run
        };
        out.extend(std::iter::repeat_n(c, keep));
        i += run;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normaliser() -> Normaliser {
        let locale = Locale {
            stopwords: vec!["my".into(), "the".into()],
            replacements: [
                ("fone", "phone"),
                ("idk", "i dont know"),
                ("u", "you"),
                ("mate", ""),
            ]
            .into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect(),
            suffixes: ["ies>y", "ing", "ed", "s", "e"]
                .into_iter()
                .map(str::to_owned)
                .collect(),
            ..Locale::default()
        };
        Normaliser::new(&locale)
    }

    fn stems(text: &str) -> Vec<String> {
        normaliser()
            .tokens(text)
            .into_iter()
            .map(|t| t.stem)
            .collect()
    }

    #[test]
    fn sentence_starts_mark_the_first_word_after_a_sentences_end() {
        let n = Normaliser::new(&Locale::default());
        let starts = |text: &str| {
            let starts = n.sentence_starts(text);
            assert_eq!(starts.len(), n.tokens(text).len(), "{text:?}");
            starts
        };
        assert_eq!(
            starts("im not there. im ok"),
            [false, false, false, true, false]
        );
        assert_eq!(starts("no!! yes?\nok"), [false, true, true]);
        // An ellipsis, a section number and a full stop inside a word end nothing.
        assert_eq!(starts("i want to... die"), [false; 4]);
        assert_eq!(starts("on s.2 now"), [false; 4]);
        assert!(starts("").is_empty());
    }

    #[test]
    fn words_fold_case_and_drop_punctuation_and_emoji() {
        assert_eq!(
            words("They TOOK my Fone!!! 😡"),
            ["they", "took", "my", "fone"]
        );
        assert_eq!(words("can't won’t"), ["cant", "wont"]);
        assert_eq!(words("ｆｕｌｌ width"), ["full", "width"]);
        assert_eq!(words("1:1 obs"), ["1", "1", "obs"]);
    }

    #[test]
    fn a_masked_swear_word_stays_one_word() {
        assert_eq!(words("this place is sh*t"), ["this", "place", "is", "sht"]);
        assert_eq!(words("f**k it, b@stards"), ["fk", "it", "bstards"]);
        // A symbol at a word's edge, or an exclamation mark between words, still breaks.
        assert_eq!(words("*sigh* ok"), ["sigh", "ok"]);
        assert_eq!(words("help!i cant"), ["help", "i", "cant"]);
    }

    #[test]
    fn repeated_letters_are_squeezed_but_doubles_and_numbers_stay() {
        assert_eq!(
            words("sooo pleeease 111 need"),
            ["so", "please", "111", "need"]
        );
    }

    #[test]
    fn doubled_letters_can_be_made_single() {
        assert_eq!(undoubled("heyy").as_deref(), Some("hey"));
        assert_eq!(undoubled("hi"), None);
        assert_eq!(undoubled("1100"), None);
    }

    #[test]
    fn text_speak_expands_and_stop_words_are_marked() {
        let tokens = normaliser().tokens("idk where my fone is");
        let texts: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["i", "dont", "know", "where", "my", "phone", "is"]);
        assert!(tokens[4].stop);
        assert!(!tokens[5].stop);
        let texts: Vec<String> = normaliser()
            .tokens("cheers mate")
            .into_iter()
            .map(|t| t.text)
            .collect();
        assert_eq!(texts, ["cheers"], "a filler mapped to nothing disappears");
    }

    #[test]
    fn inflections_meet_at_one_stem() {
        assert_eq!(stems("visits visiting visited visit"), ["visit"; 4]);
        assert_eq!(stems("searches searched search"), ["search"; 3]);
        assert_eq!(stems("leaving leave leaves"), ["leav"; 3]);
        assert_eq!(stems("stopped stop"), ["stop"; 2]);
        assert_eq!(stems("worries worry"), ["worry"; 2]);
        assert_eq!(stems("s17 his"), ["s17", "his"]);
    }
}
