//! Privacy end to end, through the real binary: a scripted conversation on Telegram (the fake
//! Bot API) and on the web chat (real HTTP), full of distinctive words, names, ids, a location
//! and a contact; then every byte of the data folder is scanned for them, and every line the
//! bot logged (at trace level, dependencies at debug, with the fake failing calls in every way
//! it can) too. `/privacy` must say what the code does, `/mydata` must show exactly the stored
//! record, and `/forget` must erase everything about the person on both channels.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use rightsbot::engine::{Command, Engine, Input};
use rightsbot::store::{Channel, Store};
use serde_json::{Value, json};

use crate::fake_telegram::{BOT_USERNAME, FakeTelegram, Fault, Sent, TOKEN};
use crate::live_bot::{LiveBot, Needle, Options, content, findings, scan_folder, ui};

/// The person on Telegram: every identifying thing about them is distinctive, so a scan can
/// find it anywhere.
const USER: i64 = 8_642_097_531;
const FIRST_NAME: &str = "Zebulonia";
const LAST_NAME: &str = "Quarterfield";
const USERNAME: &str = "zq_private_person";
/// A group they add the bot to.
const GROUP: i64 = -1_008_642_097_599;
const GROUP_TITLE: &str = "Kestrel Ward Friends";
/// The location and contact they send.
const LATITUDE: &str = "52.123456";
const LONGITUDE: &str = "-1.987654";
const PHONE: &str = "+447700900987";
const CONTACT_FIRST: &str = "Philomena";
const CONTACT_LAST: &str = "Gatsbyward";
const CONTACT_ID: i64 = 8_642_097_532;

/// What they type (each distinctive, each meant to reach the engine).
const TELEGRAM_TEXTS: &[&str] = &[
    "can my nan Ottoline visit me on ward Kestrel",
    "they took my phone Quixotically",
    "i want to die Zanzibar",
];
const CAPTION: &str = "can they restrain me Marmalade";
const WEB_TEXTS: &[&str] = &[
    "can my brother Thaddeus visit me",
    "i want to die Xylograph",
];

/// Every identifying thing about the Telegram person and the web person.
fn needles(web_ids: &[String]) -> Vec<Needle> {
    let mut n = Vec::new();
    for t in TELEGRAM_TEXTS.iter().chain(WEB_TEXTS).chain([&CAPTION]) {
        n.push(Needle::text("message text", t));
        // The distinctive (capitalised) words alone, in case text is kept cut up or
        // normalised; the scan ignores case.
        for word in t.split(' ').filter(|w| w.starts_with(char::is_uppercase)) {
            n.push(Needle::text("a word someone typed", word));
        }
    }
    for (what, s) in [
        ("first name", FIRST_NAME),
        ("last name", LAST_NAME),
        ("username", USERNAME),
        ("group title", GROUP_TITLE),
        ("latitude", LATITUDE),
        ("longitude", LONGITUDE),
        ("longitude", &LONGITUDE[1..]),
        ("phone number", PHONE),
        ("phone number", &PHONE[1..]),
        ("contact's first name", CONTACT_FIRST),
        ("contact's last name", CONTACT_LAST),
    ] {
        n.push(Needle::text(what, s));
    }
    n.extend(Needle::number("user id", USER));
    n.extend(Needle::number("group id", GROUP));
    n.extend(Needle::number("contact's user id", CONTACT_ID));
    for id in web_ids {
        n.push(Needle::text("web session id", id));
    }
    n
}

/// Everything that must never be logged: the above, and the bot token in every form.
fn log_needles(web_ids: &[String]) -> Vec<Needle> {
    let mut n = needles(web_ids);
    let secret = TOKEN.split_once(':').expect("a token has a colon").1;
    n.push(Needle::text("bot token", TOKEN));
    n.push(Needle::text(
        "bot token (URL-encoded)",
        &TOKEN.replace(':', "%3A"),
    ));
    n.push(Needle::text("bot token's secret part", secret));
    n
}

// ----- Telegram updates from the person -----

static NEXT_MESSAGE_ID: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(500);

