//! Several `rightsbot serve` processes on one real `redis-server` behave as one bot: behind
//! the test's own round-robin TCP balancer on loopback, a web conversation moves between
//! replicas on every request, goes on through the other when one is killed mid-conversation,
//! and "forget me" erases it everywhere; nothing in Redis says who anyone is or what they said.
//! And when Redis goes away for a while the bot still answers (the crisis reply first), says
//! it cannot remember the conversation, and recovers when Redis is back, without a restart.
//! On Telegram, webhook replicas answer each update once, whichever replica it reaches.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use rightsbot::store::{Channel, Options, Store};

use crate::fake_telegram::{FakeTelegram, RateLimits, TOKEN};
use crate::live_bot::ui;
use crate::redis_server::RedisServer;
use crate::web::{Person, Site, text_of};

/// One `rightsbot serve` process serving the web chat only, on Redis.
pub struct Replica {
    child: Child,
    pub addr: SocketAddr,
    log: std::path::PathBuf,
}

impl Replica {
    /// Starts one on `port`, with `public` as its --public-url.
    pub async fn start(
        redis_url: &str,
        secret: &Path,
        dir: &Path,
        port: u16,
        public: &str,
    ) -> Replica {
        Replica::start_with(redis_url, secret, dir, port, public, &[]).await
    }

