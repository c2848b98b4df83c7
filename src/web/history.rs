//! The last few turns of a conversation, carried by the browser: a hidden form field the page
//! posts back with each message, and (without JavaScript, where each post is answered with a
//! redirect so Back and reload never post again) a session cookie holding the page to show
//! next. So the chat works without JavaScript while the server keeps no message text at all
//! (the store holds only the engine's `Session`). With JavaScript the script keeps the page
//! in the tab's sessionStorage instead, and the cookie is cleared.
//!
//! The field comes from the browser, so it is never trusted: it is size-limited, parsed
//! leniently (anything odd means an empty history), only ever shown back to the same person,
//! and escaped like any other text. Older turns lose their buttons; only the newest replies
//! keep them (that is also where a pressed button's label is looked up).

use serde::{Deserialize, Serialize};

use crate::engine::Reply;

/// How many turns (a message and its replies) the page keeps, counting the newest.
pub const KEEP_TURNS: usize = 4;
/// Longest history field we read or write; older turns are dropped to fit. Percent-encoded
/// it stays well inside `MAX_BODY_BYTES`.
pub const MAX_LOG_BYTES: usize = 24 * 1024;
/// Most bytes of page cookie we write, in all. A reverse proxy reads the response's headers
/// into one buffer (nginx: 4 KiB by default, and a bigger header is a 502 Bad Gateway), so
/// the cookie and the other headers must stay well inside that. Most replies fit, the crisis
/// reply always (a test checks); a longer one ("tell me more") is answered with the page
/// itself instead of a redirect.
pub const MAX_COOKIE_BYTES: usize = 2800;
/// What the person said is shortened to these many characters, in turn, where a copy must
/// fit a limit (the reply never is).
const SHORTENED_CHARS: [usize; 3] = [280, 40, 0];
const MAX_TEXT_CHARS: usize = 6000;
const MAX_LABEL_CHARS: usize = 120;
const MAX_BUTTONS: usize = 24;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Speaker {
    #[serde(rename = "p")]
    Person,
    #[serde(rename = "b")]
    Bot,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonEntry {
    #[serde(rename = "l")]
    pub label: String,
    /// The encoded action, exactly as the engine gave it.
    #[serde(rename = "v")]
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    #[serde(rename = "s")]
    pub speaker: Speaker,
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(rename = "x")]
    pub text: String,
    #[serde(rename = "b", default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Vec<ButtonEntry>>,
}

impl Entry {
    pub fn person(text: &str) -> Entry {
        Entry {
            speaker: Speaker::Person,
            title: None,
            text: text.to_owned(),
            buttons: Vec::new(),
        }
    }

    pub fn from_reply(reply: &Reply) -> Entry {
        Entry {
            speaker: Speaker::Bot,
            title: reply.title.clone(),
            text: reply.text.clone(),
            buttons: reply
                .buttons
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|b| ButtonEntry {
                            label: b.label.clone(),
                            value: b.action.encode(),
                        })
                        .collect()
                })
                .collect(),
        }
    }

    fn is_sane(&self) -> bool {
        self.text.chars().count() <= MAX_TEXT_CHARS
            && self
                .title
                .as_ref()
                .is_none_or(|t| t.chars().count() <= MAX_LABEL_CHARS)
            && self.buttons.iter().map(Vec::len).sum::<usize>() <= MAX_BUTTONS
            && self
                .buttons
                .iter()
                .flatten()
                .all(|b| b.label.chars().count() <= MAX_LABEL_CHARS && b.value.len() <= 64)
    }
}

/// The history as posted back: a list of turns, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    pub turns: Vec<Vec<Entry>>,
}

impl History {
    /// Reads the posted field; anything malformed or oversized is an empty history.
    pub fn parse(field: &str) -> History {
        if field.is_empty() || field.len() > MAX_LOG_BYTES {
            return History::default();
        }
        let Ok(turns) = serde_json::from_str::<Vec<Vec<Entry>>>(field) else {
            return History::default();
        };
        if turns.len() > KEEP_TURNS || !turns.iter().flatten().all(Entry::is_sane) {
            return History::default();
        }
        History { turns }
    }

