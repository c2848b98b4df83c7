//! The crisis check: does a message contain a phrase from `locales/<lang>/crisis.toml`? It runs
//! first on every message and leans towards saying yes: a false alarm costs one extra message,
//! a miss can cost a life.
//!
//! Phrases are compared word by word after normalisation (text-speak expanded, no stemming:
//! "cutting" must not become "cut", which would fire on "they cut my visits"). A word of six
//! or more letters may carry a typo that keeps its first letter (one edit, two from nine
//! letters: "sucidal", "overdoes"), unless it is a word the topics use as it is. After a content
//! word of a phrase there may be up to four words, at most two of them not stop words ("a
//! staff member hit me", "took a whole load of pills"); after a stop word, two stop words. Phrases of eight or more letters are also found with their spaces
//! in other places ("kill my self", "selfharm").

use super::normalise::{Normaliser, Token, undoubled};
use super::vocab::{FastMap, Vocab};

/// Crisis words shorter than this must be typed exactly ("kms", "od", "blade"): short words
/// have too many innocent neighbours ("blame").
const CRISIS_FUZZY_MIN_CHARS: usize = 6;
/// Phrases whose letters, spaces removed, are at least this long are also found with the
/// spaces in other places. Shorter ones would be found inside unrelated words.
const UNSPACED_MIN_CHARS: usize = 8;
/// The most words between a double meaning and the thing it is said of ("cant go on the
/// museum trip").
const OBJECT_GAP: usize = 2;

#[derive(Debug)]
struct Phrase {
    /// As written in crisis.toml, for `rightsbot match --explain`.
    text: Box<str>,
    words: Vec<u32>,
    /// Per word: a stop word ("i", "a" in "i have a plan").
    stop: Vec<bool>,
    reading: Reading,
}

/// What the crisis check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    None,
    /// `mention_only`: every clear phrase found only names a danger ("what does ligature
    /// mean"); the matcher may then ask the check question instead, if the classifier hears
    /// no present danger. `denied_only`: every clear phrase found was either such a mention or
    /// said with a "not" ("i dont wanna die anymore", "no current suicidal ideation"); the
    /// matcher may then ask the check question instead of giving the crisis reply.
    /// `also_ambiguous`: a phrase that always asks the check question was found too ("AWOL
    /// since 15:00": "awol" only names a danger, "awol since" is a child missing now), so the
    /// message gets at least that question however the clear phrases are read.
    /// `double_only`: every clear phrase found was a mention, denied, or one of
    /// `double_meanings` ("can my parents sign me in if i dont want to be here"); the matcher
    /// then gives the crisis reply only if the classifier hears danger too.
    /// `others_only`: every clear phrase found tells of someone else (`third_party`: "since a
    /// girl hurt herself we cant have pens"); the matcher asks the check question instead of
    /// giving the crisis reply when the classifier hears the message as calm.
    Clear {
        category: String,
        abuse: bool,
        others_only: bool,
        mention_only: bool,
        denied_only: bool,
        double_only: bool,
        also_ambiguous: bool,
    },
    /// `figures_only`: every phrase found is one of `figures_of_speech` ("so done with this
    /// place"), which a long message heard as calm may be let go with. `sayings_only`: every
    /// phrase found is one of `sayings` ("thats my chance to tell them").
    Ambiguous {
        figures_only: bool,
        sayings_only: bool,
    },
}

#[derive(Debug, Default)]
pub(crate) struct CrisisPhrases {
    vocab: Vocab,
    categories: Vec<String>,
    phrases: Vec<Phrase>,
    /// Phrases by their first word.
    by_first_word: FastMap<u32, Vec<usize>>,
    /// Phrases written without spaces, by their first four bytes.
    unspaced: FastMap<Box<str>, Vec<(Box<str>, usize)>>,
    denials: Denials,
    /// `ordinary_objects`, each word as a message is read.
    ordinary_objects: std::collections::HashSet<String>,
    /// `last_straws`, each as the words a message is read in, with the phrase (a saying, in
    /// no index) that stands for a clear phrase said after it.
    last_straws: Vec<(Vec<String>, usize)>,
    last_straw_openers: std::collections::HashSet<String>,
    meant_markers: Vec<Vec<String>>,
}

