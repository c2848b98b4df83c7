//! A vocabulary that finds a word despite a typo without comparing it to every word: the
//! SymSpell idea. At load time every known word is stored with all its variants made by
//! deleting one or two letters; a typed word meets a known word when some deletion variant of
//! one equals some deletion variant of the other. Only those few candidates are then measured.
//!
//! Metric: strsim's `osa_distance` (optimal string alignment: insertions, deletions,
//! substitutions and swaps of neighbours each cost 1). It is the edit distance the deletion
//! index bounds, and it counts the commonest slip on a phone keyboard, two letters swapped
//! ("freind"), as one edit rather than two. It runs only on candidates, never on the whole
//! vocabulary (a naive scan would cost about a microsecond per word; see the field notes).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The Fx hash (as in rustc): a few cycles per word instead of SipHash's few dozen. Its keys
/// are our own trigger words, fixed at load time; a message only looks them up, and is cut to
/// a bounded length before it gets here, so flooding the table is not a concern.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The most deletions indexed per word: typed words may differ by at most this many edits.
const MAX_INDEXED_EDITS: usize = 2;

#[derive(Debug, Default)]
pub(crate) struct Vocab {
    ids: FastMap<Box<str>, u32>,
    words: Vec<Box<str>>,
    /// Every 1- and 2-letter deletion of every word -> the words it came from.
    deletions: FastMap<Box<str>, Vec<u32>>,
    /// Characters in the longest word: a typed word more than `edits` longer is no typo of any.
    longest: usize,
}

/// A word found in the vocabulary, and how sure we are it is that word (1 = exact).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Found {
    pub id: u32,
    pub similarity: f32,
}

/// How many edits a typed word of `len` characters may carry and still count as a known word.
/// Short words are left exact: "hit" and "hat" are different words, not a typo.
pub(crate) fn allowed_edits(len: usize, fuzzy_min_chars: usize) -> usize {
    if len < fuzzy_min_chars {
        0
    } else if len < 9 {
        1
    } else {
        2
    }
}

impl Vocab {
    /// The id of `word`, adding it if it is new.
    pub fn insert(&mut self, word: &str) -> u32 {
        if let Some(&id) = self.ids.get(word) {
            return id;
        }
        let id = u32::try_from(self.words.len()).expect("fewer than 4 billion words");
        self.words.push(word.into());
        self.ids.insert(word.into(), id);
        self.longest = self.longest.max(word.chars().count());
        if !word.chars().any(char::is_numeric) {
            let mut variants = Vec::new();
            deletions(word, MAX_INDEXED_EDITS, &mut variants);
            variants.sort();
            variants.dedup();
            for v in variants {
                let ids = self.deletions.entry(v.into_boxed_str()).or_default();
                if ids.last() != Some(&id) {
                    ids.push(id);
                }
            }
        }
        id
    }

    pub fn exact(&self, word: &str) -> Option<u32> {
        self.ids.get(word).copied()
    }

    /// The known word nearest to `word`: an exact hit first; otherwise the candidate with the
    /// fewest edits within `allowed_edits` (ties: the word added first, so results never
    /// depend on hash order). With `same_first_letter`, a typo may not change the first letter
    /// (people rarely mistype it, and "putting" must not become "cutting").
    pub fn find(
        &self,
        word: &str,
        fuzzy_min_chars: usize,
        same_first_letter: bool,
    ) -> Option<Found> {
        let mut found = Vec::new();
        self.find_all(word, fuzzy_min_chars, same_first_letter, &mut found);
        found.first().copied()
    }

