//! The web chat: the same engine on a web page, for young people under 16 (who cannot use
//! Telegram in the UK) and anyone without Telegram. A thin shell, like the others: it turns
//! a request into an `Input`, saves the engine's `Session` under a pseudonymous key, and
//! renders the replies as HTML.
//!
//! It works without JavaScript (a form that posts and re-renders the conversation) and a
//! small same-origin script makes it smoother. It must never store or log message text,
//! addresses or session ids: the conversation lives only in the page (see `history`), the
//! store keeps only `Session`, and the rate limits are keyed by hashes. A store that cannot be
//! reached does not stop it: each turn is answered from a fresh session, with a note saying
//! that the conversation cannot be remembered just now.

mod advocates;
mod connections;
mod guard;
mod history;
mod numbers;
pub(crate) mod render;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Form, Path, Query, Request, State};
use axum::http::header::{
    ACCEPT, CACHE_CONTROL, CONNECTION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION,
    REFERRER_POLICY, RETRY_AFTER, SET_COOKIE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::engine::{Action, Command, Effect, Engine, Input, Outcome, Session};
use crate::ids::{Audience, LocaleId, PageId, TopicId};
use crate::matcher::CrisisSignal;
use crate::store::{Channel, Store};

pub use connections::Connections;
use guard::{FORGOT_COOKIE, PAGE_COOKIE, RateLimiter, Refusal, SessionId};
pub use guard::{Limits, PublicUrl, Rate};
use history::{Entry, History};
use render::Words;

/// Where the web chat listens unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
/// Longest message read in full: what Telegram accepts. A longer one is checked whole for a
/// cry for help first; otherwise its first `MAX_MESSAGE_CHARS` characters are answered and
/// the page says it was cut.
pub const MAX_MESSAGE_CHARS: usize = crate::engine::MAX_INPUT_CHARS;
/// Largest request body read (the README states it; a test checks they agree). A message of
/// `MAX_MESSAGE_CHARS` characters of up to four bytes each, and the page's history field,
/// both percent-encoded (up to three bytes per byte), always fit.
pub const MAX_BODY_BYTES: usize = 128 * 1024;
const _: () =
    assert!(3 * (4 * MAX_MESSAGE_CHARS + history::MAX_LOG_BYTES) + 1024 <= MAX_BODY_BYTES);

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
    "web.cut",
    "web.too_big",
    "web.slow_down",
    "web.expired",
    "web.no_cookie",
    "web.deleted",
    "web.refused",
    "web.empty",
    "web.problem",
    "web.no_memory",
    "web.not_found",
    "web.read_for",
    "web.for_young_person",
    "web.for_parent",
    "web.for_advocate",
    "web.ask_in_chat",
    "web.checked",
    "web.website",
    "web.share_link",
    "web.topics_title",
    "web.topics_intro",
    "web.topic_id",
];

const CSP: &str = "default-src 'self'; base-uri 'none'; form-action 'self'; \
                   frame-ancestors 'none'; object-src 'none'";
const CHAT_CSS: &str = include_str!("assets/chat.css");
const CHAT_JS: &str = include_str!("assets/chat.js");
/// How long the mark "this browser's data was deleted" explains an older tab's refusal.
const FORGOT_MARK_SECS: u64 = 24 * 60 * 60;

#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Mark the session cookie `Secure` always (set this when served over TLS). It is also
    /// marked so when the public URL is https, and for any request a proxy says came over
    /// https (`X-Forwarded-Proto`).
    pub secure_cookie: bool,
    /// The address people use (`--public-url`): posts must come from it, and links the bot
    /// writes out in full use it. Without it, a post's `Origin` must match its `Host`.
    pub public_url: Option<PublicUrl>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub trusted_proxies: Vec<IpAddr>,
    pub limits: Limits,
    pub connections: Connections,
    /// The bot's Telegram username, for the Telegram links in the workshop kit.
    pub bot_username: Option<String>,
}

struct App {
    engine: Engine,
    store: Arc<Store>,
    config: Config,
    limiter: RateLimiter,
}

