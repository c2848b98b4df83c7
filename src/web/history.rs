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
//!
//! The page cookie must stay small (see `MAX_COOKIE_BYTES`), yet a "tell me more" text alone
//! can be longer. So the cookie names such a reply instead of copying it: a reply whose title
//! and words are exactly a topic's "tell me more" or "what can I ask?" text, for some audience
//! and locale, is written as a `Reference` (part, topic id, audience, locale: about 60 bytes)
//! with its buttons, and its words are rendered again from content when the page is shown. A
//! reference is only written when rendering it gives exactly the reply, so the page after the
//! redirect is the page the post produced. What the person said is always copied, never
//! named (the server keeps no message text to render it from). Every reply the built-in
//! content can give then fits (a test checks each one), so every post without JavaScript,
//! from a browser that keeps cookies, is answered with a redirect; should a reply ever not
//! fit, the post is answered with the page itself, as a last resort that can bring back
//! "Confirm Form Resubmission".
//!
//! Why not a redirect to an address that names the reply (`/chat?more=visiting`)? The cookie
//! would still have to carry the rest of the page, and an older address met again by Back
//! would show an older reply under a newer conversation. With the name in the cookie, the
//! cookie stays the one source of the page, every redirect goes to the same `/chat#latest`,
//! and the address says nothing about what was read.

use serde::{Deserialize, Serialize};

use crate::content::Content;
use crate::engine::{Reply, render_ask, render_more};
use crate::ids::{Audience, LocaleId, TopicId};

/// How many turns (a message and its replies) the page keeps, counting the newest.
pub const KEEP_TURNS: usize = 4;
/// Longest history field we read or write; older turns are dropped to fit. Percent-encoded
/// it stays well inside `MAX_BODY_BYTES`.
pub const MAX_LOG_BYTES: usize = 24 * 1024;
/// Most bytes of page cookie we write, in all. A reverse proxy reads the response's headers
/// into one buffer (nginx: 4 KiB by default, and a bigger header is a 502 Bad Gateway), so
/// the cookie and the other headers must stay well inside that. Every reply fits, a "tell me
/// more" one because it is named rather than copied (a test checks each reply).
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

    /// The page cookie's value for this history, bound to the session by `tag`, with every
    /// reply that is `content` alone named rather than copied; `None` when even the newest
    /// turn cannot fit.
    pub fn to_cookie(&self, tag: &str, content: &Content) -> Option<String> {
        let turns: Vec<Vec<Kept>> = self
            .turns
            .iter()
            .map(|turn| turn.iter().map(|e| Kept::of(e, content)).collect())
            .collect();
        fit(&turns, MAX_COOKIE_BYTES, |turns| {
            let json = serde_json::to_string(&CookiePage { tag, turns })
                .expect("entries always serialise");
            cookie_encode(&json)
        })
    }

    /// The history in a page cookie, if it is well formed, belongs to the session `tag` and
    /// every reply it names is still in `content`.
    pub fn from_cookie(value: &str, tag: &str, content: &Content) -> Option<History> {
        if value.len() > MAX_COOKIE_BYTES {
            return None;
        }
        let json = cookie_decode(value)?;
        let page: OwnedCookiePage = serde_json::from_str(&json).ok()?;
        if page.tag != tag || page.turns.len() > KEEP_TURNS {
            return None;
        }
        let turns = page
            .turns
            .into_iter()
            .map(|turn| turn.into_iter().map(|k| k.entry(content)).collect())
            .collect::<Option<Vec<Vec<Entry>>>>()?;
        turns
            .iter()
            .flatten()
            .all(Entry::is_sane)
            .then_some(History { turns })
    }
}

/// A reply named instead of copied: which of a topic's texts it is, for whom, in which
/// language. Rendering it gives the reply's title and words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Reference {
    #[serde(rename = "p")]
    part: Part,
    #[serde(rename = "i")]
    topic: TopicId,
    #[serde(rename = "a")]
    audience: Audience,
    #[serde(rename = "l")]
    locale: LocaleId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Part {
    /// "Tell me more" (`render_more`).
    #[serde(rename = "m")]
    More,
    /// "What can I ask?" (`render_ask`).
    #[serde(rename = "a")]
    Ask,
}

impl Reference {
    /// The title and words it names, if its topic and locale are still in `content`.
    fn render(&self, content: &Content) -> Option<(String, String)> {
        if !content.locales.contains_key(&self.locale) {
            return None;
        }
        let topic = content.topic(&self.topic)?;
        let text = match self.part {
            Part::More => render_more(content, &self.locale, topic, self.audience),
            Part::Ask => render_ask(content, &self.locale, topic, self.audience),
        };
        Some((topic.title.clone(), text))
    }