    /// Like `find`, but pushes every known word at the smallest distance found (in id order):
    /// "visitng" is one edit from both "visiting" and "visting", and either may be the one a
    /// trigger uses.
    pub fn find_all(
        &self,
        word: &str,
        fuzzy_min_chars: usize,
        same_first_letter: bool,
        out: &mut Vec<Found>,
    ) {
        if let Some(id) = self.exact(word) {
            out.push(Found {
                id,
                similarity: 1.0,
            });
            return;
        }
        let len = word.chars().count();
        let edits = allowed_edits(len, fuzzy_min_chars);
        // Every edit changes the length by at most one, so a word longer than any known word by
        // more than the edits allowed can be no typo of one. Without this, a 4,000-letter
        // "word" built its millions of deletions and held the bot for a minute.
        if edits == 0 || len > self.longest + edits || word.chars().any(char::is_numeric) {
            return;
        }
        // Char boundaries, so deleting a character works for any script.
        let bounds: Vec<usize> = word
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(word.len()))
            .collect();
        let chars = bounds.len() - 1;
        let mut best: Vec<(usize, u32)> = Vec::new();
        let consider = |variant: &str, best: &mut Vec<(usize, u32)>| {
            let direct = self.ids.get(variant).map(std::slice::from_ref);
            let via = self.deletions.get(variant).map(Vec::as_slice);
            for &id in direct.into_iter().chain(via).flatten() {
                if best.iter().any(|&(_, b)| b == id) {
                    continue;
                }
                let known = &self.words[id as usize];
                if known.chars().count() < fuzzy_min_chars
                    || (same_first_letter && known.chars().next() != word.chars().next())
                {
                    continue;
                }
                let d = strsim::osa_distance(word, known);
                if d > edits {
                    continue;
                }
                match best.first() {
                    Some(&(bd, _)) if d > bd => {}
                    Some(&(bd, _)) if d < bd => *best = vec![(d, id)],
                    _ => best.push((d, id)),
                }
            }
        };
        consider(word, &mut best);
        // Every 1- and (if allowed) 2-character deletion, built in one reused buffer.
        let mut buffer = String::with_capacity(word.len());
        for a in 0..chars {
            buffer.clear();
            buffer.push_str(&word[..bounds[a]]);
            buffer.push_str(&word[bounds[a + 1]..]);
            consider(&buffer, &mut best);
            if edits >= 2 {
                for b in (a + 1)..chars {
                    buffer.clear();
                    buffer.push_str(&word[..bounds[a]]);
                    buffer.push_str(&word[bounds[a + 1]..bounds[b]]);
                    buffer.push_str(&word[bounds[b + 1]..]);
                    consider(&buffer, &mut best);
                }
            }
        }
        best.sort();
        out.extend(best.into_iter().map(|(d, id)| {
            let longest = len.max(self.words[id as usize].chars().count());
            Found {
                id,
                similarity: 1.0 - d as f32 / longest as f32,
            }
        }));
    }
}

/// Pushes every string made by deleting 1..=`edits` characters from `word`.
fn deletions(word: &str, edits: usize, out: &mut Vec<String>) {
    if edits == 0 {
        return;
    }
    let chars: Vec<char> = word.chars().collect();
    if chars.len() <= 1 {
        return;
    }
    for skip in 0..chars.len() {
        let variant: String = chars
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, c)| c)
            .collect();
        deletions(&variant, edits - 1, out);
        out.push(variant);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocab {
        let mut v = Vocab::default();
        for w in [
            "phone",
            "visit",
            "restraint",
            "tribunal",
            "hit",
            "seclusion",
        ] {
            v.insert(w);
        }
        v
    }

    #[test]
    fn a_word_far_longer_than_any_known_is_no_typo_of_one() {
        let v = vocab();
        assert_eq!(
            v.find("restraintt", 5, true).map(|f| f.id),
            v.exact("restraint")
        );
        // A message of one 4,000-letter "word" is looked up, not expanded into its millions
        // of deletions.
        assert_eq!(v.find(&"seclusions".repeat(400), 5, true), None);
    }

    #[test]
    fn exact_words_are_found_with_full_similarity() {
        let v = vocab();
        let found = v.find("visit", 4, false).expect("known");
        assert_eq!(found.similarity, 1.0);
        assert_eq!(v.words[found.id as usize].as_ref(), "visit");
    }

    #[test]
    fn typos_find_their_word_within_the_allowed_edits() {
        let v = vocab();
        let word = |w: &str| {
            v.find(w, 4, false)
                .map(|f| v.words[f.id as usize].to_string())
        };
        assert_eq!(word("vistit").as_deref(), Some("visit"));
        assert_eq!(word("pohne").as_deref(), Some("phone"));
        assert_eq!(word("tribunel").as_deref(), Some("tribunal"));
        assert_eq!(word("seclushion").as_deref(), Some("seclusion"));
        assert_eq!(word("restrant").as_deref(), Some("restraint"));
    }

    #[test]
    fn short_words_and_far_words_are_not_guessed() {
        let v = vocab();
        assert_eq!(v.find("hat", 4, false), None);
        assert_eq!(v.find("banana", 4, false), None);
        assert_eq!(v.find("vxyzt", 4, false), None);
    }
}
