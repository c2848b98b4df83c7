//! Typed answers to the bot's own questions, as content (`locales/<lang>/answers.toml`): the
//! words for yes, no and "not sure", the extra ways of saying "I'm safe" or not to the crisis
//! check, picking a button by place ("the second one"), how to tell a flow's Yes, No and "Not
//! sure" buttons apart, and the words that show who is writing ("my daughter").
//!
//! This module only says which phrases a message is made of. What they mean in the
//! conversation (is "no" a cry for help here?) is the engine's to decide (`engine::context`).
//! `words` is the one way both the checker and the engine split text into words, so a phrase
//! is read exactly as it was checked.

use unicode_normalization::UnicodeNormalization;

use crate::ids::Audience;

/// What a phrase means when it is typed in answer to one of the bot's questions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Meaning {
    Yes,
    No,
    /// "I think so", "probably": a yes, but not a clear one.
    LeaningYes,
    /// "I don't think so", "not really".
    LeaningNo,
    /// "I don't know", "not sure".
    Unsure,
    /// "maybe", "kind of": softens the answer it goes with; alone, it is "not sure".
    Hedge,
    /// Words that change nothing ("i", "well", "thanks", "the").
    Filler,
    /// Said to "Are you safe right now?" only: "fine", "ok".
    Safe,
    /// Said to "Are you safe right now?" only: "help", "scared", a crying face.
    Unsafe,
    /// Said to "Did you mean one of these?" only: "neither", "something else".
    NoneOfThese,
    /// Said to a question with buttons: which one by place.
    Place(Place),
}

impl Meaning {
    /// Where the phrase is written in `answers.toml`, for messages to authors.
    pub fn list_name(self) -> &'static str {
        match self {
            Meaning::Yes => "yes",
            Meaning::No => "no",
            Meaning::LeaningYes => "leaning_yes",
            Meaning::LeaningNo => "leaning_no",
            Meaning::Unsure => "unsure",
            Meaning::Hedge => "hedge",
            Meaning::Filler => "filler",
            Meaning::Safe => "safe.yes",
            Meaning::Unsafe => "safe.no",
            Meaning::NoneOfThese => "choices.none",
            Meaning::Place(_) => "choices.place",
        }
    }
}

/// A button picked by its place in the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// One-based.
    Nth(usize),
    Last,
}

impl Place {
    /// The zero-based index among `len` buttons, if there is such a button.
    pub fn index(self, len: usize) -> Option<usize> {
        match self {
            Place::Nth(n) => (1..=len).contains(&n).then(|| n - 1),
            Place::Last => len.checked_sub(1),
        }
    }
}

/// Which kind of question a message answers; each reads a different set of phrases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Question {
    /// A flow step, or "delete everything?": yes, no, not sure.
    YesNo,
    /// "Are you safe right now?": the yes/no words and the `[safe]` ones.
    Safety,
    /// Buttons to pick from ("did you mean one of these?"): the yes/no words and `[choices]`.
    Choice,
}

/// What a button's label says, read with `[labels]`: which answer the button stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelKind {
    Yes,
    No,
    Unsure,
}

/// A button label read with `[labels]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LabelReading {
    /// What the label starts with: "Yes, staff said which law" is the Yes button.
    pub leading: Option<LabelKind>,
    /// It offers "not sure" anywhere: "No, or I don't know".
    pub unsure: bool,
}

/// A message read phrase by phrase, from its start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reading {
    /// What each phrase read means, in order, up to the first word that is no answer word.
    pub meanings: Vec<Meaning>,
    /// Every word was read: the message is an answer and nothing else.
    pub whole: bool,
}

impl Reading {
    /// The meanings that say something (not filler).
    pub fn said(&self) -> impl Iterator<Item = Meaning> + '_ {
        self.meanings
            .iter()
            .copied()
            .filter(|m| *m != Meaning::Filler)
    }

    /// What the message starts with, filler aside ("well no, ..." starts with no).
    pub fn leading(&self) -> Option<Meaning> {
        self.said().next()
    }
}

/// One word of an audience phrase: a word, or `{n}`, any number ("my 14 year old").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhraseWord {
    Word(String),
    Number,
}

/// Phrases, each as words, with what they mean; longest first, so "not sure" is read before
/// "not".
#[derive(Clone, Debug)]
struct Vocabulary<T> {
    phrases: Vec<(Vec<String>, T)>,
}

