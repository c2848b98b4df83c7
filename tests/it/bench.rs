//! Load figures, printed, never asserted (`cargo test --test it -- --ignored bench --nocapture
//! --test-threads 1`): the web chat with 200 people at once, each with its own cookie, asking 5
//! questions, on one process with sled and on two replicas on Redis behind a round-robin
//! balancer; start-up to serving with 10,000 stored sessions, on sled and on Redis; a
//! workshop's burst on Telegram against a fake Bot API that keeps Telegram's rate limits; and
//! Telegram end to end against a fake Bot API with no limits, on sled and on Redis.
//!
//! They drive the binary the test build made: run them with `cargo test --release` for a
//! release build's figures (without it, our crate is unoptimised and the web figures are
//! several times slower). Ignored by default: they take minutes and mean something only on a
//! quiet machine.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use rightsbot::store::{Channel, Options, Store};

use crate::fake_telegram::{Call, FakeTelegram, RateLimits, TOKEN};
use crate::live_bot::LiveBot;
use crate::redis_server::RedisServer;
use crate::replicas::{Balancer, free_port};
use crate::web::{Person, Site};

const PEOPLE: usize = 200;
const QUESTIONS: [&str; 5] = [
    "can my mum visit me",
    "can they restrain me",
    "can I refuse medication",
    "how do I complain",
    "what is section 2",
];

