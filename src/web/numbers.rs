//! Phone numbers and text numbers in reply text, so the web chat can make each one a `tel:`
//! or `sms:` link that a phone dials (or opens a text to) with one tap. Every reply and page
//! goes through this one finder: the crisis reply, topics, flows and the helplines page.
//!
//! Content is UK text, so it looks for what UK services publish: a full number starting with
//! 0 ("0800 1111", "0808 808 8000"), the short emergency and helpline numbers (999, 112, 111, 101,
//! 116 xxx), and a five- or six-digit short code that the sentence says to text ("text 84001",
//! "Text SHOUT to 85258"). It must never link what is not a number to call: years, dates,
//! section numbers ("section 131A"), ages and counts are left alone.

/// One number found in a text: where it is and the link it gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Number {
    /// Byte range of the number as written (spaces between its groups included).
    pub start: usize,
    pub end: usize,
    pub href: String,
}

/// Every callable or textable number in `text`, in order.
pub fn find(text: &str) -> Vec<Number> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() || !starts_a_number(text, i) {
            i += 1;
            continue;
        }
        // Digit groups joined by single spaces, at most 11 digits in all (a UK number).
        let mut end = i;
        let mut digits = String::new();
        loop {
            let group_end = end
                + bytes[end..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
            if digits.len() + (group_end - end) > 11 {
                break;
            }
            digits.push_str(&text[end..group_end]);
            end = group_end;
            let next_group =
                bytes.get(end) == Some(&b' ') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit);
            if !next_group {
                break;
            }
            end += 1;
        }
        // A trailing space taken before a group that did not fit is given back.
        let end = text[..end].trim_end().len();
        let glued = text[end..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        if !glued && !digits.is_empty() {
            let texting = says_text(&text[..i]);
            if let Some(href) = href(&digits, texting, &text[..i]) {
                found.push(Number {
                    start: i,
                    end,
                    href,
                });
            }
        }
        i = end.max(i + 1);
        // Skip the rest of a run of digits that was not a number.
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
    }
    found
}

/// Whether a number may start at byte `i`: not inside a word, a web address, a date or a sum.
fn starts_a_number(text: &str, i: usize) -> bool {
    match text[..i].chars().next_back() {
        None => true,
        Some(c) => !(c.is_alphanumeric() || "+-/._£$€#%&=@".contains(c)),
    }
}

/// The link for the digits of a number, if they are a number someone can call or text.
fn href(digits: &str, texting: bool, before: &str) -> Option<String> {
    // "[1986] AC 112" is a law report, not a number to ring: a short number after a year in
    // brackets and a report's abbreviation is left alone ("NHS 111" is still a number).
    let mut words = before.trim_end().rsplit(char::is_whitespace);
    let cited = words
        .next()
        .is_some_and(|w| w.len() >= 2 && w.chars().all(|c| c.is_ascii_uppercase()))
        && words.next().is_some_and(|w| w.ends_with(']'));
    if cited && digits.len() <= 4 {
        return None;
    }
    let phone = (digits.starts_with('0') && (8..=11).contains(&digits.len()))
        || matches!(digits, "999" | "112" | "111" | "101")
        || (digits.starts_with("116") && digits.len() == 6);
    let short_code = !digits.starts_with('0') && (5..=6).contains(&digits.len());
    if texting && (phone || short_code) && !matches!(digits, "999" | "112" | "111" | "101") {
        // "Text SHOUT to 85258": the word to send goes in the message, ready to send.
        let body = keyword(before)
            .map(|w| format!("?&body={w}"))
            .unwrap_or_default();
        return Some(format!("sms:{digits}{body}"));
    }
    phone.then(|| format!("tel:{digits}"))
}

/// Whether the sentence before a number says to text it (rather than call it): the nearest
/// "text" or "call" word before it, back to the start of the sentence, is "text".
fn says_text(before: &str) -> bool {
    let sentence = before
        .rfind(['.', '!', '?', '\n', '('])
        .map_or(before, |at| &before[at + 1..]);
    let words: Vec<String> = sentence
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    words
        .iter()
        .rev()
        .find_map(|w| match w.as_str() {
            "text" | "texting" | "sms" => Some(true),
            "call" | "calling" | "ring" | "phone" | "dial" | "freephone" => Some(false),
            _ => None,
        })
        .unwrap_or(false)
}

/// The keyword in "text WORD to": one word in capitals just before "to".
fn keyword(before: &str) -> Option<&str> {
    let rest = before.trim_end();
    let rest = rest
        .strip_suffix(" to")
        .or_else(|| rest.strip_suffix(" on"))?;
    let word = rest.rsplit(' ').next()?;
    let all_caps = word.len() >= 2
        && word.len() <= 20
        && word
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    let verb = rest[..rest.len() - word.len()].trim_end().to_lowercase();
    (all_caps && verb.ends_with("text")).then_some(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(text: &str) -> Vec<(String, String)> {
        find(text)
            .into_iter()
            .map(|n| (text[n.start..n.end].to_owned(), n.href))
            .collect()
    }

    fn pair(shown: &str, href: &str) -> (String, String) {
        (shown.to_owned(), href.to_owned())
    }

    #[test]
    fn helpline_numbers_are_found_as_written() {
        assert_eq!(
            links("Call 0800 1111 (free, day or night) or chat online"),
            [pair("0800 1111", "tel:08001111")]
        );
        assert_eq!(
            links("Samaritans (116 123) and Childline (0800 1111)."),
            [
                pair("116 123", "tel:116123"),
                pair("0800 1111", "tel:08001111")
            ]
        );
        assert_eq!(
            links("call 999, or NHS 111."),
            [pair("999", "tel:999"), pair("111", "tel:111")]
        );
        assert_eq!(
            links("Lifeline: 0808 808 8000, 24 hours"),
            [pair("0808 808 8000", "tel:08088088000")]
        );
        assert_eq!(
            links("the CQC: 03000 616161."),
            [pair("03000 616161", "tel:03000616161")]
        );
    }

    #[test]
    fn text_numbers_open_a_text_with_the_keyword() {
        assert_eq!(
            links("Text SHOUT to 85258 (free, day or night)"),
            [pair("85258", "sms:85258?&body=SHOUT")]
        );
        assert_eq!(
            links("Meic: call 080880 23456 or text 84001."),
            [
                pair("080880 23456", "tel:08088023456"),
                pair("84001", "sms:84001")
            ]
        );
    }

    #[test]
    fn other_numbers_are_left_alone() {
        for text in [
            "the Mental Health Act 1983, section 131A, Article 8",
            "checked 2026-11-22; aged 0 to 25; 1 year, then 3 years",
            "https://example.org/0800111122/page and 12345 people",
            "under 18s, 72 hours, 28 days, 6 months",
            "£0800 1111, #999, a1111 0800",
        ] {
            assert_eq!(links(text), [], "{text}");
        }
    }

    #[test]
    fn a_number_does_not_swallow_the_next() {
        assert_eq!(
            links("0345 015 4033 24 hours"),
            [pair("0345 015 4033", "tel:03450154033")]
        );
    }
}
