//! The trigger index: every trigger of every topic, flow and intent, normalised once at load
//! time into word ids, with an inverted index from word to the triggers that use it, and a
//! weight per word. Scoring a message touches only the triggers that share a word with it.
//!
//! How a message is scored against one trigger:
//! - each word of the message is looked up in the vocabulary (exact first, then the SymSpell
//!   deletion index with strsim's OSA distance, see `vocab`), giving a word id and a
//!   similarity (1 for exact, less for a typo);
//! - a word's weight is its inverse document frequency over the topics, flows and intents
//!   (a word in one topic, "tribunal", counts far more than a word in twenty, "ward"); stop
//!   words weigh `stopword_weight`; words the index has never seen weigh `unknown_weight`, so a
//!   message mostly about something else ("renew my passport") scores low;
//! - trigger coverage: how much of the trigger's weight the message matched;
//! - message coverage: how much of the message's weight the trigger explains;
//! - phrase: how much of the trigger's neighbouring word pairs appear next to each other (one
//!   stop word apart at most) in the message, so "ward round" beats "round" and "ward" apart.
//!
//! A trigger scores `trigger_coverage * message_coverage ^ message_exponent * (1 -
//! phrase_bonus + phrase_bonus * phrase)`. A topic scores its best trigger `b`, blended with
//! the share `s` of the message all its triggers explain together: `(1 - bag_weight) * b +
//! bag_weight * s * sqrt(b)` ("can my grandma come" meets "my nan wants to visit" and "can my
//! dad come and see me"; the square root keeps a topic with no good trigger low).

use super::Config;
use super::normalise::{Normaliser, Token, undoubled};
use super::vocab::{FastMap, Found, Vocab};

/// At most this many words of a message are scored (bit masks of 64); the crisis check reads
/// every word regardless.
pub(crate) const MAX_SCORED_WORDS: usize = 64;

/// Words weighing less than this (stop words, and words in about half the topics, "they",
/// "ward") are weak: they add to triggers that a stronger word found, but do not find triggers
/// themselves, unless the message has nothing stronger. This keeps scoring to the few
/// triggers that matter; a weak word alone could never make a good match anyway.
const WEAK_WEIGHT: f32 = 0.3;

/// "No such position" in `Trigger::previous_content`.
const NONE: u8 = u8::MAX;

#[derive(Debug)]
struct Trigger {
    doc: u32,
    words: Vec<u32>,
    /// Per position of a strong word: the position of the strong word before it, or `NONE`.
    /// Phrases are pairs of neighbouring strong words; weak words between them do not break a
    /// pair.
    previous_content: Vec<u8>,
    /// Positions of weak words (see `WEAK_WEIGHT`).
    weak_positions: Vec<u8>,
    total: f32,
    pair_total: f32,
}

/// Scores for one message: one per document (topic, flow or intent), in document order.
#[derive(Debug)]
pub(crate) struct Scores {
    pub by_doc: Vec<f32>,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    /// Stems of trigger words: what scoring counts.
    vocab: Vocab,
    /// Trigger words as written (after the text-speak map): typos are measured against these
    /// too, because a typo can stop the stemmer ("visitng" is one edit from "visiting", two
    /// from "visit").
    surface: Vocab,
    /// Per surface word id: its stem's id.
    surface_stem: Vec<u32>,
    /// Per word id.
    weight: Vec<f32>,
    /// Per word id: a stop word.
    stop: Vec<bool>,
    /// Per word id: (trigger, position) pairs.
    postings: Vec<Vec<(u32, u8)>>,
    /// Per word id: documents using the word, each once, ascending.
    doc_postings: Vec<Vec<u32>>,
    triggers: Vec<Trigger>,
    /// Triggers made only of weak words ("what can i do").
    weak_only: Vec<u32>,
    docs: usize,
    fuzzy_min_chars: usize,
    stopword_weight: f32,
    unknown_weight: f32,
    message_exponent: f32,
    phrase_bonus: f32,
    bag_weight: f32,
}