/// Runs work that keeps a CPU busy for a while (reading a message through the model) so that
/// the runtime hands this thread's other tasks, accepting connections among them, to another
/// thread meanwhile: a workshop's burst of questions must not leave new visitors unaccepted.
/// On a single-threaded runtime (some tests) it simply runs.
fn cpu_bound<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// The web chat's routes, ready to serve with `ConnectInfo<SocketAddr>`.
pub fn router(engine: Engine, store: Arc<Store>, config: Config) -> Router {
    let limiter = RateLimiter::new(config.limits);
    let request_timeout = config.connections.request_timeout;
    let app = Arc::new(App {
        engine,
        store,
        config,
        limiter,
    });
    Router::new()
        .route("/", get(chat_page))
        .route("/chat", get(chat_page).post(chat_post))
        .route("/leave", get(leave).post(leave_quietly))
        .route("/topics", get(topics_page))
        .route("/topics/", get(topics_page))
        .route("/topics/{id}", get(topic_page))
        .route("/helplines", get(helplines_page))
        .route("/advocates/{token}", get(advocates::to_dashboard))
        .route("/advocates/{token}/", get(advocates::dashboard))
        .route("/advocates/{token}/counts.csv", get(advocates::counts_csv))
        .route("/advocates/{token}/kit/{*path}", get(advocates::kit_file))
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
        .layer(axum::middleware::from_fn_with_state(
            request_timeout,
            limit_time,
        ))
        .with_state(app)
}

/// Serves the web chat on `listener` until `shutdown` is cancelled, then lets open requests
/// finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    engine: Engine,
    store: Arc<Store>,
    config: Config,
    shutdown: CancellationToken,
) -> Result<()> {
    let connections = config.connections;
    let app = router(engine, store, config);
    connections::serve(listener, app, connections, shutdown)
        .await
        .context("the web chat stopped with an error")
}

/// A request that takes too long to arrive (a body trickled in) is dropped.
async fn limit_time(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (StatusCode::REQUEST_TIMEOUT, [(CONNECTION, "close")]).into_response(),
    }
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

#[derive(Deserialize, Default)]
struct PageQuery {
    start: Option<String>,
    /// A notice to show, by its short name (after a post without JavaScript).
    n: Option<String>,
    /// Keep help emphasised (after a crisis reply to a post that could not be stored).
    c: Option<String>,
}

#[derive(Deserialize, Default)]
struct ChatForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    log: String,
    /// The campaign code of the start link the page was opened from: a first visit stores
    /// nothing, so the page carries it to the first message.
    #[serde(default)]
    campaign: String,
    message: Option<String>,
    action: Option<String>,
    command: Option<String>,
}

/// How the browser wants the answer: a page (no JavaScript) or JSON for the script.
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

/// A kind note shown by the form, instead of or beside an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Notice {
    Cut,
    Empty,
    SlowDown,
    TooBig,
    Problem,
    /// The store cannot be reached: answered from a fresh session.
    NoMemory,
    Refused(Refusal),
}

impl Notice {
    const ALL: [Notice; 10] = [
        Notice::Cut,
        Notice::NoMemory,
        Notice::Empty,
        Notice::SlowDown,
        Notice::TooBig,
        Notice::Problem,
        Notice::Refused(Refusal::WrongOrigin),
        Notice::Refused(Refusal::NoCookie),
        Notice::Refused(Refusal::StaleToken),
        Notice::Refused(Refusal::Deleted),
    ];

    fn key(self) -> &'static str {
        match self {
            Notice::Cut => "web.cut",
            Notice::Empty => "web.empty",
            Notice::SlowDown => "web.slow_down",
            Notice::TooBig => "web.too_big",
            Notice::Problem => "web.problem",
            Notice::NoMemory => "web.no_memory",
            Notice::Refused(refusal) => refusal.notice_key(),
        }
    }

    /// Its name in a redirect's address: the address carries which note, never any words.
    fn short(self) -> &'static str {
        self.key().trim_start_matches("web.")
    }

    fn from_short(short: &str) -> Option<Notice> {
        Notice::ALL.into_iter().find(|n| n.short() == short)
    }
}