    /// The reference whose rendering is exactly `entry`'s title and words, if any.
    fn naming(entry: &Entry, content: &Content) -> Option<Reference> {
        if entry.speaker != Speaker::Bot {
            return None;
        }
        let title = entry.title.as_deref()?;
        let topics = content.topics.values().filter(|t| t.title == title);
        topics
            .flat_map(|topic| {
                content.locales.keys().flat_map(move |locale| {
                    Audience::ALL.into_iter().flat_map(move |audience| {
                        [Part::More, Part::Ask].map(|part| Reference {
                            part,
                            topic: topic.id.clone(),
                            audience,
                            locale: locale.clone(),
                        })
                    })
                })
            })
            .find(|reference| {
                reference
                    .render(content)
                    .is_some_and(|(t, text)| t == title && text == entry.text)
            })
    }
}

/// An entry as the page cookie holds it: a reply named by its `Reference` (and its buttons,
/// kept as they were), or the entry itself.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Kept {
    Named {
        #[serde(rename = "r")]
        reference: Reference,
        #[serde(rename = "b", default, skip_serializing_if = "Vec::is_empty")]
        buttons: Vec<Vec<ButtonEntry>>,
    },
    Copied(Entry),
}

impl Kept {
    fn of(entry: &Entry, content: &Content) -> Kept {
        match Reference::naming(entry, content) {
            Some(reference) => Kept::Named {
                reference,
                buttons: entry.buttons.clone(),
            },
            None => Kept::Copied(entry.clone()),
        }
    }

    fn entry(self, content: &Content) -> Option<Entry> {
        match self {
            Kept::Named { reference, buttons } => {
                let (title, text) = reference.render(content)?;
                Some(Entry {
                    speaker: Speaker::Bot,
                    title: Some(title),
                    text,
                    buttons,
                })
            }
            Kept::Copied(entry) => Some(entry),
        }
    }
}

#[derive(Serialize)]
struct CookiePage<'a> {
    #[serde(rename = "k")]
    tag: &'a str,
    #[serde(rename = "t")]
    turns: &'a [Vec<Kept>],
}

#[derive(Deserialize)]
struct OwnedCookiePage {
    #[serde(rename = "k")]
    tag: String,
    #[serde(rename = "t")]
    turns: Vec<Vec<Kept>>,
}

/// Where what the person said sits in an entry, for `fit` to shorten.
trait Saying: Clone {
    fn said(&mut self) -> Option<&mut String>;
}

impl Saying for Entry {
    fn said(&mut self) -> Option<&mut String> {
        (self.speaker == Speaker::Person).then_some(&mut self.text)
    }
}

impl Saying for Kept {
    fn said(&mut self) -> Option<&mut String> {
        match self {
            Kept::Copied(entry) => entry.said(),
            Kept::Named { .. } => None,
        }
    }
}

