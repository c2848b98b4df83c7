//! A fake Telegram Bot API on loopback, strict where Telegram is strict: it parses HTML the
//! way Telegram does and refuses bad entities, texts over 4096 characters and callback data
//! over 64 bytes with a 400, confirms updates only through getUpdates' `offset`, and can be
//! told to misbehave (429 with retry_after, 5xx, a timeout, a dropped connection, a user who
//! blocked the bot). In strict mode (`enforce_limits`) it also keeps Telegram's rate limits,
//! answering 429 with retry_after to a message over them. It records everything the bot sent,
//! as a person would see it, and every call in the order it arrived, and when each update was
//! queued and first handed to the bot (the benchmarks' "available" and "fetched").

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::Notify;

pub const TOKEN: &str = "123456:TEST-token_SeCrEt";
pub const BOT_USERNAME: &str = "rights_test_bot";

/// How the next call of a method misbehaves.
#[derive(Clone, Debug)]
pub enum Fault {
    /// 429 with `parameters.retry_after`.
    TooManyRequests(u32),
    /// 502 with an HTML body, as a proxy in front of Telegram gives.
    BadGateway,
    /// 500 with Telegram's JSON error.
    InternalError,
    /// No answer for this long (longer than the bot's timeout).
    Hang(Duration),
    /// The connection drops in the middle of the answer.
    Drop,
}

/// Telegram's rate limits for messages, as the strict fake keeps them.
#[derive(Clone, Copy, Debug)]
pub struct RateLimits {
    /// Messages accepted in any one second, all chats together.
    pub overall_per_sec: usize,
    /// Messages a private chat may get at once...
    pub chat_burst: f64,
    /// ...and then one a second.
    pub chat_per_sec: f64,
    /// Messages a group or channel may get in any one minute.
    pub group_per_min: usize,
}

impl RateLimits {
    /// About 30 messages a second overall, one a second per private chat after a short burst
    /// (Telegram tolerates one without saying how long: three here), 20 a minute per group.
    pub const TELEGRAM: RateLimits = RateLimits {
        overall_per_sec: 30,
        chat_burst: 3.0,
        chat_per_sec: 1.0,
        group_per_min: 20,
    };
}

/// What the strict fake has counted against the limits.
#[derive(Default)]
struct Meter {
    /// When each message of the last second was accepted.
    overall: VecDeque<Instant>,
    /// Each private chat's allowance: messages it may still get at once, as of then.
    chats: HashMap<i64, (f64, Instant)>,
    /// When each message to a group in the last minute was accepted.
    groups: HashMap<i64, VecDeque<Instant>>,
}

/// A message the bot sent (or edited), as the person sees it.
#[derive(Clone, Debug)]
pub struct Sent {
    pub chat: i64,
    /// The text after HTML parsing: what is on screen.
    pub text: String,
    pub html: String,
    pub parse_mode: Option<String>,
    /// Button rows: (label, callback data).
    pub buttons: Vec<Vec<(String, String)>>,
}

impl Sent {
    pub fn labels(&self) -> Vec<String> {
        self.buttons
            .iter()
            .flatten()
            .map(|(l, _)| l.clone())
            .collect()
    }

    pub fn data_for(&self, label: &str) -> Option<String> {
        self.buttons
            .iter()
            .flatten()
            .find(|(l, _)| l == label)
            .map(|(_, d)| d.clone())
    }
}

/// One call the bot made, whatever happened to it.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub body: Value,
    pub at: Instant,
    /// The status the fake answered with (0 for a drop or a hang).
    pub status: u16,
}

/// When an update became available and when getUpdates first handed it to the bot.
#[derive(Clone, Copy, Debug)]
pub struct Timeline {
    pub queued: Instant,
    pub handed_out: Option<Instant>,
}