/// Everything one chat response shows.
struct View {
    locale: LocaleId,
    /// The conversation as the page shows it, newest turn last.
    history: History,
    /// The newest turn is this response's answer (the script adds it to the page).
    answered: bool,
    /// A refused post leaves the page's own history field as it was.
    keep_log: bool,
    notice: Option<Notice>,
    crisis: bool,
    /// The page's conversation was cleared ("forget me"): the script empties its log too.
    reset: bool,
    /// A plain return visit: the script may put back the conversation this tab kept.
    restore: bool,
    /// The start link's campaign, carried by the page's form.
    campaign: Option<String>,
}

impl View {
    fn new(locale: LocaleId, history: History) -> View {
        View {
            locale,
            history,
            answered: false,
            keep_log: false,
            notice: None,
            crisis: false,
            reset: false,
            restore: false,
            campaign: None,
        }
    }

    /// What a handled turn shows. After "forget me" (`reset`) nothing of the crisis state is
    /// left to emphasise: the session it lived in is gone.
    fn turn(outcome: &Outcome, history: History, reset: bool) -> View {
        View {
            answered: true,
            crisis: outcome.crisis_active && !reset,
            reset,
            campaign: outcome.campaign.clone().filter(|_| !reset),
            ..View::new(outcome.session.locale.clone(), history)
        }
    }

    fn with_notice(mut self, notice: Option<Notice>) -> View {
        self.notice = notice;
        self
    }

    /// Where a post without JavaScript is sent on to: the page it will see, by name only.
    fn location(&self) -> String {
        let mut query = Vec::new();
        if let Some(notice) = self.notice {
            query.push(format!("n={}", notice.short()));
        }
        if self.crisis {
            query.push("c=1".to_owned());
        }
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{}", query.join("&"))
        };
        format!("/chat{query}#latest")
    }
}

/// Which cookies a response sets besides the page cookie.
#[derive(Clone, Copy, Default)]
struct Cookies {
    /// The session cookie: renewed after a turn, or new.
    session: bool,
    /// The mark that this browser's data was deleted.
    forgot: bool,
    /// Answer a post without JavaScript with a redirect (post/redirect/get).
    redirect: bool,
}

/// What a post asks for, read before any limit or check.
struct Asked {
    /// What goes to the engine; `None` for an empty message.
    input: Option<Input>,
    said: Said,
    /// It may be a cry for help: it is answered whatever the limits or checks say.
    crisis: bool,
    /// The message was longer than `MAX_MESSAGE_CHARS`.
    cut: bool,
}

/// What the person did, as their side of the conversation shows it.
enum Said {
    Text(String),
    Button(String),
    Command(&'static str),
}

impl App {
    fn words<'a>(&'a self, locale: &'a LocaleId) -> Words<'a> {
        Words::new(self.engine.content(), locale)
    }

    fn default_locale(&self) -> LocaleId {
        self.engine.content().default_locale.clone()
    }

    fn secure(&self, headers: &HeaderMap) -> bool {
        self.config.secure_cookie
            || self
                .config
                .public_url
                .as_ref()
                .is_some_and(PublicUrl::is_https)
            || guard::forwarded_https(headers)
    }

    fn public_origin(&self) -> Option<&str> {
        self.config.public_url.as_ref().map(PublicUrl::origin)
    }

    fn notice_text(&self, words: &Words<'_>, notice: Notice) -> String {
        words
            .get(notice.key())
            .replace("{max}", &thousands(MAX_MESSAGE_CHARS))
    }

