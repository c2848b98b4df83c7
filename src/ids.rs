//! Newtype ids for everything content can name. An id is `[a-z0-9_]{1,32}`; a topic's id is
//! its file stem. Ids are stable: deep links, buttons, tests and counts use them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest id we accept: short enough that two ids and a prefix fit in Telegram's 64-byte
/// callback data. The longest button is a flow step, `1:fs:<flow>:<step>`: 6 bytes and two
/// ids, so 29 each (32 gave 70-byte buttons that Telegram refuses).
pub const MAX_ID_LEN: usize = 32;

/// Whether `s` is a well-formed id.
pub fn is_valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps `s` if it is a well-formed id. Whether anything has that id is the
            /// content's business.
            pub fn parse(s: &str) -> Option<Self> {
                is_valid_id(s).then(|| Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A topic: one subject a person can ask about.
    TopicId
);
id_type!(
    /// A flow: a short decision tree of steps.
    FlowId
);
id_type!(
    /// A step inside one flow.
    StepId
);
id_type!(
    /// A page of fixed text such as "about".
    PageId
);
id_type!(
    /// A group of items in an audience's menu.
    GroupId
);
id_type!(
    /// A helpline.
    HelplineId
);
id_type!(
    /// A smalltalk or help intent of the matcher.
    IntentId
);

/// A locale such as `en`: lower-case letters, optionally `-` and a region (`en`, `cy`, `pt-br`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LocaleId(String);

impl LocaleId {
    pub fn parse(s: &str) -> Option<Self> {
        let ok = (2..=8).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        ok.then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LocaleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who the bot is talking to. Wording differs by audience; the bot never asks anyone's age.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    YoungPerson,
    Parent,
    Advocate,
}

impl Audience {
    pub const ALL: [Audience; 3] = [Audience::YoungPerson, Audience::Parent, Audience::Advocate];

    pub fn as_str(self) -> &'static str {
        match self {
            Audience::YoungPerson => "young_person",
            Audience::Parent => "parent",
            Audience::Advocate => "advocate",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_lower_snake_case() {
        assert!(is_valid_id("phone_and_internet"));
        assert!(is_valid_id("s17"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("Visiting"));
        assert!(!is_valid_id("visiting-hours"));
        assert!(is_valid_id(&"a".repeat(MAX_ID_LEN)));
        assert!(!is_valid_id(&"a".repeat(MAX_ID_LEN + 1)));
    }
}
