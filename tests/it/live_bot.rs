//! The real `rightsbot` binary as a child process, for the privacy, log and hostile-input
//! tests: Telegram against the fake Bot API, optionally the web chat on a free loopback port,
//! stderr captured to a file (with the log filter the test asks for), and helpers that read
//! every byte a stopped bot left in its data folder.
//!
//! It never kills anything but its own child, and always kills it when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rightsbot::content::Content;

use crate::fake_telegram::{FakeTelegram, TOKEN};

/// The built-in content, loaded once.
pub fn content() -> &'static Content {
    static CONTENT: std::sync::OnceLock<Content> = std::sync::OnceLock::new();
    CONTENT.get_or_init(|| rightsbot::content::load_embedded().expect("the built-in content loads"))
}

/// An interface string's first line, as it appears on screen.
pub fn ui(key: &str) -> String {
    let c = content();
    c.ui(&c.default_locale, key)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// How to run the bot.
#[derive(Default)]
pub struct Options<'a> {
    /// `RUST_LOG` for the child; `None` leaves the bot's default filter.
    pub rust_log: Option<&'a str>,
    /// Serve the web chat too, on a free loopback port.
    pub web: bool,
}

pub struct LiveBot {
    child: Child,
    log: PathBuf,
    /// The web chat's port, when it serves one.
    pub web_port: Option<u16>,
    /// getUpdates calls the fake had seen before this bot started.
    polls_before: usize,
}

impl LiveBot {
    /// Starts the bot on `data` and waits (generously) until it polls the fake. A start that
    /// fails because the database is still locked (sled releases its lock a moment after the
    /// test's own `Store` is dropped) is tried again.
    pub async fn start(fake: &FakeTelegram, data: &Path, options: Options<'_>) -> LiveBot {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let mut bot = LiveBot::spawn(fake, data, &options);
            match bot.ready(fake, deadline).await {
                Ok(()) => return bot,
                Err(log) if log.contains("cannot open the database") => {
                    assert!(
                        Instant::now() < deadline,
                        "the database stayed locked:\n{log}"
                    );
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(log) => panic!("the bot did not start:\n{log}"),
            }
        }
    }

    fn spawn(fake: &FakeTelegram, data: &Path, options: &Options<'_>) -> LiveBot {
        let log = data.with_extension(format!(
            "{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_nanos()
        ));
        let file = std::fs::File::create(&log).expect("a log file in the temp folder");
        let mut command = Command::new(env!("CARGO_BIN_EXE_rightsbot"));
        command.arg("--data").arg(data).args([
            "serve",
            "--telegram-poll-secs",
            "1",
            "--telegram-timeout-secs",
            "3",
        ]);
        let web_port = if options.web {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            command.args(["--http", &format!("127.0.0.1:{port}")]);
            Some(port)
        } else {
            command.arg("--no-http");
            None
        };
        match options.rust_log {
            Some(filter) => command.env("RUST_LOG", filter),
            None => command.env_remove("RUST_LOG"),
        };
        let child = command
            .env("TELOXIDE_TOKEN", TOKEN)
            .env("TELOXIDE_API_URL", &fake.api_url)
            .env_remove("RIGHTSBOT_DATA")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("the binary starts");
        LiveBot {
            child,
            log,
            web_port,
            polls_before: fake.calls("getUpdates").len(),
        }
    }

    /// Waits until the bot polls (and serves the web chat, if asked); `Err(log)` if it exits
    /// first.
    async fn ready(&mut self, fake: &FakeTelegram, deadline: Instant) -> Result<(), String> {
        while fake.calls("getUpdates").len() <= self.polls_before {
            if !self.is_running() {
                return Err(self.log());
            }
            assert!(
                Instant::now() < deadline,
                "the bot did not start:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Some(port) = self.web_port {
            let client = reqwest::Client::new();
            let url = format!("http://127.0.0.1:{port}/healthz");
            while client.get(&url).send().await.is_err() {
                if !self.is_running() {
                    return Err(self.log());
                }
                assert!(
                    Instant::now() < deadline,
                    "the web chat did not start:\n{}",
                    self.log()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then waits for the exit; returns whether it exited 0.
    pub async fn stop(&mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait works") {
                return status.success();
            }
            assert!(Instant::now() < deadline, "the bot did not stop");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Everything the bot wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for LiveBot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every file under `dir`, recursively.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Something that must not be found, by name (for the failure message) and its bytes.
pub struct Needle {
    pub what: String,
    pub bytes: Vec<u8>,
    /// Also found in another letter case (text, not binary numbers).
    pub fold_case: bool,
}

impl Needle {
    pub fn text(what: &str, text: &str) -> Needle {
        Needle {
            what: format!("{what} {text:?}"),
            bytes: text.as_bytes().to_vec(),
            fold_case: true,
        }
    }

    /// A number in decimal, and as 8 little- and big-endian bytes (in case it is stored
    /// binary rather than as text).
    pub fn number(what: &str, n: i64) -> Vec<Needle> {
        vec![
            Needle::text(what, &n.to_string()),
            Needle::text(what, &n.unsigned_abs().to_string()),
            Needle {
                what: format!("{what} {n} as big-endian bytes"),
                bytes: n.to_be_bytes().to_vec(),
                fold_case: false,
            },
            Needle {
                what: format!("{what} {n} as little-endian bytes"),
                bytes: n.to_le_bytes().to_vec(),
                fold_case: false,
            },
        ]
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Where each needle is found in `bytes` (named `source`).
pub fn findings(source: &str, bytes: &[u8], needles: &[Needle]) -> Vec<String> {
    let lower = bytes.to_ascii_lowercase();
    needles
        .iter()
        .filter(|n| {
            find(bytes, &n.bytes) || (n.fold_case && find(&lower, &n.bytes.to_ascii_lowercase()))
        })
        .map(|n| format!("{} found in {source}", n.what))
        .collect()
}

/// Scans every byte of every file under `dir`.
pub fn scan_folder(dir: &Path, needles: &[Needle]) -> Vec<String> {
    let files = walk(dir);
    assert!(!files.is_empty(), "nothing in {}", dir.display());
    files
        .iter()
        .flat_map(|path| {
            let bytes = std::fs::read(path).unwrap_or_default();
            findings(&path.display().to_string(), &bytes, needles)
        })
        .collect()
}
