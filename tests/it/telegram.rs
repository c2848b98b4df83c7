//! The Telegram channel end to end: the real `rightsbot` binary against a fake Bot API on
//! loopback, with a real sled data folder. Every test asserts what a person in the chat would
//! see, and that the bot never made Telegram refuse a message.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rightsbot::content::Content;
use rightsbot::engine::Action;
use rightsbot::ids::TopicId;

use crate::fake_telegram::{BOT_USERNAME, FakeTelegram, Fault, RateLimits, Sent, TOKEN};

fn content() -> &'static Content {
    static CONTENT: std::sync::OnceLock<Content> = std::sync::OnceLock::new();
    CONTENT.get_or_init(|| rightsbot::content::load_embedded().expect("the built-in content loads"))
}

/// An interface string's first line, as it appears on screen.
fn ui(key: &str) -> String {
    let c = content();
    c.ui(&c.default_locale, key)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn topic_title(id: &str) -> String {
    content().topics[&TopicId::parse(id).unwrap()].title.clone()
}

/// Keeps the web chat (when the binary has one) off, so bots in parallel tests do not fight
/// over its port.
fn web_off() -> &'static [&'static str] {
    static HAS_FLAG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let has_flag = *HAS_FLAG.get_or_init(|| {
        let help = Command::new(env!("CARGO_BIN_EXE_rightsbot"))
            .args(["serve", "--help"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        help.contains("--no-http")
    });
    if has_flag { &["--no-http"] } else { &[] }
}

/// The bot as a child process.
struct Bot {
    child: Child,
    log: PathBuf,
}

impl Bot {
    async fn start(fake: &FakeTelegram, data: &Path, extra: &[&str]) -> Bot {
        let before = fake.calls("getUpdates").len() + fake.calls("setWebhook").len();
        let mut bot = Bot::spawn(fake, data, extra);
        let deadline = Instant::now() + Duration::from_secs(60);
        while fake.calls("getUpdates").len() + fake.calls("setWebhook").len() <= before {
            let exited = bot.child.try_wait().unwrap().is_some();
            assert!(
                !exited && Instant::now() < deadline,
                "the bot did not start:\n{}",
                bot.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bot
    }

    fn spawn(fake: &FakeTelegram, data: &Path, extra: &[&str]) -> Bot {
        let log = data.with_extension(format!(
            "{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_rightsbot"))
            .arg("--data")
            .arg(data)
            .args([
                "serve",
                "--telegram-poll-secs",
                "1",
                "--telegram-timeout-secs",
                "3",
            ])
            .args(if extra.contains(&"--http") {
                &[]
            } else {
                web_off()
            })
            .args(extra)
            .env("TELOXIDE_TOKEN", TOKEN)
            .env("TELOXIDE_API_URL", &fake.api_url)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("the binary starts");
        Bot { child, log }
    }

    /// SIGKILL: no chance to clean up.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit; returns whether it exited 0.
    async fn stop(&mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            assert!(Instant::now() < deadline, "the bot did not stop");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log must hold none of these, nor the token.
    fn assert_log_clean(&self, secrets: &[&str]) {
        let log = self.log();
        assert!(!log.contains(TOKEN), "the token is in the log:\n{log}");
        assert!(
            !log.contains("TEST-token"),
            "part of the token is in the log:\n{log}"
        );
        for s in secrets {
            assert!(!log.contains(s), "{s:?} is in the log:\n{log}");
        }
        assert!(!log.contains("panicked"), "a panic:\n{log}");
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every byte under `dir` must be free of these.
fn assert_data_clean(dir: &Path, secrets: &[&str]) {
    for entry in crate::live_bot::walk(dir) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        for s in secrets {
            assert!(!text.contains(s), "{s:?} is stored in {}", entry.display());
        }
    }
}

fn assert_html(messages: &[Sent]) {
    for m in messages {
        assert_eq!(m.parse_mode.as_deref(), Some("HTML"), "{m:?}");
    }
}

fn last(messages: &[Sent]) -> &Sent {
    messages.last().expect("at least one message")
}

async fn setup() -> (FakeTelegram, tempfile::TempDir, Bot) {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start(&fake, &dir.path().join("data"), &[]).await;
    (fake, dir, bot)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_without_a_link_welcomes_and_asks_who_you_are() {
    let (fake, _dir, bot) = setup().await;
    let user = 5_550_001_001;
    let replies = fake.say(user, "/start").await;
    assert_eq!(replies.len(), 1, "{replies:?}");
    let welcome = &replies[0];
    assert!(welcome.text.starts_with(&ui("welcome")), "{}", welcome.text);
    assert!(welcome.text.contains(&ui("audience.ask")));
    assert_eq!(
        welcome.labels(),
        [
            ui("audience.young_person"),
            ui("audience.parent"),
            ui("audience.advocate")
        ]
    );
    assert_html(&replies);
    // The command menu was registered, every command with a description.
    fake.wait_until("setMyCommands", |f| !f.calls("setMyCommands").is_empty())
        .await;
    let commands = &fake.calls("setMyCommands")[0].body["commands"];
    let names: Vec<&str> = commands
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "start", "menu", "help", "about", "privacy", "mydata", "forget", "language", "audience"
        ]
    );
    assert!(
        commands
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c["description"].as_str().unwrap().is_empty())
    );
    assert!(fake.refusals().is_empty(), "{:?}", fake.refusals());
    bot.assert_log_clean(&["5550001001", "user5550001001", "Sam"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_links_open_a_topic_set_the_audience_and_never_fail() {
    let (fake, _dir, bot) = setup().await;
    let visiting = topic_title("visiting");
    let cases: &[(&str, bool, bool)] = &[
        // payload, opens the visiting topic, asks who you are
        ("t_visiting", true, false),
        ("a_parent", false, false),
        ("a_yp", false, false),
        ("l_en", false, true),
        ("c_ward7", false, true),
        ("t_visiting-a_p-l_en-c_ward7", true, false),
        ("t_no_such_topic", false, true),
        ("t_Visiting", false, true),
        ("%3Cscript%3E", false, true),
        // One bad part leaves the good ones: the first audience applies, the repeat is dropped.
        ("a_parent-a_parent", false, false),
        ("a_nobody-t_visiting", true, false),
        (&"x".repeat(100), false, true),
    ];
    for (i, (payload, opens_topic, asks_audience)) in cases.iter().enumerate() {
        let user = 5_550_002_000 + i as i64;
        let replies = fake.say(user, &format!("/start {payload}")).await;
        assert!(
            replies[0].text.starts_with(&ui("welcome")),
            "{payload}: {replies:?}"
        );
        let shows_topic = replies.iter().any(|r| r.text.starts_with(&visiting));
        assert_eq!(shows_topic, *opens_topic, "{payload}: {replies:?}");
        let asks = replies.iter().any(|r| r.text.contains(&ui("audience.ask")));
        assert_eq!(asks, *asks_audience, "{payload}: {replies:?}");
        if !opens_topic && !asks_audience {
            assert!(last(&replies).text.contains(&ui("menu.intro")), "{payload}");
        }
        if *opens_topic {
            // The title is bold.
            let topic = replies
                .iter()
                .find(|r| r.text.starts_with(&visiting))
                .unwrap();
            assert!(topic.html.starts_with(&format!("<b>{visiting}</b>")));
        }
        assert_html(&replies);
    }
    assert!(fake.refusals().is_empty(), "{:?}", fake.refusals());
    bot.assert_log_clean(&["t_visiting", "ward7", "script"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn menu_topic_tell_me_more_and_what_can_i_ask_by_buttons() {
    let (fake, _dir, _bot) = setup().await;
    let user = 5_550_003_001;
    let start = fake.say(user, "/start").await;
    let menu = fake
        .tap(user, last(&start), &ui("audience.young_person"))
        .await;
    assert!(last(&menu).text.contains(&ui("menu.intro")));
    let family = content().menus[&rightsbot::ids::Audience::YoungPerson]
        .iter()
        .find(|g| {
            g.items
                .iter()
                .any(|i| content().item_title(i) == topic_title("visiting"))
        })
        .expect("visiting is in a young person's menu group")
        .label
        .clone();
    let group = fake.tap(user, last(&menu), &family).await;
    assert!(group[0].text.starts_with(&family));
    let topic = fake.tap(user, last(&group), &topic_title("visiting")).await;
    assert_eq!(topic.len(), 1);
    assert!(topic[0].text.starts_with(&topic_title("visiting")));
    assert!(topic[0].text.contains(&ui("disclaimer")));
    let more = fake.tap(user, &topic[0], &ui("button.more")).await;
    assert!(last(&more).text.contains(&ui("topic.sources")), "{more:?}");
    let ask = fake.tap(user, last(&more), &ui("button.ask")).await;
    assert!(ask[0].text.contains(&ui("topic.ask_intro")), "{ask:?}");
    let back = fake.tap(user, last(&ask), &ui("button.menu")).await;
    assert!(last(&back).text.contains(&ui("menu.intro")));
    // Every button press was answered, so no spinner is left turning.
    assert_eq!(fake.calls("answerCallbackQuery").len(), 6);
    assert_html(&fake.sent());
    assert!(fake.refusals().is_empty(), "{:?}", fake.refusals());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_text_gets_an_answer_a_question_back_or_an_honest_fallback() {
    let (fake, _dir, bot) = setup().await;
    let user = 5_550_004_001;
    let answer = fake.say(user, "can my mum visit me").await;
    assert!(
        answer[0].text.starts_with(&topic_title("visiting")),
        "{answer:?}"
    );
    // Whichever short message the matcher finds ambiguous today.
    let matcher = rightsbot::matcher::Matcher::new(content());
    let ambiguous = [
        "ward",
        "section",
        "staff",
        "can they",
        "rights",
        "my rights",
        "rules",
    ]
    .into_iter()
    .find(|t| {
        let a = matcher.analyse(&content().default_locale, t);
        a.decision.name() == "clarify"
    })
    .expect("one of these is ambiguous");
    let clarify = fake.say(user, ambiguous).await;
    assert_eq!(clarify.len(), 1);
    assert!(clarify[0].text.contains(&ui("clarify")), "{clarify:?}");
    assert!(
        clarify[0].labels().len() >= 3,
        "candidates and something else"
    );
    assert!(clarify[0].labels().contains(&ui("button.something_else")));
    let fallback = fake.say(user, "xyzzy plugh").await;
    assert!(fallback[0].text.contains(&ui("fallback")), "{fallback:?}");
    // HTML that could be echoed back is escaped, never a tag.
    let hostile = fake
        .say(user, "<b>bold</b> & <script>alert(1)</script>")
        .await;
    assert!(!hostile.is_empty());
    assert!(fake.refusals().is_empty(), "{:?}", fake.refusals());
    bot.assert_log_clean(&["can my mum", "xyzzy", "alert(1)"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crisis_message_gets_helplines_first_and_help_stays_one_tap_away() {
    let (fake, dir, mut bot) = setup().await;
    let user = 5_550_005_001;
    let crisis = fake.say(user, "i want to die").await;
    let first = &crisis[0];
    assert!(first.text.starts_with(&ui("crisis.title")), "{first:?}");
    assert!(first.html.starts_with("<b>"));
    assert!(first.text.contains("999"));
    for helpline in &content().crisis.helplines {
        let name = &content().helpline(helpline).unwrap().name;
        assert!(first.text.contains(name.as_str()), "{name} missing");
    }
    // The next replies still carry "Get help now".
    let next = fake.say(user, "/menu").await;
    assert!(
        last(&next).labels().contains(&ui("button.get_help_now")),
        "{next:?}"
    );
    let help = fake
        .tap(user, last(&next), &ui("button.get_help_now"))
        .await;
    assert!(help[0].text.starts_with(&ui("helplines.title")));
    assert!(fake.refusals().is_empty(), "{:?}", fake.refusals());
    assert!(bot.stop().await, "exit 0 on SIGTERM");
    bot.assert_log_clean(&["want to die", "5550005001"]);
    assert_data_clean(dir.path(), &["want to die", "5550005001", "Sam"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_get_one_note_and_nothing_else() {
    let (fake, dir, mut bot) = setup().await;
    let group = -1_001_234_567_890;
    let first = fake.group_text(group, 5_550_006_001, "/start");
    fake.wait_done(first).await;
    let second = fake.group_text(group, 5_550_006_002, "can my mum visit");
    let third = fake.group_text(group, 5_550_006_001, "i am sectioned");
    fake.wait_done(second.max(third)).await;
    let notes = fake.sent_to(group);
    assert_eq!(notes.len(), 1, "{notes:?}");
    let channel = -1_009_876_543_210;
    let posts = [
        fake.channel_post(channel, "hello"),
        fake.channel_post(channel, "again"),
    ];
    fake.wait_done(posts[1]).await;
    assert_eq!(fake.sent_to(channel).len(), 1, "one note in a channel too");
    assert!(
        notes[0]
            .text
            .contains(&format!("https://t.me/{BOT_USERNAME}"))
    );
    assert!(notes[0].buttons.is_empty());
    assert!(fake.refusals().is_empty());
    assert!(bot.stop().await);
    assert_data_clean(dir.path(), &["1001234567890", "Ward chat", "sectioned"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stickers_locations_and_contacts_get_a_kind_reply_and_are_never_kept() {
    let (fake, dir, mut bot) = setup().await;
    let user = 5_550_007_001;
    for id in [fake.sticker(user), fake.location(user), fake.contact(user)] {
        fake.wait_done(id).await;
    }
    let replies = fake.sent_to(user);
    assert_eq!(replies.len(), 3, "{replies:?}");
    for r in &replies {
        assert!(r.text.contains(&ui("nontext")), "{r:?}");
    }
    // An edited message, and a message from another bot, are ignored.
    let edit = fake.edited(user, "can my mum visit");
    let robot = fake.bot_message(user, "can my mum visit");
    fake.wait_done(edit.max(robot)).await;
    assert_eq!(fake.sent_to(user).len(), 3);
    // A caption is words the person typed: a cry for help there is heard.
    let photo = fake.photo(user, "i want to die");
    fake.wait_done(photo).await;
    let crisis = &fake.sent_to(user)[3];
    assert!(crisis.text.starts_with(&ui("crisis.title")), "{crisis:?}");
    assert!(bot.stop().await);
    let secrets = [
        "51.50101",
        "-0.14159",
        "447700900123",
        "Alex",
        "want to die",
    ];
    bot.assert_log_clean(&secrets);
    assert_data_clean(dir.path(), &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_or_stale_buttons_say_out_of_date_and_show_the_menu() {
    let (fake, _dir, _bot) = setup().await;
    let user = 5_550_008_001;
    let long = "1:t:".to_owned() + &"a".repeat(60);
    for data in [
        "1:t:no_such_topic",
        "garbage",
        "0:m",
        "9:m",
        "1:fs:x:y",
        "",
        &long,
    ] {
        let replies = fake.tap_data(user, data).await;
        assert!(
            replies[0].text.contains(&ui("out_of_date")),
            "{data:?}: {replies:?}"
        );
        assert!(last(&replies).text.contains(&ui("menu.intro")), "{data:?}");
    }
    assert_eq!(fake.calls("answerCallbackQuery").len(), 7);
    assert!(fake.refusals().is_empty(), "{:?}", fake.refusals());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_blocks_the_bot_is_forgotten() {
    let (fake, dir, mut bot) = setup().await;
    let (user, other) = (5_550_009_001, 5_550_009_002);
    fake.say(user, "/start a_parent").await;
    fake.say(other, "/start a_parent").await;
    let mydata = fake.say(user, "/mydata").await;
    assert!(mydata[0].text.contains("\"parent\""), "{mydata:?}");
    // A my_chat_member update says they blocked the bot.
    let blocked = fake.block(user);
    fake.wait_done(blocked).await;
    fake.unblock(user);
    let mydata = fake.say(user, "/mydata").await;
    assert!(!mydata[0].text.contains("\"parent\""), "erased: {mydata:?}");
    // A 403 on send (blocked just after writing) erases the session too.
    fake.blocked_silently(other);
    let id = fake.text(other, "/menu");
    fake.wait_done(id).await;
    fake.unblock(other);
    let mydata = fake.say(other, "/mydata").await;
    assert!(!mydata[0].text.contains("\"parent\""), "erased: {mydata:?}");
    assert!(bot.stop().await);
    bot.assert_log_clean(&["5550009001", "5550009002"]);
    let _ = dir;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_on_send_is_waited_out_and_the_reply_sent_once() {
    let (fake, _dir, _bot) = setup().await;
    let user = 5_550_010_001;
    fake.fail_next("sendMessage", Fault::TooManyRequests(2));
    let replies = fake.say(user, "/menu").await;
    assert_eq!(replies.len(), 1, "{replies:?}");
    let calls = fake.calls("sendMessage");
    let refused = calls.iter().find(|c| c.status == 429).expect("the 429");
    let accepted = calls.iter().find(|c| c.status == 200).expect("the retry");
    assert!(
        accepted.at.duration_since(refused.at) >= Duration::from_millis(1900),
        "retry_after was not honoured"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_timeouts_and_dropped_connections_lose_nothing() {
    let (fake, _dir, bot) = setup().await;
    let user = 5_550_011_001;
    fake.fail_next("getUpdates", Fault::Drop);
    fake.fail_next("getUpdates", Fault::TooManyRequests(1));
    fake.fail_next("getUpdates", Fault::InternalError);
    fake.fail_next("sendMessage", Fault::Drop);
    fake.fail_next("sendMessage", Fault::Hang(Duration::from_secs(6)));
    fake.fail_next("sendMessage", Fault::BadGateway);
    fake.fail_next("answerCallbackQuery", Fault::Drop);
    let a = fake.text(user, "/menu");
    let b = fake.text(user, "/help");
    let c = fake.press(user, "1:m");
    fake.wait_done(a.max(b).max(c)).await;
    let replies = fake.sent_to(user);
    assert_eq!(replies.len(), 3, "{replies:?}");
    assert!(replies[0].text.contains(&ui("menu.intro")));
    assert!(replies[1].text.contains(&ui("help")));
    assert!(replies[2].text.contains(&ui("menu.intro")));
    assert!(bot.log().contains("retrying"), "the failures were seen");
    if std::env::var("SHOW_LOG").is_ok() {
        eprintln!("{}", bot.log());
    }
    bot.assert_log_clean(&["5550011001"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_on_the_same_data_folder_keeps_the_session() {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let user = 5_550_012_001;
    let mut bot = Bot::start(&fake, &data, &[]).await;
    fake.say(user, "/start t_visiting-a_parent-c_ward7").await;
    assert!(bot.stop().await, "exit 0 on SIGTERM");
    let mut bot = Bot::start(&fake, &data, &[]).await;
    let mydata = fake.say(user, "/mydata").await;
    assert!(mydata[0].text.contains("\"parent\""), "{mydata:?}");
    // Killed outright, the session is still there.
    fake.say(user, "/audience").await;
    let choose = fake.sent_to(user);
    fake.tap(user, last(&choose), &ui("audience.advocate"))
        .await;
    bot.kill();
    let mut bot = Bot::start(&fake, &data, &[]).await;
    let mydata = fake.say(user, "/mydata").await;
    assert!(mydata[0].text.contains("\"advocate\""), "{mydata:?}");
    assert!(bot.stop().await);
    // The campaign's count survived too.
    let counts = Command::new(env!("CARGO_BIN_EXE_rightsbot"))
        .arg("--data")
        .arg(&data)
        .args(["counts", "--campaign", "ward7", "--csv"])
        .output()
        .unwrap();
    let counts = String::from_utf8_lossy(&counts.stdout);
    // One chat: counted, and shown as "*" (1 to 7).
    assert!(counts.contains("\nvisiting,*,*,"), "{counts}");
}

/// The delivery guarantee: a burst from many people, and the process SIGKILLed in the middle
/// of it, with some updates answered and confirmed, some answered but not yet confirmed (so
/// Telegram sends them again), and some with a two-message reply cut after the first message.
/// Restarted on the same data folder, every message gets exactly one reply, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_the_middle_of_a_burst_loses_nothing_and_repeats_nothing() {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut bot = Bot::start(&fake, &data, &[]).await;
    let users: Vec<i64> = (0..20).map(|i| 5_550_013_000 + i).collect();
    let (stuck, free) = users.split_at(8);
    // "/start a_parent" answers in two messages (welcome, then the menu).
    let script = ["/menu", "/start a_parent", "/help", "xyzzy plugh"];
    let expected = [
        ui("menu.intro"),
        ui("welcome"),
        ui("menu.intro"),
        ui("help"),
        ui("fallback"),
    ];
    for &user in stuck {
        // The network hangs for these people after the welcome of "/start".
        fake.hold_after(user, 2);
    }
    let mut last_id = 0;
    for text in script {
        for &user in &users {
            last_id = fake.text(user, text);
        }
    }
    fake.wait_until("the free half to be answered and the rest stuck", |f| {
        free.iter().all(|&u| f.sent_to(u).len() == expected.len()) && f.held() == stuck.len()
    })
    .await;
    // Let the bot record what it heard back (well under a millisecond of work), then kill it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    bot.kill();
    assert!(
        fake.confirmed_below() <= last_id,
        "the kill came before everything was confirmed"
    );
    fake.release();
    let bot = Bot::start(&fake, &data, &[]).await;
    fake.wait_done(last_id).await;
    for &user in &users {
        let got: Vec<String> = fake.sent_to(user).into_iter().map(|s| s.text).collect();
        assert_eq!(got.len(), expected.len(), "user {user} got {got:#?}");
        for (text, want) in got.iter().zip(&expected) {
            assert!(
                text.contains(want.as_str()),
                "user {user}: out of order: {got:#?}"
            );
        }
    }
    assert!(fake.refusals().is_empty());
    // Both kinds of repair happened.
    let log = bot.log();
    assert!(
        log.contains("a repeat of an update already handled"),
        "{log}"
    );
    assert!(log.contains("resuming a reply cut short"), "{log}");
}

/// Killed at an arbitrary moment (here: just as a burst of replies lands, the worst one), no
/// update is lost. A message Telegram accepted in the instant before the kill, whose answer
/// the bot never read, is sent again after the restart: at-least-once in that one gap, which
/// no bot can close (sendMessage has no idempotency key). A chat has one send in flight at a
/// time, so that is at most one repeat per chat per kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_any_moment_loses_no_update() {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut bot = Bot::start(&fake, &data, &[]).await;
    let users: Vec<i64> = (0..10).map(|i| 5_550_014_000 + i).collect();
    let mut last_id = 0;
    for text in ["/menu", "/help", "/menu"] {
        for &user in &users {
            last_id = fake.text(user, text);
        }
    }
    fake.wait_until("some replies", |f| f.sent().len() >= 10)
        .await;
    bot.kill();
    let _bot = Bot::start(&fake, &data, &[]).await;
    fake.wait_done(last_id).await;
    let mut repeats = 0;
    for &user in &users {
        let n = fake.sent_to(user).len();
        assert!(n >= 3, "user {user} lost a reply: {n}");
        assert!(n <= 4, "user {user} got {n} replies to 3 messages");
        repeats += n - 3;
    }
    eprintln!("kill -9 just as replies landed: {repeats} of 30 replies repeated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_mode_answers_only_requests_with_the_secret() {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");
    let _bot = Bot::start(
        &fake,
        &dir.path().join("data"),
        &[
            "--webhook-url",
            "https://bot.example.org/tg/hook",
            "--webhook-listen",
            &listen,
        ],
    )
    .await;
    let (url, secret) = fake.webhook().expect("setWebhook was called");
    assert_eq!(url, "https://bot.example.org/tg/hook");
    let secret = secret.expect("a secret token");
    let user = 5_550_015_001;
    let update = serde_json::json!({"update_id": 1, "message": {"message_id": 1, "date": 1_700_000_000,
        "chat": {"id": user, "type": "private", "first_name": "Sam"},
        "from": {"id": user, "is_bot": false, "first_name": "Sam"}, "text": "/menu"}});
    let client = reqwest::Client::new();
    let hook = format!("http://{listen}/tg/hook");
    let post = |secret: Option<&str>| {
        let mut request = client
            .post(&hook)
            .header("content-type", "application/json")
            .body(update.to_string());
        if let Some(s) = secret {
            request = request.header(rightsbot::telegram::SECRET_HEADER, s);
        }
        request.send()
    };
    // The listener may take a moment to bind after setWebhook.
    let deadline = Instant::now() + Duration::from_secs(60);
    let refused = loop {
        match post(None).await {
            Ok(r) => break r,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("the webhook never listened: {e}"),
        }
    };
    assert_eq!(refused.status(), 401);
    assert_eq!(post(Some("wrong")).await.unwrap().status(), 401);
    assert!(fake.sent_to(user).is_empty());
    let accepted = post(Some(&secret)).await.unwrap();
    assert_eq!(accepted.status(), 200);
    // Answered only once handled: the reply is already there.
    assert_eq!(fake.sent_to(user).len(), 1);
    // Telegram re-sending the same update gets 200 and no second reply.
    assert_eq!(post(Some(&secret)).await.unwrap().status(), 200);
    assert_eq!(fake.sent_to(user).len(), 1);
}

/// SIGTERM in the middle of a burst: the updates in progress finish, the rest wait in Telegram,
/// the process exits 0, and after a restart every message has exactly one reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_burst_finishes_what_it_started_and_loses_nothing() {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // With the web chat running alongside, as in production.
    let mut bot = Bot::start(&fake, &data, &["--http", "127.0.0.1:0"]).await;
    let users: Vec<i64> = (0..10).map(|i| 5_550_016_000 + i).collect();
    let mut last_id = 0;
    for text in ["/menu", "/help", "/menu", "/help"] {
        for &user in &users {
            last_id = fake.text(user, text);
        }
    }
    fake.wait_until("some replies", |f| f.sent().len() >= 10)
        .await;
    assert!(bot.stop().await, "exit 0 on SIGTERM");
    assert!(fake.sent().len() < 40, "stopped mid-burst");
    let _bot = Bot::start(&fake, &data, &[]).await;
    fake.wait_done(last_id).await;
    for &user in &users {
        let got: Vec<String> = fake.sent_to(user).into_iter().map(|s| s.text).collect();
        assert_eq!(got.len(), 4, "user {user} got {got:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_asks_first_then_erases_the_session() {
    let (fake, dir, mut bot) = setup().await;
    let user = 5_550_017_001;
    fake.say(user, "/start a_advocate").await;
    let ask = fake.say(user, "/forget").await;
    assert!(ask[0].text.contains(&ui("forget.ask")));
    let no = fake.tap(user, &ask[0], &ui("forget.no")).await;
    assert!(no[0].text.contains(&ui("forget.cancelled")));
    assert!(
        fake.say(user, "/mydata").await[0]
            .text
            .contains("\"advocate\"")
    );
    let ask = fake.say(user, "/forget").await;
    let done = fake.tap(user, &ask[0], &ui("forget.yes")).await;
    assert!(done[0].text.contains(&ui("forget.done")));
    let mydata = fake.say(user, "/mydata").await;
    assert!(!mydata[0].text.contains("\"advocate\""), "{mydata:?}");
    // Pressing the old "Yes" again is out of date, not a second deletion.
    let again = fake.tap(user, &ask[0], &ui("forget.yes")).await;
    assert!(again[0].text.contains(&ui("out_of_date")));
    assert!(bot.stop().await);
    assert_data_clean(dir.path(), &["5550017001", "Sam", "user5550017001"]);
}

/// One person sending a flood of messages (more than Telegram hands over at once) must not hold
/// up everyone else for the whole flood (Telegram confirms by a single offset, and a chat gets
/// about one reply a second), and a cry for help inside the flood is still answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_chat_neither_blocks_others_nor_buries_a_cry_for_help() {
    let (fake, _dir, bot) = setup().await;
    let (flooder, other) = (5_550_018_001, 5_550_018_002);
    let (mut cry, mut tap) = (0, 0);
    for i in 0..150 {
        if i == 120 {
            cry = fake.text(flooder, "i want to die");
        }
        if i == 130 {
            tap = fake.press(flooder, &Action::Helplines.encode());
        }
        fake.text(flooder, "/help");
    }
    let hello = fake.text(other, "/menu");
    fake.wait_done(cry.max(tap).max(hello)).await;
    let sent = fake.sent();
    let flood_replies = sent.iter().filter(|s| s.chat == flooder).count();
    assert!(
        flood_replies < 100,
        "the flood was set aside: {flood_replies}"
    );
    assert!(
        sent.iter()
            .any(|s| s.chat == flooder && s.text.starts_with(&ui("crisis.title"))),
        "the cry for help was answered"
    );
    assert!(
        sent.iter()
            .any(|s| s.chat == flooder && s.text.contains(&ui("helplines.intro"))),
        "the tap on get help now was answered"
    );
    let other_at = sent.iter().position(|s| s.chat == other).expect("answered");
    let before_other = sent[..other_at]
        .iter()
        .filter(|s| s.chat == flooder)
        .count();
    assert!(
        before_other <= 13,
        "the other person waited for {before_other} flood replies"
    );
    assert_eq!(sent.iter().filter(|s| s.chat == other).count(), 1);
    assert!(bot.log().contains("flooding"));
    assert!(fake.refusals().is_empty());
}

/// Updates the bot cannot use (a kind from a newer Bot API, a message missing its chat, an
/// inline query) are confirmed and skipped, and the bot keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_updates_are_skipped_and_the_bot_carries_on() {
    let (fake, _dir, bot) = setup().await;
    let user = 5_550_019_001;
    let odd = [
        fake.raw("a_kind_from_the_future", serde_json::json!({"x": 1})),
        fake.raw("message", serde_json::json!({"message_id": 1, "text": "no chat"})),
        fake.raw(
            "inline_query",
            serde_json::json!({"id": "iq", "from": {"id": user, "is_bot": false, "first_name": "Sam"},
                "query": "rights", "offset": ""}),
        ),
    ];
    let long = fake.text(user, &"a".repeat(4096));
    let spaces = fake.text(user, "   \u{200b}\u{202e}  ");
    let emoji = fake.text(user, "\u{1f62d}\u{1f62d}\u{1f62d}");
    fake.wait_done(odd[2].max(long).max(spaces).max(emoji))
        .await;
    assert_eq!(
        fake.sent_to(user).len(),
        3,
        "one reply to each real message"
    );
    let after = fake.say(user, "/menu").await;
    assert!(after[0].text.contains(&ui("menu.intro")));
    assert!(fake.refusals().is_empty(), "{:?}", fake.refusals());
    bot.assert_log_clean(&["aaaaaaaaaaaaaaaaaaaa"]);
}

/// (chat, status) of every sendMessage call, in the order the fake received them.
fn message_calls(fake: &FakeTelegram) -> Vec<(i64, u16)> {
    fake.calls("sendMessage")
        .iter()
        .map(|c| (c.body["chat_id"].as_i64().unwrap_or_default(), c.status))
        .collect()
}

/// A 429 holds back only the chat it was for: while that chat waits, another chat's reply goes.
/// (teloxide's Throttle, which the bot used before, held every chat.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_for_one_chat_does_not_hold_back_another() {
    let (fake, _dir, bot) = setup().await;
    let (held, other) = (5_550_020_001, 5_550_020_002);
    // Ten minutes: were every chat held, the other reply could not come before the test gives up.
    fake.fail_next_message_to(held, Fault::TooManyRequests(600));
    fake.text(held, "/menu");
    fake.wait_until("the 429", |f| message_calls(f).contains(&(held, 429)))
        .await;
    fake.text(other, "/help");
    // Not `say`: Telegram's confirmations cannot pass the held chat's update.
    fake.wait_until("the other chat's reply", |f| !f.sent_to(other).is_empty())
        .await;
    assert_eq!(message_calls(&fake), [(held, 429), (other, 200)]);
    assert!(fake.sent_to(other)[0].text.contains(&ui("help")));
    bot.assert_log_clean(&["5550020001", "5550020002"]);
}

/// A crisis reply does not queue behind a workshop's burst: with 90 other chats' replies
/// waiting their turn under Telegram's limits, it goes ahead of most of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crisis_reply_overtakes_a_burst_of_ordinary_replies() {
    let fake = FakeTelegram::start().await;
    fake.enforce_limits(RateLimits::TELEGRAM);
    let dir = tempfile::tempdir().unwrap();
    let crowd: Vec<i64> = (0..90).map(|i| 5_550_021_000 + i).collect();
    let in_crisis = 5_550_021_999;
    // Waiting before the bot starts, so its first poll brings the whole burst with the cry for
    // help last: every ordinary reply is queued ahead of the crisis reply.
    for &user in &crowd {
        fake.text(user, "/help");
    }
    let cry = fake.text(in_crisis, "i want to die");
    let _bot = Bot::start(&fake, &dir.path().join("data"), &[]).await;
    fake.wait_done(cry).await;
    let sent = fake.sent();
    let at = sent
        .iter()
        .position(|s| s.chat == in_crisis)
        .expect("the crisis reply");
    assert!(
        sent[at].text.starts_with(&ui("crisis.title")),
        "{:?}",
        sent[at]
    );
    let ordinary = sent.iter().filter(|s| s.chat != in_crisis).count();
    assert_eq!(ordinary, crowd.len());
    // Only the replies sent while the cry for help was being read go before it.
    let overtaken = sent[at..].iter().filter(|s| s.chat != in_crisis).count();
    eprintln!("the crisis reply overtook {overtaken} of {ordinary} ordinary replies");
    assert!(
        overtaken >= crowd.len() / 3,
        "the crisis reply came after {} of {ordinary} ordinary replies",
        ordinary - overtaken
    );
    assert!(fake.refusals().is_empty(), "{:?}", fake.refusals());
}

/// A workshop's burst (30 people, each a two-part welcome and two more replies) against a fake
/// that keeps Telegram's limits and answers 429 beyond them: every reply arrives, in order,
/// and hardly a send is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_across_many_chats_stays_under_telegrams_limits() {
    let fake = FakeTelegram::start().await;
    fake.enforce_limits(RateLimits::TELEGRAM);
    let dir = tempfile::tempdir().unwrap();
    let _bot = Bot::start(&fake, &dir.path().join("data"), &[]).await;
    let users: Vec<i64> = (0..30).map(|i| 5_550_022_000 + i).collect();
    let expected = [
        ui("welcome"),
        ui("menu.intro"),
        ui("help"),
        ui("menu.intro"),
    ];
    let mut last_id = 0;
    for text in ["/start a_parent", "/help", "/menu"] {
        for &user in &users {
            last_id = fake.text(user, text);
        }
    }
    fake.wait_done(last_id).await;
    for &user in &users {
        let got: Vec<String> = fake.sent_to(user).into_iter().map(|s| s.text).collect();
        assert_eq!(got.len(), expected.len(), "user {user} got {got:#?}");
        for (text, want) in got.iter().zip(&expected) {
            assert!(text.contains(want.as_str()), "user {user}: {got:#?}");
        }
    }
    let calls = message_calls(&fake);
    let refused = calls.iter().filter(|c| c.1 == 429).count();
    eprintln!("{refused} of {} sends answered 429", calls.len());
    assert!(
        refused * 100 <= calls.len(),
        "{refused} of {} sends answered 429",
        calls.len()
    );
    assert!(fake.refusals().is_empty(), "{:?}", fake.refusals());
}