impl<T> Default for Vocabulary<T> {
    fn default() -> Self {
        Self {
            phrases: Vec::new(),
        }
    }
}

impl<T: Copy> Vocabulary<T> {
    fn new(mut phrases: Vec<(Vec<String>, T)>) -> Self {
        phrases.retain(|(words, _)| !words.is_empty());
        phrases.sort_by_key(|(words, _)| std::cmp::Reverse(words.len()));
        Self { phrases }
    }

    /// The longest phrase starting at `words[at]`: its length and meaning.
    fn longest_at(&self, words: &[String], at: usize) -> Option<(usize, T)> {
        let rest = &words[at..];
        self.phrases
            .iter()
            .find(|(p, _)| rest.starts_with(p))
            .map(|(p, m)| (p.len(), *m))
    }

    fn read(&self, words: &[String]) -> (Vec<T>, usize) {
        let mut at = 0;
        let mut meanings = Vec::new();
        while at < words.len() {
            let Some((len, meaning)) = self.longest_at(words, at) else {
                break;
            };
            meanings.push(meaning);
            at += len;
        }
        (meanings, at)
    }
}

/// The checked `answers.toml` of one locale, each phrase already split into words.
#[derive(Clone, Debug, Default)]
pub struct Answers {
    yes_no: Vocabulary<Meaning>,
    safety: Vocabulary<Meaning>,
    choice: Vocabulary<Meaning>,
    labels: Vocabulary<LabelKind>,
    audience: Vec<(Vec<PhraseWord>, Audience)>,
    /// `[who]` phrases, and the filler (`None`) they may come with.
    who: Vocabulary<Option<Audience>>,
}

/// The phrases of one `answers.toml`, as words, grouped by where they count.
#[derive(Clone, Debug, Default)]
pub struct AnswerPhrases {
    /// Read for every question: yes, no, leaning, unsure, hedge, filler.
    pub general: Vec<(Vec<String>, Meaning)>,
    /// Read for "Are you safe right now?" only.
    pub safety: Vec<(Vec<String>, Meaning)>,
    /// Read when picking from buttons only.
    pub choice: Vec<(Vec<String>, Meaning)>,
    pub labels: Vec<(Vec<String>, LabelKind)>,
    pub audience: Vec<(Vec<PhraseWord>, Audience)>,
    /// Answers to "Who are you?".
    pub who: Vec<(Vec<String>, Audience)>,
}

impl Answers {
    /// Built by the checker from phrases it has checked.
    pub fn new(phrases: AnswerPhrases) -> Self {
        let with = |extra: &[(Vec<String>, Meaning)]| {
            Vocabulary::new(phrases.general.iter().chain(extra).cloned().collect())
        };
        let filler = phrases
            .general
            .iter()
            .filter(|(_, m)| *m == Meaning::Filler)
            .map(|(w, _)| (w.clone(), None));
        let who = phrases.who.iter().map(|(w, a)| (w.clone(), Some(*a)));
        Self {
            who: Vocabulary::new(who.chain(filler).collect()),
            yes_no: with(&[]),
            safety: with(&phrases.safety),
            choice: with(&phrases.choice),
            labels: Vocabulary::new(phrases.labels),
            audience: phrases.audience,
        }
    }

    /// Reads `text` as an answer to a question of kind `question`.
    pub fn read(&self, text: &str, question: Question) -> Reading {
        let words = words(text);
        let vocabulary = match question {
            Question::YesNo => &self.yes_no,
            Question::Safety => &self.safety,
            Question::Choice => &self.choice,
        };
        let (meanings, read) = vocabulary.read(&words);
        Reading {
            meanings,
            whole: !words.is_empty() && read == words.len(),
        }
    }

    /// The words of `text` that are not filler, for matching against button titles
    /// ("the one about phones" -> "about phones" -> ...).
    pub fn content_words(&self, text: &str) -> Vec<String> {
        let words = words(text);
        let mut out = Vec::new();
        let mut at = 0;
        while at < words.len() {
            match self.choice.longest_at(&words, at) {
                Some((len, Meaning::Filler)) => at += len,
                _ => {
                    out.push(words[at].clone());
                    at += 1;
                }
            }
        }
        out
    }

    /// "Who are you?" answered by typing ("a parent", "im a young person"): the audience,
    /// when the whole message says one and nothing else.
    pub fn who(&self, text: &str) -> Option<Audience> {
        let words = words(text);
        let (said, read) = self.who.read(&words);
        if words.is_empty() || read < words.len() {
            return None;
        }
        let mut said = said.into_iter().flatten();
        let first = said.next()?;
        said.all(|a| a == first).then_some(first)
    }

