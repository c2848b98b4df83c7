//! The web chat behind a real reverse proxy: Debian's nginx on loopback, configured with the
//! `location` block of the README's "Deploying the web chat" example, in front of the real
//! binary. nginx's default `proxy_pass` rewrites the Host header, so without `--public-url`
//! every post is refused, and the log says why; with it, posts through the proxy are answered.
//!
//! Needs `nginx` (`apt-get install nginx`; `.ci/run` installs it). Without it the test says so
//! and passes, except in CI (`CI` set), where it fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::web::{Person, Site};

const WAIT: Duration = Duration::from_secs(60);

fn nginx() -> Option<PathBuf> {
    let path = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if path.is_none() {
        let message = "the proxy test needs nginx (apt-get install -y nginx)";
        assert!(std::env::var_os("CI").is_none(), "{message}");
        eprintln!("skipped: {message}");
    }
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_for_port(port: u16, what: &str, log: impl Fn() -> String) {
    let deadline = Instant::now() + WAIT;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "{what} did not start:\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The README's nginx example: its `client_max_body_size` line and its `location / { ... }`
/// block, with the upstream pointed at `upstream`.
fn readme_nginx(upstream: u16) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("the README");
    let example = readme
        .split("```nginx\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("an nginx example in the README");
    let body_size = example
        .lines()
        .find(|l| l.trim_start().starts_with("client_max_body_size"))
        .expect("client_max_body_size in the nginx example")
        .trim()
        .to_owned();
    let start = example
        .find("location / {")
        .expect("a location / block in the nginx example");
    let mut depth = 0;
    let mut end = start;
    for (i, c) in example[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    end = start + i + 1;
                    break;
                }
            }
            _ => {}
        }
    }
    let location = &example[start..end];
    assert!(
        location.contains("proxy_pass http://127.0.0.1:8080"),
        "the example proxies to the default address: {location}"
    );
    let location = location.replace(
        "http://127.0.0.1:8080",
        &format!("http://127.0.0.1:{upstream}"),
    );
    format!("{body_size}\n{location}")
}

/// nginx with its own prefix folder, stopped when dropped.
struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
}

impl Nginx {
    fn start(binary: &Path, port: u16, upstream: u16) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().display();
        // One process, no master: killing it stops nginx whole (a killed master leaves its
        // worker running), and it keeps the user that started it, who can use this folder.
        let config = format!(
            "master_process off;\npid {p}/nginx.pid;\nevents {{ worker_connections 256; }}\n\
             http {{\n access_log off;\n client_body_temp_path {p}/body;\n proxy_temp_path {p}/proxy;\n \
             fastcgi_temp_path {p}/fastcgi;\n uwsgi_temp_path {p}/uwsgi;\n scgi_temp_path {p}/scgi;\n \
             server {{\n  listen 127.0.0.1:{port};\n  server_name localhost;\n  {site}\n }}\n}}\n",
            site = readme_nginx(upstream),
        );
        std::fs::write(dir.path().join("nginx.conf"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .args(["-e", "stderr", "-g", "daemon off; error_log stderr;"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("nginx starts");
        Nginx { child, dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bot's web chat on `port`, with `args`, its log in a file; stopped on SIGTERM.
struct Bot {
    child: Child,
    log: PathBuf,
    _data: tempfile::TempDir,
}

impl Bot {
    fn start(port: u16, args: &[&str]) -> Bot {
        let data = tempfile::tempdir().unwrap();
        let log = data.path().with_extension("log");
        let child = Command::new(env!("CARGO_BIN_EXE_rightsbot"))
            .arg("--data")
            .arg(data.path())
            .args(["serve", "--http", &format!("127.0.0.1:{port}")])
            .args(args)
            .env("RUST_LOG", "info")
            .env_remove("TELOXIDE_TOKEN")
            .env_remove("RIGHTSBOT_PUBLIC_URL")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Bot {
            child,
            log,
            _data: data,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + WAIT;
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the bot did not stop");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.log()
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The chat as people reach it: through nginx.
struct Proxied(u16);

impl Site for Proxied {
    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.0)
    }
}

#[tokio::test]
async fn the_readme_nginx_example_serves_the_chat_once_the_public_url_is_set() {
    let Some(nginx) = nginx() else { return };
    let upstream = free_port();
    let port = free_port();
    let proxy = Nginx::start(&nginx, port, upstream);
    let site = Proxied(port);

    // Without --public-url: nginx has rewritten Host, so the post is refused, and the log
    // names the real cause and the fix (not cookies).
    let bot = Bot::start(upstream, &[]);
    wait_for_port(upstream, "the bot", || bot.log()).await;
    wait_for_port(port, "nginx", || proxy.log()).await;
    let mut person = Person::arrive(&site, "/").await;
    person.say(&site, "can my mum visit me").await;
    assert!(
        person
            .text()
            .contains("couldn't accept that message from this page"),
        "{}",
        person.text()
    );
    let log = bot.stop().await;
    assert!(log.contains("a web post was refused"), "{log}");
    assert!(log.contains("wrong-origin"), "{log}");
    assert!(log.contains("--public-url"), "{log}");
    assert!(!log.contains("mum"), "no message text in the log: {log}");

    // With it: answered through the proxy, crisis and all.
    let public = site.origin();
    let bot = Bot::start(
        upstream,
        &["--public-url", &public, "--trusted-proxy", "127.0.0.1"],
    );
    wait_for_port(upstream, "the bot", || bot.log()).await;
    let mut person = Person::arrive(&site, "/").await;
    person.say(&site, "can my mum visit me").await;
    assert!(
        person.text().contains("Visits from family and friends"),
        "{}\n{}",
        person.text(),
        proxy.log()
    );
    // The longest replies too, by post/redirect/get: the page cookie names a "tell me more"
    // rather than copying it, so the redirect stays inside nginx's 4 KiB for headers.
    person.press(&site, "Tell me more").await;
    assert!(
        person.text().contains("Where this comes from"),
        "{}",
        person.text()
    );
    assert_eq!(person.posted, reqwest::StatusCode::SEE_OTHER);
    let longest = crate::web::longest_tell_me_more();
    let more = format!("1:tm:{}", longest.id);
    person
        .post(&site, &[("message", ""), ("action", &more)])
        .await;
    assert_eq!(person.posted, reqwest::StatusCode::SEE_OTHER);
    assert!(
        person.text().contains(&longest.last_line),
        "{}\n{}",
        person.text(),
        proxy.log()
    );
    person.say(&site, "i want to kill myself").await;
    assert!(person.text().contains("You matter"));
    assert_eq!(
        person.posted,
        reqwest::StatusCode::SEE_OTHER,
        "post/redirect/get works through a default nginx for the crisis reply"
    );
    // A long message, a whole 4,096 characters of it, gets through the proxy too.
    let long = format!("{} i want to die", "I keep thinking about it. ".repeat(163));
    person.say(&site, &long).await;
    assert!(
        person.text().contains("You matter"),
        "{:?} {:?}\n{}",
        person.posted,
        person.location,
        person.text()
    );
    let log = bot.stop().await;
    assert!(log.contains("stopped cleanly"), "{log}");
    assert!(!log.contains("refused"), "{log}");
}