    /// The label of the button that was pressed, if the newest turn offered it.
    pub fn label_for(&self, value: &str) -> Option<&str> {
        self.turns
            .last()?
            .iter()
            .flat_map(|e| e.buttons.iter().flatten())
            .find(|b| b.value == value)
            .map(|b| b.label.as_str())
    }

    /// Adds the newest turn and drops the oldest ones beyond what the page keeps.
    pub fn push(&mut self, turn: Vec<Entry>) {
        for old in &mut self.turns {
            for entry in old.iter_mut() {
                entry.buttons.clear();
            }
        }
        self.turns.push(turn);
        let excess = self.turns.len().saturating_sub(KEEP_TURNS);
        self.turns.drain(..excess);
    }

    /// The newest turn and the ones before it (without their buttons), as the page shows them.
    pub fn split_newest(&self) -> (Vec<Entry>, &[Entry]) {
        let n = self.turns.len().saturating_sub(1);
        let earlier = self.turns[..n]
            .iter()
            .flatten()
            .map(|e| Entry {
                buttons: Vec::new(),
                ..e.clone()
            })
            .collect();
        (earlier, self.turns.last().map_or(&[], Vec::as_slice))
    }

    /// The field to post back next time: the oldest turns are dropped until it fits, and if
    /// the newest alone is too big, what the person said in it is shortened.
    pub fn encode(&self) -> String {
        fit(&self.turns, MAX_LOG_BYTES, |turns| {
            serde_json::to_string(turns).expect("entries always serialise")
        })
        .unwrap_or_else(|| "[]".to_owned())
    }

    /// The page cookie's value for this history, bound to the session by `tag`; `None` when
    /// even the newest turn cannot fit.
    pub fn to_cookie(&self, tag: &str) -> Option<String> {
        fit(&self.turns, MAX_COOKIE_BYTES, |turns| {
            let json = serde_json::to_string(&CookiePage { tag, turns })
                .expect("entries always serialise");
            cookie_encode(&json)
        })
    }

    /// The history in a page cookie, if it is well formed and belongs to the session `tag`.
    pub fn from_cookie(value: &str, tag: &str) -> Option<History> {
        if value.len() > MAX_COOKIE_BYTES {
            return None;
        }
        let json = cookie_decode(value)?;
        let page: OwnedCookiePage = serde_json::from_str(&json).ok()?;
        let sane =
            page.turns.len() <= KEEP_TURNS && page.turns.iter().flatten().all(Entry::is_sane);
        (page.tag == tag && sane).then_some(History { turns: page.turns })
    }
}

#[derive(Serialize)]
struct CookiePage<'a> {
    #[serde(rename = "k")]
    tag: &'a str,
    #[serde(rename = "t")]
    turns: &'a [Vec<Entry>],
}

#[derive(Deserialize)]
struct OwnedCookiePage {
    #[serde(rename = "k")]
    tag: String,
    #[serde(rename = "t")]
    turns: Vec<Vec<Entry>>,
}

/// The encoding of the newest turns that fits in `max` bytes: older turns go first, then what
/// the person said in the newest is shortened. `None` if the replies alone do not fit.
fn fit(
    turns: &[Vec<Entry>],
    max: usize,
    encode: impl Fn(&[Vec<Entry>]) -> String,
) -> Option<String> {
    for skip in 0..turns.len() {
        let encoded = encode(&turns[skip..]);
        if encoded.len() <= max {
            return Some(encoded);
        }
    }
    let newest = turns.last()?;
    SHORTENED_CHARS.iter().find_map(|&chars| {
        let mut newest = newest.clone();
        for entry in &mut newest {
            if entry.speaker == Speaker::Person {
                entry.text = shorten(&entry.text, chars);
            }
        }
        let encoded = encode(std::slice::from_ref(&newest));
        (encoded.len() <= max).then_some(encoded)
    })
}

/// `text` cut to `max` characters, ending in "\u{2026}" when it was cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max).collect();
    cut.push('\u{2026}');
    cut
}

