//! Odd and hostile Telegram updates, as a table of named cases sent to ONE running bot (the
//! real binary against the fake Bot API), all at once, each case as its own person. Each case must get a sensible reply
//! or a deliberate silence, never cause a Bot API 400 (the fake parses HTML as strictly as
//! Telegram), never take the process down, and never corrupt the person's session: after
//! every case `/mydata` must still answer with a readable record. Failures are collected and
//! reported by case name, so one bad case does not hide the others.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use rightsbot::engine::Session;
use rightsbot::ids::TopicId;
use serde_json::{Value, json};

use crate::fake_telegram::{BOT_USERNAME, FakeTelegram, Sent};
use crate::live_bot::{LiveBot, Options, content, ui};

/// The person cases are written for; each case runs as its own person (see `retarget`).
const USER: i64 = 5_550_700_001;
/// A group and a channel the bot was added to.
const GROUP: i64 = -1_005_550_700_002;
const CHANNEL: i64 = -1_005_550_700_003;
const OTHER_CHANNEL: i64 = -1_005_550_700_005;
/// Another bot writing to ours.
const OTHER_BOT: i64 = 5_550_700_004;

static NEXT_MESSAGE_ID: AtomicI64 = AtomicI64::new(1_000_000);

fn message_id() -> i64 {
    NEXT_MESSAGE_ID.fetch_add(1, Ordering::Relaxed)
}

fn person(id: i64) -> Value {
    json!({"id": id, "is_bot": false, "first_name": "Corpus", "username": "corpus_person"})
}

fn private_chat(id: i64) -> Value {
    json!({"id": id, "type": "private", "first_name": "Corpus", "username": "corpus_person"})
}

fn the_bot() -> Value {
    json!({"id": 777, "is_bot": true, "first_name": "Rights", "username": BOT_USERNAME})
}

/// A message from `USER` in their private chat, with `extra` fields.
fn private_message(extra: Value) -> Value {
    let mut m = json!({
        "message_id": message_id(),
        "date": 1_700_000_000,
        "chat": private_chat(USER),
        "from": person(USER),
    });
    for (k, v) in extra.as_object().expect("an object") {
        m[k] = v.clone();
    }
    m
}