/// The lists of crisis.toml beside its phrases by category, each as crisis.toml explains it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PhraseLists<'a> {
    pub ambiguous: &'a [String],
    pub figures_of_speech: &'a [String],
    pub mentions: &'a [String],
    pub double_meanings: &'a [String],
    pub ordinary_objects: &'a [String],
    pub sayings: &'a [String],
    pub last_straws: &'a [String],
    pub last_straw_openers: &'a [String],
    pub meant_markers: &'a [String],
}

/// How a phrase is read once found: which list of crisis.toml it came from.
#[derive(Clone, Copy, Debug, Default)]
struct Reading {
    /// Index into `categories`; `None` for an ambiguous phrase.
    category: Option<usize>,
    /// Names a danger without saying it is happening ("overdose", "ligature"): see `mentions`
    /// in crisis.toml.
    mention: bool,
    /// As often said of something ordinary ("i dont want to be here" of the hospital): see
    /// `double_meanings` in crisis.toml.
    double: bool,
    /// Tells a harm of someone else ("kill herself", "has been self harming"): a phrase of the
    /// `third_party` category.
    told_of_others: bool,
    /// An ambiguous phrase that is most often a figure of speech ("so done", "cant cope"):
    /// see `figures_of_speech` in crisis.toml.
    figure: bool,
    /// An everyday saying that holds a crisis phrase ("want to die of embarrassment"): see
    /// `sayings` in crisis.toml. Found, it stands as a figure of speech for every phrase
    /// inside it.
    saying: bool,
}

