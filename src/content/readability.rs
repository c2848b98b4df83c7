//! How hard a text is to read, as a Flesch-Kincaid grade (the school year a reader needs,
//! roughly: grade 6 is an 11-12-year-old). The checker uses it to keep what young people read
//! plain; the limits are in `load.rs`, next to the word limits.
//!
//! This must give exactly the numbers of the reference script,
//! `tests/reference/readability.py`, whose rules are: sentences end at `.`, `!`, `?` and line
//! breaks (a piece without a letter is not a sentence, and there is at least one); words are runs
//! of ASCII letters, with apostrophes inside words kept (numbers are not words); a word's
//! syllables are its groups of vowels (a, e, i, o, u, y), less one for a final silent "e" (not
//! "-le" after a consonant, and only when there is more than one group), and at least one. It
//! reads text only: no I/O.

/// The Flesch-Kincaid grade of `text`:
/// `0.39 * words / sentences + 11.8 * syllables / words - 15.59`, or 0 for a text without words.
pub fn grade(text: &str) -> f64 {
    let words = words(text);
    if words.is_empty() {
        return 0.0;
    }
    let sentences = text
        .split(['.', '!', '?', '\n'])
        .filter(|s| s.chars().any(|c| c.is_ascii_alphabetic()))
        .count()
        .max(1);
    let syllables: usize = words.iter().map(|w| syllables(w)).sum();
    // The same order of operations as the reference, so the floats agree to the last bit.
    0.39 * words.len() as f64 / sentences as f64 + 11.8 * syllables as f64 / words.len() as f64
        - 15.59
}

/// `grade` rounded to one decimal place the way it is shown (and compared with the limits).
pub fn rounded(grade: f64) -> f64 {
    format!("{grade:.1}")
        .parse()
        .expect("a formatted float parses back")
}

/// Runs of ASCII letters, joined across an apostrophe between two letters ("don't").
fn words(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        let start = i;
        loop {
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            if i + 1 < bytes.len() && bytes[i] == b'\'' && bytes[i + 1].is_ascii_alphabetic() {
                i += 1;
            } else {
                break;
            }
        }
        out.push(&text[start..i]);
    }
    out
}

fn is_vowel(c: u8) -> bool {
    matches!(c, b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

fn syllables(word: &str) -> usize {
    let w = word.to_ascii_lowercase();
    let w = w.as_bytes();
    let groups = w
        .iter()
        .enumerate()
        .filter(|&(i, &c)| is_vowel(c) && (i == 0 || !is_vowel(w[i - 1])))
        .count();
    let le_after_consonant = w.len() >= 3 && w.ends_with(b"le") && !is_vowel(w[w.len() - 3]);
    let silent_e = groups > 1 && w.ends_with(b"e") && !le_after_consonant;
    (groups - usize::from(silent_e)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each grade here was computed with the reference script, `tests/reference/readability.py`.
    #[test]
    fn grades_match_the_reference_script() {
        let cases: &[(&str, f64, &str)] = &[
            (
                "You have a right to see your family.",
                2.280000000000001,
                "2.3",
            ),
            (
                "The hospital managers must make sure the environment is suitable for your age. \
                 This is a legal duty in section 131A of the Mental Health Act.",
                7.180000000000003,
                "7.2",
            ),
            (
                "What counts as AWOL:\n- leaving the hospital without permission\n- not coming \
                 back from leave when you should",
                3.972941176470588,
                "4.0",
            ),
            (
                "Don't worry: it's fine! Are you OK?? e.g. the table, the tribunal, a little apple.",
                1.8830000000000027,
                "1.9",
            ),
            ("Café naïve résumé", -1.8399999999999999, "-1.8"),
            ("", 0.0, "0.0"),
            ("123 456.", 0.0, "0.0"),
            (
                "Section 58A: for any under-18, ECT needs a SOAD certificate.",
                7.190000000000001,
                "7.2",
            ),
            ("rhythm", -3.3999999999999986, "-3.4"),
            ("'quoted' words aren't 'special'", 6.620000000000001, "6.6"),
        ];
        for (text, expect, shown) in cases {
            let got = grade(text);
            assert_eq!(got, *expect, "{text:?}");
            assert_eq!(format!("{:.1}", rounded(got)), *shown, "{text:?}");
        }
    }

    #[test]
    fn syllables_follow_the_reference_rules() {
        for (word, n) in [
            ("table", 2),
            ("little", 2),
            ("the", 1),
            ("be", 1),
            ("apple", 2),
            ("rhythm", 1),
            ("queue", 1),
            ("people", 2),
            ("whole", 1),
            ("ole", 1),
            ("x'le", 1),
            ("aren't", 2),
            ("fire", 1),
            ("eye", 1),
        ] {
            assert_eq!(syllables(word), n, "{word}");
        }
    }

    #[test]
    fn rounding_is_to_one_place_like_the_reference() {
        // Python's round(x, 1): correctly rounded, ties to even on the exact binary value.
        assert_eq!(rounded(8.25), 8.2);
        assert_eq!(rounded(8.35), 8.3);
        assert_eq!(rounded(6.05), 6.0);
        assert_eq!(rounded(-1.84), -1.8);
        assert_eq!(rounded(0.05), 0.1);
        assert_eq!(rounded(6.65), 6.7);
    }
}
