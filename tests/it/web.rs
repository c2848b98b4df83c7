//! The web chat over real HTTP on loopback: every route, the limits, the headers, the cookie,
//! CSRF, start links, "forget me", and that no message text reaches the store.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use rightsbot::engine::Engine;
use rightsbot::store::{Channel, Store};
use rightsbot::web::{self, Config, Limits, Rate};
use tokio_util::sync::CancellationToken;

/// A web chat running in-process on 127.0.0.1 with a real store in a temp folder.
pub struct Server {
    pub addr: SocketAddr,
    pub store: Arc<Store>,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub dir: tempfile::TempDir,
}

impl Server {
    pub async fn start(config: Config) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), 30 * 24 * 60 * 60).unwrap());
        let engine = Engine::new(rightsbot::content::load_embedded().expect("content is valid"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(web::serve(
            listener,
            engine,
            store.clone(),
            config,
            shutdown.clone(),
        ));
        Server {
            addr,
            store,
            shutdown,
            task,
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        Site::url(self, path)
    }
}

/// Somewhere the web chat is served.
pub trait Site {
    fn origin(&self) -> String;

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }
}

impl Site for Server {
    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A person with a browser that keeps the cookie and posts back what the page gave it.
struct Person {
    client: reqwest::Client,
    cookie: Option<String>,
    csrf: String,
    log: String,
    /// The last page's HTML.
    page: String,
}

pub fn attr_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of the hidden field `name` in `html`.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field"))
        + marker.len();
    let end = start + html[start..].find('"').unwrap();
    attr_unescape(&html[start..end])
}

/// The `name=value` of the cookie a response sets, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("set-cookie")?.to_str().ok()?;
    let pair = value.split(';').next()?;
    Some(pair.trim().to_owned())
}

impl Person {
    async fn arrive(server: &impl Site, path: &str) -> Person {
        let mut person = Person {
            client: client(),
            cookie: None,
            csrf: String::new(),
            log: String::new(),
            page: String::new(),
        };
        let response = person.client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        person.take(response).await;
        person
    }

    async fn take(&mut self, response: reqwest::Response) -> StatusCode {
        let status = response.status();
        if let Some(cookie) = session_cookie(response.headers()) {
            self.cookie = Some(cookie);
        }
        self.page = response.text().await.unwrap();
        if self.page.contains("name=\"csrf\"") {
            self.csrf = hidden(&self.page, "csrf");
            self.log = hidden(&self.page, "log");
        }
        status
    }

    fn post(&self, server: &impl Site, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let mut form: Vec<(&str, &str)> = vec![("csrf", &self.csrf), ("log", &self.log)];
        form.extend_from_slice(fields);
        let mut request = self
            .client
            .post(server.url("/chat"))
            .header("origin", server.origin())
            .form(&form);
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        request
    }

    async fn say(&mut self, server: &impl Site, text: &str) -> StatusCode {
        let response = self
            .post(server, &[("message", text), ("send", "1")])
            .send()
            .await
            .unwrap();
        self.take(response).await
    }

    async fn press(&mut self, server: &impl Site, label: &str) -> StatusCode {
        let value = button_value(&self.page, label);
        let response = self
            .post(server, &[("message", ""), ("action", &value)])
            .send()
            .await
            .unwrap();
        self.take(response).await
    }

    async fn command(&mut self, server: &impl Site, name: &str) -> StatusCode {
        let response = self
            .post(server, &[("message", ""), ("command", name)])
            .send()
            .await
            .unwrap();
        self.take(response).await
    }

    fn session_id(&self) -> String {
        self.cookie
            .as_ref()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_owned()
    }
}

/// The value of the live button labelled `label` on the page.
fn button_value(html: &str, label: &str) -> String {
    let escaped = label.replace('\'', "&#39;");
    let end = html
        .find(&format!("\">{escaped}</button>"))
        .unwrap_or_else(|| panic!("no button {label:?} on the page"));
    let start = html[..end].rfind("value=\"").unwrap() + "value=\"".len();
    attr_unescape(&html[start..end])
}

fn text_of(html: &str) -> String {
    attr_unescape(html)
}