#[derive(Default)]
struct World {
    pending: VecDeque<Value>,
    timelines: HashMap<u32, Timeline>,
    next_update_id: u32,
    next_message_id: i64,
    /// Everything below this update id is confirmed.
    confirmed_below: u32,
    sent: Vec<Sent>,
    calls: Vec<Call>,
    /// (method, only for this chat, fault)
    faults: VecDeque<(String, Option<i64>, Fault)>,
    limits: Option<RateLimits>,
    meter: Meter,
    blocked: HashSet<i64>,
    /// 400s the fake gave, with why: the bot must never cause one.
    refusals: Vec<String>,
    /// Chats whose sendMessage calls are held (unanswered, unrecorded) after this many more.
    hold_after: std::collections::HashMap<i64, usize>,
    held: usize,
    webhook: Option<(String, Option<String>)>,
}

#[derive(Clone)]
pub struct FakeTelegram {
    pub api_url: String,
    world: Arc<Mutex<World>>,
    news: Arc<Notify>,
}

impl FakeTelegram {
    pub async fn start() -> FakeTelegram {
        let world = Arc::new(Mutex::new(World {
            next_update_id: 1000,
            next_message_id: 1,
            confirmed_below: 0,
            ..World::default()
        }));
        let fake = FakeTelegram {
            api_url: String::new(),
            world,
            news: Arc::new(Notify::new()),
        };
        let app = Router::new().fallback(api).with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeTelegram {
            api_url: format!("http://{addr}/"),
            ..fake
        }
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    // ----- what people do -----

    /// Queues any update (`kind` is its field name, such as "message" or "inline_query").
    pub fn push(&self, kind: &str, payload: Value) -> u32 {
        let id = {
            let mut w = self.world();
            let id = w.next_update_id;
            w.next_update_id += 1;
            w.pending.push_back(json!({"update_id": id, kind: payload}));
            let timeline = Timeline {
                queued: Instant::now(),
                handed_out: None,
            };
            w.timelines.insert(id, timeline);
            id
        };
        self.news.notify_waiters();
        id
    }

    fn next_message_id(&self) -> i64 {
        let mut w = self.world();
        w.next_message_id += 1;
        w.next_message_id
    }

    fn private_chat(user: i64) -> Value {
        json!({"id": user, "type": "private", "first_name": "Sam", "username": format!("user{user}")})
    }

    fn user(user: i64) -> Value {
        json!({"id": user, "is_bot": false, "first_name": "Sam", "username": format!("user{user}")})
    }

    fn message(&self, user: i64, extra: Value) -> Value {
        let mut m = json!({
            "message_id": self.next_message_id(),
            "date": 1_700_000_000,
            "chat": Self::private_chat(user),
            "from": Self::user(user),
        });
        for (k, v) in extra.as_object().expect("an object") {
            m[k] = v.clone();
        }
        m
    }

    /// Any update at all, as Telegram might send it (kinds from a newer API, broken ones).
    pub fn raw(&self, kind: &str, payload: Value) -> u32 {
        self.push(kind, payload)
    }

    /// A person types `text` in their private chat with the bot.
    pub fn text(&self, user: i64, text: &str) -> u32 {
        let m = self.message(user, text_fields(text));
        self.push("message", m)
    }

    /// A person edits an earlier message.
    pub fn edited(&self, user: i64, text: &str) -> u32 {
        let m = self.message(user, json!({"text": text, "edit_date": 1_700_000_100}));
        self.push("edited_message", m)
    }

    pub fn sticker(&self, user: i64) -> u32 {
        let m = self.message(
            user,
            json!({"sticker": {"file_id": "s1", "file_unique_id": "u1", "type": "regular",
                "width": 512, "height": 512, "is_animated": false, "is_video": false}}),
        );
        self.push("message", m)
    }

    pub fn location(&self, user: i64) -> u32 {
        let m = self.message(
            user,
            json!({"location": {"latitude": 51.50101, "longitude": -0.14159}}),
        );
        self.push("message", m)
    }

    pub fn contact(&self, user: i64) -> u32 {
        let m = self.message(
            user,
            json!({"contact": {"phone_number": "+447700900123", "first_name": "Alex", "user_id": 999}}),
        );
        self.push("message", m)
    }

    /// A photo with a caption: the caption is words the person typed.
    pub fn photo(&self, user: i64, caption: &str) -> u32 {
        let m = self.message(
            user,
            json!({"photo": [{"file_id": "p1", "file_unique_id": "pu1", "width": 90, "height": 90}],
                "caption": caption}),
        );
        self.push("message", m)
    }

    /// Another bot writes to ours.
    pub fn bot_message(&self, user: i64, text: &str) -> u32 {
        let mut m = self.message(user, json!({"text": text}));
        m["from"]["is_bot"] = json!(true);
        self.push("message", m)
    }

    /// A post in a channel the bot was added to.
    pub fn channel_post(&self, channel: i64, text: &str) -> u32 {
        let m = json!({
            "message_id": self.next_message_id(),
            "date": 1_700_000_000,
            "chat": {"id": channel, "type": "channel", "title": "Ward news"},
            "text": text,
        });
        self.push("channel_post", m)
    }

    /// Someone writes in a group the bot is in.
    pub fn group_text(&self, group: i64, user: i64, text: &str) -> u32 {
        let m = json!({
            "message_id": self.next_message_id(),
            "date": 1_700_000_000,
            "chat": {"id": group, "type": "supergroup", "title": "Ward chat"},
            "from": Self::user(user),
            "text": text,
        });
        self.push("message", m)
    }

    /// A person presses a button with callback `data` under one of the bot's messages.
    pub fn press(&self, user: i64, data: &str) -> u32 {
        let query_id = format!("q{}", self.next_message_id());
        let message = json!({
            "message_id": self.next_message_id(),
            "date": 1_700_000_000,
            "chat": Self::private_chat(user),
            "from": {"id": 777, "is_bot": true, "first_name": "Rights", "username": BOT_USERNAME},
            "text": "an earlier message",
        });
        self.push(
            "callback_query",
            json!({"id": query_id, "from": Self::user(user), "message": message,
                "chat_instance": "ci", "data": data}),
        )
    }

    /// A person blocks the bot.
    pub fn block(&self, user: i64) -> u32 {
        self.world().blocked.insert(user);
        let member = |status: &str| json!({"user": {"id": 777, "is_bot": true, "first_name": "Rights", "username": BOT_USERNAME}, "status": status});
        let mut kicked = member("kicked");
        kicked["until_date"] = json!(0);
        self.push(
            "my_chat_member",
            json!({"chat": Self::private_chat(user), "from": Self::user(user), "date": 1_700_000_000,
                "old_chat_member": member("member"), "new_chat_member": kicked}),
        )
    }

    /// Messages to this user fail with 403 "bot was blocked", without an update saying so.
    pub fn blocked_silently(&self, user: i64) {
        self.world().blocked.insert(user);
    }

    pub fn unblock(&self, user: i64) {
        self.world().blocked.remove(&user);
    }

    // ----- misbehaving -----

    pub fn fail_next(&self, method: &str, fault: Fault) {
        self.world()
            .faults
            .push_back((method.to_owned(), None, fault));
    }

    /// Like `fail_next`, for the next message to `chat` only.
    pub fn fail_next_message_to(&self, chat: i64, fault: Fault) {
        self.world()
            .faults
            .push_back(("sendMessage".to_owned(), Some(chat), fault));
    }

    /// Strict mode: from now on a message over `limits` gets 429 with retry_after, as
    /// Telegram's would.
    pub fn enforce_limits(&self, limits: RateLimits) {
        self.world().limits = Some(limits);
    }

    /// Lets `n` more messages reach `chat`, then holds the rest, unanswered and unrecorded,
    /// until `release`: as if the network to Telegram hung right there.
    pub fn hold_after(&self, chat: i64, n: usize) {
        self.world().hold_after.insert(chat, n);
    }

    pub fn release(&self) {
        self.world().hold_after.clear();
    }

    pub fn held(&self) -> usize {
        self.world().held
    }

    // ----- what the bot did -----

    pub fn sent(&self) -> Vec<Sent> {
        self.world().sent.clone()
    }

    pub fn sent_to(&self, chat: i64) -> Vec<Sent> {
        self.world()
            .sent
            .iter()
            .filter(|s| s.chat == chat)
            .cloned()
            .collect()
    }

    pub fn calls(&self, method: &str) -> Vec<Call> {
        self.world()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// Every call from the `n`th on (all methods), for a reader that keeps its place.
    pub fn calls_since(&self, n: usize) -> Vec<Call> {
        self.world().calls.get(n..).unwrap_or_default().to_vec()
    }

    /// When update `id` was queued and first handed out.
    pub fn timeline(&self, id: u32) -> Option<Timeline> {
        self.world().timelines.get(&id).copied()
    }

    pub fn refusals(&self) -> Vec<String> {
        self.world().refusals.clone()
    }

    pub fn confirmed_below(&self) -> u32 {
        self.world().confirmed_below
    }

    pub fn webhook(&self) -> Option<(String, Option<String>)> {
        self.world().webhook.clone()
    }

    /// Waits (up to a generous minute) until `check` holds.
    pub async fn wait_until(&self, what: &str, check: impl Fn(&FakeTelegram) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !check(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the bot has confirmed update `id`: it confirms only what it has finished,
    /// so everything it was going to send for it has been sent.
    pub async fn wait_done(&self, id: u32) {
        self.wait_until(&format!("update {id} to be confirmed"), |f| {
            f.confirmed_below() > id
        })
        .await;
    }

    /// Sends `text` as `user`, waits until it is handled, and returns the messages it got.
    pub async fn say(&self, user: i64, text: &str) -> Vec<Sent> {
        let before = self.sent_to(user).len();
        let id = self.text(user, text);
        self.wait_done(id).await;
        self.sent_to(user)[before..].to_vec()
    }

    /// Presses the button labelled `label` on `message`, waits, returns the replies.
    pub async fn tap(&self, user: i64, message: &Sent, label: &str) -> Vec<Sent> {
        let data = message
            .data_for(label)
            .unwrap_or_else(|| panic!("no button {label:?} in {:?}", message.labels()));
        self.tap_data(user, &data).await
    }

    pub async fn tap_data(&self, user: i64, data: &str) -> Vec<Sent> {
        let before = self.sent_to(user).len();
        let id = self.press(user, data);
        self.wait_done(id).await;
        self.sent_to(user)[before..].to_vec()
    }
}

// ----- the HTTP side -----

/// The text fields of a multipart/form-data body (teloxide sends setWebhook that way), as JSON.
fn multipart(body: &[u8]) -> Value {
    let text = String::from_utf8_lossy(body);
    let mut fields = serde_json::Map::new();
    for part in text
        .split("Content-Disposition: form-data; name=\"")
        .skip(1)
    {
        let Some((name, rest)) = part.split_once('"') else {
            continue;
        };
        let Some((_, value)) = rest.split_once("\r\n\r\n") else {
            continue;
        };
        let value = value.split("\r\n--").next().unwrap_or_default();
        fields.insert(name.to_owned(), Value::String(value.to_owned()));
    }
    Value::Object(fields)
}

/// Whether this sendMessage is to be held; counts it against its chat's allowance if not.
fn must_hold(fake: &FakeTelegram, body: &Value) -> bool {
    let chat = body["chat_id"].as_i64().unwrap_or_default();
    let mut w = fake.world();
    match w.hold_after.get_mut(&chat) {
        Some(0) => true,
        Some(n) => {
            *n -= 1;
            false
        }
        None => false,
    }
}

/// Counts a held request for as long as it is held.
struct Held(FakeTelegram);

impl Held {
    fn new(fake: &FakeTelegram) -> Held {
        fake.world().held += 1;
        Held(fake.clone())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.world().held -= 1;
    }
}

fn ok(result: Value) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({"ok": true, "result": result})),
    )
        .into_response()
}

fn error(status: StatusCode, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"ok": false, "error_code": status.as_u16(), "description": description})),
    )
        .into_response()
}