fn message_id() -> i64 {
    NEXT_MESSAGE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn person() -> Value {
    json!({"id": USER, "is_bot": false, "first_name": FIRST_NAME, "last_name": LAST_NAME,
        "username": USERNAME, "language_code": "en"})
}

fn private_message(extra: Value) -> Value {
    let mut m = json!({
        "message_id": message_id(),
        "date": 1_700_000_000,
        "chat": {"id": USER, "type": "private", "first_name": FIRST_NAME,
            "last_name": LAST_NAME, "username": USERNAME},
        "from": person(),
    });
    for (k, v) in extra.as_object().expect("an object") {
        m[k] = v.clone();
    }
    m
}

/// Sends one update from the person and returns what the bot sent them for it.
async fn send(fake: &FakeTelegram, kind: &str, payload: Value) -> Vec<Sent> {
    let before = fake.sent_to(USER).len();
    let id = fake.push(kind, payload);
    fake.wait_done(id).await;
    fake.sent_to(USER)[before..].to_vec()
}

async fn say(fake: &FakeTelegram, text: &str) -> Vec<Sent> {
    let extra = crate::fake_telegram::text_fields(text);
    send(fake, "message", private_message(extra)).await
}

async fn tap(fake: &FakeTelegram, on: &Sent, label: &str) -> Vec<Sent> {
    let data = on
        .data_for(label)
        .unwrap_or_else(|| panic!("no button {label:?} in {:?}", on.labels()));
    let query = json!({
        "id": format!("q{}", message_id()),
        "from": person(),
        "chat_instance": "ci",
        "data": data,
        "message": {"message_id": message_id(), "date": 1_700_000_000,
            "chat": {"id": USER, "type": "private", "first_name": FIRST_NAME},
            "from": {"id": 777, "is_bot": true, "first_name": "Rights", "username": BOT_USERNAME},
            "text": "an earlier message"},
    });
    send(fake, "callback_query", query).await
}

/// The record a `/mydata` reply shows (the last paragraph).
fn shown_record(text: &str) -> String {
    text.rsplit("\n\n").next().unwrap_or_default().to_owned()
}

/// The Telegram half of the conversation, up to and including a last `/mydata`, whose shown
/// record it returns. Also returns every update id it caused.
async fn telegram_conversation(fake: &FakeTelegram) -> String {
    let welcome = say(fake, "/start").await;
    tap(fake, &welcome[0], &ui("audience.parent")).await;
    for t in TELEGRAM_TEXTS {
        assert!(!say(fake, t).await.is_empty(), "no reply to {t:?}");
    }
    let photo = json!([{"file_id": "p1", "file_unique_id": "pu1", "width": 9, "height": 9}]);
    assert!(
        !send(
            fake,
            "message",
            private_message(json!({"photo": photo, "caption": CAPTION}))
        )
        .await
        .is_empty()
    );
    let location = json!({"location": {"latitude": LATITUDE.parse::<f64>().unwrap(),
        "longitude": LONGITUDE.parse::<f64>().unwrap()}});
    let replies = send(fake, "message", private_message(location)).await;
    assert!(replies[0].text.contains(&ui("nontext")));
    let contact = json!({"contact": {"phone_number": PHONE, "first_name": CONTACT_FIRST,
        "last_name": CONTACT_LAST, "user_id": CONTACT_ID}});
    let replies = send(fake, "message", private_message(contact)).await;
    assert!(replies[0].text.contains(&ui("nontext")));
    let edit = json!({"text": "i want to die Zanzibar", "edit_date": 1_700_000_100});
    send(fake, "edited_message", private_message(edit)).await;
    let group = json!({"message_id": message_id(), "date": 1_700_000_000,
        "chat": {"id": GROUP, "type": "supergroup", "title": GROUP_TITLE},
        "from": person(), "text": "/start"});
    let id = fake.push("message", group);
    fake.wait_done(id).await;
    assert_eq!(fake.sent_to(GROUP).len(), 1, "one note in the group");

    let privacy = say(fake, "/privacy").await;
    check_privacy_text(&privacy[0].text);
    let mydata = say(fake, "/mydata").await;
    assert!(mydata[0].text.starts_with(&ui("mydata.plain")));
    assert!(mydata[0].text.contains(&ui("mydata.intro")));
    shown_record(&mydata[0].text)
}

/// The privacy page says what is kept, for how long, who can see it, and that Telegram holds
/// the chat, and each of those is what the code does.
fn check_privacy_text(text: &str) {
    let page = &content().pages[&rightsbot::ids::PageId::parse("privacy").unwrap()];
    assert!(text.contains(&page.title), "{text}");
    for (what, words) in [
        ("what is kept", "What I keep"),
        (
            "what is never kept",
            "your messages, your name, your username or your phone number",
        ),
        (
            "how long (the default expiry)",
            "30 days after your last message",
        ),
        ("how to see it", "/mydata"),
        ("how to delete it", "/forget"),
        ("who can see it", "Who can see it"),
        (
            "that Telegram holds the chat",
            "Telegram itself keeps your chat",
        ),
        ("the anonymous counts", "counts"),
        ("the web chat's cookie", "cookie"),
    ] {
        assert!(
            text.contains(words),
            "/privacy does not say {what} ({words:?}):\n{text}"
        );
    }
    // The default it promises is the default the binary uses.
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_rightsbot"))
        .arg("--help")
        .output()
        .expect("the binary runs");
    let help = String::from_utf8_lossy(&help.stdout);
    let days = help
        .split_once("--session-days")
        .map(|(_, rest)| rest.split("\n  -").next().unwrap_or(rest))
        .unwrap_or_default();
    assert!(
        days.contains("default: 30"),
        "the session expiry default changed:\n{help}"
    );
}

// ----- the web chat -----

/// A person with a browser without JavaScript, as the web tests drive one: keeps its
/// cookies, posts back the page's hidden fields and follows the redirect after each post.
struct Browser {
    person: crate::web::Person,
    site: Local,
}

/// The bot's web chat on a loopback port.
struct Local(String);

impl crate::web::Site for Local {
    fn origin(&self) -> String {
        self.0.clone()
    }
}

impl Browser {
    async fn open(port: u16) -> Browser {
        let site = Local(format!("http://127.0.0.1:{port}"));
        let person = crate::web::Person::arrive(&site, "/").await;
        Browser { person, site }
    }

    async fn say(&mut self, text: &str) -> StatusCode {
        self.person.say(&self.site, text).await
    }

    async fn command(&mut self, name: &str) -> StatusCode {
        self.person.command(&self.site, name).await
    }

    async fn press(&mut self, label: &str) -> StatusCode {
        self.person.press(&self.site, label).await
    }

    fn session_id(&self) -> String {
        self.person.session_id()
    }

    /// The page as text (entities decoded, tags left in).
    fn text(&self) -> String {
        self.person.text()
    }

    /// The stored record the last `/mydata` shows: the JSON object after the intro.
    fn shown_record(&self) -> String {
        let text = self.text();
        let start = text.rfind("{\"version\"").expect("a record on the page");
        let mut depth = 0;
        for (i, c) in text[start..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return text[start..start + i + 1].to_owned();
                    }
                }
                _ => {}
            }
        }
        panic!("an unfinished record on the page")
    }
}