type Update = (&'static str, Value);

fn text(t: &str) -> Update {
    let extra = crate::fake_telegram::text_fields(t);
    ("message", private_message(extra))
}

fn media(extra: Value) -> Update {
    ("message", private_message(extra))
}

fn edited(extra: Value) -> Update {
    let mut extra = extra;
    extra["edit_date"] = json!(1_700_000_100);
    ("edited_message", private_message(extra))
}

/// A press on a button under one of the bot's messages, with raw `data` (or none).
fn press(data: Option<&str>) -> Update {
    let mut query = json!({
        "id": format!("q{}", message_id()),
        "from": person(USER),
        "chat_instance": "ci",
        "message": {
            "message_id": message_id(), "date": 1_700_000_000,
            "chat": private_chat(USER), "from": the_bot(), "text": "an earlier message",
        },
    });
    if let Some(d) = data {
        query["data"] = json!(d);
    }
    ("callback_query", query)
}

fn photo() -> Value {
    json!([{"file_id": "p1", "file_unique_id": "pu1", "width": 90, "height": 90}])
}

type Check = Box<dyn Fn(&[Sent]) -> Result<(), String>>;

/// What a case must lead to in the watched chat.
enum Expect {
    /// At least one message, passing the check.
    Reply(Check),
    /// No message at all: a deliberate silence.
    Silence,
    /// Either is sensible (Telegram never sends such an update); only the general rules apply.
    ReplyOrSilence,
}

struct Case {
    name: &'static str,
    updates: Vec<Update>,
    /// The chat whose messages are checked.
    chat: i64,
    expect: Expect,
}

fn case(name: &'static str, update: Update, expect: Expect) -> Case {
    Case {
        name,
        updates: vec![update],
        chat: USER,
        expect,
    }
}

// ----- checks -----

fn texts(sent: &[Sent]) -> String {
    sent.iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// Some message contains the interface string `key`.
fn says(key: &'static str) -> Expect {
    Expect::Reply(Box::new(move |sent| {
        let wanted = ui(key);
        if sent.iter().any(|s| s.text.contains(&wanted)) {
            Ok(())
        } else {
            Err(format!(
                "expected {key:?} ({wanted:?}), got:\n{}",
                texts(sent)
            ))
        }
    }))
}

/// The first message is the crisis reply.
fn crisis() -> Expect {
    Expect::Reply(Box::new(|sent| {
        if sent[0].text.starts_with(&ui("crisis.title")) && sent[0].text.contains("999") {
            Ok(())
        } else {
            Err(format!(
                "expected the crisis reply first, got:\n{}",
                texts(sent)
            ))
        }
    }))
}

fn title(topic: &str) -> String {
    content().topics[&TopicId::parse(topic).expect("an id")]
        .title
        .clone()
}

/// Some message shows the topic, or else the honest "not sure" fallback.
fn topic_or_fallback(topic: &'static str) -> Expect {
    Expect::Reply(Box::new(move |sent| {
        let all = texts(sent);
        let offered = sent.iter().any(|s| s.labels().contains(&title(topic)));
        if all.contains(&title(topic)) || offered || all.contains(&ui("fallback")) {
            Ok(())
        } else {
            Err(format!(
                "expected {topic} (answered or offered) or the fallback, got:\n{all}"
            ))
        }
    }))
}

/// Some message shows the topic.
fn topic(topic: &'static str) -> Expect {
    Expect::Reply(Box::new(move |sent| {
        let all = texts(sent);
        if all.contains(&title(topic)) {
            Ok(())
        } else {
            Err(format!("expected the topic {topic}, got:\n{all}"))
        }
    }))
}

/// Any reply, as long as none of the HTML sent contains `raw` (what a person typed must never
/// come back as live markup).
fn reply_without_raw(raw: &[&str]) -> Expect {
    let raw: Vec<String> = raw.iter().map(|r| r.to_string()).collect();
    Expect::Reply(Box::new(move |sent| {
        for s in sent {
            for r in &raw {
                if s.html.contains(r) {
                    return Err(format!("{r:?} came back as markup: {}", s.html));
                }
            }
        }
        Ok(())
    }))
}

fn any_reply() -> Expect {
    Expect::Reply(Box::new(|_| Ok(())))
}

/// The one "private chats only" note, with a link to the bot.
fn private_only_note() -> Expect {
    Expect::Reply(Box::new(|sent| {
        let link = format!("https://t.me/{BOT_USERNAME}");
        if sent.len() == 1 && sent[0].text.contains(&link) && sent[0].buttons.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "expected one note with {link}, got:\n{}",
                texts(sent)
            ))
        }
    }))
}

// ----- the corpus -----

