//! The web chat: the same engine on a web page, for young people under 16 (who cannot use
//! Telegram in the UK) and anyone without Telegram. A thin shell, like the others: it turns
//! a request into an `Input`, saves the engine's `Session` under a pseudonymous key, and
//! renders the replies as HTML.
//!
//! It works without JavaScript (a form that posts and re-renders the conversation) and a
//! small same-origin script makes it smoother. It must never store or log message text,
//! addresses or session ids: the conversation lives only in the page (see `history`), the
//! store keeps only `Session`, and the rate limits live in memory.

mod guard;
mod history;
mod render;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Form, Path, Query, State};
use axum::http::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, RETRY_AFTER,
    SET_COOKIE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::engine::{Command, Effect, Engine, Input, Outcome, Session};
use crate::ids::{Audience, LocaleId, PageId, TopicId};
use crate::store::{Channel, Store};

pub use guard::{Limits, Rate};
use guard::{RateLimiter, SessionId};
use history::{Entry, History};
use render::Words;

/// Where the web chat listens unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
/// Longest message a person can type; longer ones get a kind "please shorten it".
pub const MAX_MESSAGE_CHARS: usize = 1000;
/// Largest request body read: the message plus the page's own history field, both
/// percent-encoded (at most three bytes per byte), so a genuine page always fits.
pub const MAX_BODY_BYTES: usize = 96 * 1024;

/// Interface keys the web pages use, on top of the engine's; a test checks each exists.
pub const WEB_KEYS: &[&str] = &[
    "web.site_name",
    "web.chat_heading",
    "web.message_label",
    "web.send",
    "web.hint",
    "web.you_said",
    "web.bot_said",
    "web.leave",
    "web.skip",
    "web.about",
    "web.privacy",
    "web.helplines",
    "web.my_data",
    "web.forget",
    "web.back_to_chat",
    "web.crisis_banner",
    "web.too_long",
    "web.too_big",
    "web.slow_down",
    "web.expired",
    "web.empty",
    "web.problem",
    "web.not_found",
    "web.read_for",
    "web.for_young_person",
    "web.for_parent",
    "web.for_advocate",
    "web.ask_in_chat",
    "web.checked",
    "web.website",
];

const CSP: &str = "default-src 'self'; base-uri 'none'; form-action 'self'; \
                   frame-ancestors 'none'; object-src 'none'";
const CHAT_CSS: &str = include_str!("assets/chat.css");
const CHAT_JS: &str = include_str!("assets/chat.js");

#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Mark the session cookie `Secure` always (set this when served over TLS). It is also
    /// marked so for any request a proxy says came over https (`X-Forwarded-Proto`).
    pub secure_cookie: bool,
    pub limits: Limits,
}

struct App {
    engine: Engine,
    store: Arc<Store>,
    config: Config,
    limiter: RateLimiter,
}

/// The web chat's routes, ready to serve with `ConnectInfo<SocketAddr>`.
pub fn router(engine: Engine, store: Arc<Store>, config: Config) -> Router {
    let limiter = RateLimiter::new(config.limits);
    let app = Arc::new(App {
        engine,
        store,
        config,
        limiter,
    });
    Router::new()
        .route("/", get(chat_page))
        .route("/chat", get(|| async { Redirect::to("/") }).post(chat_post))
        .route("/topics/{id}", get(topic_page))
        .route("/helplines", get(helplines_page))
        .route("/privacy", get(|s, q| content_page(s, q, "privacy")))
        .route("/about", get(|s, q| content_page(s, q, "about")))
        .route(
            "/healthz",
            get(|| async { ([(CONTENT_TYPE, "text/plain")], "ok\n") }),
        )
        .route(
            "/assets/chat.css",
            get(|| asset(CHAT_CSS, "text/css; charset=utf-8")),
        )
        .route(
            "/assets/chat.js",
            get(|| asset(CHAT_JS, "text/javascript; charset=utf-8")),
        )
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(harden))
        .with_state(app)
}

/// Serves the web chat on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    engine: Engine,
    store: Arc<Store>,
    config: Config,
    shutdown: CancellationToken,
) -> Result<()> {
    let app = router(engine, store, config);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await
    .context("the web chat stopped with an error")
}