/// The web half of the conversation, ending with `/mydata`; returns the browser.
async fn web_conversation(port: u16) -> Browser {
    let mut b = Browser::open(port).await;
    assert_eq!(b.press(&ui("audience.young_person")).await, StatusCode::OK);
    for t in WEB_TEXTS {
        assert_eq!(b.say(t).await, StatusCode::OK, "{t:?}");
    }
    assert!(
        b.text().contains(&ui("crisis.title")),
        "the web crisis reply"
    );
    assert_eq!(b.command("privacy").await, StatusCode::OK);
    let privacy = b.text();
    let page = &content().pages[&rightsbot::ids::PageId::parse("privacy").unwrap()];
    for paragraph in page
        .text
        .for_audience(rightsbot::ids::Audience::YoungPerson)
        .split("\n\n")
    {
        assert!(
            privacy.contains(paragraph.trim()),
            "the web chat's /privacy lacks {paragraph:?}"
        );
    }
    assert_eq!(b.command("mydata").await, StatusCode::OK);
    b
}

/// Opens the stopped bot's store, waiting while sled still releases its lock.
async fn open_store(data: &Path) -> Store {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        match Store::open(data, 30 * 24 * 60 * 60) {
            Ok(store) => return store,
            Err(e) => {
                assert!(std::time::Instant::now() < deadline, "{e:#}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}

/// The stored record, exactly as kept.
async fn stored_record(store: &Store, channel: Channel, user: &str) -> Option<String> {
    store
        .raw_record(&store.key(channel, user))
        .await
        .map(|r| String::from_utf8(r).expect("records are UTF-8 JSON"))
}

/// Every record in the store that mentions the person's key, and the delivery log's records
/// of `updates`.
async fn anything_about(
    store: &Store,
    channel: Channel,
    user: &str,
    updates: &[u32],
) -> Vec<String> {
    let key = store.key(channel, user);
    let mut found = Vec::new();
    let hex = key.hex();
    for (k, v) in store.dump().await.unwrap() {
        let mentions = |b: &[u8]| {
            b.windows(32).any(|w| w == key.as_bytes())
                || b.windows(hex.len()).any(|w| w == hex.as_bytes())
        };
        if mentions(&k) || mentions(&v) {
            found.push(format!(
                "a record {:?} holds the person's key",
                String::from_utf8_lossy(&k)
            ));
        }
    }
    for &update in updates {
        if store.delivery(update).await != rightsbot::store::Delivery::New {
            found.push(format!("the delivery log holds their update {update}"));
        }
    }
    found
}

fn assert_no_findings(findings: Vec<String>, context: &str) {
    assert!(findings.is_empty(), "{context}:\n{}", findings.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_identifying_is_stored_mydata_is_exact_and_forget_erases_everything() {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let options = || Options {
        web: true,
        ..Options::default()
    };
    let mut bot = LiveBot::start(&fake, &data, options()).await;
    let port = bot.web_port.expect("the web chat is on");

    let telegram_shown = telegram_conversation(&fake).await;
    let browser = web_conversation(port).await;
    let web_shown = browser.shown_record();
    let web_id = browser.session_id();
    assert!(fake.refusals().is_empty(), "{:?}", fake.refusals());
    assert!(bot.stop().await, "exit 0 on SIGTERM:\n{}", bot.log());

    // The per-install secret is readable by its owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("secret.key"))
            .expect("a secret file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "secret.key is {:o}", mode & 0o777);
    }
    // /mydata showed exactly what is stored, on both channels (the Telegram one in the
    // middle of a crisis, when the help button's countdown changes as the reply is made).
    {
        let store = open_store(&data).await;
        assert_eq!(
            stored_record(&store, Channel::Telegram, &USER.to_string())
                .await
                .as_deref(),
            Some(telegram_shown.as_str()),
            "Telegram's /mydata"
        );
        assert!(
            !telegram_shown.contains("\"crisis_turns_left\":0"),
            "{telegram_shown}"
        );
        assert_eq!(
            stored_record(&store, Channel::Web, &web_id)
                .await
                .as_deref(),
            Some(web_shown.as_str()),
            "the web chat's /mydata"
        );
    }
    assert_no_findings(
        scan_folder(&data, &needles(std::slice::from_ref(&web_id))),
        "the data folder holds something identifying",
    );

    // Forget, on both channels, after a restart on the same folder.
    let mut bot = LiveBot::start(&fake, &data, options()).await;
    let port = bot.web_port.expect("the web chat is on");
    let first_update = fake.confirmed_below();
    let ask = say(&fake, "/forget").await;
    assert!(ask[0].text.contains(&ui("forget.ask")));
    let done = tap(&fake, &ask[0], &ui("forget.yes")).await;
    assert!(done[0].text.contains(&ui("forget.done")), "{done:?}");
    let last_update = fake.confirmed_below();
    let mut browser = Browser::open(port).await;
    browser.person.jar.set("rightsbot_session", &web_id, "/");
    browser.person.get(&browser.site, "/").await;
    assert_eq!(browser.command("forget").await, StatusCode::OK);
    assert_eq!(browser.press(&ui("forget.yes")).await, StatusCode::OK);
    assert!(browser.text().contains(&ui("forget.done")));
    assert_ne!(browser.session_id(), web_id, "a new id after forgetting");
    assert!(bot.stop().await, "exit 0 on SIGTERM:\n{}", bot.log());

    let every_update: Vec<u32> = (1000..last_update.max(first_update)).collect();
    {
        let store = open_store(&data).await;
        assert_no_findings(
            anything_about(&store, Channel::Telegram, &USER.to_string(), &every_update).await,
            "after /forget on Telegram",
        );
        assert_no_findings(
            anything_about(&store, Channel::Web, &web_id, &[]).await,
            "after forgetting in the web chat",
        );
        assert_eq!(
            stored_record(&store, Channel::Telegram, &USER.to_string()).await,
            None
        );
        assert_eq!(stored_record(&store, Channel::Web, &web_id).await, None);
    }
    assert_no_findings(
        scan_folder(&data, &needles(&[web_id])),
        "the data folder holds something identifying after /forget",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_at_trace_level_hold_no_text_ids_names_or_token_even_when_telegram_fails() {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut bot = LiveBot::start(
        &fake,
        &data,
        Options {
            rust_log: Some("debug,rightsbot=trace"),
            web: true,
        },
    )
    .await;
    let port = bot.web_port.expect("the web chat is on");
    // Every kind of failure (spread over the calls, so that no one update waits long).
    for (method, fault) in [
        ("sendMessage", Fault::TooManyRequests(1)),
        ("sendMessage", Fault::BadGateway),
        ("sendMessage", Fault::Drop),
        ("getUpdates", Fault::InternalError),
        ("getUpdates", Fault::Hang(Duration::from_secs(5))),
        ("answerCallbackQuery", Fault::InternalError),
        ("answerCallbackQuery", Fault::Drop),
    ] {
        fake.fail_next(method, fault);
    }
    telegram_conversation(&fake).await;
    let browser = web_conversation(port).await;
    let web_id = browser.session_id();
    assert!(bot.stop().await, "exit 0 on SIGTERM");
    let log = bot.log();

    // The log is the strict one asked for, and the failures really happened and were logged.
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "{log}");
    let statuses: Vec<u16> = ["sendMessage", "getUpdates", "answerCallbackQuery"]
        .iter()
        .flat_map(|m| fake.calls(m))
        .map(|c| c.status)
        .collect();
    for status in [429, 502, 500, 0] {
        assert!(statuses.contains(&status), "no call answered {status}");
    }
    assert!(log.contains("retrying"), "no failure was logged:\n{log}");
    assert!(
        log.contains("/bot<token>/") || !log.contains("/bot"),
        "{log}"
    );
    let found = findings("the log", log.as_bytes(), &log_needles(&[web_id]));
    assert!(found.is_empty(), "{}\n\nthe log:\n{log}", found.join("\n"));
    assert!(!log.contains("panicked"), "{log}");
}

/// `/mydata` in the engine shows the record exactly as it will be stored, even while a
/// crisis countdown changes it during the same turn.
#[test]
fn mydata_shows_the_session_as_stored_after_this_turn() {
    let engine = Engine::new(content().clone());
    let now = 1_700_000_000;
    let session = engine.fresh_session(now);
    let outcome = engine.handle(session, Input::Text("i want to die".into()), now);
    assert!(outcome.session.crisis_turns_left > 0);
    let outcome = engine.handle(outcome.session, Input::Command(Command::MyData), now + 5);
    let shown = shown_record(&outcome.replies[0].text);
    assert_eq!(
        shown,
        String::from_utf8(outcome.session.to_record()).unwrap()
    );
}

/// teloxide's dispatcher logs every update it has no handler for (message text included) and
/// its default error handler logs errors whole; its `repl` and polling listener do the same or
/// confirm updates before they are handled. None of them may be used.
#[test]
fn teloxide_s_update_logging_machinery_is_never_used() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let forbidden = [
        "Dispatcher",
        "teloxide::repl",
        "repl_with_listener",
        "LoggingErrorHandler",
        "default_handler",
        "polling_default",
        "update_listeners",
    ];
    let mut found = Vec::new();
    for path in crate::live_bot::walk(&src) {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for word in forbidden {
                if code.contains(word) {
                    found.push(format!("{}:{}: {word}", path.display(), n + 1));
                }
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// A child asking "what do you keep about me?" reads the answer in plain words first, one fact
/// a line, before the stored record (which stays last and exact).
#[test]
fn what_is_kept_is_said_in_plain_words_before_the_record() {
    let engine = Engine::new(content().clone());
    let now = 1_795_996_000; // 29 November 2026
    let mut session = engine.fresh_session(now);
    for text in ["/start", "im a young person", "this place is killing me"] {
        session = engine.handle(session, Input::from_text(text), now).session;
    }
    let outcome = engine.handle(session, Input::Command(Command::MyData), now);
    let text = &outcome.replies[0].text;
    let plain = text.split("\n\n").next().unwrap();
    for fact in [
        "I never keep your messages.",
        "You told me: \u{201c}I'm a young person\u{201d}",
        "Language: English",
        "Replies that will still show the help button: 1",
        "You last wrote on 29 November 2026.",
    ] {
        assert!(plain.contains(fact), "{fact:?} missing from:\n{plain}");
    }
    assert!(
        !plain.contains('{') && !plain.contains('"'),
        "no stored form in the plain words:\n{plain}"
    );
    assert_eq!(
        shown_record(text).as_bytes(),
        outcome.session.to_record(),
        "the record is still shown exactly, last"
    );
}