    /// The chat response for `view`: a page, a redirect to one, or JSON for the script.
    fn respond(
        &self,
        mode: Mode,
        status: StatusCode,
        id: &SessionId,
        view: View,
        request: &HeaderMap,
        cookies: Cookies,
    ) -> Response {
        let secure = self.secure(request);
        let mut set = Vec::new();
        if cookies.session {
            set.push(id.cookie(self.store.ttl_secs(), secure));
        }
        if cookies.forgot {
            let mark = id.forgot_tag(&self.store);
            set.push(guard::set_cookie(
                FORGOT_COOKIE,
                &mark,
                "/",
                Some(FORGOT_MARK_SECS),
                secure,
            ));
        }
        let had_page = page_cookie_sent(request);
        let words = self.words(&view.locale);
        let mut response = match mode {
            Mode::Page => {
                // Post/redirect/get: the page to show goes into a cookie the browser keeps,
                // and the browser fetches it, so Back and reload never post again. Only when
                // the browser keeps cookies (it sent one). Every reply fits, a long "tell me
                // more" because the cookie names it (see `history`); a page that did not
                // fit would be answered here, as the last resort.
                let kept = if !cookies.redirect || SessionId::from_headers(request).is_none() {
                    None
                } else if view.history.turns.is_empty() {
                    Some(None)
                } else {
                    view.history
                        .to_cookie(&id.page_tag(&self.store), self.engine.content())
                        .map(Some)
                };
                match kept {
                    Some(value) => {
                        set.extend(page_cookies(value.as_deref(), secure));
                        (StatusCode::SEE_OTHER, [(LOCATION, view.location())]).into_response()
                    }
                    None => {
                        if had_page && cookies.redirect {
                            // An older page must not come back after this one.
                            set.extend(page_cookies(None, secure));
                        }
                        html(status, self.page(&words, id, &view))
                    }
                }
            }
            Mode::Json => {
                if had_page {
                    // The script keeps the page itself; a copy from before must not return.
                    set.extend(page_cookies(None, secure));
                }
                let (_, newest) = view.history.split_newest();
                let body = serde_json::json!({
                    "html": if view.answered { render::newest_html(&words, newest) } else { String::new() },
                    "log": if view.keep_log { None } else { Some(view.history.encode()) },
                    "csrf": id.csrf_token(&self.store),
                    "crisis": view.crisis,
                    "reset": view.reset,
                    "notice": view.notice.map(|n| self.notice_text(&words, n)).unwrap_or_default(),
                });
                (
                    status,
                    [(CONTENT_TYPE, "application/json")],
                    body.to_string(),
                )
                    .into_response()
            }
        };
        for cookie in set {
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(SET_COOKIE, value);
            }
        }
        response
    }

    fn page(&self, words: &Words<'_>, id: &SessionId, view: &View) -> String {
        let log = view.history.encode();
        let csrf = id.csrf_token(&self.store);
        let (earlier, newest) = view.history.split_newest();
        let notice = view.notice.map(|n| self.notice_text(words, n));
        let page = render::ChatPage {
            earlier: &earlier,
            newest,
            csrf: &csrf,
            log: &log,
            campaign: view.campaign.as_deref().unwrap_or_default(),
            notice: notice.as_deref(),
            crisis: view.crisis,
            restore: view.restore,
        };
        render::chat_page(words, &page)
    }

    /// The conversation the browser keeps in its page cookie, if it is this session's.
    fn kept(&self, headers: &HeaderMap, id: Option<&SessionId>) -> Option<History> {
        let value = guard::cookie(headers, PAGE_COOKIE)?;
        History::from_cookie(value, &id?.page_tag(&self.store), self.engine.content())
    }