#[tokio::test]
async fn the_chat_page_sets_one_strict_cookie_and_hardening_headers() {
    let server = Server::start(Config::default()).await;
    let response = client().get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let csp = h("content-security-policy");
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(h("x-content-type-options"), "nosniff");
    assert_eq!(h("referrer-policy"), "no-referrer");
    assert_eq!(h("cache-control"), "no-store");
    assert_eq!(headers.get_all("set-cookie").iter().count(), 1);
    let cookie = h("set-cookie");
    assert!(cookie.starts_with("rightsbot_session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=2592000"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain http on loopback: not Secure"
    );
    let id = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    assert_eq!(id.len(), 32, "128 random bits as hex");
    let page = response.text().await.unwrap();
    // Help and the way out are on the page from the start.
    assert!(page.contains("href=\"/helplines\">Get help now</a>"));
    assert!(page.contains("href=\"https://www.bbc.co.uk/weather\""));
    assert!(page.contains("Leave this page quickly"));
    assert!(page.contains("<label for=\"message\">"));
    assert!(page.contains("aria-live=\"polite\""));
    // Same-origin assets only; no inline scripts or styles.
    assert!(!page.contains("style="));
    assert!(!page.contains("<style"));
    assert_eq!(page.matches("<script").count(), 1);
    assert!(page.contains("<script src=\"/assets/chat.js\" defer></script>"));
    assert!(
        !page.contains("http://") && !page.contains("//cdn"),
        "no third-party assets"
    );
    assert!(text_of(&page).contains("I'm a young person"));
}

#[tokio::test]
async fn secure_cookie_behind_an_https_proxy_or_with_the_flag() {
    let server = Server::start(Config::default()).await;
    let response = client()
        .get(server.url("/"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");

    let server = Server::start(Config {
        secure_cookie: true,
        ..Config::default()
    })
    .await;
    let response = client().get(server.url("/")).send().await.unwrap();
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("; Secure")
    );
}

#[tokio::test]
async fn a_whole_conversation_without_javascript_keeps_no_message_text() {
    let server = Server::start(Config::default()).await;
    let mut person = Person::arrive(&server, "/").await;
    // A first visit that changed nothing stores nothing.
    let key = server.store.key(Channel::Web, &person.session_id());
    assert_eq!(server.store.raw_record(&key), None);

    assert_eq!(
        person.say(&server, "can my mum visit me").await,
        StatusCode::OK
    );
    let page = text_of(&person.page);
    assert!(page.contains("Visits from family and friends"), "{page}");
    assert!(page.contains("You said: </span>can my mum visit me"));
    assert!(person.page.contains("id=\"latest\""));

    assert_eq!(
        person.press(&server, "What can I ask?").await,
        StatusCode::OK
    );
    let page = text_of(&person.page);
    assert!(page.contains("You could ask staff:"), "{page}");
    assert!(page.contains("You said: </span>What can I ask?"));
    // The earlier turn is still shown (from the page's own history), without its buttons.
    assert!(page.contains("can my mum visit me"));
    assert_eq!(person.page.matches("value=\"1:ta:visiting\"").count(), 0);

    assert_eq!(person.press(&server, "Tell me more").await, StatusCode::OK);
    assert!(text_of(&person.page).contains("Where this comes from:"));
    assert_eq!(person.press(&server, "Menu").await, StatusCode::OK);
    assert!(text_of(&person.page).contains("What would you like to know about?"));

    // Only the engine's session is stored, never what was typed or shown.
    let record = server.store.raw_record(&key).expect("a session is stored");
    let record = String::from_utf8(record).unwrap();
    assert!(record.contains("\"version\""), "{record}");
    assert!(!record.contains("mum"));
    server.store.flush().unwrap();
    for entry in crate::live_bot::walk(server.dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        let found = bytes
            .windows(b"my mum visit".len())
            .any(|w| w == b"my mum visit");
        assert!(!found, "message text found in {}", entry.display());
    }
}

#[tokio::test]
async fn the_script_gets_json_with_the_new_turn_only() {
    let server = Server::start(Config::default()).await;
    let person = Person::arrive(&server, "/").await;
    let response = person
        .post(
            &server,
            &[("message", "can my mum visit me"), ("send", "1")],
        )
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let reply: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    let html = reply["html"].as_str().unwrap();
    assert!(html.contains("Visits from family and friends"));
    assert!(html.contains("can my mum visit me"));
    assert!(!html.contains("<html"), "a fragment, not a page");
    assert!(
        !html.contains("I&#39;m a young person"),
        "earlier turns are not sent again"
    );
    assert_eq!(reply["csrf"].as_str().unwrap(), person.csrf);
    assert!(
        reply["log"]
            .as_str()
            .unwrap()
            .contains("can my mum visit me")
    );
    assert_eq!(reply["crisis"], false);
    assert_eq!(reply["notice"], "");
}

#[tokio::test]
async fn posts_need_the_session_cookie_its_token_and_our_origin() {
    let server = Server::start(Config::default()).await;
    let person = Person::arrive(&server, "/").await;
    let attack_log = r#"[[{"s":"b","x":"PHISHING call 0900"}]]"#;

    // A forged token.
    let response = client()
        .post(server.url("/chat"))
        .header("cookie", person.cookie.clone().unwrap())
        .header("origin", server.origin())
        .form(&[
            ("csrf", "0".repeat(32).as_str()),
            ("log", attack_log),
            ("message", "hi"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let page = text_of(&response.text().await.unwrap());
    assert!(page.contains("started a fresh chat"), "{page}");
    assert!(
        !page.contains("PHISHING"),
        "a refused post's history is never shown"
    );

    // The right token from another site.
    let response = person
        .post(&server, &[("message", "hi")])
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = person
        .post(&server, &[("message", "hi")])
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // No cookie at all (a cross-site post: SameSite=Strict keeps it back): refused kindly,
    // with a fresh cookie for next time.
    let response = client()
        .post(server.url("/chat"))
        .form(&[
            ("csrf", person.csrf.as_str()),
            ("log", attack_log),
            ("message", "hi"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get("set-cookie").is_some());
    assert!(!response.text().await.unwrap().contains("PHISHING"));

    // And the genuine post works.
    let mut person = person;
    assert_eq!(person.say(&server, "hello").await, StatusCode::OK);
}

#[tokio::test]
async fn too_long_messages_and_bodies_get_a_kind_answer() {
    let server = Server::start(Config::default()).await;
    let mut person = Person::arrive(&server, "/").await;
    let long = "a".repeat(web::MAX_MESSAGE_CHARS + 1);
    assert_eq!(
        person.say(&server, &long).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let page = text_of(&person.page);
    assert!(
        page.contains("That message is too long for me to read"),
        "{page}"
    );
    assert!(page.contains(&format!("Up to {} characters", web::MAX_MESSAGE_CHARS)));
    // The conversation is still there, buttons and all.
    assert!(person.page.contains("value=\"1:a:young_person\""));

    // Exactly at the limit is fine (multi-byte characters count as one).
    let at_limit = "é".repeat(web::MAX_MESSAGE_CHARS);
    assert_eq!(person.say(&server, &at_limit).await, StatusCode::OK);

    let huge = "b".repeat(web::MAX_BODY_BYTES + 10);
    let response = person
        .post(&server, &[("message", &huge)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(text_of(&response.text().await.unwrap()).contains("more than I can read at once"));

    assert_eq!(
        person.say(&server, "   ").await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert!(text_of(&person.page).contains("Type a question first"));
}

#[tokio::test]
async fn fast_senders_are_asked_politely_to_wait() {
    let config = Config {
        limits: Limits {
            per_session: Rate {
                burst: 3,
                per_minute: 1,
            },
            per_address: Rate {
                burst: 1000,
                per_minute: 1000,
            },
        },
        ..Config::default()
    };
    let server = Server::start(config).await;
    let mut person = Person::arrive(&server, "/").await;
    for _ in 0..3 {
        assert_eq!(person.say(&server, "hello").await, StatusCode::OK);
    }
    assert_eq!(
        person.say(&server, "hello").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert!(text_of(&person.page).contains("Please wait a few seconds"));
    // Another person is not slowed down by the first.
    let mut other = Person::arrive(&server, "/").await;
    assert_eq!(other.say(&server, "hello").await, StatusCode::OK);

    let config = Config {
        limits: Limits {
            per_session: Rate {
                burst: 100,
                per_minute: 100,
            },
            per_address: Rate {
                burst: 2,
                per_minute: 1,
            },
        },
        ..Config::default()
    };
    let server = Server::start(config).await;
    let client = client();
    for _ in 0..2 {
        let response = client.get(server.url("/")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
    assert!(text_of(&response.text().await.unwrap()).contains("Please wait a few seconds"));
}

#[tokio::test]
async fn start_links_open_a_topic_for_an_audience_and_count_the_campaign() {
    let server = Server::start(Config::default()).await;
    let person = Person::arrive(&server, "/?start=t_visiting-a_parent-c_ward7").await;
    let page = text_of(&person.page);
    assert!(page.contains("Visits from family and friends"));
    assert!(
        page.contains("Your child keeps their right to family life"),
        "parent wording"
    );
    let counts = server.store.counts();
    assert!(
        counts
            .iter()
            .any(|(_, campaign, topic, n)| campaign == "ward7" && topic == "visiting" && *n == 1),
        "{counts:?}"
    );
    // The audience is remembered for the conversation.
    let key = server.store.key(Channel::Web, &person.session_id());
    let record = String::from_utf8(server.store.raw_record(&key).unwrap()).unwrap();
    assert!(record.contains("\"audience\":\"parent\""), "{record}");

    // A broken link is just the welcome, never an error.
    let person = Person::arrive(&server, "/?start=%3Cscript%3E").await;
    assert!(text_of(&person.page).contains("Who are you?"));
    assert!(!person.page.contains("<script>"));
    let person = Person::arrive(&server, "/?start=t_visiting&start=t_ect").await;
    assert!(text_of(&person.page).contains("Who are you?"));
}

#[tokio::test]
async fn forget_me_my_data_and_privacy_work_as_buttons_and_typed_commands() {
    let server = Server::start(Config::default()).await;
    let mut person = Person::arrive(&server, "/").await;
    person.press(&server, "I'm a young person").await;
    let key = server.store.key(Channel::Web, &person.session_id());
    assert!(server.store.raw_record(&key).is_some());

    assert_eq!(person.command(&server, "mydata").await, StatusCode::OK);
    let page = text_of(&person.page);
    assert!(page.contains("This is everything I keep about this chat"));
    assert!(page.contains("\"audience\":\"young_person\""), "{page}");

    assert_eq!(person.say(&server, "/privacy").await, StatusCode::OK);
    assert!(text_of(&person.page).contains("Your privacy"));

    assert_eq!(person.say(&server, "/forget").await, StatusCode::OK);
    assert!(text_of(&person.page).contains("Do you want me to delete everything"));
    let old_cookie = person.cookie.clone();
    assert_eq!(
        person.press(&server, "Yes, delete it").await,
        StatusCode::OK
    );
    let page = text_of(&person.page);
    assert!(page.contains("I've deleted everything I kept about you"));
    assert!(
        !page.contains("/privacy</span>"),
        "the page forgets the conversation too"
    );
    assert!(!page.contains("This is everything I keep"));
    assert_eq!(server.store.raw_record(&key), None);
    assert_ne!(person.cookie, old_cookie, "a new id after forgetting");

    // And the next message starts afresh under the new id.
    assert_eq!(person.command(&server, "forget").await, StatusCode::OK);
    assert!(text_of(&person.page).contains("Do you want me to delete everything"));
}

#[tokio::test]
async fn a_cry_for_help_brings_help_to_the_top() {
    let server = Server::start(Config::default()).await;
    let mut person = Person::arrive(&server, "/").await;
    assert!(!person.page.contains("<body class=\"crisis\">"));
    assert_eq!(
        person.say(&server, "i want to kill myself").await,
        StatusCode::OK
    );
    assert!(person.page.contains("<body class=\"crisis\">"));
    let page = text_of(&person.page);
    assert!(page.contains("You matter"));
    assert!(page.contains("Childline"));
    // Help stays emphasised on the next reply too.
    assert_eq!(person.press(&server, "Menu").await, StatusCode::OK);
    assert!(person.page.contains("<body class=\"crisis\">"));
}

#[tokio::test]
async fn what_people_type_is_escaped() {
    let server = Server::start(Config::default()).await;
    let mut person = Person::arrive(&server, "/").await;
    person
        .say(&server, "<script>alert(1)</script>\" onmouseover=\"x")
        .await;
    assert!(!person.page.contains("<script>alert"));
    assert!(
        person
            .page
            .contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot; onmouseover=&quot;x")
    );
    // And it survives the round trip through the page's history field, still escaped.
    person.say(&server, "hello").await;
    assert!(!person.page.contains("<script>alert"));
    assert!(person.page.contains("&lt;script&gt;alert(1)"));
}

#[tokio::test]
async fn static_pages_need_no_session() {
    let server = Server::start(Config::default()).await;
    let client = client();
    let get = |path: &str| client.get(server.url(path)).send();

    let response = get("/topics/visiting?audience=parent").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("set-cookie").is_none());
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let page = text_of(&response.text().await.unwrap());
    for part in [
        "<h1>Visits from family and friends</h1>",
        "Your child keeps their right to family life",
        "<h2>Tell me more</h2>",
        "<h2>What can I ask?</h2>",
        "Where this comes from:",
        "Last checked: ",
        "/?start=t_visiting-a_p",
    ] {
        assert!(page.contains(part), "topic page lacks {part:?}");
    }
    let young = text_of(&get("/topics/visiting").await.unwrap().text().await.unwrap());
    assert!(young.contains("You have a right to family life"));
    // An audience the topic is not written for, or a garbled query, gets the default wording.
    for odd in [
        "?audience=advocate",
        "?audience=nobody",
        "?audience=a&audience=b",
    ] {
        let response = get(&format!("/topics/visiting{odd}")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{odd}");
        assert!(
            text_of(&response.text().await.unwrap()).contains("You have a right to family life")
        );
    }

    for missing in [
        "/topics/nope",
        "/topics/Visiting",
        "/topics/..%2Fsecret.key",
        "/nothing",
    ] {
        let response = get(missing).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{missing}");
        assert!(response.headers().contains_key("content-security-policy"));
        assert!(text_of(&response.text().await.unwrap()).contains("there is no page here"));
    }

    let helplines = text_of(&get("/helplines").await.unwrap().text().await.unwrap());
    assert!(helplines.contains("Childline") && helplines.contains("0800 1111"));
    assert!(helplines.contains("999"));

    let privacy = text_of(&get("/privacy").await.unwrap().text().await.unwrap());
    assert!(privacy.contains("Your privacy") && privacy.contains("one cookie"));
    let about = text_of(&get("/about").await.unwrap().text().await.unwrap());
    assert!(about.contains("About this bot"));

    let health = get("/healthz").await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.text().await.unwrap(), "ok\n");

    let js = get("/assets/chat.js").await.unwrap();
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(js.headers()["x-content-type-options"], "nosniff");
    assert!(js.text().await.unwrap().contains("fetch("));
    let css = get("/assets/chat.css").await.unwrap();
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );

    let redirect = get("/chat").await.unwrap();
    assert!(redirect.status().is_redirection());
    assert_eq!(redirect.headers()["location"], "/");
}

#[test]
fn every_web_word_is_in_the_default_locale() {
    let content = rightsbot::content::load_embedded().unwrap();
    for key in web::WEB_KEYS {
        let text = content.ui(&content.default_locale, key);
        assert_ne!(text, *key, "locales/en/interface.toml lacks {key}");
    }
}

#[tokio::test]
async fn the_server_stops_when_told() {
    let server = Server::start(Config::default()).await;
    let response = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let url = server.url("/healthz");
    server.shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(60), server.task).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
    assert!(client().get(url).send().await.is_err());
}

/// The real binary, serving the web chat on a loopback port, with its log captured.
struct Binary {
    port: u16,
    child: std::process::Child,
    _data: tempfile::TempDir,
}

impl Site for Binary {
    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_real_binary_serves_the_chat_and_stops_on_sigterm_logging_nothing_personal() {
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_rightsbot"))
        .arg("--data")
        .arg(data.path())
        .args(["serve", "--http", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "debug")
        .env_remove("TELOXIDE_TOKEN")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut binary = Binary {
        port,
        child,
        _data: data,
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while client().get(binary.url("/healthz")).send().await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the web chat did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut person = Person::arrive(&binary, "/").await;
    assert_eq!(
        person.say(&binary, "can my mum visit me").await,
        StatusCode::OK
    );
    assert!(text_of(&person.page).contains("Visits from family and friends"));
    let session_id = person.session_id();

    let status = std::process::Command::new("kill")
        .args(["-TERM", &binary.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let exit = loop {
        if let Some(exit) = binary.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(exit.success(), "{exit:?}");

    let mut log = String::new();
    use std::io::Read;
    binary
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(log.contains("web chat on http://127.0.0.1:"), "{log}");
    assert!(log.contains("stopped cleanly"), "{log}");
    assert!(!log.contains("mum"), "message text in the log: {log}");
    assert!(!log.contains(&session_id), "a session id in the log: {log}");
    assert!(
        !log.contains("Visits from family"),
        "reply text in the log: {log}"
    );
}

/// A typed "no" to "Are you safe right now?" brings the crisis reply on the web chat: the
/// question asked travels in the session, not in the page.
#[tokio::test]
async fn a_typed_no_to_are_you_safe_brings_the_crisis_reply() {
    let server = Server::start(Config::default()).await;
    let mut person = Person::arrive(&server, "/").await;
    assert_eq!(
        person.say(&server, "this ward is killing me").await,
        StatusCode::OK
    );
    let page = text_of(&person.page);
    assert!(page.contains("Are you safe right now?"), "{page}");
    assert!(!page.contains("You matter"), "{page}");
    assert_eq!(person.say(&server, "no").await, StatusCode::OK);
    assert!(person.page.contains("<body class=\"crisis\">"));
    let page = text_of(&person.page);
    assert!(page.contains("You matter"), "{page}");
    assert!(page.contains("Childline"), "{page}");
}