impl CrisisPhrases {
    pub fn new<'a>(
        normaliser: &Normaliser,
        by_category: impl IntoIterator<Item = (&'a String, &'a Vec<String>)>,
        lists: PhraseLists<'_>,
        denials: Denials,
    ) -> Self {
        let mut this = Self {
            denials,
            ordinary_objects: normaliser.word_set(lists.ordinary_objects),
            ..Self::default()
        };
        for (category, phrases) in by_category {
            let index = this.categories.len();
            this.categories.push(category.clone());
            for p in phrases {
                let reading = Reading {
                    category: Some(index),
                    mention: lists.mentions.contains(p),
                    double: lists.double_meanings.contains(p),
                    told_of_others: category == "third_party",
                    ..Reading::default()
                };
                this.add(normaliser, p, reading);
            }
        }
        for p in lists.ambiguous {
            this.add(normaliser, p, Reading::default());
        }
        let figure = Reading {
            figure: true,
            ..Reading::default()
        };
        for p in lists.figures_of_speech {
            this.add(normaliser, p, figure);
        }
        let saying = Reading {
            saying: true,
            ..figure
        };
        for p in lists.sayings {
            this.add(normaliser, p, saying);
        }
        for p in lists.last_straws {
            let words: Vec<String> = normaliser.tokens(p).into_iter().map(|t| t.text).collect();
            if words.is_empty() {
                continue;
            }
            this.last_straws.push((words, this.phrases.len()));
            this.phrases.push(Phrase {
                text: format!("{p} (last straw)").into(),
                words: Vec::new(),
                stop: Vec::new(),
                reading: saying,
            });
        }
        this.last_straw_openers = normaliser.word_set(lists.last_straw_openers);
        this.meant_markers = lists
            .meant_markers
            .iter()
            .map(|m| normaliser.tokens(m).into_iter().map(|t| t.text).collect())
            .filter(|m: &Vec<String>| !m.is_empty())
            .collect();
        this
    }

    /// The last straw a clear phrase starting at word `start` is said after, if any: "if i
    /// have to sit through one more ward round ill throw myself out the window" is
    /// exasperation, the way "die of boredom" is, so the phrase stands as a saying. Only in
    /// its own sentence, after a last straw that opens the sentence or follows an opener
    /// ("if"), and never when `keep_as_said` (a message that says it is meant, "if one more
    /// person laughs at me im going to kill myself and i mean it", or one the classifier does
    /// not hear as calm), of harm by others, or told of someone else.
    fn last_straw(
        &self,
        phrase: &Phrase,
        tokens: &[Token],
        starts: &[bool],
        start: usize,
        keep_as_said: bool,
    ) -> Option<usize> {
        let category = phrase.reading.category?;
        if keep_as_said || phrase.reading.told_of_others || self.categories[category] == "abuse" {
            return None;
        }
        let opens = (0..=start)
            .rev()
            .find(|&k| starts.get(k) == Some(&true))
            .unwrap_or(0);
        self.last_straws.iter().find_map(|(words, saying)| {
            let said_at = (opens..start).find(|&at| {
                at + words.len() <= start
                    && tokens[at..at + words.len()]
                        .iter()
                        .zip(words)
                        .all(|(t, w)| &t.text == w)
            })?;
            let after_an_opener = tokens[opens..said_at]
                .iter()
                .any(|t| self.last_straw_openers.contains(&t.text));
            (said_at == opens || after_an_opener).then_some(*saying)
        })
    }

    fn add(&mut self, normaliser: &Normaliser, phrase: &str, reading: Reading) {
        let tokens = normaliser.tokens(phrase);
        if tokens.is_empty() {
            return;
        }
        let words: Vec<u32> = tokens.iter().map(|t| self.vocab.insert(&t.text)).collect();
        let index = self.phrases.len();
        self.by_first_word.entry(words[0]).or_default().push(index);
        let joined: String = tokens.iter().map(|t| t.text.as_str()).collect();
        if tokens.len() >= 2 && joined.chars().count() >= UNSPACED_MIN_CHARS {
            let key: Box<str> = joined[..prefix_len(&joined)].into();
            self.unspaced
                .entry(key)
                .or_default()
                .push((joined.into(), index));
        }
        let stop = tokens.iter().map(|t| t.stop).collect();
        self.phrases.push(Phrase {
            text: phrase.into(),
            words,
            stop,
            reading,
        });
    }

    /// Clear beats ambiguous; among clear phrases, the first in the message names the
    /// category, and any phrase about harm by others marks it as abuse.
    /// `is_ordinary` says whether a word is one the topics use: such a word is taken as typed,
    /// never as a typo of a crisis word.
    /// `starts` marks the tokens that begin a sentence: a phrase is found within one.
    pub fn check(
        &self,
        tokens: &[Token],
        starts: &[bool],
        is_ordinary: impl Fn(&str) -> bool,
    ) -> Found {
        self.check_reading_last_straws(tokens, starts, false, is_ordinary)
    }

    /// As `check`, but when `heard_as_calm` (the classifier hears no danger in the message) a
    /// clear phrase said after a last straw is read as a saying: "if i have to eat one more
    /// grey lasagne ill kill myself lol". Heard as danger ("if they restrain me one more time
    /// i will kill myself", 0.99), the phrase counts as it is.
    pub fn check_reading_last_straws(
        &self,
        tokens: &[Token],
        starts: &[bool],
        heard_as_calm: bool,
        is_ordinary: impl Fn(&str) -> bool,
    ) -> Found {
        let mut clear: Option<usize> = None;
        let mut abuse = false;
        let mut ambiguous = false;
        let mut figures_only = true;
        let mut sayings_only = true;
        let mut mention_only = true;
        let mut denied_only = true;
        let mut double_only = true;
        let mut others_only = true;
        self.scan(
            tokens,
            starts,
            heard_as_calm,
            is_ordinary,
            |phrase, denied| {
                let reading = phrase.reading;
                match reading.category {
                    Some(c) => {
                        clear.get_or_insert(c);
                        abuse |= self.categories[c] == "abuse";
                        others_only &= reading.told_of_others;
                        mention_only &= reading.mention;
                        denied_only &= reading.mention || denied;
                        double_only &= reading.mention || denied || reading.double;
                    }
                    None => {
                        ambiguous = true;
                        figures_only &= reading.figure;
                        sayings_only &= reading.saying;
                    }
                }
            },
        );
        match clear {
            Some(c) => Found::Clear {
                category: self.categories[c].clone(),
                abuse,
                others_only,
                mention_only,
                denied_only,
                double_only,
                also_ambiguous: ambiguous,
            },
            None if ambiguous => Found::Ambiguous {
                figures_only,
                sayings_only,
            },
            None => Found::None,
        }
    }

    /// The phrases found, as crisis.toml writes them, with "(not)" after a denied one: what a
    /// content author tuning the lists needs to see (`rightsbot match --explain`). Last straws
    /// are read as the check reads them for a message heard as calm or not (`heard_as_calm`).
    pub fn found_phrases(
        &self,
        tokens: &[Token],
        starts: &[bool],
        heard_as_calm: bool,
        is_ordinary: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let mut found = Vec::new();
        self.scan(
            tokens,
            starts,
            heard_as_calm,
            is_ordinary,
            |phrase, denied| {
                let said = if denied {
                    format!("{} (not)", phrase.text)
                } else {
                    phrase.text.to_string()
                };
                // A long phrase is found twice, spaced and unspaced ("cant cope", "cantcope").
                if !found.contains(&said) {
                    found.push(said);
                }
            },
        );
        found
    }

    /// Whether `phrase`, a double meaning ending at `end`, is followed in its sentence by one
    /// of `ordinary_objects`, with at most `OBJECT_GAP` words between: "cant go on the cinema
    /// trip" is said of a trip, "i cant go on. the trip was the last thing" is not.
    fn said_of_an_object(
        &self,
        phrase: &Phrase,
        tokens: &[Token],
        end: usize,
        one_sentence: &impl Fn(usize, usize) -> bool,
    ) -> bool {
        phrase.reading.double
            && (end + 1..tokens.len())
                .take(OBJECT_GAP + 1)
                .take_while(|&k| one_sentence(end, k))
                .any(|k| self.ordinary_objects.contains(&tokens[k].text))
    }

    /// Calls `note` for every phrase found in the message, with whether it was denied. A
    /// phrase inside a saying found in the message is not noted: the saying is, as a figure
    /// of speech; so, when `read_last_straws`, is a clear phrase said after a last straw.
    fn scan(
        &self,
        tokens: &[Token],
        starts: &[bool],
        read_last_straws: bool,
        is_ordinary: impl Fn(&str) -> bool,
        mut note: impl FnMut(&Phrase, bool),
    ) {
        // Tokens after `k` up to and including `end` all belong to `k`'s sentence.
        let one_sentence =
            |k: usize, end: usize| !starts.get(k + 1..=end).is_some_and(|s| s.contains(&true));
        let ids: Vec<Option<u32>> = tokens
            .iter()
            .map(|t| {
                match self
                    .vocab
                    .exact(&t.text)
                    .or_else(|| undoubled(&t.text).and_then(|single| self.vocab.exact(&single)))
                {
                    Some(id) => Some(id),
                    None if is_ordinary(&t.text) => None,
                    None => self
                        .vocab
                        .find(&t.text, CRISIS_FUZZY_MIN_CHARS, true)
                        .map(|f| f.id),
                }
            })
            .collect();
        let stop: Vec<bool> = tokens.iter().map(|t| t.stop).collect();
        // Every phrase found, by where it starts and ends; sayings apart.
        let mut sayings = Vec::new();
        let mut phrases = Vec::new();
        for (start, id) in ids.iter().enumerate() {
            let Some(id) = id else { continue };
            for &p in self.by_first_word.get(id).into_iter().flatten() {
                let phrase = &self.phrases[p];
                let Some(end) = matches_at(phrase, &ids, &stop, start) else {
                    continue;
                };
                if !one_sentence(start, end) {
                    continue;
                }
                if self.said_of_an_object(phrase, tokens, end, &one_sentence) {
                    continue;
                }
                if !phrase.reading.saying {
                    phrases.push((p, start, end));
                } else if end + 1 - start == phrase.words.len() {
                    // A saying is only itself word for word: "i want to die, not of
                    // boredom" is no saying.
                    sayings.push((p, start, end));
                }
            }
        }
        let saying_over = |start: usize, end: usize| {
            sayings
                .iter()
                .find(|&&(_, from, to)| start <= to && from <= end)
                .map(|&(p, _, _)| p)
        };
        // A phrase inside a longer one that tells it of someone else is that one's: "my son has
        // been self harming" holds "been self harming", and is noted once, as told of him.
        let spans_told_of_others: Vec<(usize, usize)> = phrases
            .iter()
            .filter(|&&(p, _, _)| self.phrases[p].reading.told_of_others)
            .map(|&(_, start, end)| (start, end))
            .collect();
        let inside_told_of_others = |p: usize, start: usize, end: usize| {
            !self.phrases[p].reading.told_of_others
                && spans_told_of_others
                    .iter()
                    .any(|&(from, to)| from <= start && end <= to)
        };
        let keep_as_said = !read_last_straws
            || self
                .meant_markers
                .iter()
                .any(|m| (0..tokens.len()).any(|last| ends_at(tokens, last, m)));
        let saying_or_last_straw = |p: usize, start: usize, end: usize| {
            saying_over(start, end)
                .or_else(|| self.last_straw(&self.phrases[p], tokens, starts, start, keep_as_said))
        };
        // A saying is noted only where it holds a phrase: "dying of boredom" alone is nothing.
        let mut holding = Vec::new();
        for (p, start, end) in phrases {
            if inside_told_of_others(p, start, end) {
                continue;
            }
            match saying_or_last_straw(p, start, end) {
                Some(saying) if !holding.contains(&saying) => holding.push(saying),
                Some(_) => {}
                None => note(&self.phrases[p], self.denials.deny(tokens, start)),
            }
        }
        for saying in holding {
            note(&self.phrases[saying], false);
        }
        if !self.unspaced.is_empty() {
            let mut joined = String::new();
            let mut offsets = Vec::with_capacity(tokens.len());
            let mut ends = Vec::with_capacity(tokens.len());
            for t in tokens {
                offsets.push(joined.len());
                joined.push_str(&t.text);
                ends.push(joined.len());
            }
            for (word, &start) in offsets.iter().enumerate() {
                let rest = &joined[start..];
                let Some(candidates) = self.unspaced.get(&rest[..prefix_len(rest)]) else {
                    continue;
                };
                for (text, p) in candidates {
                    // Must start and end on word boundaries: "endmylife" is not in "spendmylife".
                    let last = ends.iter().position(|&e| e == start + text.len());
                    let Some(last) = last else { continue };
                    if !rest.starts_with(text.as_ref())
                        || !one_sentence(word, last)
                        || saying_over(word, last).is_some()
                        || inside_told_of_others(*p, word, last)
                        || self.said_of_an_object(&self.phrases[*p], tokens, last, &one_sentence)
                        || self.phrases[*p].reading.saying
                    {
                        continue;
                    }
                    // "if i hear one more feelings wheel ill killmyself" is exasperation too.
                    match self.last_straw(&self.phrases[*p], tokens, starts, word, keep_as_said) {
                        Some(saying) => note(&self.phrases[saying], false),
                        None => note(&self.phrases[*p], self.denials.deny(tokens, word)),
                    }
                }
            }
        }
    }
}

