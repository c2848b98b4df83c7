//! Handles one update, exactly once as far as the person can tell: skip it if the delivery
//! log says it was handled; otherwise run the engine, send the reply messages that have not
//! gone out yet (recording each one), then save the session and mark the update handled in
//! one transaction of the store. A restart after a `kill -9` anywhere in here re-runs the engine on
//! the session as it was before this update (it was not saved yet), which gives the same
//! replies, and sends only the ones still missing.
//!
//! The one gap no bot can close: Telegram accepted a message but the process died before
//! hearing so. Then that one message is sent again on restart (at-least-once): better than a
//! lost crisis reply.

use std::sync::Arc;

use tracing::Instrument;

use teloxide::payloads::SendMessageSetters;
use teloxide::prelude::Requester;
use teloxide::types::{CallbackQueryId, ChatId, LinkPreviewOptions, ParseMode, Update, UserId};

use super::Ctx;
use super::api::{Failure, retrying, sending};
use super::pacer::Urgency;
use super::render::{self, Outgoing};
use super::update::{Plan, plan};
use crate::engine::{Effect, Input};
use crate::matcher::CrisisSignal;
use crate::store::Delivery as State;
use crate::store::{Channel, UserKey};

/// How an update ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Done {
    /// Handled (or deliberately ignored): Telegram may be told it is confirmed.
    Handled,
    /// Not finished because the bot is stopping: Telegram must send it again.
    Unfinished,
}

pub async fn handle(ctx: &Arc<Ctx>, update: &Update) -> Done {
    let id = update.id.0;
    let state = ctx.store.delivery(id).await;
    if state == State::Handled {
        tracing::info!(
            update = id,
            "a repeat of an update already handled; skipped"
        );
        return Done::Handled;
    }
    let result = match plan(update) {
        Plan::Ignore(why) => {
            tracing::debug!(update = id, why, "ignored");
            Ok(())
        }
        Plan::AnswerOnly(query) => answer_callback(ctx, query).await,
        Plan::PrivateOnlyNote(chat) => private_only_note(ctx, id, state, chat).await,
        Plan::Blocked(user) => {
            let key = user_key(ctx, user);
            tracing::info!(user = %key.log_label(), "blocked the bot; session erased");
            forget(ctx, &key).await;
            Ok(())
        }
        Plan::Converse {
            chat,
            user,
            input,
            callback,
        } => converse(ctx, id, state, chat, user, input, callback).await,
        Plan::CrisisCheckOnly { chat, user, text } => {
            if is_crisis(ctx, user, &text).await {
                converse(ctx, id, state, chat, user, Input::Text(text), None).await
            } else {
                tracing::debug!(update = id, "an edit without a crisis: ignored");
                Ok(())
            }
        }
    };
    match result {
        Err(Failure::Stopped) => Done::Unfinished,
        Ok(()) | Err(_) => {
            // Marking an update handled twice (a conversation already committed it) is harmless.
            if ctx.store.delivery(id).await != State::Handled
                && let Err(e) = ctx.store.mark_handled(id, crate::now_secs()).await
            {
                tracing::error!(error = %e, "cannot record a handled update");
            }
            Done::Handled
        }
    }
}

fn user_key(ctx: &Ctx, user: UserId) -> UserKey {
    ctx.store.key(Channel::Telegram, &user.0.to_string())
}

/// Whether `text` is a cry for help, in the person's own language.
async fn is_crisis(ctx: &Ctx, user: UserId, text: &str) -> bool {
    let locale = ctx
        .store
        .load(&user_key(ctx, user), crate::now_secs())
        .await
        .ok()
        .flatten()
        .map_or_else(|| ctx.engine.content().default_locale.clone(), |s| s.locale);
    ctx.engine.matcher().analyse(&locale, text).crisis != CrisisSignal::None
}

async fn forget(ctx: &Ctx, key: &UserKey) {
    if let Err(e) = ctx.store.forget(key).await {
        tracing::error!(user = %key.log_label(), error = %e, "cannot erase a session");
    }
}

async fn converse(
    ctx: &Arc<Ctx>,
    id: u32,
    state: State,
    chat: ChatId,
    user: UserId,
    input: Input,
    callback: Option<CallbackQueryId>,
) -> Result<(), Failure> {
    let key = user_key(ctx, user);
    let span = tracing::info_span!("update", user = %key.log_label());
    converse_as(ctx, id, state, chat, key, input, callback)
        .instrument(span)
        .await
}