    /// Reads a post: what to give the engine, what the person's side shows, and whether it
    /// may be a cry for help. The whole message is checked, however long.
    fn read(&self, form: &ChatForm, locale: &LocaleId) -> Asked {
        if let Some(value) = form.action.as_deref().filter(|v| !v.is_empty()) {
            let crisis = matches!(
                Action::decode(value),
                Some(Action::Helplines | Action::CrisisNeedHelp)
            );
            return Asked {
                input: Some(Input::Button(value.to_owned())),
                said: Said::Button(value.to_owned()),
                crisis,
                cut: false,
            };
        }
        if let Some(name) = form.command.as_deref().filter(|c| !c.is_empty()) {
            let (command, label) = match name {
                "mydata" => (Command::MyData, "web.my_data"),
                "forget" => (Command::Forget, "web.forget"),
                "privacy" => (Command::Privacy, "web.privacy"),
                "about" => (Command::About, "web.about"),
                "help" => (Command::Help, "button.get_help_now"),
                _ => (Command::Menu, "button.menu"),
            };
            return Asked {
                input: Some(Input::Command(command)),
                said: Said::Command(label),
                crisis: false,
                cut: false,
            };
        }
        let message = form.message.as_deref().unwrap_or_default().trim();
        if message.is_empty() {
            return Asked {
                input: None,
                said: Said::Text(String::new()),
                crisis: false,
                cut: false,
            };
        }
        let matcher = self.engine.matcher();
        let crisis = cpu_bound(|| matcher.analyse(locale, message).crisis != CrisisSignal::None);
        let cut = message.chars().count() > MAX_MESSAGE_CHARS;
        let input = if !crisis {
            Input::from_text(&message.chars().take(MAX_MESSAGE_CHARS).collect::<String>())
        } else if !cut {
            // Text, never a command: "/start i want to die" gets the crisis reply.
            Input::Text(message.to_owned())
        } else {
            // The engine reads at most MAX_MESSAGE_CHARS characters: give it the part where
            // the cry for help is, or, if no part shows it alone, ask for help outright.
            crisis_part(matcher, locale, message).map_or_else(
                || Input::Button(Action::CrisisNeedHelp.encode()),
                Input::Text,
            )
        };
        Asked {
            input: Some(input),
            said: Said::Text(history::shorten(message, MAX_MESSAGE_CHARS)),
            crisis,
            cut,
        }
    }

    /// The person's side of the turn.
    fn said(&self, said: &Said, history: &History, words: &Words<'_>) -> Option<Entry> {
        match said {
            Said::Text(text) => Some(Entry::person(text)),
            Said::Button(value) => history.label_for(value).map(Entry::person),
            Said::Command(key) => Some(Entry::person(&words.get(key))),
        }
    }

    /// Saves or forgets after the engine has answered, and counts the topic shown.
    async fn after(&self, key: &crate::store::UserKey, outcome: &Outcome, now: u64) {
        let saved = match outcome.effect {
            Effect::Forget => self.store.forget(key).await,
            Effect::None => self.store.save(key, &outcome.session).await,
        };
        if let Err(e) = saved {
            tracing::error!(user = %key.log_label(), error = %e, "cannot save a web session");
        }
        self.count(outcome, now).await;
    }