    /// Which answer a button's label stands for.
    pub fn label(&self, label: &str) -> LabelReading {
        let words = words(label);
        let leading = match words.is_empty() {
            true => None,
            false => self.labels.longest_at(&words, 0).map(|(_, kind)| kind),
        };
        let unsure = (0..words.len()).any(|at| {
            self.labels.longest_at(&words, at).map(|(_, k)| k) == Some(LabelKind::Unsure)
        });
        LabelReading { leading, unsure }
    }

    /// Who is writing, if `text` says so ("my daughter", "my 14 year old"); `None` when it
    /// does not, or names two different audiences.
    pub fn audience(&self, text: &str) -> Option<Audience> {
        let words = words(text);
        let mut found = None;
        for (phrase, audience) in &self.audience {
            let matches = (0..words.len()).any(|at| {
                words.len() - at >= phrase.len()
                    && phrase.iter().zip(&words[at..]).all(|(p, w)| match p {
                        PhraseWord::Word(p) => p == w,
                        PhraseWord::Number => w.chars().all(|c| c.is_ascii_digit()),
                    })
            });
            if matches {
                match found {
                    None => found = Some(*audience),
                    Some(a) if a == *audience => {}
                    Some(_) => return None,
                }
            }
        }
        found
    }
}

/// Splits text into words the way answers are read: NFKC, lower case; apostrophes joined
/// ("don't" -> "dont"); other punctuation separates; a run of three or more of one letter
/// squeezed to one ("nooo" -> "no"); digits and letters apart ("14yo" -> "14", "yo"); each
/// emoji or other symbol a word of its own, without its variation selector or skin tone.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut word_is_digits = false;
    for c in text.nfkc().flat_map(char::to_lowercase) {
        if is_apostrophe(c) || is_ignorable(c) {
            continue;
        }
        if c.is_alphanumeric() {
            let digit = c.is_numeric();
            if !word.is_empty() && digit != word_is_digits {
                out.push(squeeze(&std::mem::take(&mut word)));
            }
            word_is_digits = digit;
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            out.push(squeeze(&std::mem::take(&mut word)));
        }
        if !(c.is_whitespace() || is_punctuation(c)) {
            out.push(c.to_string());
        }
    }
    if !word.is_empty() {
        out.push(squeeze(&word));
    }
    out
}

fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '\u{2018}' | '\u{2019}' | '`' | '\u{02bc}' | '\u{00b4}'
    )
}

/// Variation selectors, skin tones and tag characters: part of how an emoji looks, not what
/// it says.
fn is_ignorable(c: char) -> bool {
    matches!(c as u32, 0xFE00..=0xFE0F | 0x1F3FB..=0x1F3FF | 0xE0000..=0xE007F)
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || c.is_control()
        || matches!(c as u32, 0xA0..=0xBF | 0xD7 | 0xF7 | 0x2000..=0x206F | 0x3000..=0x303F)
}

fn squeeze(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..].iter().take_while(|c| **c == chars[i]).count();
        let keep = if run >= 3 { 1 } else { run };
        out.extend(std::iter::repeat_n(chars[i], keep));
        i += run;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_read_as_people_type_them() {
        assert_eq!(words("No, I'm NOT!!"), ["no", "im", "not"]);
        assert_eq!(words("nooo"), ["no"]);
        assert_eq!(words("yess"), ["yess"]);
        assert_eq!(words("my 14yo"), ["my", "14", "yo"]);
        assert_eq!(words("😢😢"), ["😢", "😢"]);
        assert_eq!(words("☹️ no"), ["☹", "no"]);
        assert_eq!(words("👍🏽"), ["👍"]);
        assert_eq!(words("i don\u{2019}t know\u{2026}"), ["i", "dont", "know"]);
        assert_eq!(words("  ...  "), Vec::<String>::new());
    }

    #[test]
    fn places_count_from_one_and_last_is_last() {
        assert_eq!(Place::Nth(2).index(3), Some(1));
        assert_eq!(Place::Nth(4).index(3), None);
        assert_eq!(Place::Nth(0).index(3), None);
        assert_eq!(Place::Last.index(3), Some(2));
        assert_eq!(Place::Last.index(0), None);
    }
}
