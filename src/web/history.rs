//! The last few turns of a conversation, carried by the page itself: a hidden form field the
//! browser posts back with each message, so the chat works without JavaScript while the
//! server keeps no message text at all (the store holds only the engine's `Session`).
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

    /// Earlier turns as shown above the newest one: without their buttons.
    pub fn earlier_entries(&self) -> Vec<Entry> {
        self.turns
            .iter()
            .flatten()
            .map(|e| Entry {
                buttons: Vec::new(),
                ..e.clone()
            })
            .collect()
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

    /// The field to post back next time, dropping the oldest turns until it fits.
    pub fn encode(&mut self) -> String {
        loop {
            let json = serde_json::to_string(&self.turns).expect("entries always serialise");
            if json.len() <= MAX_LOG_BYTES || self.turns.is_empty() {
                return json;
            }
            self.turns.remove(0);
        }
    }
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
    fn junk_is_an_empty_history() {
        for junk in ["", "{", "[1,2]", "null", &"[".repeat(MAX_LOG_BYTES + 1)] {
            assert_eq!(History::parse(junk), History::default(), "{junk:.20}");
        }
    }
}