fn corpus() -> Vec<Case> {
    let long_question: String = "can my mum visit me on the ward "
        .chars()
        .cycle()
        .take(4096)
        .collect();
    let long_word = "a".repeat(500);
    let overlong_data = format!("1:t:{}", "a".repeat(200));
    let overlong_link = format!("/start {}", "t_visiting-".repeat(30));
    let crisis_at_the_end = format!("{}i want to die", "blah ".repeat(800));
    vec![
        // --- text ---
        case("empty text", text(""), Expect::ReplyOrSilence),
        case("only whitespace", text(" \n\t  "), Expect::ReplyOrSilence),
        case("4096 characters", text(&long_question), any_reply()),
        case(
            "a crisis at the end of a long message",
            text(&crisis_at_the_end),
            crisis(),
        ),
        case("only emoji", text("😭😭🙏🏽👩‍👧‍👦"), any_reply()),
        case(
            "zero-width characters inside words",
            text("can\u{200B} my\u{200D} mum\u{2060} visit\u{FEFF} me"),
            topic_or_fallback("visiting"),
        ),
        case(
            "right-to-left marks and overrides",
            text("\u{202E}can my mum visit me\u{202C}\u{200F}\u{200E}"),
            topic_or_fallback("visiting"),
        ),
        case(
            "only direction marks",
            text("\u{202E}\u{202D}\u{200F}"),
            Expect::ReplyOrSilence,
        ),
        case(
            "control characters",
            text("can my mum\u{0000}\u{0007}\u{001B}[31m visit\u{007F} me\r\n"),
            topic_or_fallback("visiting"),
        ),
        case(
            "HTML and a script that could be echoed",
            text("<script>alert('x')</script><b>bold</b> &amp; &lt; can they restrain me"),
            reply_without_raw(&["<script", "<b>bold"]),
        ),
        case(
            "a javascript link",
            text("<a href=\"javascript:alert(1)\">visiting</a>"),
            reply_without_raw(&["<a href=\"javascript"]),
        ),
        case(
            "Telegram's own tags, unbalanced",
            text("</b><i><tg-spoiler>visit"),
            reply_without_raw(&["</b><i>"]),
        ),
        case(
            "a 500-character word",
            text(&long_word),
            reply_without_raw(&[&long_word]),
        ),
        case(
            "homoglyphs: Cyrillic letters in restraint",
            text("can they rеstrаint me"),
            topic_or_fallback("restraint"),
        ),
        case(
            "combining accents",
            text("can my mu\u{0308}m vi\u{0301}sit me"),
            topic_or_fallback("visiting"),
        ),
        case("only digits", text("0000000000000000000000"), any_reply()),
        case("SQL", text("'; DROP TABLE sessions; --"), any_reply()),
        case(
            "format strings",
            text("%s%s%n {0} {{}} ${HOME} \\u0000"),
            any_reply(),
        ),
        case(
            "a forged session record",
            text("{\"version\":1,\"audience\":\"advocate\",\"locale\":\"en\"}"),
            any_reply(),
        ),
        case("an unknown command", text("/sudo rm -rf /"), any_reply()),
        case(
            "a command for this bot by name",
            text(&format!("/start@{BOT_USERNAME}")),
            says("welcome"),
        ),
        case(
            "a command for another bot",
            text("/menu@some_other_bot"),
            any_reply(),
        ),
        // --- start links ---
        case(
            "a start link with illegal characters",
            text("/start t_visiting<script>"),
            says("welcome"),
        ),
        case(
            "a start link with a path",
            text("/start ../../etc/passwd"),
            says("welcome"),
        ),
        case(
            "an overlong start link",
            text(&overlong_link),
            says("welcome"),
        ),
        case(
            "a start link to unknown things",
            text("/start t_no_such_topic-a_alien-l_zz-c_"),
            says("welcome"),
        ),
        case(
            "a start link in Cyrillic",
            text("/start t_визит-a_р"),
            says("welcome"),
        ),
        case(
            "a start link with spaces",
            text("/start t_visiting a_p extra words"),
            says("welcome"),
        ),
        // --- buttons ---
        case(
            "garbage callback data",
            press(Some("garbage")),
            says("out_of_date"),
        ),
        case(
            "overlong callback data",
            press(Some(&overlong_data)),
            says("out_of_date"),
        ),
        case("no callback data", press(None), says("out_of_date")),
        case(
            "a forged topic id",
            press(Some("1:t:no_such_topic")),
            says("out_of_date"),
        ),
        case(
            "a forged 'tell me more'",
            press(Some("1:tm:no_such_topic")),
            says("out_of_date"),
        ),
        case(
            "a forged group",
            press(Some("1:g:no_such_group")),
            says("out_of_date"),
        ),
        case(
            "a forged flow",
            press(Some("1:f:no_such_flow")),
            says("out_of_date"),
        ),
        case(
            "a forged flow step",
            press(Some("1:fs:restriction_check:no_such_step")),
            says("out_of_date"),
        ),
        case(
            "a forged page",
            press(Some("1:p:no_such_page")),
            says("out_of_date"),
        ),
        case(
            "an unknown language",
            press(Some("1:l:zz")),
            says("out_of_date"),
        ),
        case(
            "an unknown audience",
            press(Some("1:a:alien")),
            says("out_of_date"),
        ),
        case(
            "'yes, delete' never asked for",
            press(Some("1:fy")),
            says("out_of_date"),
        ),
        case(
            "an old button version",
            press(Some("0:m")),
            says("out_of_date"),
        ),
        case(
            "markup in callback data",
            press(Some("1:t:<b>x</b>")),
            says("out_of_date"),
        ),
        case(
            "a button with no message (inline)",
            (
                "callback_query",
                json!({"id": "qi", "from": person(USER), "chat_instance": "ci",
                    "inline_message_id": "im1", "data": "1:m"}),
            ),
            Expect::Silence,
        ),
        // --- update kinds ---
        case(
            "an edited message",
            edited(json!({"text": "can my mum visit me"})),
            Expect::Silence,
        ),
        case(
            "an edited message that says i want to kill myself",
            edited(json!({"text": "i want to kill myself"})),
            crisis(),
        ),
        case(
            "an edited caption that says i want to die",
            edited(json!({"photo": photo(), "caption": "i want to die"})),
            crisis(),
        ),
        Case {
            name: "a channel post",
            updates: vec![(
                "channel_post",
                json!({"message_id": message_id(), "date": 1_700_000_000,
                    "chat": {"id": CHANNEL, "type": "channel", "title": "Ward news"},
                    "sender_chat": {"id": CHANNEL, "type": "channel", "title": "Ward news"},
                    "text": "can my mum visit"}),
            )],
            chat: CHANNEL,
            expect: private_only_note(),
        },
        Case {
            name: "an edited channel post",
            updates: vec![(
                "edited_channel_post",
                json!({"message_id": message_id(), "date": 1_700_000_000, "edit_date": 1_700_000_100,
                    "chat": {"id": OTHER_CHANNEL, "type": "channel", "title": "Ward news"},
                    "text": "edited"}),
            )],
            chat: OTHER_CHANNEL,
            expect: Expect::Silence,
        },
        Case {
            name: "a group message, then another",
            updates: vec![
                (
                    "message",
                    json!({"message_id": message_id(), "date": 1_700_000_000,
                        "chat": {"id": GROUP, "type": "group", "title": "Ward chat"},
                        "from": person(USER), "text": "/start"}),
                ),
                (
                    "message",
                    json!({"message_id": message_id(), "date": 1_700_000_000,
                        "chat": {"id": GROUP, "type": "group", "title": "Ward chat"},
                        "from": person(USER), "text": "am i sectioned"}),
                ),
            ],
            chat: GROUP,
            expect: private_only_note(),
        },
        case(
            "a message from another bot",
            (
                "message",
                json!({"message_id": message_id(), "date": 1_700_000_000,
                    "chat": private_chat(OTHER_BOT),
                    "from": {"id": OTHER_BOT, "is_bot": true, "first_name": "Spam", "username": "spam_bot"},
                    "text": "/start"}),
            ),
            Expect::Silence,
        ),
        case(
            "an inline query",
            (
                "inline_query",
                json!({"id": "iq1", "from": person(USER), "query": "restraint", "offset": ""}),
            ),
            Expect::Silence,
        ),
        case(
            "a chosen inline result",
            (
                "chosen_inline_result",
                json!({"result_id": "r1", "from": person(USER), "query": "restraint"}),
            ),
            Expect::Silence,
        ),
        case(
            "a poll answer",
            (
                "poll_answer",
                json!({"poll_id": "p1", "user": person(USER), "option_ids": [0]}),
            ),
            Expect::Silence,
        ),
        case(
            "an update kind from the future",
            ("hologram_message", json!({"id": 1, "depth": "infinite"})),
            Expect::Silence,
        ),
        case(
            "a membership change that is not a block",
            (
                "my_chat_member",
                json!({"chat": private_chat(USER), "from": person(USER), "date": 1_700_000_000,
                    "old_chat_member": {"user": the_bot(), "status": "member"},
                    "new_chat_member": {"user": the_bot(), "status": "member"}}),
            ),
            Expect::Silence,
        ),
        case(
            "a service message (a pinned message)",
            media(
                json!({"pinned_message": {"message_id": 1, "date": 1_700_000_000,
                "chat": private_chat(USER), "from": person(USER), "text": "old"}}),
            ),
            Expect::Silence,
        ),
        // --- not text ---
        case("a photo", media(json!({"photo": photo()})), says("nontext")),
        case(
            "a sticker",
            media(
                json!({"sticker": {"file_id": "s1", "file_unique_id": "su1", "type": "regular",
                "width": 512, "height": 512, "is_animated": false, "is_video": false}}),
            ),
            says("nontext"),
        ),
        case(
            "a voice message",
            media(
                json!({"voice": {"file_id": "v1", "file_unique_id": "vu1", "duration": 3,
                "mime_type": "audio/ogg"}}),
            ),
            says("nontext"),
        ),
        case(
            "a location",
            media(json!({"location": {"latitude": 51.50101, "longitude": -0.14159}})),
            says("nontext"),
        ),
        case(
            "a contact",
            media(json!({"contact": {"phone_number": "+447700900123", "first_name": "Alex"}})),
            says("nontext"),
        ),
        case(
            "a venue",
            media(json!({"location": {"latitude": 51.5, "longitude": -0.1},
                "venue": {"location": {"latitude": 51.5, "longitude": -0.1},
                    "title": "Ward 7", "address": "1 Hospital Road"}})),
            says("nontext"),
        ),
        case(
            "a document",
            media(json!({"document": {"file_id": "d1", "file_unique_id": "du1"}})),
            says("nontext"),
        ),
        case(
            "a video note",
            media(
                json!({"video_note": {"file_id": "n1", "file_unique_id": "nu1",
                "length": 240, "duration": 2}}),
            ),
            says("nontext"),
        ),
        case(
            "a poll",
            media(json!({"poll": {"id": "p2", "question": "ok?", "options": [
                {"text": "yes", "voter_count": 0}], "total_voter_count": 0, "is_closed": false,
                "is_anonymous": true, "type": "regular", "allows_multiple_answers": false}})),
            says("nontext"),
        ),
        case(
            "a dice",
            media(json!({"dice": {"emoji": "🎲", "value": 3}})),
            says("nontext"),
        ),
        case(
            "a photo captioned i want to die",
            media(json!({"photo": photo(), "caption": "i want to die"})),
            crisis(),
        ),
        case(
            "a photo captioned with a question",
            media(json!({"photo": photo(), "caption": "can my mum visit me"})),
            topic("visiting"),
        ),
        case(
            "a caption with markup",
            media(json!({"photo": photo(), "caption": "<script>x</script> visiting"})),
            reply_without_raw(&["<script"]),
        ),
    ]
}