/// Does `phrase` occur in the message starting at word `start`, its words in order? After a
/// content word of the phrase there may be up to four other words, at most two of them not
/// stop words ("took a whole load of pills", "a staff member hit me"); after a stop word of
/// the phrase, or before one, at most two stop words ("want to just die"), so "i have a plan"
/// is not found in "can i have a copy of my care plan", nor "cant go on" in "cant go to the
/// shop on my own": a small word belongs to the word next to it.
/// Returns the index of the phrase's last word.
fn matches_at(phrase: &Phrase, ids: &[Option<u32>], stop: &[bool], start: usize) -> Option<usize> {
    let mut at = start;
    for (k, &word) in phrase.words.iter().enumerate().skip(1) {
        let close = phrase.stop[k - 1] || phrase.stop[k];
        let (max_gap, max_other_words) = if close { (2, 0) } else { (4, 2) };
        let mut other_words = 0;
        let mut next = None;
        for i in (at + 1)..ids.len().min(at + 2 + max_gap) {
            if ids[i] == Some(word) {
                next = Some(i);
                break;
            }
            if !stop[i] {
                other_words += 1;
                if other_words > max_other_words {
                    break;
                }
            }
        }
        at = next?;
    }
    Some(at)
}

/// How a crisis phrase is denied: `denials` in crisis.toml ("not", "never", "no"), the words
/// that may stand between a denial and what it denies (`denial_bridge`: "not going to", "no
/// current"), and the words that, just before a denial, take it back (`denial_doubts`:
/// "promise", "sure", "why"). All normalised as messages are. Empty for a locale that lists
/// none: then nothing is ever read as denied.
#[derive(Debug, Default)]
pub(crate) struct Denials {
    /// Each denial as the words it is read in: "not", or "not like i" ("its not like i want to
    /// hurt myself or anything"), which no bridge word could reach without bridging "no i
    /// want to die" too.
    denials: Vec<Vec<String>>,
    bridge: std::collections::HashSet<String>,
    doubts: std::collections::HashSet<String>,
}