    /// Counts what this turn showed: anonymous, by day, start-link campaign and topic.
    async fn count(&self, outcome: &Outcome, now: u64) {
        for cell in crate::counts::cells(outcome, now) {
            if let Err(e) = self.store.count(&cell).await {
                tracing::error!(error = %e, "cannot count");
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

/// The stretch of at most `MAX_MESSAGE_CHARS` characters of a long `message` that shows a cry
/// for help most clearly on its own: the first with a clear signal, else the first with a
/// signal worth a check question. Stretches overlap by half, so any phrase shorter than half a
/// stretch lies wholly inside one.
fn crisis_part(
    matcher: &crate::matcher::Matcher,
    locale: &LocaleId,
    message: &str,
) -> Option<String> {
    let chars: Vec<char> = message.chars().collect();
    let step = MAX_MESSAGE_CHARS / 2;
    let mut start = 0;
    let mut worth_a_check = None;
    loop {
        let end = (start + MAX_MESSAGE_CHARS).min(chars.len());
        let part: String = chars[start..end].iter().collect();
        match matcher.analyse(locale, &part).crisis {
            CrisisSignal::Clear { .. } => return Some(part),
            CrisisSignal::Ambiguous if worth_a_check.is_none() => worth_a_check = Some(part),
            _ => {}
        }
        if end == chars.len() {
            return worth_a_check;
        }
        start += step;
    }
}

/// 4096 as "4,096".
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn slow_down(mut response: Response, wait: Duration) -> Response {
    let secs = wait.as_secs().max(1).to_string();
    if let Ok(value) = HeaderValue::from_str(&secs) {
        response.headers_mut().insert(RETRY_AFTER, value);
    }
    response
}

/// `GET /` and `GET /chat`: the conversation. After a post without JavaScript, or on reload,
/// it is the page the browser keeps in its page cookie, shown as it is (nothing runs, nothing
/// is stored; a reply the cookie names is rendered again from content). Otherwise a new visit
/// gets the welcome, `?start=` a start link as on Telegram, and a return visit the menu,
/// without storing anything, so a place in a flow is kept.
async fn chat_page(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    query: Result<Query<PageQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    // A garbled query is a plain visit: a start link never turns into an error.
    let query = query.map_or_else(|_| PageQuery::default(), |Query(q)| q);
    let notice = query.n.as_deref().and_then(Notice::from_short);
    let existing = SessionId::from_headers(&headers);
    let id = match existing.clone().map_or_else(SessionId::random, Ok) {
        Ok(id) => id,
        Err(e) => return app.failure(&e),
    };
    let now = crate::now_secs();
    let key = app.store.key(Channel::Web, id.as_str());
    let loaded = match &existing {
        Some(_) => app.store.load(&key, now).await,
        None => Ok(None),
    };
    let remembers = loaded.is_ok();
    let stored = loaded.unwrap_or_default();
    let notice = notice.or((!remembers).then_some(Notice::NoMemory));
    let start = query.start.filter(|s| !s.is_empty());
    let cookies = Cookies {
        session: true,
        ..Cookies::default()
    };
    if start.is_none()
        && let Some(history) = app.kept(&headers, existing.as_ref())
    {
        let crisis = query.c.is_some() || stored.as_ref().is_some_and(|s| s.crisis_turns_left > 0);
        let locale = stored.map_or_else(|| app.default_locale(), |s| s.locale);
        let view = View {
            crisis,
            ..View::new(locale, history).with_notice(notice)
        };
        return app.respond(Mode::Page, StatusCode::OK, &id, view, &headers, cookies);
    }
    let client = guard::client_ip(peer.ip(), &headers, &app.config.trusted_proxies);
    if let Err(wait) = app.limiter.address(&app.store, client).await {
        let view =
            View::new(app.default_locale(), History::default()).with_notice(Some(Notice::SlowDown));
        let response = app.respond(
            Mode::Page,
            StatusCode::TOO_MANY_REQUESTS,
            &id,
            view,
            &headers,
            cookies,
        );
        return slow_down(response, wait);
    }
    let command = match (start, &stored) {
        (Some(payload), _) => Command::Start(Some(payload)),
        (None, None) => Command::Start(None),
        (None, Some(_)) => Command::Menu,
    };
    let returning = matches!(command, Command::Menu);
    let had_session = stored.is_some();
    let session = stored.unwrap_or_else(|| app.engine.fresh_session(now));
    let outcome = app.engine.handle(session, Input::Command(command), now);
    // A first visit with nothing to remember stores nothing: a crawler or a curious click
    // leaves no record behind. A return visit only shows the menu.
    let fresh = Session {
        last_seen: outcome.session.last_seen,
        campaign: outcome.session.campaign.clone(),
        ..app.engine.fresh_session(now)
    };
    // A messaging app drawing the preview of a shared link is not a person starting a chat:
    // it is neither counted nor remembered.
    let previewer = guard::previews_links(&headers) && !had_session;
    // Nothing is saved over a session that could not be read: it may still be there.
    if previewer {
        tracing::debug!("a link preview: not counted");
    } else if returning || !remembers {
        app.count(&outcome, now).await;
    } else if had_session || outcome.session != fresh {
        app.after(&key, &outcome, now).await;
    } else {
        app.count(&outcome, now).await;
    }
    let mut history = History::default();
    history.push(outcome.replies.iter().map(Entry::from_reply).collect());
    let view = View {
        restore: returning,
        ..View::turn(&outcome, history, false).with_notice(notice)
    };
    app.respond(Mode::Page, StatusCode::OK, &id, view, &headers, cookies)
}

/// `POST /chat`: one message or button press. A message that may be a cry for help is read
/// first, whole, and always answered with the crisis reply: before any rate limit, length
/// limit or check of where it came from (a post that fails those changes nothing stored).
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
    let client = guard::client_ip(peer.ip(), &headers, &app.config.trusted_proxies);
    // A refusal sets a cookie only for a browser that has none yet, and never echoes the
    // post: it shows the conversation the browser itself keeps, if any.
    let refusal_cookies = Cookies {
        session: cookie_id.is_none(),
        redirect: true,
        ..Cookies::default()
    };
    let kept = || {
        let history = match mode {
            Mode::Page => app.kept(&headers, cookie_id.as_ref()),
            Mode::Json => None,
        };
        history.unwrap_or_default()
    };
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => {
            // Nothing could be read, so there is nothing to check: say so kindly, with the
            // way to help still on screen.
            let (status, notice) = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                (StatusCode::PAYLOAD_TOO_LARGE, Notice::TooBig)
            } else {
                (StatusCode::BAD_REQUEST, Notice::Problem)
            };
            let view = View {
                keep_log: true,
                ..View::new(default_locale, kept()).with_notice(Some(notice))
            };
            return app.respond(mode, status, &id, view, &headers, refusal_cookies);
        }
    };
    let now = crate::now_secs();
    let key = app.store.key(Channel::Web, id.as_str());
    let loaded = match &cookie_id {
        Some(_) => app.store.load(&key, now).await,
        None => Ok(None),
    };
    let remembers = loaded.is_ok();
    let stored = loaded.unwrap_or_default();
    let locale = stored
        .as_ref()
        .map_or_else(|| default_locale.clone(), |s| s.locale.clone());
    let asked = app.read(&form, &locale);
    let trust = guard::check_post(
        &headers,
        cookie_id.as_ref(),
        &form.csrf,
        &app.store,
        app.config.public_url.as_ref(),
    );
    if let Err(refused) = &trust {
        tracing::warn!(
            cause = refused.cause.as_str(),
            detail = %refused.detail,
            answered_as_crisis = asked.crisis,
            "a web post was refused"
        );
    }
    if asked.crisis {
        // Counted, so a flood stays visible to the limits, but never turned away.
        let _ = app.limiter.session(&app.store, &id).await;
        let _ = app.limiter.address(&app.store, client).await;
    } else {
        let limited = match &trust {
            Ok(()) => match app.limiter.session(&app.store, &id).await {
                Ok(()) => app.limiter.address(&app.store, client).await,
                Err(wait) => Err(wait),
            },
            Err(_) => app.limiter.address(&app.store, client).await,
        };
        let crisis = stored.as_ref().is_some_and(|s| s.crisis_turns_left > 0);
        let page_history = || match &trust {
            Ok(()) => History::parse(&form.log),
            Err(_) => kept(),
        };
        let refusal = |status: StatusCode, notice: Notice| {
            let view = View {
                keep_log: true,
                crisis,
                reset: notice == Notice::Refused(Refusal::Deleted),
                ..View::new(locale.clone(), page_history()).with_notice(Some(notice))
            };
            let cookies = match &trust {
                Ok(()) => Cookies {
                    redirect: true,
                    ..Cookies::default()
                },
                Err(_) => refusal_cookies,
            };
            app.respond(mode, status, &id, view, &headers, cookies)
        };
        if let Err(wait) = limited {
            return slow_down(
                refusal(StatusCode::TOO_MANY_REQUESTS, Notice::SlowDown),
                wait,
            );
        }
        if let Err(refused) = &trust {
            return refusal(StatusCode::FORBIDDEN, Notice::Refused(refused.cause));
        }
        if asked.input.is_none() {
            return refusal(StatusCode::UNPROCESSABLE_ENTITY, Notice::Empty);
        }
    }
    let Some(input) = asked.input else {
        // Not reached: an empty message is never a cry for help, and is answered above.
        let view = View::new(locale, History::default()).with_notice(Some(Notice::Empty));
        return app.respond(
            mode,
            StatusCode::UNPROCESSABLE_ENTITY,
            &id,
            view,
            &headers,
            refusal_cookies,
        );
    };
    let trusted = trust.is_ok();
    let history = if trusted {
        History::parse(&form.log)
    } else {
        kept()
    };
    let mut session = stored.unwrap_or_else(|| app.engine.fresh_session(now));
    if trusted && session.campaign.is_none() {
        session.campaign = crate::deeplink::campaign_code(&form.campaign);
    }
    let outcome = cpu_bound(|| app.engine.handle(session, input, now));
    if trusted && remembers {
        app.after(&key, &outcome, now).await;
    } else if trusted {
        // "Forget me" must still reach the store if it can; nothing else is saved over a
        // session that could not be read.
        if outcome.effect == Effect::Forget
            && let Err(e) = app.store.forget(&key).await
        {
            tracing::error!(user = %key.log_label(), error = %e, "cannot erase a web session");
        }
        app.count(&outcome, now).await;
    }
    tracing::debug!(user = %key.log_label(), replies = outcome.replies.len(), trusted, "web turn");
    let replies: Vec<Entry> = outcome.replies.iter().map(Entry::from_reply).collect();
    let notice = match &trust {
        Err(refused) => Some(Notice::Refused(refused.cause)),
        Ok(()) => asked
            .cut
            .then_some(Notice::Cut)
            .or((!remembers).then_some(Notice::NoMemory)),
    };
    if outcome.effect == Effect::Forget {
        // Everything is gone: the page's history too, and the cookie gets a new id. An older
        // tab's page is then refused with the reason (the mark).
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
        let view = View::turn(&outcome, history, true).with_notice(notice);
        let cookies = Cookies {
            session: true,
            forgot: true,
            redirect: true,
        };
        return app.respond(mode, StatusCode::OK, &new_id, view, &headers, cookies);
    }
    let words = app.words(&outcome.session.locale);
    // A post that was not this page's own is answered, but never echoed.
    let said = if trusted {
        app.said(&asked.said, &history, &words)
    } else {
        None
    };
    let mut history = history;
    history.push(said.into_iter().chain(replies).collect());
    let view = View {
        crisis: outcome.crisis_active,
        reset: notice == Some(Notice::Refused(Refusal::Deleted)),
        ..View::turn(&outcome, history, false).with_notice(notice)
    };
    let cookies = Cookies {
        session: trusted || cookie_id.is_none(),
        redirect: true,
        ..Cookies::default()
    };
    app.respond(mode, StatusCode::OK, &id, view, &headers, cookies)
}

/// "Leave this page quickly" without JavaScript: forget the page the browser keeps, then go
/// to an everyday page. (The script goes there at once and tells us with `leave_quietly`.)
async fn leave(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(LOCATION, render::EXIT_URL)]).into_response();
    clear_page_cookie(&app, &headers, &mut response);
    response
}

