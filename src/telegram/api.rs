//! Calls to the Bot API that survive Telegram's bad days: 429s wait the `retry_after` Telegram
//! asks for, 5xx answers, timeouts and dropped connections are retried with backoff, and a
//! person who blocked the bot is reported as gone. Messages wait their turn in the `pacer`,
//! and a 429 or a failed try holds back only their own chat. Errors are logged with the bot
//! token redacted (reqwest's errors carry the request URL, and the URL carries the token).
//!
//! Nothing here panics on a network error, and nothing here ever logs a request's content.

use std::future::Future;
use std::time::Duration;

use teloxide::{ApiError, RequestError};
use tokio_util::sync::CancellationToken;

use super::pacer::{Held, Place};

/// Why a call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The person blocked the bot or deleted their account: their session must be erased.
    Gone,
    /// Telegram refused this request for good (a 400 and the like): retrying cannot help.
    Refused,
    /// Gave up retrying because the bot is stopping.
    Stopped,
}

const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

enum Class {
    /// A 429: Telegram says how long to wait.
    TooMany(Duration),
    Retry(Duration),
    Gone,
    Refused,
}

fn classify(error: &RequestError) -> Class {
    match error {
        RequestError::RetryAfter(after) => Class::TooMany(after.duration()),
        RequestError::Network(_) | RequestError::InvalidJson { .. } | RequestError::Io(_) => {
            Class::Retry(Duration::ZERO)
        }
        RequestError::MigrateToChatId(_) => Class::Refused,
        RequestError::Api(api) => match api {
            ApiError::BotBlocked
            | ApiError::UserDeactivated
            | ApiError::BotKicked
            | ApiError::CantInitiateConversation
            | ApiError::CantTalkWithBots => Class::Gone,
            // Another instance polling, or a webhook still set: wait and try again.
            ApiError::TerminatedByOtherGetUpdates => Class::Retry(Duration::from_secs(2)),
            ApiError::Unknown(description) if is_transient(description) => {
                Class::Retry(Duration::ZERO)
            }
            _ => Class::Refused,
        },
    }
}

/// Telegram's 4xx descriptions start with the status name; anything else (a 5xx such as
/// "Internal Server Error" or "Bad Gateway") is worth another try.
fn is_transient(description: &str) -> bool {
    ![
        "Bad Request",
        "Forbidden",
        "Unauthorized",
        "Not Found",
        "Conflict",
    ]
    .iter()
    .any(|prefix| description.starts_with(prefix))
}

/// Scrubs the bot token out of anything about to be logged.
#[derive(Clone)]
pub struct Redactor {
    token: String,
}

impl Redactor {
    pub fn new(token: &str) -> Redactor {
        Redactor {
            token: token.to_owned(),
        }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut text = if self.token.is_empty() {
            text.to_owned()
        } else {
            text.replace(&self.token, "<token>")
                .replace(&self.token.replace(':', "%3A"), "<token>")
        };
        // Belt and braces: any `/bot<something>/` path segment is a token too.
        let mut out = String::with_capacity(text.len());
        while let Some(at) = text.find("/bot") {
            let (head, tail) = text.split_at(at);
            out.push_str(head);
            let rest = &tail[4..];
            match rest.find(['/', ' ', ')', '"']) {
                Some(end) if rest[..end].contains(':') => {
                    out.push_str("/bot<token>");
                    text = rest[end..].to_owned();
                }
                _ => {
                    out.push_str("/bot");
                    text = rest.to_owned();
                }
            }
        }
        out.push_str(&text);
        out
    }
}

/// The error and its causes ("error sending request: operation timed out"), for logs: the
/// top line alone rarely says what went wrong. Redact before logging.
pub fn describe(error: &RequestError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Runs `call` until it succeeds, retrying what is worth retrying, until `give_up` is
/// cancelled. `what` names the method in logs.
pub async fn retrying<T, F, Fut>(
    what: &'static str,
    redactor: &Redactor,
    give_up: &CancellationToken,
    call: F,
) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RequestError>>,
{
    tries(what, None, redactor, give_up, call).await
}

/// Like `retrying`, for a message with a place in the pacer: each try waits its turn there,
/// and the waits between tries are the pacer's too, so that they hold back this chat only (a
/// 429 for the `retry_after` Telegram gives, a failed try with backoff).
pub async fn sending<T, F, Fut>(
    what: &'static str,
    place: &Place,
    redactor: &Redactor,
    give_up: &CancellationToken,
    call: F,
) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RequestError>>,
{
    tries(what, Some(place), redactor, give_up, call).await
}

/// The retry loop of both: without a `place`, this task sleeps between tries; with one, the
/// pacer holds the message back instead.
async fn tries<T, F, Fut>(
    what: &'static str,
    place: Option<&Place>,
    redactor: &Redactor,
    give_up: &CancellationToken,
    mut call: F,
) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RequestError>>,
{
    let mut backoff = FIRST_BACKOFF;
    loop {
        let attempt = async {
            if let Some(place) = place {
                place.turn().await;
            }
            call().await
        };
        let error = tokio::select! {
            result = attempt => match result {
                Ok(value) => return Ok(value),
                Err(e) => e,
            },
            _ = give_up.cancelled() => return Err(Failure::Stopped),
        };
        let at_least = match classify(&error) {
            Class::Gone => return Err(Failure::Gone),
            Class::Refused => {
                tracing::warn!(method = what, error = %redactor.redact(&describe(&error)), "Telegram refused a request");
                return Err(Failure::Refused);
            }
            Class::TooMany(retry_after) if let Some(place) = place => {
                let held = place.refused(retry_after);
                tracing::warn!(
                    method = what,
                    wait_ms = retry_after.as_millis() as u64,
                    held = match held {
                        Held::Chat => "this chat",
                        Held::Everyone => "every chat",
                    },
                    "Telegram asked to slow down (429); retrying"
                );
                continue;
            }
            Class::TooMany(at_least) | Class::Retry(at_least) => at_least,
        };
        let wait = at_least.max(backoff);
        backoff = (backoff * 2).min(MAX_BACKOFF);
        tracing::warn!(
            method = what,
            wait_ms = wait.as_millis() as u64,
            error = %redactor.redact(&describe(&error)),
            "Telegram call failed; retrying"
        );
        match place {
            Some(place) => place.retry_later(wait),
            None => tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = give_up.cancelled() => return Err(Failure::Stopped),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_token_in_any_form() {
        let r = Redactor::new("123:ABC");
        let e = "error sending request for url (http://127.0.0.1:9/bot123:ABC/sendMessage)";
        assert_eq!(
            r.redact(e),
            "error sending request for url (http://127.0.0.1:9/bot<token>/sendMessage)"
        );
        assert!(!r.redact("http://x/bot123%3AABC/getMe").contains("ABC"));
        assert!(
            !Redactor::new("")
                .redact("http://x/bot9:other/getMe")
                .contains("other")
        );
        assert_eq!(r.redact("a robot said /bot hi"), "a robot said /bot hi");
    }

    #[test]
    fn server_errors_are_transient_and_client_errors_are_not() {
        assert!(is_transient("Internal Server Error"));
        assert!(is_transient("Bad Gateway"));
        assert!(!is_transient("Bad Request: can't parse entities"));
        assert!(!is_transient("Forbidden: bot was blocked by the user"));
    }
}