    /// The same, with more environment (`SSL_CERT_FILE` for a Redis behind TLS).
    pub async fn start_with(
        redis_url: &str,
        secret: &Path,
        dir: &Path,
        port: u16,
        public: &str,
        env: &[(&str, &Path)],
    ) -> Replica {
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let log = dir.join(format!("replica-{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_rightsbot"))
            .arg("--data")
            .arg(dir.join(format!("data-{port}")))
            .args(["--store", redis_url])
            .arg("--secret-file")
            .arg(secret)
            .args(["serve", "--http", &addr.to_string(), "--public-url", public])
            .env_remove("TELOXIDE_TOKEN")
            .env_remove("RIGHTSBOT_STORE")
            .env_remove("RIGHTSBOT_SECRET_FILE")
            .env_remove("RIGHTSBOT_PUBLIC_URL")
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the binary starts");
        let mut replica = Replica { child, addr, log };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(Some(status)) = replica.child.try_wait() {
                panic!("a replica exited ({status}):\n{}", replica.log());
            }
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return replica;
            }
            assert!(Instant::now() < deadline, "no replica:\n{}", replica.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// As a crash would: no chance to finish anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A round-robin TCP balancer: each connection goes to the next replica that accepts it (a
/// dead one is skipped, as a balancer's health check would).
pub struct Balancer {
    pub addr: SocketAddr,
    /// How many connections each replica got.
    pub served: Arc<Vec<AtomicUsize>>,
    task: tokio::task::JoinHandle<()>,
}

impl Balancer {
    pub async fn start(listener: tokio::net::TcpListener, replicas: Vec<SocketAddr>) -> Balancer {
        let addr = listener.local_addr().unwrap();
        let served: Arc<Vec<AtomicUsize>> =
            Arc::new(replicas.iter().map(|_| AtomicUsize::new(0)).collect());
        let next = Arc::new(AtomicUsize::new(0));
        let counts = served.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let (replicas, next, counts) = (replicas.clone(), next.clone(), counts.clone());
                tokio::spawn(async move {
                    let first = next.fetch_add(1, Ordering::Relaxed);
                    for i in 0..replicas.len() {
                        let which = (first + i) % replicas.len();
                        if let Ok(mut outbound) =
                            tokio::net::TcpStream::connect(replicas[which]).await
                        {
                            counts[which].fetch_add(1, Ordering::Relaxed);
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                            return;
                        }
                    }
                });
            }
        });
        Balancer { addr, served, task }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Site for Balancer {
    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A single replica, reached directly.
struct Direct(SocketAddr);

impl Site for Direct {
    fn origin(&self) -> String {
        format!("http://{}", self.0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_are_one_bot_and_a_conversation_survives_losing_one() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("install.key");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("http://{}", listener.local_addr().unwrap());
    // One after the other: the first creates the shared secret.
    let mut a = Replica::start(&redis.url(0), &secret, dir.path(), free_port(), &public).await;
    let b = Replica::start(&redis.url(0), &secret, dir.path(), free_port(), &public).await;
    let balancer = Balancer::start(listener, vec![a.addr, b.addr]).await;

    let mut person = Person::without_keep_alive();
    assert_eq!(person.get(&balancer, "/").await, StatusCode::OK);
    assert!(text_of(&person.page).contains("Who are you?"));
    let question = "can my mum visit me";
    assert_eq!(
        person.press(&balancer, "I'm a young person").await,
        StatusCode::OK
    );
    assert_eq!(person.say(&balancer, question).await, StatusCode::OK);
    assert!(text_of(&person.page).contains("Visits from family and friends"));
    assert_eq!(person.command(&balancer, "mydata").await, StatusCode::OK);
    assert!(
        text_of(&person.page).contains("\"audience\":\"young_person\""),
        "a replica that did not take the audience remembers it"
    );
    let served: Vec<usize> = balancer
        .served
        .iter()
        .map(|n| n.load(Ordering::Relaxed))
        .collect();
    assert!(
        served.iter().all(|&n| n > 0),
        "both replicas served: {served:?}"
    );

    // Mid-conversation: the bot has asked whether to delete everything. One replica dies.
    assert_eq!(person.say(&balancer, "/forget").await, StatusCode::OK);
    assert!(text_of(&person.page).contains("Do you want me to delete everything"));
    let old_id = person.session_id();
    a.kill();
    assert_eq!(
        person.press(&balancer, "Yes, delete it").await,
        StatusCode::OK
    );
    assert!(
        text_of(&person.page).contains("I've deleted everything I kept about you"),
        "the other replica carried on:\n{}\n{}",
        text_of(&person.page),
        b.log()
    );

    // Erased for every replica; and nothing in Redis says who anyone was or what they said.
    let store = Store::connect(&Options {
        data: dir.path().join("reader"),
        url: Some(redis.url(0)),
        secret_file: Some(secret.clone()),
        ttl_secs: 30 * 24 * 60 * 60,
    })
    .await
    .unwrap();
    let key = store.key(Channel::Web, &old_id);
    assert_eq!(store.raw_record(&key).await, None);
    let secret_bytes = std::fs::read(&secret).unwrap();
    let needles: Vec<&[u8]> = vec![
        old_id.as_bytes(),
        person.session_id().as_bytes().to_vec().leak(),
        question.as_bytes(),
        b"127.0.0.1",
        &secret_bytes,
    ];
    for (k, v) in store.dump().await.unwrap() {
        for needle in &needles {
            for bytes in [&k, &v] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == *needle),
                    "Redis key {:?} holds {:?}",
                    String::from_utf8_lossy(&k),
                    String::from_utf8_lossy(needle)
                );
            }
        }
    }
}

/// A Redis reached across a network is reached over TLS (`rediss://`), with a password: the
/// server's certificate is checked against the trusted authorities (here `SSL_CERT_FILE`,
/// which OpenSSL reads), and a replica that cannot check it refuses to start, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_reach_redis_over_tls_with_a_password() {
    let redis = RedisServer::start_tls("correct horse");
    let url = format!("rediss://:correct%20horse@127.0.0.1:{}/0", redis.port);
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("install.key");
    let trust = redis.certificate();
    let env = [("SSL_CERT_FILE", trust.as_path())];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("http://{}", listener.local_addr().unwrap());
    let a = Replica::start_with(&url, &secret, dir.path(), free_port(), &public, &env).await;
    let b = Replica::start_with(&url, &secret, dir.path(), free_port(), &public, &env).await;
    let balancer = Balancer::start(listener, vec![a.addr, b.addr]).await;
    let mut person = Person::without_keep_alive();
    assert_eq!(person.get(&balancer, "/").await, StatusCode::OK);
    assert_eq!(
        person.press(&balancer, "I'm a parent or carer").await,
        StatusCode::OK
    );
    assert_eq!(person.command(&balancer, "mydata").await, StatusCode::OK);
    assert!(
        text_of(&person.page).contains("\"audience\":\"parent\""),
        "the session went through Redis over TLS to the other replica:\n{}\n{}",
        a.log(),
        b.log()
    );

