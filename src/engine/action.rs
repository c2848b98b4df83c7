//! Button actions and their compact, versioned encoding. The same string is Telegram's
//! callback data and the web form's button value, so it must fit in 64 bytes. Decoding never
//! trusts its input: anything unknown is `None`, and the engine then checks ids against content.

use crate::ids::{Audience, FlowId, GroupId, LocaleId, PageId, StepId, TopicId};

/// Telegram's limit on callback data.
pub const MAX_ACTION_BYTES: usize = 64;

/// Bumped when the encoding changes, so old buttons read as "out of date", never as something else.
const VERSION: &str = "1";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Menu,
    Group(GroupId),
    Topic(TopicId),
    More(TopicId),
    Ask(TopicId),
    Flow(FlowId),
    FlowStep(FlowId, StepId),
    Page(PageId),
    Helplines,
    ChooseAudience,
    SetAudience(Audience),
    ChooseLanguage,
    SetLocale(LocaleId),
    ForgetConfirm,
    ForgetCancel,
    CrisisNeedHelp,
    CrisisOk,
}

impl Action {
    /// A tap that asks for help ("get help now", "I need help now"): never set aside in a
    /// flood, and answered ahead of ordinary replies.
    pub fn asks_for_help(&self) -> bool {
        matches!(self, Action::Helplines | Action::CrisisNeedHelp)
    }

    pub fn encode(&self) -> String {
        let body = match self {
            Action::Menu => "m".to_owned(),
            Action::Group(id) => format!("g:{id}"),
            Action::Topic(id) => format!("t:{id}"),
            Action::More(id) => format!("tm:{id}"),
            Action::Ask(id) => format!("ta:{id}"),
            Action::Flow(id) => format!("f:{id}"),
            Action::FlowStep(flow, step) => format!("fs:{flow}:{step}"),
            Action::Page(id) => format!("p:{id}"),
            Action::Helplines => "h".to_owned(),
            Action::ChooseAudience => "au".to_owned(),
            Action::SetAudience(a) => format!("a:{a}"),
            Action::ChooseLanguage => "la".to_owned(),
            Action::SetLocale(l) => format!("l:{l}"),
            Action::ForgetConfirm => "fy".to_owned(),
            Action::ForgetCancel => "fn".to_owned(),
            Action::CrisisNeedHelp => "ch".to_owned(),
            Action::CrisisOk => "co".to_owned(),
        };
        format!("{VERSION}:{body}")
    }

    /// The action `data` encodes, if it is well formed and of this version.
    pub fn decode(data: &str) -> Option<Action> {
        if data.len() > MAX_ACTION_BYTES {
            return None;
        }
        let rest = data.strip_prefix(VERSION)?.strip_prefix(':')?;
        let (kind, arg) = match rest.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (rest, None),
        };
        let action = match (kind, arg) {
            ("m", None) => Action::Menu,
            ("g", Some(a)) => Action::Group(GroupId::parse(a)?),
            ("t", Some(a)) => Action::Topic(TopicId::parse(a)?),
            ("tm", Some(a)) => Action::More(TopicId::parse(a)?),
            ("ta", Some(a)) => Action::Ask(TopicId::parse(a)?),
            ("f", Some(a)) => Action::Flow(FlowId::parse(a)?),
            ("fs", Some(a)) => {
                let (flow, step) = a.split_once(':')?;
                Action::FlowStep(FlowId::parse(flow)?, StepId::parse(step)?)
            }
            ("p", Some(a)) => Action::Page(PageId::parse(a)?),
            ("h", None) => Action::Helplines,
            ("au", None) => Action::ChooseAudience,
            ("a", Some(a)) => Action::SetAudience(Audience::parse(a)?),
            ("la", None) => Action::ChooseLanguage,
            ("l", Some(a)) => Action::SetLocale(LocaleId::parse(a)?),
            ("fy", None) => Action::ForgetConfirm,
            ("fn", None) => Action::ForgetCancel,
            ("ch", None) => Action::CrisisNeedHelp,
            ("co", None) => Action::CrisisOk,
            _ => return None,
        };
        Some(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip() {
        let t = TopicId::parse("visiting").unwrap();
        for action in [
            Action::Menu,
            Action::Topic(t.clone()),
            Action::More(t.clone()),
            Action::Ask(t),
            Action::FlowStep(
                FlowId::parse("restriction_check").unwrap(),
                StepId::parse("law").unwrap(),
            ),
            Action::SetAudience(Audience::Parent),
            Action::CrisisOk,
        ] {
            assert_eq!(Action::decode(&action.encode()), Some(action));
        }
    }

    #[test]
    fn forged_and_old_data_decode_to_nothing() {
        for data in [
            "",
            "0:m",
            "2:m",
            "1:",
            "1:t:",
            "1:t:Visiting",
            "1:zz",
            "1:m:extra",
            "1:fs:a",
        ] {
            assert_eq!(Action::decode(data), None, "{data:?}");
        }
        assert_eq!(Action::decode(&format!("1:t:{}", "a".repeat(70))), None);
    }
}
