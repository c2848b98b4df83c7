//! Reads a Telegram update into what the bot should do with it: talk (an engine `Input` from
//! a private chat), note once that it only works in private chats, erase a person who blocked
//! it, just stop a button's spinner, or ignore it.
//!
//! Pure: no I/O. Location and contact messages become `NonText` here and their content goes
//! no further; messages from bots and update kinds we do not use are ignored. Edited messages
//! are otherwise ignored, but their words still go through the crisis check: a cry for help
//! is never ignored, however it arrives.

use teloxide::types::{
    CallbackQuery, CallbackQueryId, ChatId, MediaKind, Message, MessageKind, Update, UpdateKind,
    UserId,
};

use crate::engine::{Input, NonTextKind};

/// What to do with one update.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// Handle `input` for `user`, answering in `chat`; `callback` is a button press to answer.
    Converse {
        chat: ChatId,
        user: UserId,
        input: Input,
        callback: Option<CallbackQueryId>,
    },
    /// A button we will not act on (not in a private chat, say): only stop its spinner.
    AnswerOnly(CallbackQueryId),
    /// A message in a group, supergroup or channel: say once that we work in private only.
    PrivateOnlyNote(ChatId),
    /// The person blocked the bot: erase their session.
    Blocked(UserId),
    /// An edited message: answer only if its words are a cry for help (then as a new
    /// message), else stay silent.
    CrisisCheckOnly {
        chat: ChatId,
        user: UserId,
        text: String,
    },
    /// Nothing to do; the reason is for debug logs.
    Ignore(&'static str),
}

/// The update kinds the bot asks Telegram for.
pub const ALLOWED: &[teloxide::types::AllowedUpdate] = &[
    teloxide::types::AllowedUpdate::Message,
    teloxide::types::AllowedUpdate::EditedMessage,
    teloxide::types::AllowedUpdate::ChannelPost,
    teloxide::types::AllowedUpdate::CallbackQuery,
    teloxide::types::AllowedUpdate::MyChatMember,
];

pub fn plan(update: &Update) -> Plan {
    match &update.kind {
        UpdateKind::Message(m) => message(m),
        UpdateKind::EditedMessage(m) => edited(m),
        UpdateKind::EditedChannelPost(_) => Plan::Ignore("edited"),
        UpdateKind::ChannelPost(m) => Plan::PrivateOnlyNote(m.chat.id),
        UpdateKind::CallbackQuery(q) => callback(q),
        UpdateKind::MyChatMember(change) => {
            if change.chat.is_private() && change.new_chat_member.is_banned() {
                Plan::Blocked(change.from.id)
            } else {
                Plan::Ignore("membership change")
            }
        }
        _ => Plan::Ignore("unused update kind"),
    }
}

/// Which queue an update goes in: updates of one chat are handled in order.
pub fn lane(update: &Update) -> i64 {
    match &update.kind {
        UpdateKind::CallbackQuery(q) => q
            .message
            .as_ref()
            .map_or(q.from.id.0 as i64, |m| m.chat().id.0),
        _ => update
            .chat()
            .map(|c| c.id.0)
            .or_else(|| update.from().map(|u| u.id.0 as i64))
            .unwrap_or(0),
    }
}

fn message(m: &Message) -> Plan {
    if !m.chat.is_private() {
        return Plan::PrivateOnlyNote(m.chat.id);
    }
    let Some(from) = m.from.as_ref() else {
        return Plan::Ignore("no sender");
    };
    if from.is_bot {
        return Plan::Ignore("from a bot");
    }
    let common = match &m.kind {
        MessageKind::Common(common) => common,
        // A dice is something the person sent, like a sticker.
        MessageKind::Dice(_) => {
            return Plan::Converse {
                chat: m.chat.id,
                user: from.id,
                input: Input::NonText(NonTextKind::Other),
                callback: None,
            };
        }
        _ => return Plan::Ignore("service message"),
    };
    let input = match &common.media_kind {
        MediaKind::Text(t) => Input::from_text(&t.text),
        // A caption is words the person typed: read them (a cry for help can be a caption).
        _ if m.caption().is_some_and(|c| !c.trim().is_empty()) => {
            Input::Text(m.caption().unwrap_or_default().to_owned())
        }
        MediaKind::Sticker(_) => Input::NonText(NonTextKind::Sticker),
        MediaKind::Photo(_) => Input::NonText(NonTextKind::Photo),
        MediaKind::Voice(_) | MediaKind::Audio(_) => Input::NonText(NonTextKind::Voice),
        MediaKind::Video(_) | MediaKind::VideoNote(_) | MediaKind::Animation(_) => {
            Input::NonText(NonTextKind::Video)
        }
        MediaKind::Document(_) => Input::NonText(NonTextKind::Document),
        MediaKind::Location(_) | MediaKind::Venue(_) => Input::NonText(NonTextKind::Location),
        MediaKind::Contact(_) => Input::NonText(NonTextKind::Contact),
        MediaKind::Poll(_) => Input::NonText(NonTextKind::Poll),
        _ => Input::NonText(NonTextKind::Other),
    };
    Plan::Converse {
        chat: m.chat.id,
        user: from.id,
        input,
        callback: None,
    }
}