/// Whether a byte may stand for itself in a cookie value (RFC 6265 `cookie-octet`), less
/// the two this encoding uses: `%` for escapes and `+` for a space.
fn plain_in_cookie(b: u8) -> bool {
    matches!(b, 0x21 | 0x23 | 0x24 | 0x26..=0x2A | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// Text as a cookie value: spaces as `+`, other bytes a cookie cannot hold as `%XX`. Mostly
/// letters and spaces, so it grows little (base64 would add a third).
fn cookie_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for b in text.bytes() {
        if plain_in_cookie(b) {
            out.push(char::from(b));
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn cookie_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b if plain_in_cookie(b) => out.push(b),
            _ => return None,
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keeps_only_the_last_turns() {
        let mut history = History::default();
        for i in 0..(KEEP_TURNS + 3) {
            history.push(vec![Entry::person(&format!("message {i}"))]);
        }
        let field = history.encode();
        let back = History::parse(&field);
        assert_eq!(back.turns.len(), KEEP_TURNS);
        assert_eq!(
            back.turns.last().unwrap()[0].text,
            format!("message {}", KEEP_TURNS + 2)
        );
    }

    #[test]
    fn the_newest_reply_always_fits_and_what_was_said_is_shortened_first() {
        let mut history = History::default();
        let reply = Entry {
            speaker: Speaker::Bot,
            title: Some("Title".into()),
            text: format!(
                "{}\n\u{2022} \u{201c}a question\u{201d}",
                "A reply in plain words, with a comma. ".repeat(60)
            ),
            buttons: vec![vec![ButtonEntry {
                label: "Menu".into(),
                value: "1:m".into(),
            }]],
        };
        history.push(vec![Entry::person("hi"), reply.clone()]);
        history.push(vec![
            Entry::person(&"\u{1f600}".repeat(4000)),
            reply.clone(),
        ]);
        let value = history.to_cookie("tag").expect("the reply fits a cookie");
        assert!(value.is_ascii());
        assert!(value.len() <= MAX_COOKIE_BYTES);
        assert!(value.bytes().all(plain_in_cookie_or_escape));
        let back = History::from_cookie(&value, "tag").unwrap();
        assert_eq!(back.turns.len(), 1, "the older turn made way");
        assert_eq!(back.turns[0][1], reply, "the reply is never cut");
        assert!(back.turns[0][0].text.ends_with('\u{2026}'));
        assert_eq!(History::from_cookie(&value, "another session"), None);

        let field = history.encode();
        let back = History::parse(&field);
        assert_eq!(back.turns.len(), 2, "the page's own field holds more");
    }

    #[test]
    fn the_crisis_reply_always_fits_a_page_cookie() {
        let content = crate::content::load_embedded().expect("the built-in content loads");
        let engine = crate::engine::Engine::new(content);
        for audience in ["young_person", "parent", "advocate"] {
            let session = engine.fresh_session(0);
            let set = crate::engine::Input::Button(format!("1:a:{audience}"));
            let session = engine.handle(session, set, 0).session;
            let cry = "i want to kill myself, staff hit me and i cant take it any more";
            let outcome = engine.handle(session, crate::engine::Input::Text(cry.into()), 0);
            let mut history = History::default();
            history.push(
                std::iter::once(Entry::person(cry))
                    .chain(outcome.replies.iter().map(Entry::from_reply))
                    .collect(),
            );
            let value = history
                .to_cookie(&"0".repeat(32))
                .expect("the crisis reply fits");
            let back = History::from_cookie(&value, &"0".repeat(32)).unwrap();
            assert_eq!(back.turns[0][0].text, cry, "{audience}: nothing shortened");
        }
    }

    fn plain_in_cookie_or_escape(b: u8) -> bool {
        plain_in_cookie(b) || b == b'%' || b == b'+'
    }

    #[test]
    fn junk_is_an_empty_history() {
        for junk in ["", "{", "[1,2]", "null", &"[".repeat(MAX_LOG_BYTES + 1)] {
            assert_eq!(History::parse(junk), History::default(), "{junk:.20}");
            assert_eq!(History::from_cookie(junk, ""), None, "{junk:.20}");
        }
        assert_eq!(History::from_cookie("%zz", ""), None);
        assert_eq!(History::from_cookie("a b", ""), None);
    }
}
