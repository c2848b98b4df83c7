//! What the bot remembers about one conversation, and nothing more: audience, language, where
//! in a flow, whether help must stay close after a crisis, whether the "not legal advice" note
//! was shown, the question just asked (so a typed "no" can answer it), and when the person was
//! last seen (for expiry), and the workshop or poster link's campaign code, if one brought them
//! (so that what they open counts under that campaign). Never message text, never a name.

use serde::{Deserialize, Serialize};

use crate::ids::{Audience, FlowId, LocaleId, StepId, TopicId};

/// Bumped when the stored shape changes; older records start a fresh session.
pub const SESSION_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    pub version: u32,
    pub audience: Option<Audience>,
    pub locale: LocaleId,
    pub flow: Option<FlowPosition>,
    /// Replies left in which "get help now" stays on screen after a crisis message.
    pub crisis_turns_left: u8,
    pub disclaimer_shown: bool,
    pub awaiting: Option<Awaiting>,
    /// Unix seconds of the last message, for expiry.
    pub last_seen: u64,
    /// The campaign code of the start link that brought this person, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowPosition {
    pub flow: FlowId,
    pub step: StepId,
}

/// The question the bot has just asked, so that a typed answer ("no", "the second one") can
/// be read as its answer. Cleared by the next message, whatever it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Awaiting {
    /// "Delete everything I keep about you?"
    ForgetConfirm,
    /// "Who are you?"
    Audience,
    /// "Are you safe right now?", with what else the message asked about, offered again
    /// after the answer: the likeliest topic, and any others it may have been (`also`).
    CrisisCheck {
        offer: Option<Choice>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also: Vec<Choice>,
    },
    /// A step of a flow, answered by its options.
    FlowStep(FlowPosition),
    /// "Did you mean one of these?", with the topics and flows offered, in order.
    Clarify { choices: Vec<Choice> },
}

/// A topic or flow offered on a button.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    Topic(TopicId),
    Flow(FlowId),
}

impl Session {
    pub fn fresh(locale: LocaleId, now: u64) -> Session {
        Session {
            version: SESSION_VERSION,
            audience: None,
            locale,
            flow: None,
            crisis_turns_left: 0,
            disclaimer_shown: false,
            awaiting: None,
            last_seen: now,
            campaign: None,
        }
    }

    /// The audience to word replies for: young people until someone says otherwise.
    pub fn audience(&self) -> Audience {
        self.audience.unwrap_or(Audience::YoungPerson)
    }

    /// The stored form. `/mydata` shows exactly these bytes.
    pub fn to_record(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a session always serialises")
    }

    /// Reads a stored record; `None` for anything unreadable or of another version, which the
    /// caller treats as "start afresh".
    pub fn from_record(bytes: &[u8]) -> Option<Session> {
        let session: Session = serde_json::from_slice(bytes).ok()?;
        (session.version == SESSION_VERSION).then_some(session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every question the bot can have just asked survives being stored and read back, and
    /// a record from before typed answers (only "forget_confirm") still reads.
    #[test]
    fn every_pending_question_is_stored_and_read_back() {
        let topic = TopicId::parse("visiting").unwrap();
        let flow = FlowId::parse("restriction_check").unwrap();
        for awaiting in [
            Awaiting::ForgetConfirm,
            Awaiting::Audience,
            Awaiting::CrisisCheck {
                offer: None,
                also: Vec::new(),
            },
            Awaiting::CrisisCheck {
                offer: Some(Choice::Topic(topic.clone())),
                also: vec![Choice::Flow(flow.clone())],
            },
            Awaiting::FlowStep(FlowPosition {
                flow: flow.clone(),
                step: StepId::parse("law").unwrap(),
            }),
            Awaiting::Clarify {
                choices: vec![Choice::Topic(topic), Choice::Flow(flow)],
            },
        ] {
            let mut session = Session::fresh(LocaleId::parse("en").unwrap(), 7);
            session.awaiting = Some(awaiting);
            assert_eq!(Session::from_record(&session.to_record()), Some(session));
        }
        let old = br#"{"version":1,"audience":null,"locale":"en","flow":null,"crisis_turns_left":0,"disclaimer_shown":false,"awaiting":"forget_confirm","last_seen":1}"#;
        assert_eq!(
            Session::from_record(old).and_then(|s| s.awaiting),
            Some(Awaiting::ForgetConfirm)
        );
    }
}