#[derive(Clone, Copy, Default)]
struct Hits {
    trigger_weight: f32,
    message_weight: f32,
    pair_weight: f32,
    positions: u64,
    words: u64,
    last_word: u8,
    last_position: u8,
}

impl Index {
    /// `docs[i]` is the list of triggers of document `i`.
    pub fn new(normaliser: &Normaliser, docs: &[Vec<&str>], config: &Config) -> Self {
        let mut this = Self {
            docs: docs.len(),
            fuzzy_min_chars: config.fuzzy_min_chars,
            stopword_weight: config.stopword_weight,
            unknown_weight: config.unknown_weight,
            message_exponent: config.message_exponent,
            phrase_bonus: config.phrase_bonus,
            bag_weight: config.bag_weight,
            ..Self::default()
        };
        for (doc, triggers) in docs.iter().enumerate() {
            let doc = u32::try_from(doc).expect("few documents");
            for trigger in triggers {
                let tokens = normaliser.tokens(trigger);
                let tokens = &tokens[..tokens.len().min(MAX_SCORED_WORDS)];
                if tokens.is_empty() {
                    continue;
                }
                let index = u32::try_from(this.triggers.len()).expect("few triggers");
                let mut words = Vec::with_capacity(tokens.len());
                for (pos, t) in tokens.iter().enumerate() {
                    let id = this.vocab.insert(&t.stem);
                    if id as usize == this.postings.len() {
                        this.postings.push(Vec::new());
                        this.doc_postings.push(Vec::new());
                        this.stop.push(t.stop);
                    }
                    if this.surface.insert(&t.text) as usize == this.surface_stem.len() {
                        this.surface_stem.push(id);
                    }
                    let pos = u8::try_from(pos).expect("at most 64 words");
                    this.postings[id as usize].push((index, pos));
                    let docs_of_word = &mut this.doc_postings[id as usize];
                    if docs_of_word.last() != Some(&doc) {
                        docs_of_word.push(doc);
                    }
                    words.push(id);
                }
                this.triggers.push(Trigger {
                    doc,
                    words,
                    previous_content: Vec::new(),
                    weak_positions: Vec::new(),
                    total: 0.0,
                    pair_total: 0.0,
                });
            }
        }
        // Inverse document frequency, scaled to (0, 1]: 1 for a word in one document.
        let n = docs.len().max(1) as f32;
        this.weight = this
            .doc_postings
            .iter()
            .zip(&this.stop)
            .map(|(d, &stop)| {
                if stop {
                    config.stopword_weight
                } else {
                    (1.0 + n / d.len() as f32).ln() / (1.0 + n).ln()
                }
            })
            .collect();
        for (index, t) in this.triggers.iter_mut().enumerate() {
            t.weak_positions = (0..t.words.len() as u8)
                .filter(|&p| this.weight[t.words[p as usize] as usize] < WEAK_WEIGHT)
                .collect();
            if t.weak_positions.len() == t.words.len() {
                this.weak_only.push(index as u32);
            }
            // Pairs link neighbouring strong words, skipping weak ones between them.
            let mut last = NONE;
            t.previous_content = t
                .words
                .iter()
                .enumerate()
                .map(|(pos, &w)| {
                    if this.weight[w as usize] < WEAK_WEIGHT {
                        return NONE;
                    }
                    std::mem::replace(&mut last, pos as u8)
                })
                .collect();
            t.total = t.words.iter().map(|&w| this.weight[w as usize]).sum();
            t.pair_total = t
                .previous_content
                .iter()
                .enumerate()
                .filter(|(_, p)| **p != NONE)
                .map(|(pos, &p)| {
                    let a = this.weight[t.words[p as usize] as usize];
                    a.min(this.weight[t.words[pos] as usize])
                })
                .sum();
        }
        this
    }

    /// Is `word` (as typed, after the text-speak map) a word some trigger uses?
    pub fn knows(&self, word: &str) -> bool {
        self.surface.exact(word).is_some()
    }