async fn api(State(fake): State<FakeTelegram>, uri: Uri, body: Bytes) -> Response {
    let mut segments = uri.path().rsplit('/');
    // Telegram's method names are case-insensitive (teloxide sends "SendMessage"): record
    // them as the documentation spells them.
    let raw = segments.next().unwrap_or_default();
    let mut chars = raw.chars();
    let method: String = chars
        .next()
        .map(|c| c.to_ascii_lowercase())
        .into_iter()
        .chain(chars)
        .collect();
    if segments.next() != Some(&format!("bot{TOKEN}")) {
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or_else(|_| multipart(&body));
    let fault = {
        let mut w = fake.world();
        let chat = body["chat_id"].as_i64();
        let at = w
            .faults
            .iter()
            .position(|(m, only, _)| *m == method && only.is_none_or(|c| Some(c) == chat));
        at.and_then(|i| w.faults.remove(i)).map(|(_, _, f)| f)
    };
    let record = |status: u16| {
        fake.world().calls.push(Call {
            method: method.clone(),
            body: body.clone(),
            at: Instant::now(),
            status,
        });
    };
    if let Some(fault) = fault {
        return match fault {
            Fault::TooManyRequests(after) => {
                record(429);
                too_many_requests(after)
            }
            Fault::BadGateway => {
                record(502);
                (
                    StatusCode::BAD_GATEWAY,
                    "<html><body>502 Bad Gateway</body></html>",
                )
                    .into_response()
            }
            Fault::InternalError => {
                record(500);
                error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
            Fault::Hang(d) => {
                record(0);
                tokio::time::sleep(d).await;
                error(StatusCode::INTERNAL_SERVER_ERROR, "too late")
            }
            Fault::Drop => {
                record(0);
                let broken = futures_util::stream::once(async {
                    Err::<Bytes, _>(std::io::Error::other("connection dropped"))
                });
                Response::new(Body::from_stream(broken))
            }
        };
    }
    if method == "sendMessage" && must_hold(&fake, &body) {
        // Held sends never reach "Telegram": they wait, unrecorded, until released (or until
        // the bot dies and the connection with it, which drops this future and the guard).
        let _held = Held::new(&fake);
        while must_hold(&fake, &body) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    if method == "sendMessage"
        && let Some(after) = over_limits(&fake, &body)
    {
        record(429);
        return too_many_requests(after);
    }
    let response = answer(&fake, &method, &body).await;
    record(response.status().as_u16());
    response
}

fn too_many_requests(retry_after: u32) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        axum::Json(json!({"ok": false, "error_code": 429,
            "description": format!("Too Many Requests: retry after {retry_after}"),
            "parameters": {"retry_after": retry_after}})),
    )
        .into_response()
}

/// In strict mode, whether this message is over the limits, and if so the seconds to wait
/// (whole seconds, at least one, as Telegram gives them); if not, it is counted.
fn over_limits(fake: &FakeTelegram, body: &Value) -> Option<u32> {
    let chat = body["chat_id"].as_i64().unwrap_or_default();
    let mut w = fake.world();
    let limits = w.limits?;
    let now = Instant::now();
    let meter = &mut w.meter;
    let second = Duration::from_secs(1);
    while meter
        .overall
        .front()
        .is_some_and(|&t| now.duration_since(t) >= second)
    {
        meter.overall.pop_front();
    }
    let mut wait = Duration::ZERO;
    if meter.overall.len() >= limits.overall_per_sec {
        wait = wait.max(second - now.duration_since(meter.overall[0]));
    }
    let allowance = if chat < 0 {
        let minute = Duration::from_secs(60);
        let sent = meter.groups.entry(chat).or_default();
        while sent
            .front()
            .is_some_and(|&t| now.duration_since(t) >= minute)
        {
            sent.pop_front();
        }
        if sent.len() >= limits.group_per_min {
            wait = wait.max(minute - now.duration_since(sent[0]));
        }
        None
    } else {
        let (left, as_of) = meter
            .chats
            .get(&chat)
            .copied()
            .unwrap_or((limits.chat_burst, now));
        let left = (left + now.duration_since(as_of).as_secs_f64() * limits.chat_per_sec)
            .min(limits.chat_burst);
        if left < 1.0 {
            wait = wait.max(Duration::from_secs_f64((1.0 - left) / limits.chat_per_sec));
        }
        Some(left)
    };
    if !wait.is_zero() {
        return Some(wait.as_secs_f64().ceil().max(1.0) as u32);
    }
    meter.overall.push_back(now);
    match allowance {
        Some(left) => {
            meter.chats.insert(chat, (left - 1.0, now));
        }
        None => meter.groups.entry(chat).or_default().push_back(now),
    }
    None
}

async fn answer(fake: &FakeTelegram, method: &str, body: &Value) -> Response {
    match method {
        "getMe" => ok(json!({"id": 777, "is_bot": true, "first_name": "Rights",
            "username": BOT_USERNAME, "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "can_connect_to_business": false,
            "has_main_web_app": false})),
        "getUpdates" => get_updates(fake, body).await,
        "sendMessage" | "editMessageText" => send_message(fake, body),
        "answerCallbackQuery" | "setMyCommands" | "deleteWebhook" => ok(json!(true)),
        "setWebhook" => {
            let url = body["url"].as_str().unwrap_or_default().to_owned();
            let secret = body["secret_token"].as_str().map(str::to_owned);
            fake.world().webhook = Some((url, secret));
            ok(json!(true))
        }
        _ => error(StatusCode::NOT_FOUND, "Not Found: method not found"),
    }
}

async fn get_updates(fake: &FakeTelegram, body: &Value) -> Response {
    let offset = body["offset"].as_i64().unwrap_or(0).max(0) as u32;
    let limit = body["limit"].as_u64().unwrap_or(100).clamp(1, 100) as usize;
    let timeout = Duration::from_secs(body["timeout"].as_u64().unwrap_or(0));
    let deadline = Instant::now() + timeout;
    loop {
        let news = fake.news.notified();
        {
            let mut w = fake.world();
            if offset > 0 {
                w.confirmed_below = w.confirmed_below.max(offset);
                w.pending
                    .retain(|u| u["update_id"].as_u64().unwrap_or(0) as u32 >= offset);
            }
            let ready: Vec<Value> = w.pending.iter().take(limit).cloned().collect();
            let now = Instant::now();
            for update in &ready {
                let id = update["update_id"].as_u64().unwrap_or(0) as u32;
                if let Some(t) = w.timelines.get_mut(&id) {
                    t.handed_out.get_or_insert(now);
                }
            }
            if !ready.is_empty() || now >= deadline {
                return ok(Value::Array(ready));
            }
        }
        let _ = tokio::time::timeout_at(deadline.into(), news).await;
    }
}

fn send_message(fake: &FakeTelegram, body: &Value) -> Response {
    let Some(chat) = body["chat_id"].as_i64() else {
        return refuse(fake, "Bad Request: chat_id is empty".into());
    };
    if fake.world().blocked.contains(&chat) {
        return error(
            StatusCode::FORBIDDEN,
            "Forbidden: bot was blocked by the user",
        );
    }
    let html = body["text"].as_str().unwrap_or_default().to_owned();
    let parse_mode = body["parse_mode"].as_str().map(str::to_owned);
    let text = if parse_mode.as_deref() == Some("HTML") {
        match parse_html(&html) {
            Ok(t) => t,
            Err(why) => {
                return refuse(fake, format!("Bad Request: can't parse entities: {why}"));
            }
        }
    } else {
        html.clone()
    };
    if text.trim().is_empty() {
        return refuse(fake, "Bad Request: message text is empty".into());
    }
    if text.encode_utf16().count() > 4096 {
        return refuse(fake, "Bad Request: message is too long".into());
    }
    let mut buttons = Vec::new();
    if let Some(rows) = body["reply_markup"]["inline_keyboard"].as_array() {
        for row in rows {
            let mut out = Vec::new();
            for b in row.as_array().into_iter().flatten() {
                let label = b["text"].as_str().unwrap_or_default().to_owned();
                let data = b["callback_data"].as_str().unwrap_or_default().to_owned();
                if label.trim().is_empty() {
                    return refuse(fake, "Bad Request: text buttons are unallowed".into());
                }
                if data.is_empty() || data.len() > 64 {
                    return refuse(fake, "Bad Request: BUTTON_DATA_INVALID".into());
                }
                out.push((label, data));
            }
            buttons.push(out);
        }
    }
    let message_id = fake.next_message_id();
    fake.world().sent.push(Sent {
        chat,
        text: text.clone(),
        html,
        parse_mode,
        buttons,
    });
    let chat_json = if chat < 0 {
        json!({"id": chat, "type": "supergroup", "title": "Ward chat"})
    } else {
        json!({"id": chat, "type": "private", "first_name": "Sam"})
    };
    ok(
        json!({"message_id": message_id, "date": 1_700_000_000, "chat": chat_json,
        "from": {"id": 777, "is_bot": true, "first_name": "Rights", "username": BOT_USERNAME},
        "text": text}),
    )
}

fn refuse(fake: &FakeTelegram, why: String) -> Response {
    fake.world().refusals.push(why.clone());
    error(StatusCode::BAD_REQUEST, &why)
}

/// Parses Telegram's HTML subset and returns the visible text, or why Telegram would refuse it.
pub fn parse_html(html: &str) -> Result<String, String> {
    const TAGS: &[&str] = &[
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "a",
        "code",
        "pre",
        "tg-spoiler",
        "span",
        "blockquote",
        "tg-emoji",
    ];
    let mut out = String::new();
    let mut open: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                let end = rest.find('>').ok_or("unclosed start tag")?;
                let tag = &rest[1..end];
                if let Some(name) = tag.strip_prefix('/') {
                    let name = name.trim();
                    match open.pop() {
                        Some(o) if o == name => {}
                        _ => return Err(format!("unmatched end tag \"{name}\"")),
                    }
                } else {
                    let name = tag.split_whitespace().next().unwrap_or("");
                    if !TAGS.contains(&name) {
                        return Err(format!("unsupported start tag \"{name}\""));
                    }
                    open.push(name.to_owned());
                }
                rest = &rest[end + 1..];
            }
            '&' => {
                let end = rest.find(';').ok_or("unescaped &")?;
                let entity = &rest[1..end];
                let decoded = match entity {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or("bad entity")?,
                    e if e.starts_with('#') => e[1..]
                        .parse::<u32>()
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or("bad entity")?,
                    _ => return Err(format!("unsupported entity \"&{entity};\"")),
                };
                out.push(decoded);
                rest = &rest[end + 1..];
            }
            '>' => return Err("unescaped >".into()),
            c => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if let Some(o) = open.pop() {
        return Err(format!(
            "can't find end tag corresponding to start tag \"{o}\""
        ));
    }
    Ok(out)
}

/// The fields of a text message as Telegram sends them: a leading /command is marked as a
/// bot_command entity (its length in UTF-16 units, as Telegram counts).
pub fn text_fields(text: &str) -> Value {
    let mut extra = json!({"text": text});
    if text.starts_with('/') {
        let len = text
            .split_whitespace()
            .next()
            .unwrap_or("")
            .encode_utf16()
            .count();
        extra["entities"] = json!([{"type": "bot_command", "offset": 0, "length": len}]);
    }
    extra
}