    // Not trusting the certificate, a replica says so and does not start.
    let untrusting = Command::new(env!("CARGO_BIN_EXE_rightsbot"))
        .arg("--data")
        .arg(dir.path().join("untrusting"))
        .args(["--store", &url])
        .arg("--secret-file")
        .arg(&secret)
        .args(["serve", "--http", &format!("127.0.0.1:{}", free_port())])
        .env_remove("TELOXIDE_TOKEN")
        .env("SSL_CERT_FILE", dir.path().join("no-such-authority.pem"))
        .env("SSL_CERT_DIR", dir.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&untrusting.stderr);
    assert!(!untrusting.status.success());
    assert!(said.contains("cannot reach Redis"), "{said}");
    assert!(!said.contains("correct"), "the password was shown: {said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_the_bot_still_helps_says_it_cannot_remember_and_recovers() {
    let mut redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("install.key");
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let replica = Replica::start(&redis.url(0), &secret, dir.path(), port, &public).await;
    let site = Direct(replica.addr);
    let cannot_remember = ui("web.no_memory");

    let mut person = Person::arrive(&site, "/").await;
    assert_eq!(
        person.press(&site, "I'm a young person").await,
        StatusCode::OK
    );
    assert!(!text_of(&person.page).contains(&cannot_remember));

    redis.stop();
    assert_eq!(
        person.say(&site, "i want to kill myself").await,
        StatusCode::OK
    );
    let page = text_of(&person.page);
    assert!(
        page.contains("You matter"),
        "the crisis reply, from memory:\n{page}"
    );
    assert!(page.contains(&cannot_remember), "{page}");
    assert_eq!(
        person.say(&site, "can my mum visit me").await,
        StatusCode::OK
    );
    assert!(text_of(&person.page).contains(&cannot_remember));

    // Back, on the same port (empty: this test's Redis keeps nothing on disk). No restart.
    redis.restart();
    let mut remembered = false;
    for _ in 0..20 {
        assert_eq!(
            person.say(&site, "can my mum visit me").await,
            StatusCode::OK
        );
        if !text_of(&person.page).contains(&cannot_remember) {
            remembered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(remembered, "the bot did not reconnect:\n{}", replica.log());
    assert_eq!(person.command(&site, "mydata").await, StatusCode::OK);
    assert!(
        text_of(&person.page).contains("\"version\""),
        "a session is kept again"
    );
}

/// One Telegram webhook replica on Redis, against the fake Bot API.
struct HookReplica {
    child: Child,
    hook: String,
    log: std::path::PathBuf,
}

impl Drop for HookReplica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const HOOK_SECRET: &str = "replicas-share-this-secret";

impl HookReplica {
    async fn start(fake: &FakeTelegram, redis_url: &str, secret: &Path, dir: &Path) -> HookReplica {
        let port = free_port();
        let log = dir.join(format!("hook-{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_rightsbot"))
            .arg("--data")
            .arg(dir.join(format!("data-{port}")))
            .args(["--store", redis_url])
            .arg("--secret-file")
            .arg(secret)
            .args(["serve", "--no-http", "--telegram-timeout-secs", "3"])
            .args(["--telegram-poll-secs", "1"])
            .args(["--webhook-url", "https://bot.example.org/tg/hook"])
            .args(["--webhook-listen", &format!("127.0.0.1:{port}")])
            .env("TELOXIDE_TOKEN", TOKEN)
            .env("TELOXIDE_API_URL", &fake.api_url)
            .env("RIGHTSBOT_WEBHOOK_SECRET", HOOK_SECRET)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the binary starts");
        let mut replica = HookReplica {
            child,
            hook: format!("http://127.0.0.1:{port}/tg/hook"),
            log,
        };
        // Listening once a post without the secret is refused.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(r) = reqwest::Client::new().post(&replica.hook).send().await {
                assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
                return replica;
            }
            let exited = replica.child.try_wait().ok().flatten().is_some();
            assert!(
                !exited && Instant::now() < deadline,
                "no webhook:\n{}",
                replica.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn deliver(&self, update: &serde_json::Value) -> StatusCode {
        reqwest::Client::new()
            .post(&self.hook)
            .header(rightsbot::telegram::SECRET_HEADER, HOOK_SECRET)
            .header("content-type", "application/json")
            .body(update.to_string())
            .send()
            .await
            .unwrap()
            .status()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn private_chat(user: i64) -> serde_json::Value {
    serde_json::json!({"id": user, "type": "private", "first_name": "Sam"})
}

fn text_update(id: u32, user: i64, text: &str) -> serde_json::Value {
    serde_json::json!({"update_id": id, "message": {"message_id": id, "date": 1_700_000_000,
        "chat": private_chat(user),
        "from": {"id": user, "is_bot": false, "first_name": "Sam"}, "text": text}})
}

fn press_update(id: u32, user: i64, data: &str) -> serde_json::Value {
    serde_json::json!({"update_id": id, "callback_query": {"id": format!("q{id}"),
        "from": {"id": user, "is_bot": false, "first_name": "Sam"}, "chat_instance": "c",
        "message": {"message_id": 1, "date": 1_700_000_000, "chat": private_chat(user),
            "text": "x"},
        "data": data}})
}

/// Behind a balancer, Telegram's retry of an update may reach another replica while the first
/// is still answering it: it is answered once. And the conversation is one conversation: a
/// question asked through one replica is answered through the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_replicas_answer_each_update_once_and_share_the_conversation() {
    let fake = FakeTelegram::start().await;
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("install.key");
    let a = HookReplica::start(&fake, &redis.url(0), &secret, dir.path()).await;
    let b = HookReplica::start(&fake, &redis.url(0), &secret, dir.path()).await;
    let user = 5_550_099_001;

    // The same update to both at once, as a retry might land.
    let first = text_update(1, user, "/forget");
    let (to_a, to_b) = tokio::join!(a.deliver(&first), b.deliver(&first));
    assert_eq!((to_a, to_b), (StatusCode::OK, StatusCode::OK));
    let asked = fake.sent_to(user);
    assert_eq!(
        asked.len(),
        1,
        "answered once: {asked:#?}\n{}\n{}",
        a.log(),
        b.log()
    );
    assert!(asked[0].text.contains(&ui("forget.ask")));

    // The answer to that question, through the other replica.
    let yes = asked[0].data_for(&ui("forget.yes")).expect("a yes button");
    assert_eq!(
        b.deliver(&press_update(2, user, &yes)).await,
        StatusCode::OK
    );
    let sent = fake.sent_to(user);
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(sent[1].text.contains(&ui("forget.done")), "{sent:#?}");
    // And a late retry of the first update, to either, changes nothing.
    assert_eq!(a.deliver(&first).await, StatusCode::OK);
    assert_eq!(fake.sent_to(user).len(), 2);
}

/// Telegram's limit of about 30 messages a second is the bot's, not one process's: two webhook
/// replicas answering a burst of people at once keep to it together (each alone would send at
/// 29 a second), so Telegram refuses none of their sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_replicas_share_telegrams_overall_limit() {
    let fake = FakeTelegram::start().await;
    fake.enforce_limits(RateLimits::TELEGRAM);
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("install.key");
    let a = HookReplica::start(&fake, &redis.url(0), &secret, dir.path()).await;
    let b = HookReplica::start(&fake, &redis.url(0), &secret, dir.path()).await;
    let users: Vec<i64> = (0..80).map(|i| 5_550_098_000 + i).collect();
    let updates: Vec<serde_json::Value> = users
        .iter()
        .enumerate()
        .map(|(i, &user)| text_update(i as u32 + 1, user, "/help"))
        .collect();
    let deliveries = updates.iter().enumerate().map(|(i, update)| {
        let replica = if i % 2 == 0 { &a } else { &b };
        replica.deliver(update)
    });
    for status in futures_util::future::join_all(deliveries).await {
        assert_eq!(status, StatusCode::OK);
    }
    for &user in &users {
        assert_eq!(fake.sent_to(user).len(), 1, "user {user}");
    }
    let calls = fake.calls("sendMessage");
    let refused = calls.iter().filter(|c| c.status == 429).count();
    assert_eq!(
        refused,
        0,
        "{refused} of {} sends answered 429: {:?}",
        calls.len(),
        fake.refusals()
    );
    assert!(fake.refusals().is_empty(), "{:?}", fake.refusals());
}

/// Telegram allows one poller per bot: a second replica on the same Redis stands by instead
/// of polling, and every message is answered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_polling_replica_stands_by() {
    let fake = FakeTelegram::start().await;
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("install.key");
    let spawn = |name: &str| {
        let log = dir.path().join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_rightsbot"))
            .arg("--data")
            .arg(dir.path().join(name))
            .args(["--store", &redis.url(0)])
            .arg("--secret-file")
            .arg(&secret)
            .args(["serve", "--no-http", "--telegram-timeout-secs", "3"])
            .args(["--telegram-poll-secs", "1"])
            .env("TELOXIDE_TOKEN", TOKEN)
            .env("TELOXIDE_API_URL", &fake.api_url)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the binary starts");
        (KillOnDrop(child), log)
    };
    let (_first, _) = spawn("first");
    fake.wait_until("the first replica polls", |f| {
        !f.calls("getUpdates").is_empty()
    })
    .await;
    let (_second, second_log) = spawn("second");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !std::fs::read_to_string(&second_log)
        .unwrap_or_default()
        .contains("another replica polls Telegram")
    {
        assert!(
            Instant::now() < deadline,
            "the second replica did not stand by"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let user = 5_550_099_002;
    let replies = fake.say(user, "/menu").await;
    assert_eq!(replies.len(), 1);
    assert_eq!(fake.sent_to(user).len(), 1);
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A dashboard link made once against the shared store opens on every replica, shows its own
/// campaign, and once revoked stops working on every replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_link_made_once_works_on_every_replica_until_revoked() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("install.key");
    let public = format!("http://127.0.0.1:{}", free_port());
    let a = Replica::start(&redis.url(0), &secret, dir.path(), free_port(), &public).await;
    let b = Replica::start(&redis.url(0), &secret, dir.path(), free_port(), &public).await;
    let operator = |action: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_rightsbot"))
            .arg("--data")
            .arg(dir.path().join("operator"))
            .args(["--store", &redis.url(0)])
            .arg("--secret-file")
            .arg(&secret)
            .arg("dashboard")
            .args(action)
            .env_remove("RIGHTSBOT_STORE")
            .env_remove("RIGHTSBOT_DATA")
            .output()
            .expect("the binary runs");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let printed = operator(&["new", "--campaign", "ward7", "--public-url", &public]);
    let link = printed.lines().next().unwrap();
    assert!(
        link.starts_with(&format!("{public}/advocates/")),
        "{printed}"
    );
    let path = &link[public.len()..];
    for replica in [&a, &b] {
        let page = reqwest::get(format!("http://{}{path}", replica.addr))
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{}", replica.log());
        assert!(page.text().await.unwrap().contains("ward7"));
    }
    assert!(operator(&["revoke", "--campaign", "ward7"]).contains("revoked 1 link"));
    for replica in [&a, &b] {
        let page = reqwest::get(format!("http://{}{path}", replica.addr))
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::NOT_FOUND);
    }
}