    /// The trigger words `token` is, or most likely meant: its stem exactly, else the nearest
    /// typos of the written word and of the stem (all equally near ones, best first).
    fn find(&self, token: &Token, out: &mut Vec<Found>) {
        out.clear();
        if let Some(id) = self.vocab.exact(&token.stem) {
            out.push(Found {
                id,
                similarity: 1.0,
            });
            return;
        }
        if let Some(single) = undoubled(&token.text)
            && let Some(id) = self.surface.exact(&single)
        {
            out.push(Found {
                id: self.surface_stem[id as usize],
                similarity: 1.0,
            });
            return;
        }
        let mut written = Vec::new();
        self.surface
            .find_all(&token.text, self.fuzzy_min_chars, true, &mut written);
        for w in &mut written {
            w.id = self.surface_stem[w.id as usize];
        }
        // When stemming changed nothing, the written word's typos already cover the stem's.
        if token.stem != token.text {
            self.vocab
                .find_all(&token.stem, self.fuzzy_min_chars, true, out);
        }
        for w in written {
            match out.iter_mut().find(|f| f.id == w.id) {
                Some(f) => f.similarity = f.similarity.max(w.similarity),
                None => out.push(w),
            }
        }
        out.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then(a.id.cmp(&b.id)));
        if let Some(best) = out.first().map(|f| f.similarity) {
            out.retain(|f| f.similarity >= best);
        }
    }

    pub fn score(&self, tokens: &[Token]) -> Scores {
        let tokens = &tokens[..tokens.len().min(MAX_SCORED_WORDS)];
        let mut message_total = 0.0f32;
        // Per message word: the trigger words it may be, its weight, and whether it is weak.
        let mut found: Vec<(Vec<Found>, f32, bool)> = Vec::with_capacity(tokens.len());
        let mut any_strong = false;
        for t in tokens {
            let mut hits = Vec::new();
            self.find(t, &mut hits);
            let weight = match (hits.first(), t.stop) {
                (_, true) => self.stopword_weight,
                (Some(h), false) => self.weight[h.id as usize],
                (None, false) => self.unknown_weight,
            };
            let weak = match hits.first() {
                Some(h) => t.stop || self.weight[h.id as usize] < WEAK_WEIGHT,
                None => true,
            };
            any_strong |= !weak;
            message_total += weight;
            found.push((hits, weight, weak));
        }
        let mut by_doc = vec![0.0f32; self.docs];
        if message_total <= 0.0 {
            return Scores { by_doc };
        }

        // Sparse scratch: only triggers sharing a word with the message get a slot.
        let mut slot = vec![u32::MAX; self.triggers.len()];
        let mut hits: Vec<(u32, Hits)> = Vec::new();
        let mut bag = vec![0.0f32; self.docs];
        // The last message word each document's bag counted, so one word counts once.
        let mut bag_word = vec![usize::MAX; self.docs];

        // Pass 1: strong words find triggers through the inverted index (all words, if none
        // is strong: "what can i do").
        for (i, (candidates, weight, weak)) in found.iter().enumerate() {
            if *weak && any_strong {
                continue;
            }
            let weight = *weight;
            // A word typed twice counts once.
            let repeated = candidates.first().is_some_and(|c| {
                found[..i]
                    .iter()
                    .any(|(g, _, _)| g.first().is_some_and(|g| g.id == c.id))
            });
            for &Found { id, similarity } in candidates {
                if !repeated {
                    for &doc in &self.doc_postings[id as usize] {
                        if bag_word[doc as usize] != i {
                            bag_word[doc as usize] = i;
                            bag[doc as usize] += weight * similarity;
                        }
                    }
                }
                for &(trigger, pos) in &self.postings[id as usize] {
                    let s = &mut slot[trigger as usize];
                    if *s == u32::MAX {
                        *s = hits.len() as u32;
                        hits.push((trigger, Hits::default()));
                    }
                    let h = &mut hits[*s as usize].1;
                    self.hit(h, trigger, pos, i as u8, weight, similarity);
                }
            }
        }
        // Pass 2: weak words, added to the triggers found and to those made only of weak
        // words, and to each document's bag.
        if any_strong {
            let weak: Vec<(u8, Found, f32)> = found
                .iter()
                .enumerate()
                .filter(|(_, (c, _, weak))| *weak && !c.is_empty())
                .map(|(i, (c, w, _))| (i as u8, c[0], *w))
                .collect();
            for &(i, f, weight) in &weak {
                let repeated = weak.iter().any(|(j, g, _)| *j < i && g.id == f.id);
                if !repeated {
                    for &doc in &self.doc_postings[f.id as usize] {
                        bag[doc as usize] += weight * f.similarity;
                    }
                }
            }
            for &trigger in &self.weak_only {
                if slot[trigger as usize] == u32::MAX {
                    slot[trigger as usize] = hits.len() as u32;
                    hits.push((trigger, Hits::default()));
                }
            }
            // The message's weak words by word id, so each trigger position is one lookup.
            let mut weak_by_id: FastMap<u32, Vec<(u8, Found, f32)>> = FastMap::default();
            for &w in &weak {
                weak_by_id.entry(w.1.id).or_default().push(w);
            }
            for (trigger, h) in &mut hits {
                let t = &self.triggers[*trigger as usize];
                for &p in &t.weak_positions {
                    let id = t.words[p as usize];
                    let Some(typed) = weak_by_id.get(&id) else {
                        continue;
                    };
                    if let Some(&(i, f, weight)) =
                        typed.iter().find(|(i, _, _)| h.words & (1 << i) == 0)
                    {
                        let trigger_word_weight = self.weight[id as usize];
                        h.trigger_weight += trigger_word_weight * f.similarity;
                        h.message_weight += weight * f.similarity;
                        h.positions |= 1 << p;
                        h.words |= 1 << i;
                    }
                }
            }
        }

        let mut best = vec![0.0f32; self.docs];
        for (t, h) in &hits {
            let trigger = &self.triggers[*t as usize];
            if trigger.total <= 0.0 {
                continue;
            }
            let trigger_coverage = (h.trigger_weight / trigger.total).min(1.0);
            let message_coverage = (h.message_weight / message_total).min(1.0);
            let phrase = if trigger.pair_total > 0.0 {
                (h.pair_weight / trigger.pair_total).min(1.0)
            } else {
                1.0
            };
            let score = trigger_coverage
                * message_coverage.powf(self.message_exponent)
                * (1.0 - self.phrase_bonus + self.phrase_bonus * phrase);
            let b = &mut best[trigger.doc as usize];
            if score > *b {
                *b = score;
            }
        }
        for (doc, score) in by_doc.iter_mut().enumerate() {
            let bag_coverage = (bag[doc] / message_total).min(1.0);
            *score = (1.0 - self.bag_weight) * best[doc]
                + self.bag_weight * bag_coverage * best[doc].sqrt();
        }
        Scores { by_doc }
    }

    /// Message word `i` matched position `pos` of `trigger`.
    fn hit(&self, h: &mut Hits, trigger: u32, pos: u8, i: u8, weight: f32, similarity: f32) {
        if h.positions & (1 << pos) != 0 || h.words & (1 << i) != 0 {
            return;
        }
        let t = &self.triggers[trigger as usize];
        let trigger_word_weight = self.weight[t.words[pos as usize] as usize];
        h.trigger_weight += trigger_word_weight * similarity;
        h.message_weight += weight * similarity;
        // A pair: the trigger's previous content word was the last one matched, at most two
        // message words (stop words, say) before this one.
        let previous = t.previous_content[pos as usize];
        if previous != NONE
            && h.positions & (1 << previous) != 0
            && h.last_position == previous
            && i.saturating_sub(h.last_word) <= 3
        {
            let before = self.weight[t.words[previous as usize] as usize];
            h.pair_weight += before.min(trigger_word_weight);
        }
        h.positions |= 1 << pos;
        h.words |= 1 << i;
        h.last_word = i;
        h.last_position = pos;
    }
}