/// Waits (generously) until the bot confirms update `id`, which it does only once it has
/// finished with it.
async fn handled(fake: &FakeTelegram, id: u32) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while fake.confirmed_below() <= id {
        if Instant::now() > deadline {
            return Err(format!("update {id} was not handled within 120 s"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// The messages to `chat` that Telegram refused (a 400), with why.
fn refusals_in(fake: &FakeTelegram, chat: i64) -> Vec<String> {
    fake.calls("sendMessage")
        .into_iter()
        .filter(|c| c.status == 400 && c.body["chat_id"].as_i64() == Some(chat))
        .map(|c| c.body.to_string())
        .collect()
}

/// Replaces `USER` by `user` everywhere in an update.
fn retarget(value: &mut Value, user: i64) {
    match value {
        Value::Number(n) if n.as_i64() == Some(USER) => *value = json!(user),
        Value::Array(items) => items.iter_mut().for_each(|v| retarget(v, user)),
        Value::Object(fields) => fields.values_mut().for_each(|v| retarget(v, user)),
        _ => {}
    }
}

/// Sends and checks one case as `user` (who stands in for `USER`); `Err` says what went wrong.
async fn run_case(fake: &FakeTelegram, case: Case, user: i64) -> Result<(), String> {
    let chat = if case.chat == USER { user } else { case.chat };
    let before = fake.sent_to(chat).len();
    let ids: Vec<u32> = case
        .updates
        .into_iter()
        .map(|(kind, mut payload)| {
            retarget(&mut payload, user);
            fake.push(kind, payload)
        })
        .collect();
    for id in ids {
        handled(fake, id).await?;
    }
    let sent = fake.sent_to(chat)[before..].to_vec();
    let refused = refusals_in(fake, chat);
    if !refused.is_empty() {
        return Err(format!("Telegram refused the bot's message: {refused:?}"));
    }
    match case.expect {
        Expect::Silence if !sent.is_empty() => {
            return Err(format!("expected silence, got:\n{}", texts(&sent)));
        }
        Expect::Reply(_) if sent.is_empty() => return Err("expected a reply, got none".into()),
        Expect::Reply(check) => check(&sent)?,
        _ => {}
    }
    // The process is up, answers a normal message, and the session still loads.
    let before = fake.sent_to(user).len();
    let (kind, mut payload) = text("/mydata");
    retarget(&mut payload, user);
    let id = fake.push(kind, payload);
    handled(fake, id)
        .await
        .map_err(|e| format!("afterwards, /mydata: {e}"))?;
    let replies = fake.sent_to(user)[before..].to_vec();
    let [reply] = replies.as_slice() else {
        return Err(format!(
            "afterwards, /mydata gave {} messages:\n{}",
            replies.len(),
            texts(&replies)
        ));
    };
    let record = reply.text.rsplit("\n\n").next().unwrap_or_default();
    if Session::from_record(record.as_bytes()).is_none() {
        return Err(format!(
            "afterwards, /mydata shows no readable session: {}",
            reply.text
        ));
    }
    let refused = refusals_in(fake, user);
    if !refused.is_empty() {
        return Err(format!("Telegram refused /mydata: {refused:?}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_odd_and_hostile_updates_never_break_the_bot() {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut bot = LiveBot::start(&fake, &dir.path().join("data"), Options::default()).await;
    let cases = corpus();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "case names must be unique");

    // Each case is its own person (and its own group or channel), so all of them can run at
    // once: Telegram's limit of one message a second per chat, which the bot keeps, would
    // make them take minutes one after another.
    let runs = cases.into_iter().enumerate().map(|(n, case)| {
        let fake = &fake;
        let name = case.name;
        let user = USER + 1000 + n as i64;
        async move { (name, run_case(fake, case, user).await) }
    });
    let mut failures: Vec<String> = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .filter_map(|(name, result)| result.err().map(|why| format!("case {name:?}: {why}")))
        .collect();
    if !bot.is_running() {
        failures.push("the bot process died".into());
    }
    if !fake.refusals().is_empty() {
        failures.push(format!("Telegram refused: {:?}", fake.refusals()));
    }
    let log = bot.log();
    if bot.is_running() {
        assert!(bot.stop().await, "exit 0 on SIGTERM:\n{log}");
    }
    let log = bot.log();
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}\n\nbot log:\n{log}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(!log.contains("panicked"), "a panic:\n{log}");
}