fn edited(m: &Message) -> Plan {
    let Some(from) = m.from.as_ref().filter(|f| !f.is_bot) else {
        return Plan::Ignore("edited");
    };
    if !m.chat.is_private() {
        return Plan::Ignore("edited");
    }
    match m.text().or(m.caption()) {
        Some(text) if !text.trim().is_empty() => Plan::CrisisCheckOnly {
            chat: m.chat.id,
            user: from.id,
            text: text.to_owned(),
        },
        _ => Plan::Ignore("edited"),
    }
}

fn callback(q: &CallbackQuery) -> Plan {
    let Some(message) = &q.message else {
        return Plan::AnswerOnly(q.id.clone());
    };
    let chat = message.chat();
    if !chat.is_private() || q.from.is_bot {
        return Plan::AnswerOnly(q.id.clone());
    }
    Plan::Converse {
        chat: chat.id,
        user: q.from.id,
        // Unknown or forged data still goes to the engine, which answers "out of date".
        input: Input::Button(q.data.clone().unwrap_or_default()),
        callback: Some(q.id.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(json: serde_json::Value) -> Update {
        // From text, as on the wire: teloxide's update parsing fails on `from_value`.
        serde_json::from_str(&json.to_string()).expect("a valid update")
    }

    fn private_message(extra: serde_json::Value) -> Update {
        let mut message = serde_json::json!({
            "message_id": 5, "date": 1700000000,
            "chat": {"id": 42, "type": "private", "first_name": "A"},
            "from": {"id": 42, "is_bot": false, "first_name": "A"},
        });
        for (k, v) in extra.as_object().unwrap() {
            message[k] = v.clone();
        }
        update(serde_json::json!({"update_id": 1, "message": message}))
    }

    #[test]
    fn reads_text_commands_and_non_text() {
        let p = plan(&private_message(
            serde_json::json!({"text": "/start t_visiting"}),
        ));
        assert!(
            matches!(
                p,
                Plan::Converse {
                    input: Input::Command(_),
                    ..
                }
            ),
            "{p:?}"
        );
        let p = plan(&private_message(
            serde_json::json!({"location": {"latitude": 51.5, "longitude": -0.1}}),
        ));
        assert!(matches!(
            p,
            Plan::Converse {
                input: Input::NonText(NonTextKind::Location),
                ..
            }
        ));
        let p = plan(&private_message(serde_json::json!({"sticker": {
            "file_id": "x", "file_unique_id": "y", "type": "regular", "width": 1, "height": 1,
            "is_animated": false, "is_video": false}})));
        assert!(matches!(
            p,
            Plan::Converse {
                input: Input::NonText(NonTextKind::Sticker),
                ..
            }
        ));
    }

    #[test]
    fn groups_get_a_note_and_edits_get_the_crisis_check_only() {
        let group = update(serde_json::json!({"update_id": 2, "message": {
            "message_id": 5, "date": 1700000000, "text": "hello",
            "chat": {"id": -100, "type": "group", "title": "G"},
            "from": {"id": 42, "is_bot": false, "first_name": "A"}}}));
        assert_eq!(plan(&group), Plan::PrivateOnlyNote(ChatId(-100)));
        let edited = update(serde_json::json!({"update_id": 3, "edited_message": {
            "message_id": 5, "date": 1700000000, "edit_date": 1700000001, "text": "hello",
            "chat": {"id": 42, "type": "private", "first_name": "A"},
            "from": {"id": 42, "is_bot": false, "first_name": "A"}}}));
        assert!(
            matches!(plan(&edited), Plan::CrisisCheckOnly { ref text, .. } if text == "hello"),
            "an edit goes to the crisis check only"
        );
    }
}