async fn converse_as(
    ctx: &Arc<Ctx>,
    id: u32,
    state: State,
    chat: ChatId,
    key: UserKey,
    input: Input,
    callback: Option<CallbackQueryId>,
) -> Result<(), Failure> {
    if let Some(query) = callback {
        // First, so the button's spinner stops even if the reply takes a while.
        answer_callback(ctx, query).await?;
    }
    let now = crate::now_secs();
    let loaded = ctx.store.load(&key, now).await;
    let remembers = loaded.is_ok();
    let session = loaded
        .unwrap_or_default()
        .unwrap_or_else(|| ctx.engine.fresh_session(now));
    let outcome = ctx.engine.handle(session, input, now);
    tracing::debug!(
        decision = outcome.trace.decision.unwrap_or("-"),
        crisis = outcome.trace.crisis,
        replies = outcome.replies.len(),
        "engine answered"
    );
    let sections: Vec<String> = crate::engine::MORE_SECTION_KEYS
        .iter()
        .map(|key| {
            ctx.engine
                .content()
                .ui(&outcome.session.locale, key)
                .to_owned()
        })
        .collect();
    let mut messages = render::messages_with(&outcome.replies, &sections);
    if !remembers {
        // Said after the answer, so a crisis reply still comes first.
        let note = ctx
            .engine
            .content()
            .ui(&outcome.session.locale, "web.no_memory")
            .to_owned();
        messages.push(Outgoing {
            html: render::escape(&note),
            keyboard: None,
        });
    }
    // A reply to a cry for help, or to a tap on "get help now", goes ahead of ordinary replies
    // to everyone else.
    let urgency = if outcome.brings_help {
        Urgency::Crisis
    } else {
        Urgency::Ordinary
    };
    let already = match state {
        State::Sending(n) => {
            tracing::info!(update = id, sent = n, "resuming a reply cut short");
            n
        }
        _ => 0,
    };
    let mut gone = false;
    for (i, message) in messages.iter().enumerate().skip(already) {
        match send(ctx, chat, message, urgency).await {
            Ok(()) => {}
            Err(Failure::Gone) => {
                gone = true;
                break;
            }
            // Logged in `retrying`; the rest of the reply still goes.
            Err(Failure::Refused) => {}
            Err(Failure::Stopped) => return Err(Failure::Stopped),
        }
        if let Err(e) = ctx.store.record_sent(id, i + 1, now).await {
            tracing::error!(error = %e, "cannot record a sent message");
        }
    }
    let erase = gone || outcome.effect == Effect::Forget;
    // Nothing is saved over a session that could not be read: it may still be there.
    let session = (!erase && remembers).then_some(&outcome.session);
    let committed = if session.is_some() || erase {
        ctx.store.commit_handled(&key, session, id, now).await
    } else {
        ctx.store.mark_handled(id, now).await
    };
    if let Err(e) = committed {
        tracing::error!(error = %e, "cannot save a session");
    }
    if erase {
        // Whatever else the store keeps about this person goes too.
        forget(ctx, &key).await;
        tracing::info!(blocked = gone, "session erased");
    }
    for cell in crate::counts::cells(&outcome, now) {
        if let Err(e) = ctx.store.count(&cell).await {
            tracing::warn!(error = %e, "cannot count");
        }
    }
    Ok(())
}

/// Sends one message once its turn comes. One message per chat is in flight at a time (the
/// chat's updates are handled one by one, and the pacer lets one message per chat out), and
/// each is recorded as sent before the next: so a crash can repeat at most one per chat.
async fn send(
    ctx: &Ctx,
    chat: ChatId,
    message: &Outgoing,
    urgency: Urgency,
) -> Result<(), Failure> {
    let place = ctx.pacer.join(chat, urgency);
    sending("sendMessage", &place, &ctx.redactor, &ctx.give_up, || {
        let mut request = ctx
            .bot
            .send_message(chat, message.html.clone())
            .parse_mode(ParseMode::Html)
            .link_preview_options(NO_PREVIEW);
        if let Some(keyboard) = &message.keyboard {
            request = request.reply_markup(keyboard.clone());
        }
        async move { request.await.map(|_| ()) }
    })
    .await
}

const NO_PREVIEW: LinkPreviewOptions = LinkPreviewOptions {
    is_disabled: true,
    url: None,
    prefer_small_media: false,
    prefer_large_media: false,
    show_above_text: false,
};

async fn answer_callback(ctx: &Ctx, query: CallbackQueryId) -> Result<(), Failure> {
    let result = retrying("answerCallbackQuery", &ctx.redactor, &ctx.give_up, || {
        let request = ctx.bot.answer_callback_query(query.clone());
        async move { request.await.map(|_| ()) }
    })
    .await;
    match result {
        // A query too old to answer (after a restart, say) must not stop the reply.
        Err(Failure::Refused | Failure::Gone) => Ok(()),
        other => other,
    }
}

async fn private_only_note(ctx: &Ctx, id: u32, state: State, chat: ChatId) -> Result<(), Failure> {
    let group_key = ctx
        .store
        .key(Channel::Telegram, &format!("chat:{}", chat.0));
    let noted = ctx.store.group_noted(&group_key).await;
    if noted || state != State::New {
        return Ok(());
    }
    let content = ctx.engine.content();
    let text = content
        .ui(&content.default_locale, "telegram.private_only")
        .replace("{link}", &format!("https://t.me/{}", ctx.bot_username));
    let message = Outgoing {
        html: render::escape(&text),
        keyboard: None,
    };
    match send(ctx, chat, &message, Urgency::Ordinary).await {
        Ok(()) | Err(Failure::Refused | Failure::Gone) => {}
        Err(Failure::Stopped) => return Err(Failure::Stopped),
    }
    let now = crate::now_secs();
    let recorded = match ctx.store.note_group(&group_key, now).await {
        Ok(()) => ctx.store.record_sent(id, 1, now).await,
        Err(e) => Err(e),
    };
    if let Err(e) = recorded {
        tracing::error!(error = %e, "cannot record a group note");
    }
    Ok(())
}