struct Process {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// Peak resident memory so far, in MiB (VmHWM).
    fn peak_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

/// Starts `rightsbot serve` and returns once its web chat accepts connections and, given a
/// fake Bot API, once it polls that too (its log then goes to `data` + ".log"), with the time
/// that took.
async fn serve(
    data: &Path,
    store: Option<(&str, &Path)>,
    public: Option<&str>,
    telegram: Option<&FakeTelegram>,
) -> (Process, Duration) {
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut command = Command::new(env!("CARGO_BIN_EXE_rightsbot"));
    command.arg("--data").arg(data);
    if let Some((url, secret)) = store {
        command
            .args(["--store", url])
            .arg("--secret-file")
            .arg(secret);
    }
    // The benchmark's own loopback client may name the people it plays (`X-Forwarded-For`),
    // as a reverse proxy in front would.
    command.args([
        "serve",
        "--http",
        &addr.to_string(),
        "--trusted-proxy",
        "127.0.0.1",
    ]);
    if let Some(public) = public {
        command.args(["--public-url", public]);
    }
    let log = data.with_extension("log");
    match telegram {
        Some(fake) => {
            // As the other Telegram tests run it: a short long-poll, so a finished update is
            // confirmed within a second.
            command
                .args(["--telegram-poll-secs", "1"])
                .env("TELOXIDE_TOKEN", TOKEN)
                .env("TELOXIDE_API_URL", &fake.api_url)
                .stderr(std::fs::File::create(&log).expect("a log file in the temp dir"));
        }
        None => {
            command.env_remove("TELOXIDE_TOKEN").stderr(Stdio::null());
        }
    }
    let started = Instant::now();
    let child = command
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut process = Process { child, addr };
    let ready = |process: &mut Process| {
        if let Ok(Some(status)) = process.child.try_wait() {
            panic!(
                "rightsbot serve exited ({status}):\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(started.elapsed() < Duration::from_secs(300), "not serving");
    };
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        ready(&mut process);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if let Some(fake) = telegram {
        while fake.calls("getUpdates").is_empty() {
            ready(&mut process);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    (process, started.elapsed())
}

/// The `q` quantile of `sorted`, zero if empty.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

/// The machine's load averages over 1, 5 and 15 minutes.
fn load_average() -> String {
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    loadavg
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

struct Figures {
    requests: usize,
    errors: usize,
    /// Answered "please wait": every simulated person shares one address, and at a release
    /// build's pace 200 people asking 5 questions in about 10 s outrun the per-address flood
    /// guard (900 at once, 30 a second after), which is there for floods, not people.
    asked_to_wait: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Figures {
    fn print(&mut self, what: &str, memory: &str) {
        self.latencies.sort();
        let at = |q: f64| quantile(&self.latencies, q);
        println!(
            "BENCH web {what}: {} requests in {:.1} s = {:.0} req/s; p50 {:.0} ms, p99 {:.0} ms; \
             errors {}; asked to wait (the per-address flood guard) {}; peak memory {memory}",
            self.requests,
            self.elapsed.as_secs_f64(),
            self.requests as f64 / self.elapsed.as_secs_f64(),
            at(0.50).as_secs_f64() * 1000.0,
            at(0.99).as_secs_f64() * 1000.0,
            self.errors,
            self.asked_to_wait,
        );
    }
}

/// Where the people of a workshop come from.
#[derive(Clone, Copy)]
enum Addresses {
    /// All behind one address, as on one ward's Wi-Fi: the per-address flood guard applies.
    Shared,
    /// Each from its own address (named by a trusted proxy): the bot's own pace alone.
    OwnEach,
}

/// 200 people at once, each arriving and asking 5 questions, one after another.
async fn workshop(
    site: impl Site + Clone + Send + Sync + 'static,
    addresses: Addresses,
) -> Figures {
    let started = Instant::now();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(PEOPLE));
    let tasks: Vec<_> = (0..PEOPLE)
        .map(|i| {
            let (site, barrier) = (site.clone(), barrier.clone());
            tokio::spawn(async move {
                let mut person = match addresses {
                    Addresses::Shared => Person::without_keep_alive(),
                    Addresses::OwnEach => {
                        Person::without_keep_alive_from(std::net::IpAddr::from([
                            10,
                            0,
                            (i / 256) as u8,
                            (i % 256) as u8,
                        ]))
                    }
                };
                let mut latencies = Vec::new();
                let (mut errors, mut asked_to_wait) = (0, 0);
                let mut count = |status: StatusCode, text: String| {
                    if status == 429 || text.contains("Please wait") {
                        asked_to_wait += 1;
                    } else if status != 200 {
                        errors += 1;
                    }
                };
                barrier.wait().await;
                let t = Instant::now();
                let status = person.get(&site, "/").await;
                latencies.push(t.elapsed());
                count(status, person.text());
                for question in QUESTIONS {
                    let t = Instant::now();
                    let status = person.say(&site, question).await;
                    latencies.push(t.elapsed());
                    count(status, person.text());
                }
                (latencies, errors, asked_to_wait)
            })
        })
        .collect();
    let mut figures = Figures {
        requests: 0,
        errors: 0,
        asked_to_wait: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for task in tasks {
        let (latencies, errors, asked_to_wait) = task.await.unwrap();
        figures.requests += latencies.len();
        figures.latencies.extend(latencies);
        figures.errors += errors;
        figures.asked_to_wait += asked_to_wait;
    }
    figures.elapsed = started.elapsed();
    figures
}

#[derive(Clone)]
struct At(SocketAddr);

impl Site for At {
    fn origin(&self) -> String {
        format!("http://{}", self.0)
    }
}

#[derive(Clone)]
struct Via(SocketAddr);

impl Site for Via {
    fn origin(&self) -> String {
        format!("http://{}", self.0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run it on purpose, on a quiet machine"]
async fn bench_web_chat_one_process_against_two_replicas() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (one, _) = serve(&dir.path().join("sled"), None, None, None).await;
        let mut figures = workshop(At(one.addr), Addresses::Shared).await;
        figures.print("one process, sled", &format!("{:.0} MiB", one.peak_mib()));
    }
    {
        let (one, _) = serve(&dir.path().join("sled-own"), None, None, None).await;
        let mut figures = workshop(At(one.addr), Addresses::OwnEach).await;
        figures.print(
            "one process, sled, each person from their own address",
            &format!("{:.0} MiB", one.peak_mib()),
        );
    }
    let redis = RedisServer::start();
    let secret = dir.path().join("install.key");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("http://{}", listener.local_addr().unwrap());
    let url = redis.url(0);
    let mut replicas = Vec::new();
    for name in ["a", "b"] {
        let store = Some((url.as_str(), secret.as_path()));
        let (replica, _) = serve(&dir.path().join(name), store, Some(&public), None).await;
        replicas.push(replica);
    }
    let addrs = replicas.iter().map(|r| r.addr).collect();
    let balancer = Balancer::start(listener, addrs).await;
    let mut figures = workshop(Via(balancer.addr), Addresses::Shared).await;
    figures.print(
        "two replicas on Redis behind a balancer",
        &format!(
            "{:.0} + {:.0} MiB",
            replicas[0].peak_mib(),
            replicas[1].peak_mib()
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run it on purpose, on a quiet machine"]
async fn bench_start_up_with_10000_stored_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let secret = dir.path().join("install.key");
    let url = redis.url(0);
    for (name, url) in [("sled", None), ("Redis", Some(url.as_str()))] {
        let data = dir.path().join(name);
        {
            let store = Store::connect(&Options {
                data: data.clone(),
                url: url.map(str::to_owned),
                secret_file: Some(secret.clone()),
                ttl_secs: 30 * 24 * 60 * 60,
            })
            .await
            .unwrap();
            let session = rightsbot::engine::Session::fresh(
                rightsbot::ids::LocaleId::parse("en").unwrap(),
                rightsbot::now_secs(),
            );
            for i in 0..10_000 {
                let key = store.key(Channel::Web, &format!("person-{i}"));
                store.save(&key, &session).await.unwrap();
            }
            store.flush().await.unwrap();
        }
        // sled releases its lock a moment after the store is dropped.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (process, took) = serve(&data, url.map(|u| (u, secret.as_path())), None, None).await;
        println!(
            "BENCH start-up with 10,000 sessions on {name}: serving after {:.2} s, memory {:.0} MiB",
            took.as_secs_f64(),
            process.peak_mib()
        );
    }
}

/// 300 chats each send /start and three questions at once, against the fake Bot API keeping
/// Telegram's limits (30 messages a second overall, one a second per chat after a burst of
/// three, 429 with retry_after beyond). Prints the time from the burst to its last reply
/// against the least the limits allow, and the share of sends answered 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run it on purpose, on a quiet machine"]
async fn bench_telegram_workshop_burst() {
    let limits = RateLimits::TELEGRAM;
    let fake = FakeTelegram::start().await;
    fake.enforce_limits(limits);
    let dir = tempfile::tempdir().unwrap();
    let _bot = LiveBot::start(&fake, &dir.path().join("data"), Default::default()).await;
    let chats: Vec<i64> = (0..300).map(|i| 5_560_000_000 + i).collect();
    let started = Instant::now();
    let mut last_id = 0;
    for text in ["/start", QUESTIONS[0], QUESTIONS[1], QUESTIONS[2]] {
        for &chat in &chats {
            last_id = fake.text(chat, text);
        }
    }
    while fake.confirmed_below() <= last_id {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the burst never ended"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let calls = fake.calls("sendMessage");
    let delivered = calls.iter().filter(|c| c.status == 200).count();
    let refused = calls.iter().filter(|c| c.status == 429).count();
    let took = calls
        .iter()
        .map(|c| c.at.duration_since(started))
        .max()
        .unwrap_or_default();
    // The least time the limits allow: every message at the overall rate, or the busiest
    // chat's messages past its burst at one a second, whichever is longer.
    let busiest = chats
        .iter()
        .map(|&c| fake.sent_to(c).len())
        .max()
        .unwrap_or(0);
    let least = (delivered as f64 / limits.overall_per_sec as f64)
        .max((busiest as f64 - limits.chat_burst) / limits.chat_per_sec);
    let answered_all = chats.iter().all(|&c| fake.sent_to(c).len() >= 4);
    println!(
        "BENCH telegram workshop burst, 300 chats x (/start + 3 questions): {delivered} replies \
         in {:.1} s, least the limits allow {least:.1} s = {:.2}x; {refused} of {} sends \
         answered 429 ({:.2}%); every chat answered: {answered_all}",
        took.as_secs_f64(),
        took.as_secs_f64() / least,
        calls.len(),
        100.0 * refused as f64 / calls.len().max(1) as f64,
    );
}

/// One kind of person in the end-to-end run, and what they send, in order.
struct Script {
    who: &'static str,
    messages: [&'static str; 5],
}

const SCRIPTS: [Script; 3] = [
    Script {
        who: "a young person",
        messages: [
            "/start",
            "can they take my phone",
            "can my mum vist me",
            "can I refuse medication",
            "how do I complain",
        ],
    },
    Script {
        who: "a parent",
        messages: [
            "/start",
            "can staff take her phone off her",
            "how do i complian about the ward",
            "My son is 15 and was sectioned last night under section 2. The ward says I can only \
             visit for an hour and they won't tell me what medication he is on. Are they allowed \
             to do that, and who can I talk to about it?",
            "what is section 2",
        ],
    },
    Script {
        who: "a young person in crisis",
        messages: [
            "/start",
            "can they take my phone",
            "can they restrian me",
            "what happens at a tribunal",
            "i dont want to be alive anymore, i have a plan for tonight",
        ],
    },
];

/// Which script the `i`th chat follows: one in ten is in crisis, the rest half young people,
/// half parents.
fn script_for(i: usize) -> usize {
    if i % 10 == 9 { 2 } else { i % 2 }
}

/// The bot paces its own sends to about 29 a second overall (src/telegram/pacing.rs), whatever
/// the Bot API would take: the floor under the run's length.
const BOT_PACE_PER_SEC: f64 = 29.0;

/// The chat and text of a message the fake accepted from the bot.
fn delivered(call: &Call) -> Option<(i64, String)> {
    if call.method != "sendMessage" || call.status != 200 {
        return None;
    }
    Some((
        call.body["chat_id"].as_i64()?,
        call.body["text"].as_str()?.to_owned(),
    ))
}

/// What the bot answers to a script: how many messages for each step, and all their texts;
/// and how long each step took, from available to the first message of its reply, with
/// nothing else going on.
struct Expected {
    counts: Vec<usize>,
    texts: Vec<String>,
    alone: Vec<Duration>,
}

/// Runs `script` once in `chat`, one message at a time, each waited for until the bot confirms
/// it (so all it sent for it has arrived): what the timed run must get, message for message.
/// Before each message it waits until the bot's allowance for the chat (two messages at once,
/// then one a second) is whole again, so that the time taken is the handling, not the pacing.
async fn calibrate(fake: &FakeTelegram, chat: i64, script: &Script) -> Expected {
    let mut cursor = fake.calls_since(0).len();
    let mut expected = Expected {
        counts: Vec::new(),
        texts: Vec::new(),
        alone: Vec::new(),
    };
    for text in script.messages {
        let last_reply = expected.counts.last().copied().unwrap_or(0) as u64;
        tokio::time::sleep(Duration::from_secs(last_reply) + Duration::from_millis(100)).await;
        let id = fake.text(chat, text);
        fake.wait_done(id).await;
        let calls = fake.calls_since(cursor);
        cursor += calls.len();
        let replies: Vec<(Instant, String)> = calls
            .iter()
            .filter_map(|call| delivered(call).map(|(to, text)| (to, call.at, text)))
            .filter(|(to, _, _)| *to == chat)
            .map(|(_, at, text)| (at, text))
            .collect();
        assert!(
            !replies.is_empty(),
            "{} got no reply to {text:?}",
            script.who
        );
        let queued = fake
            .timeline(id)
            .expect("the fake times every update")
            .queued;
        expected
            .alone
            .push(replies[0].0.saturating_duration_since(queued));
        expected.counts.push(replies.len());
        expected
            .texts
            .extend(replies.into_iter().map(|(_, text)| text));
    }
    expected
}

/// One chat of the timed run: the updates it has queued and the replies it got, with when the
/// fake received each.
struct Chat {
    id: i64,
    script: usize,
    queued: Vec<u32>,
    replies: Vec<(Instant, String)>,
}

/// `rightsbot serve` in polling mode against a fake Bot API with no rate limits: 200 chats at
/// once, each a person who sends the next message of their script as soon as the whole reply
/// to the last one has arrived. Prints updates a second, p50 and p99 from an update becoming
/// available (queued at the fake) and from the bot fetching it (getUpdates first returning it)
/// to the fake receiving the first message of its reply (and the same for the calibration's
/// updates, one at a time), replies received against those expected, and the process's peak
/// memory. Returns what went wrong, if anything: a missing, extra or different reply.
///
/// The fake never refuses a send, but the bot keeps to Telegram's limits on its own (about 29
/// messages a second): with 200 people typing at once that pace, not the handling of an
/// update, sets the throughput, and most of the latency under load is the wait for a turn.
/// The one-at-a-time figure is the handling alone.
async fn telegram_end_to_end(what: &str, data: &Path, store: Option<(&str, &Path)>) -> Vec<String> {
    let fake = FakeTelegram::start().await;
    let (bot, _) = serve(data, store, None, Some(&fake)).await;
    // Also warms the bot up, as its first people would.
    let mut expected = Vec::new();
    for (i, script) in SCRIPTS.iter().enumerate() {
        expected.push(calibrate(&fake, 5_570_000_000 + i as i64, script).await);
    }
    let mut chats: Vec<Chat> = (0..PEOPLE)
        .map(|i| Chat {
            id: 5_580_000_000 + i as i64,
            script: script_for(i),
            queued: Vec::new(),
            replies: Vec::new(),
        })
        .collect();
    let index: HashMap<i64, usize> = chats.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
    let mut cursor = fake.calls_since(0).len();
    let mut collect = |chats: &mut [Chat]| {
        let calls = fake.calls_since(cursor);
        cursor += calls.len();
        let mut any = false;
        for call in &calls {
            if let Some((chat, text)) = delivered(call)
                && let Some(&i) = index.get(&chat)
            {
                chats[i].replies.push((call.at, text));
                any = true;
            }
        }
        any
    };
    let load_before = load_average();
    let started = Instant::now();
    let mut progress = Instant::now();
    loop {
        if collect(&mut chats) {
            progress = Instant::now();
        }
        let mut finished = true;
        for c in &mut chats {
            let counts = &expected[c.script].counts;
            let step = c.queued.len();
            let due: usize = counts[..step].iter().sum();
            if step < counts.len() {
                finished = false;
                if c.replies.len() >= due {
                    let text = SCRIPTS[c.script].messages[step];
                    c.queued.push(fake.text(c.id, text));
                    progress = Instant::now();
                }
            } else if c.replies.len() < due {
                finished = false;
            }
        }
        // A minute without a reply: one is missing, and the figures say which.
        if finished || progress.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let took = chats
        .iter()
        .flat_map(|c| {
            c.replies
                .iter()
                .map(|(at, _)| at.saturating_duration_since(started))
        })
        .max()
        .unwrap_or_default();
    let load_after = load_average();
    // Anything more the bot sends once its last update is confirmed is an extra reply.
    let last = chats.iter().flat_map(|c| c.queued.iter()).max().copied();
    let deadline = Instant::now() + Duration::from_secs(30);
    while last.is_some_and(|id| fake.confirmed_below() <= id) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    collect(&mut chats);
    let peak = bot.peak_mib();

    let (mut from_queued, mut from_fetched) = (Vec::new(), Vec::new());
    let (mut want, mut got, mut missing, mut extra, mut different) = (0, 0, 0, 0, 0);
    let mut unanswered = 0;
    for c in &chats {
        let expected = &expected[c.script];
        let mut first = 0;
        for (step, &count) in expected.counts.iter().enumerate() {
            let reply = c.replies.get(first).map(|(at, _)| *at);
            let timeline = c.queued.get(step).and_then(|&id| fake.timeline(id));
            match (reply, timeline) {
                (Some(at), Some(t)) => {
                    from_queued.push(at.saturating_duration_since(t.queued));
                    if let Some(fetched) = t.handed_out {
                        from_fetched.push(at.saturating_duration_since(fetched));
                    }
                }
                _ => unanswered += 1,
            }
            first += count;
        }
        want += expected.texts.len();
        got += c.replies.len();
        missing += expected.texts.len().saturating_sub(c.replies.len());
        extra += c.replies.len().saturating_sub(expected.texts.len());
        different += c
            .replies
            .iter()
            .zip(&expected.texts)
            .filter(|((_, text), want)| text != *want)
            .count();
    }
    from_queued.sort();
    from_fetched.sort();
    let mut alone: Vec<Duration> = expected.iter().flat_map(|e| e.alone.clone()).collect();
    alone.sort();
    let updates = PEOPLE * SCRIPTS[0].messages.len();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "BENCH telegram end to end, {what}, no rate limit at the fake: {updates} updates \
         ({PEOPLE} chats x 5) in {:.1} s = {:.1} updates/s; from available to reply sent p50 \
         {:.0} ms, p99 {:.0} ms; from fetched (getUpdates) to reply sent p50 {:.0} ms, p99 \
         {:.0} ms; one at a time (the {} calibration updates) p50 {:.0} ms, max {:.0} ms; \
         replies {got} of {want} expected ({missing} missing, {extra} extra, \
         {different} unlike the calibration run), {unanswered} updates unanswered; the bot's own \
         pace of {BOT_PACE_PER_SEC}/s allows {want} replies in no less than {:.1} s; peak \
         memory {peak:.0} MiB; load average {load_before} before, {load_after} after",
        took.as_secs_f64(),
        updates as f64 / took.as_secs_f64(),
        ms(quantile(&from_queued, 0.50)),
        ms(quantile(&from_queued, 0.99)),
        ms(quantile(&from_fetched, 0.50)),
        ms(quantile(&from_fetched, 0.99)),
        alone.len(),
        ms(quantile(&alone, 0.50)),
        ms(quantile(&alone, 1.0)),
        want as f64 / BOT_PACE_PER_SEC,
    );
    let mut wrong = Vec::new();
    if missing + unanswered > 0 {
        wrong.push(format!(
            "{what}: {missing} replies missing, {unanswered} updates unanswered"
        ));
    }
    if extra + different > 0 {
        wrong.push(format!(
            "{what}: {extra} replies more than expected, {different} unlike the calibration run"
        ));
    }
    wrong
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run it on purpose, on a quiet machine"]
async fn bench_telegram_end_to_end_sled_and_redis() {
    let dir = tempfile::tempdir().unwrap();
    let mut wrong = telegram_end_to_end("sled", &dir.path().join("sled"), None).await;
    let redis = RedisServer::start();
    let secret = dir.path().join("install.key");
    let url = redis.url(0);
    wrong.extend(
        telegram_end_to_end("Redis", &dir.path().join("redis"), Some((&url, &secret))).await,
    );
    assert!(
        wrong.is_empty(),
        "every update must get its reply:\n{}",
        wrong.join("\n")
    );
}