/// Headers every response carries.
async fn harden(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(CACHE_CONTROL) {
        // A shared ward computer must not keep the conversation in its cache.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

fn html(status: StatusCode, body: String) -> Response {
    (status, [(CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

// ----- the chat -----

#[derive(Deserialize)]
struct StartQuery {
    start: Option<String>,
}

#[derive(Deserialize, Default)]
struct ChatForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    log: String,
    message: Option<String>,
    action: Option<String>,
    command: Option<String>,
}

/// How the browser wants the answer: a whole page (no JavaScript) or JSON for the script.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Page,
    Json,
}

impl Mode {
    fn of(headers: &HeaderMap) -> Mode {
        let json = headers
            .get(ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json"));
        if json { Mode::Json } else { Mode::Page }
    }
}

/// Everything one chat response shows.
struct View {
    locale: LocaleId,
    history: History,
    notice: Option<String>,
    crisis: bool,
    /// The page's conversation was cleared ("forget me"): the script empties its log too.
    reset: bool,
}

impl View {
    /// What a handled turn shows. After "forget me" (`reset`) nothing of the crisis state is
    /// left to emphasise: the session it lived in is gone.
    fn turn(outcome: &Outcome, history: History, reset: bool) -> View {
        View {
            locale: outcome.session.locale.clone(),
            history,
            notice: None,
            crisis: outcome.crisis_active && !reset,
            reset,
        }
    }
}

impl App {
    /// A handled turn's response, renewing the session cookie.
    fn respond_turn(
        &self,
        mode: Mode,
        id: &SessionId,
        headers: &HeaderMap,
        view: View,
    ) -> Response {
        let mut response = self.respond(mode, StatusCode::OK, id, view);
        self.set_cookie(&mut response, id, headers);
        response
    }

    fn words<'a>(&'a self, locale: &'a LocaleId) -> Words<'a> {
        Words::new(self.engine.content(), locale)
    }

    fn default_locale(&self) -> LocaleId {
        self.engine.content().default_locale.clone()
    }

    fn secure(&self, headers: &HeaderMap) -> bool {
        self.config.secure_cookie || guard::forwarded_https(headers)
    }

    fn set_cookie(&self, response: &mut Response, id: &SessionId, headers: &HeaderMap) {
        let cookie = id.cookie(self.store.ttl_secs(), self.secure(headers));
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(SET_COOKIE, value);
        }
    }

    /// The chat response for `view`, as a page or as JSON.
    fn respond(&self, mode: Mode, status: StatusCode, id: &SessionId, mut view: View) -> Response {
        let words = self.words(&view.locale);
        let log = view.history.encode();
        let csrf = id.csrf_token(&self.store);
        let newest: &[Entry] = view.history.turns.last().map_or(&[], Vec::as_slice);
        match mode {
            Mode::Page => {
                let earlier = {
                    let n = view.history.turns.len().saturating_sub(1);
                    History {
                        turns: view.history.turns[..n].to_vec(),
                    }
                    .earlier_entries()
                };
                let page = render::ChatPage {
                    earlier: &earlier,
                    newest,
                    csrf: &csrf,
                    log: &log,
                    notice: view.notice.as_deref(),
                    crisis: view.crisis,
                };
                html(status, render::chat_page(&words, &page))
            }
            Mode::Json => {
                let body = serde_json::json!({
                    "html": if view.notice.is_some() { String::new() } else { render::newest_html(&words, newest) },
                    "log": log,
                    "csrf": csrf,
                    "crisis": view.crisis,
                    "reset": view.reset,
                    "notice": view.notice.unwrap_or_default(),
                });
                (
                    status,
                    [(CONTENT_TYPE, "application/json")],
                    body.to_string(),
                )
                    .into_response()
            }
        }
    }

    /// A kind note instead of an answer, keeping the conversation as it was (only for
    /// requests already known to come from this person's own page).
    fn notice(&self, locale: LocaleId, history: History, key: &str, crisis: bool) -> View {
        let text = self
            .words(&locale)
            .get(key)
            .replace("{max}", &MAX_MESSAGE_CHARS.to_string());
        View {
            locale,
            history,
            notice: Some(text),
            crisis,
            reset: false,
        }
    }

    /// Saves or forgets after the engine has answered, and counts the topic shown.
    fn after(&self, key: &crate::store::UserKey, outcome: &Outcome, now: u64) {
        let saved = match outcome.effect {
            Effect::Forget => self.store.forget(key),
            Effect::None => self.store.save(key, &outcome.session),
        };
        if let Err(e) = saved {
            tracing::error!(user = %key.log_label(), error = %e, "cannot save a web session");
        }
        self.count(outcome, now);
    }

    /// Counts the topic shown, if any: anonymous, by day and start-link campaign.
    fn count(&self, outcome: &Outcome, now: u64) {
        if let Some(topic) = &outcome.shown_topic {
            let day = now / (24 * 60 * 60);
            if let Err(e) = self
                .store
                .count_topic(day, outcome.campaign.as_deref(), topic)
            {
                tracing::error!(error = %e, "cannot count a topic");
            }
        }
    }

    /// A kind page for the rare internal failure (no randomness for a session id).
    fn failure(&self, error: &anyhow::Error) -> Response {
        tracing::error!(error = %error, "cannot make a session id");
        let locale = self.default_locale();
        let words = self.words(&locale);
        let title = words.get("web.problem");
        html(
            StatusCode::INTERNAL_SERVER_ERROR,
            render::text_page(&words, &title, ""),
        )
    }
}

fn slow_down(mut response: Response, wait: Duration) -> Response {
    let secs = wait.as_secs().max(1).to_string();
    if let Ok(value) = HeaderValue::from_str(&secs) {
        response.headers_mut().insert(RETRY_AFTER, value);
    }
    response
}

/// `GET /`: a new or returning conversation. `?start=` is a start link, as on Telegram.
async fn chat_page(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    query: Result<Query<StartQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    // A garbled query is a plain visit: a start link never turns into an error.
    let query = query.map_or(StartQuery { start: None }, |Query(q)| q);
    let existing = SessionId::from_headers(&headers);
    let id = match existing.clone().map_or_else(SessionId::random, Ok) {
        Ok(id) => id,
        Err(e) => return app.failure(&e),
    };
    if let Err(wait) = app.limiter.address(peer.ip()) {
        let view = app.notice(
            app.default_locale(),
            History::default(),
            "web.slow_down",
            false,
        );
        let response = app.respond(Mode::Page, StatusCode::TOO_MANY_REQUESTS, &id, view);
        return slow_down(response, wait);
    }
    let now = crate::now_secs();
    let key = app.store.key(Channel::Web, id.as_str());
    let stored = app.store.load(&key, now);
    let start = query.start.filter(|s| !s.is_empty());
    let command = match (start, &stored) {
        (Some(payload), _) => Command::Start(Some(payload)),
        (None, None) => Command::Start(None),
        (None, Some(_)) => Command::Menu,
    };
    let had_session = stored.is_some();
    let session = stored.unwrap_or_else(|| app.engine.fresh_session(now));
    let outcome = app.engine.handle(session, Input::Command(command), now);
    // A first visit with nothing to remember stores nothing: a crawler or a curious click
    // leaves no record behind.
    let fresh = Session {
        last_seen: outcome.session.last_seen,
        ..app.engine.fresh_session(now)
    };
    if had_session || outcome.session != fresh {
        app.after(&key, &outcome, now);
    } else {
        app.count(&outcome, now);
    }
    let mut history = History::default();
    history.push(outcome.replies.iter().map(Entry::from_reply).collect());
    let view = View::turn(&outcome, history, false);
    app.respond_turn(Mode::Page, &id, &headers, view)
}

/// `POST /chat`: one message or button press.
async fn chat_post(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<ChatForm>, FormRejection>,
) -> Response {
    let mode = Mode::of(&headers);
    let cookie_id = SessionId::from_headers(&headers);
    let id = match cookie_id.clone().map_or_else(SessionId::random, Ok) {
        Ok(id) => id,
        Err(e) => return app.failure(&e),
    };
    let default_locale = app.default_locale();
    // Nothing below the address limit and the origin checks is shown back until we know the
    // post came from this person's own page.
    if let Err(wait) = app.limiter.address(peer.ip()) {
        let view = app.notice(default_locale, History::default(), "web.slow_down", false);
        let response = app.respond(mode, StatusCode::TOO_MANY_REQUESTS, &id, view);
        return slow_down(response, wait);
    }
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => {
            let (status, key) = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                (StatusCode::PAYLOAD_TOO_LARGE, "web.too_big")
            } else {
                (StatusCode::BAD_REQUEST, "web.problem")
            };
            let view = app.notice(default_locale, History::default(), key, false);
            return app.respond(mode, status, &id, view);
        }
    };
    let trusted = guard::same_origin(&headers)
        && cookie_id
            .as_ref()
            .is_some_and(|id| id.csrf_matches(&app.store, &form.csrf));
    if !trusted {
        let view = app.notice(default_locale, History::default(), "web.expired", false);
        let mut response = app.respond(mode, StatusCode::FORBIDDEN, &id, view);
        if cookie_id.is_none() {
            app.set_cookie(&mut response, &id, &headers);
        }
        return response;
    }
    let now = crate::now_secs();
    let key = app.store.key(Channel::Web, id.as_str());
    let session = app
        .store
        .load(&key, now)
        .unwrap_or_else(|| app.engine.fresh_session(now));
    let locale = session.locale.clone();
    let crisis = session.crisis_turns_left > 0;
    let history = History::parse(&form.log);
    if let Err(wait) = app.limiter.session(&id) {
        let view = app.notice(locale, history, "web.slow_down", crisis);
        let response = app.respond(mode, StatusCode::TOO_MANY_REQUESTS, &id, view);
        return slow_down(response, wait);
    }
    let words = app.words(&locale);
    let (input, said) = if let Some(value) = form.action.filter(|v| !v.is_empty()) {
        let said = history.label_for(&value).map(Entry::person);
        (Input::Button(value), said)
    } else if let Some(name) = form.command.filter(|c| !c.is_empty()) {
        let (command, label) = match name.as_str() {
            "mydata" => (Command::MyData, words.get("web.my_data")),
            "forget" => (Command::Forget, words.get("web.forget")),
            "privacy" => (Command::Privacy, words.get("web.privacy")),
            "about" => (Command::About, words.get("web.about")),
            "help" => (Command::Help, words.get("button.get_help_now")),
            _ => (Command::Menu, words.get("button.menu")),
        };
        (Input::Command(command), Some(Entry::person(&label)))
    } else {
        let message = form.message.unwrap_or_default();
        let message = message.trim();
        if message.is_empty() {
            let view = app.notice(locale, history, "web.empty", crisis);
            return app.respond(mode, StatusCode::UNPROCESSABLE_ENTITY, &id, view);
        }
        if message.chars().count() > MAX_MESSAGE_CHARS {
            let view = app.notice(locale, history, "web.too_long", crisis);
            return app.respond(mode, StatusCode::PAYLOAD_TOO_LARGE, &id, view);
        }
        (Input::from_text(message), Some(Entry::person(message)))
    };
    let outcome = app.engine.handle(session, input, now);
    app.after(&key, &outcome, now);
    tracing::debug!(user = %key.log_label(), replies = outcome.replies.len(), "web turn");
    let replies: Vec<Entry> = outcome.replies.iter().map(Entry::from_reply).collect();
    if outcome.effect == Effect::Forget {
        // Everything is gone: the page's history too, and the cookie gets a new id.
        let new_id = match SessionId::random() {
            Ok(new_id) => new_id,
            Err(e) => {
                // The record is already gone; keeping the old id only means a new, empty
                // session under it.
                tracing::error!(error = %e, "cannot make a session id");
                id.clone()
            }
        };
        let mut history = History::default();
        history.push(replies);
        let view = View::turn(&outcome, history, true);
        return app.respond_turn(mode, &new_id, &headers, view);
    }
    let mut history = history;
    history.push(said.into_iter().chain(replies).collect());
    let view = View::turn(&outcome, history, false);
    app.respond_turn(mode, &id, &headers, view)
}

// ----- pages that need no session -----

#[derive(Deserialize)]
struct AudienceQuery {
    audience: Option<String>,
}

fn pick_audience(query: &AudienceQuery, offered: &[Audience]) -> Audience {
    let asked = query.audience.as_deref().and_then(Audience::parse);
    match asked {
        Some(a) if offered.is_empty() || offered.contains(&a) => a,
        _ if offered.is_empty() || offered.contains(&Audience::YoungPerson) => {
            Audience::YoungPerson
        }
        _ => offered[0],
    }
}

fn shareable(mut response: Response) -> Response {
    response.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

async fn topic_page(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    query: Result<Query<AudienceQuery>, QueryRejection>,
) -> Response {
    let query = query.map_or(AudienceQuery { audience: None }, |Query(q)| q);
    let content = app.engine.content();
    let locale = app.default_locale();
    let Some(topic) = TopicId::parse(&id).and_then(|id| content.topic(&id)) else {
        return not_found(State(app)).await;
    };
    let audience = pick_audience(&query, &topic.audiences);
    let words = app.words(&locale);
    let body = render::topic_page(&words, content, &locale, topic, audience);
    shareable(html(StatusCode::OK, body))
}

async fn helplines_page(State(app): State<Arc<App>>) -> Response {
    let locale = app.default_locale();
    let body = render::helplines_page(&app.words(&locale), app.engine.content());
    shareable(html(StatusCode::OK, body))
}

async fn content_page(
    State(app): State<Arc<App>>,
    query: Result<Query<AudienceQuery>, QueryRejection>,
    name: &'static str,
) -> Response {
    let query = query.map_or(AudienceQuery { audience: None }, |Query(q)| q);
    let locale = app.default_locale();
    let page = PageId::parse(name).and_then(|id| app.engine.content().pages.get(&id));
    let Some(page) = page else {
        return not_found(State(app)).await;
    };
    let audience = pick_audience(&query, &page.audiences);
    let body = render::text_page(
        &app.words(&locale),
        &page.title,
        page.text.for_audience(audience),
    );
    shareable(html(StatusCode::OK, body))
}

async fn not_found(State(app): State<Arc<App>>) -> Response {
    let locale = app.default_locale();
    let words = app.words(&locale);
    let title = words.get("web.not_found");
    html(StatusCode::NOT_FOUND, render::text_page(&words, &title, ""))
}
