//! Load figures, printed, never asserted (`cargo test --test it -- --ignored bench --nocapture
//! --test-threads 1`): the web chat with 200 people at once, each with its own cookie, asking 5
//! questions, on one process with sled and on two replicas on Redis behind a round-robin
//! balancer; start-up to serving with 10,000 stored sessions, on sled and on Redis; and a
//! workshop's burst on Telegram against a fake Bot API that keeps Telegram's rate limits.
//!
//! They drive the binary `cargo test` builds (our crate unoptimised, dependencies optimised),
//! so the figures are a floor for a release build. Ignored by default: they take minutes and
//! mean something only on a quiet machine.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rightsbot::store::{Channel, Options, Store};

use crate::fake_telegram::{FakeTelegram, RateLimits};
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

/// Starts `rightsbot serve` for the web chat and returns once it accepts connections, with
/// the time that took.
async fn serve(
    data: &Path,
    store: Option<(&str, &Path)>,
    public: Option<&str>,
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
    command.args(["serve", "--http", &addr.to_string()]);
    if let Some(public) = public {
        command.args(["--public-url", public]);
    }
    let started = Instant::now();
    let child = command
        .env_remove("TELOXIDE_TOKEN")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let process = Process { child, addr };
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(300), "no web chat");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (process, started.elapsed())
}

struct Figures {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Figures {
    fn print(&mut self, what: &str, memory: &str) {
        self.latencies.sort();
        let at = |q: f64| {
            let i = ((self.latencies.len() as f64 - 1.0) * q).round() as usize;
            self.latencies.get(i).copied().unwrap_or_default()
        };
        println!(
            "BENCH web {what}: {} requests in {:.1} s = {:.0} req/s; p50 {:.0} ms, p99 {:.0} ms; \
             errors {}; peak memory {memory}",
            self.requests,
            self.elapsed.as_secs_f64(),
            self.requests as f64 / self.elapsed.as_secs_f64(),
            at(0.50).as_secs_f64() * 1000.0,
            at(0.99).as_secs_f64() * 1000.0,
            self.errors,
        );
    }
}

/// 200 people at once, each arriving and asking 5 questions, one after another.
async fn workshop(site: impl Site + Clone + Send + Sync + 'static) -> Figures {
    let started = Instant::now();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(PEOPLE));
    let tasks: Vec<_> = (0..PEOPLE)
        .map(|_| {
            let (site, barrier) = (site.clone(), barrier.clone());
            tokio::spawn(async move {
                let mut person = Person::without_keep_alive();
                let mut latencies = Vec::new();
                let mut errors = 0;
                barrier.wait().await;
                let t = Instant::now();
                if person.get(&site, "/").await != 200 {
                    errors += 1;
                }
                latencies.push(t.elapsed());
                for question in QUESTIONS {
                    let t = Instant::now();
                    let status = person.say(&site, question).await;
                    latencies.push(t.elapsed());
                    if status != 200 || person.text().contains("Please wait") {
                        errors += 1;
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut figures = Figures {
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for task in tasks {
        let (latencies, errors) = task.await.unwrap();
        figures.requests += latencies.len();
        figures.latencies.extend(latencies);
        figures.errors += errors;
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
        let (one, _) = serve(&dir.path().join("sled"), None, None).await;
        let mut figures = workshop(At(one.addr)).await;
        figures.print("one process, sled", &format!("{:.0} MiB", one.peak_mib()));
    }
    let redis = RedisServer::start();
    let secret = dir.path().join("install.key");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("http://{}", listener.local_addr().unwrap());
    let url = redis.url(0);
    let (a, _) = serve(&dir.path().join("a"), Some((&url, &secret)), Some(&public)).await;
    let (b, _) = serve(&dir.path().join("b"), Some((&url, &secret)), Some(&public)).await;
    let balancer = Balancer::start(listener, vec![a.addr, b.addr]).await;
    let mut figures = workshop(Via(balancer.addr)).await;
    figures.print(
        "two replicas on Redis behind a balancer",
        &format!("{:.0} + {:.0} MiB", a.peak_mib(), b.peak_mib()),
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
        let (process, took) = serve(&data, url.map(|u| (u, secret.as_path())), None).await;
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