impl Denials {
    pub fn new(
        normaliser: &Normaliser,
        words: &[String],
        bridge: &[String],
        doubts: &[String],
    ) -> Self {
        Self {
            denials: words
                .iter()
                .map(|w| normaliser.tokens(w).into_iter().map(|t| t.text).collect())
                .filter(|d: &Vec<String>| !d.is_empty())
                .collect(),
            bridge: normaliser.word_set(bridge),
            doubts: normaliser.word_set(doubts),
        }
    }

    /// Whether the phrase starting at word `start` is said with a denial just before it ("i do
    /// not want to die anymore", "i am never going to hurt myself again", "no current suicidal
    /// ideation"), bridged by at most three bridge words. "Why not" invites what follows ("why
    /// not just end it"), and a denial that is doubted or cannot be promised ("i can not
    /// promise i will not hurt myself", "not sure i will not") denies nothing.
    fn deny(&self, tokens: &[Token], start: usize) -> bool {
        let mut at = start;
        for _ in 0..=3 {
            let Some(before) = at.checked_sub(1) else {
                return false;
            };
            let word = tokens[before].text.as_str();
            if let Some(denial) = self.denials.iter().find(|d| ends_at(tokens, before, d)) {
                let opens = before + 1 - denial.len();
                let lead_in = &tokens[opens.saturating_sub(4)..opens];
                return !lead_in.iter().any(|t| self.doubts.contains(&t.text));
            }
            if !self.bridge.contains(word) {
                return false;
            }
            at = before;
        }
        false
    }
}

/// Whether `words` are said in `tokens`, the last of them at `last`.
fn ends_at(tokens: &[Token], last: usize, words: &[String]) -> bool {
    last + 1 >= words.len()
        && tokens[last + 1 - words.len()..=last]
            .iter()
            .zip(words)
            .all(|(t, w)| &t.text == w)
}

/// Up to four bytes, cut on a character boundary.
fn prefix_len(s: &str) -> usize {
    let mut n = s.len().min(4);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    n
}