async fn leave_quietly(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    clear_page_cookie(&app, &headers, &mut response);
    response
}

fn clear_page_cookie(app: &App, headers: &HeaderMap, response: &mut Response) {
    for cookie in page_cookies(None, app.secure(headers)) {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
}

/// The `Set-Cookie` value that keeps `value` as the page cookie, or clears it (`None`). A
/// session cookie: it goes when the browser closes.
fn page_cookies(value: Option<&str>, secure: bool) -> Vec<String> {
    let value = value.unwrap_or_default();
    let max_age = value.is_empty().then_some(0);
    vec![guard::set_cookie(
        PAGE_COOKIE,
        value,
        "/chat",
        max_age,
        secure,
    )]
}

fn page_cookie_sent(headers: &HeaderMap) -> bool {
    guard::cookie(headers, PAGE_COOKIE).is_some()
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
    let body = render::topic_page(
        &words,
        content,
        &locale,
        topic,
        audience,
        app.public_origin(),
    );
    shareable(html(StatusCode::OK, body))
}

/// `GET /topics`: every topic with its title and id, for people writing links by hand.
async fn topics_page(State(app): State<Arc<App>>) -> Response {
    let locale = app.default_locale();
    let body = render::topics_page(&app.words(&locale), app.engine.content());
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