/// The encoding of the newest turns that fits in `max` bytes: older turns go first, then what
/// the person said in the newest is shortened. `None` if the replies alone do not fit.
fn fit<T: Saying>(
    turns: &[Vec<T>],
    max: usize,
    encode: impl Fn(&[Vec<T>]) -> String,
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
        for said in newest.iter_mut().filter_map(Saying::said) {
            *said = shorten(said, chars);
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
    use crate::engine::{Action, Command, Engine, Input};

    fn content() -> Content {
        crate::content::load_embedded().expect("the built-in content loads")
    }

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
        let content = content();
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
        let value = history
            .to_cookie("tag", &content)
            .expect("the reply fits a cookie");
        assert!(value.is_ascii());
        assert!(value.len() <= MAX_COOKIE_BYTES);
        assert!(value.bytes().all(plain_in_cookie_or_escape));
        let back = History::from_cookie(&value, "tag", &content).unwrap();
        assert_eq!(back.turns.len(), 1, "the older turn made way");
        assert_eq!(back.turns[0][1], reply, "the reply is never cut");
        assert!(back.turns[0][0].text.ends_with('\u{2026}'));
        assert_eq!(
            History::from_cookie(&value, "another session", &content),
            None
        );

        let field = history.encode();
        let back = History::parse(&field);
        assert_eq!(back.turns.len(), 2, "the page's own field holds more");
    }

    /// Every input a person can give by pressing a button or typing a command, and a cry for
    /// help, as (what their side shows, the input).
    fn every_input(content: &Content) -> Vec<(String, Input)> {
        // The person's side shows the button's label: as long as one may be.
        let label = "x".repeat(MAX_LABEL_CHARS);
        let button = |action: Action| (label.clone(), Input::Button(action.encode()));
        let mut inputs = vec![
            button(Action::Menu),
            button(Action::Helplines),
            button(Action::ChooseAudience),
            button(Action::ChooseLanguage),
            button(Action::CrisisNeedHelp),
            button(Action::CrisisOk),
        ];
        for id in content.topics.keys() {
            inputs.push(button(Action::Topic(id.clone())));
            inputs.push(button(Action::More(id.clone())));
            inputs.push(button(Action::Ask(id.clone())));
        }
        for group in content.menus.values().flatten() {
            inputs.push(button(Action::Group(group.id.clone())));
        }
        for (id, flow) in &content.flows {
            for step in flow.steps.keys() {
                inputs.push(button(Action::FlowStep(id.clone(), step.clone())));
            }
        }
        for id in content.pages.keys() {
            inputs.push(button(Action::Page(id.clone())));
        }
        for command in [
            Command::Start(None),
            Command::Menu,
            Command::Help,
            Command::About,
            Command::Privacy,
            Command::MyData,
            Command::Forget,
        ] {
            inputs.push(("a command".to_owned(), Input::Command(command)));
        }
        let cry = "i want to kill myself, staff hit me and i cant take it any more";
        inputs.push((cry.to_owned(), Input::Text(cry.to_owned())));
        inputs
    }

    #[test]
    fn every_reply_fits_a_page_cookie_and_comes_back_exactly() {
        let content = content();
        let engine = Engine::new(content.clone());
        let tag = "0".repeat(32);
        let inputs = every_input(&content);
        for audience in Audience::ALL {
            let session = engine.fresh_session(0);
            let chosen = Input::Button(Action::SetAudience(audience).encode());
            let session = engine.handle(session, chosen, 0).session;
            for (said, input) in &inputs {
                let outcome = engine.handle(session.clone(), input.clone(), 0);
                let mut history = History::default();
                history.push(
                    std::iter::once(Entry::person(said))
                        .chain(outcome.replies.iter().map(Entry::from_reply))
                        .collect(),
                );
                let value = history
                    .to_cookie(&tag, &content)
                    .unwrap_or_else(|| panic!("{audience}, {input:?}: too big for a cookie"));
                let back = History::from_cookie(&value, &tag, &content);
                assert_eq!(
                    back.as_ref(),
                    Some(&history),
                    "{audience}, {input:?}: not shown as it was, nothing shortened"
                );
            }
        }
    }

    #[test]
    fn a_tell_me_more_reply_is_named_not_copied_so_earlier_turns_fit_beside_it() {
        let content = content();
        let engine = Engine::new(content.clone());
        let audience = Input::Button(Action::SetAudience(Audience::Advocate).encode());
        let session = engine.handle(engine.fresh_session(0), audience, 0).session;
        let mut history = History::default();
        let mut longest = 0;
        for id in content.topics.keys().take(KEEP_TURNS) {
            let more = Input::Button(Action::More(id.clone()).encode());
            let outcome = engine.handle(session.clone(), more, 0);
            longest = longest.max(outcome.replies[0].text.len());
            history.push(
                std::iter::once(Entry::person("Tell me more"))
                    .chain(outcome.replies.iter().map(Entry::from_reply))
                    .collect(),
            );
        }
        assert!(
            longest > MAX_COOKIE_BYTES,
            "one of them is too long to copy"
        );
        let value = history.to_cookie("tag", &content).unwrap();
        assert!(value.len() < MAX_COOKIE_BYTES / 2, "{} bytes", value.len());
        let back = History::from_cookie(&value, "tag", &content).unwrap();
        assert_eq!(back, history, "every turn kept, each reply whole");

        // The words come from content alone: a reference to something no longer there (or
        // never there) is not a page, and a person's words are never named.
        let edited = value.replace(content.topics.keys().next().unwrap().as_str(), "gone");
        assert_eq!(History::from_cookie(&edited, "tag", &content), None);
        let reply = &history.turns[0][1];
        let copied = Entry::person(&reply.text);
        assert!(Reference::naming(&copied, &content).is_none());
        let changed = Entry {
            text: format!("{} ", reply.text),
            ..reply.clone()
        };
        assert!(Reference::naming(&changed, &content).is_none());
        assert!(Reference::naming(reply, &content).is_some());
    }

    fn plain_in_cookie_or_escape(b: u8) -> bool {
        plain_in_cookie(b) || b == b'%' || b == b'+'
    }

    #[test]
    fn junk_is_an_empty_history() {
        let content = content();
        for junk in ["", "{", "[1,2]", "null", &"[".repeat(MAX_LOG_BYTES + 1)] {
            assert_eq!(History::parse(junk), History::default(), "{junk:.20}");
            assert_eq!(History::from_cookie(junk, "", &content), None, "{junk:.20}");
        }
        assert_eq!(History::from_cookie("%zz", "", &content), None);
        assert_eq!(History::from_cookie("a b", "", &content), None);
    }
}
