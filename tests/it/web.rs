//! The web chat over real HTTP on loopback: every route, the limits, the headers, the cookie,
//! CSRF, start links, "forget me", and that no message text reaches the store.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use rightsbot::engine::Engine;
use rightsbot::store::{Channel, Store};
use rightsbot::web::{self, Config, Limits, PublicUrl, Rate};
use tokio_util::sync::CancellationToken;

/// The chat behind nginx, configured as the README says.
#[path = "proxy.rs"]
mod proxy;

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

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // A new connection for every request. Reusing one races the server's idle deadline
        // when a starved test task waits longer than it between two requests (the server
        // closes the connection as the request goes out); browsers resend then, reqwest
        // does not, and the tests are about the chat, not about that race.
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A browser's cookies: name to value and path, as `Set-Cookie` left them.
#[derive(Clone, Debug, Default)]
pub struct Jar {
    cookies: std::collections::BTreeMap<String, (String, String)>,
}

impl Jar {
    /// Takes every `Set-Cookie` of a response; `Max-Age=0` removes a cookie.
    pub fn take(&mut self, headers: &HeaderMap) {
        for value in headers.get_all("set-cookie") {
            let value = value.to_str().unwrap();
            let mut parts = value.split(';').map(str::trim);
            let (name, content) = parts.next().unwrap().split_once('=').unwrap();
            let mut path = "/".to_owned();
            let mut gone = false;
            for attribute in parts {
                if let Some(p) = attribute.strip_prefix("Path=") {
                    path = p.to_owned();
                }
                gone |= attribute == "Max-Age=0";
            }
            if gone {
                self.cookies.remove(name);
            } else {
                self.cookies
                    .insert(name.to_owned(), (content.to_owned(), path));
            }
        }
    }

    /// The `Cookie` header a browser sends to `path`, if any cookie applies.
    pub fn header(&self, path: &str) -> Option<String> {
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .filter(|(_, (_, p))| path.starts_with(p.as_str()))
            .map(|(name, (value, _))| format!("{name}={value}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    pub fn set(&mut self, name: &str, value: &str, path: &str) {
        self.cookies
            .insert(name.to_owned(), (value.to_owned(), path.to_owned()));
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(|(v, _)| v.as_str())
    }
}

/// A person with a browser without JavaScript: keeps its cookies, posts back what the page
/// gave it, and follows the redirect after a post, as a browser does.
pub struct Person {
    client: reqwest::Client,
    pub jar: Jar,
    csrf: String,
    log: String,
    campaign: String,
    /// The last page's HTML.
    pub page: String,
    /// The status of the last post itself (before any redirect was followed).
    pub posted: StatusCode,
    /// Where the last post sent the browser on to, if anywhere.
    pub location: Option<String>,
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

impl Person {
    pub async fn arrive(server: &impl Site, path: &str) -> Person {
        let mut person = Person::new();
        let status = person.get(server, path).await;
        assert_eq!(status, StatusCode::OK);
        person
    }

    pub fn new() -> Person {
        Person::with_client(client())
    }

    /// A person whose browser opens a new connection for every request, so that a load
    /// balancer in front may send each one to another replica.
    pub fn without_keep_alive() -> Person {
        Person::without_keep_alive_sending(reqwest::header::HeaderMap::new())
    }

    /// The same, reaching the bot through a proxy it trusts, which names the person by
    /// `address` (`X-Forwarded-For`): people on their own networks, not one ward's Wi-Fi.
    pub fn without_keep_alive_from(address: std::net::IpAddr) -> Person {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", address.to_string().parse().unwrap());
        Person::without_keep_alive_sending(headers)
    }

    fn without_keep_alive_sending(headers: reqwest::header::HeaderMap) -> Person {
        Person::with_client(
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .pool_max_idle_per_host(0)
                .default_headers(headers)
                .build()
                .unwrap(),
        )
    }

    fn with_client(client: reqwest::Client) -> Person {
        Person {
            client,
            jar: Jar::default(),
            csrf: String::new(),
            log: String::new(),
            campaign: String::new(),
            page: String::new(),
            posted: StatusCode::OK,
            location: None,
        }
    }

    /// Opens `path` (which may end in a `#fragment`), as typing it or following a link.
    pub async fn get(&mut self, server: &impl Site, path: &str) -> StatusCode {
        let path = path.split('#').next().unwrap();
        let mut request = self.client.get(server.url(path));
        if let Some(cookie) = self.jar.header(path.split('?').next().unwrap()) {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        self.take(response).await
    }

    async fn take(&mut self, response: reqwest::Response) -> StatusCode {
        let status = response.status();
        self.jar.take(response.headers());
        self.page = response.text().await.unwrap();
        if self.page.contains("name=\"csrf\"") {
            self.csrf = hidden(&self.page, "csrf");
            self.log = hidden(&self.page, "log");
            self.campaign = hidden(&self.page, "campaign");
        }
        status
    }

    pub fn request(&self, server: &impl Site, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
        self.request_from(server, &server.origin(), fields)
    }

    /// A post as if from a page at `origin` (the browser's `Origin` header).
    pub fn request_from(
        &self,
        server: &impl Site,
        origin: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let mut form: Vec<(&str, &str)> = vec![
            ("csrf", &self.csrf),
            ("log", &self.log),
            ("campaign", &self.campaign),
        ];
        form.extend_from_slice(fields);
        let mut request = self
            .client
            .post(server.url("/chat"))
            .header("origin", origin)
            .form(&form);
        if let Some(cookie) = self.jar.header("/chat") {
            request = request.header("cookie", cookie);
        }
        request
    }

    /// Posts the form and follows the redirect; the status of the page finally shown.
    pub async fn post(&mut self, server: &impl Site, fields: &[(&str, &str)]) -> StatusCode {
        let response = self.request(server, fields).send().await.unwrap();
        self.posted = response.status();
        self.location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        let status = self.take(response).await;
        match self.location.clone() {
            Some(location) if status == StatusCode::SEE_OTHER => self.get(server, &location).await,
            _ => status,
        }
    }

    pub async fn say(&mut self, server: &impl Site, text: &str) -> StatusCode {
        self.post(server, &[("message", text), ("send", "1")]).await
    }

    pub async fn press(&mut self, server: &impl Site, label: &str) -> StatusCode {
        let value = button_value(&self.page, label);
        self.post(server, &[("message", ""), ("action", &value)])
            .await
    }

    pub async fn command(&mut self, server: &impl Site, name: &str) -> StatusCode {
        self.post(server, &[("message", ""), ("command", name)])
            .await
    }

    /// Sends `text` as the script does; the status and the JSON answer.
    pub async fn say_json(
        &mut self,
        server: &impl Site,
        text: &str,
    ) -> (StatusCode, serde_json::Value) {
        let response = self
            .request(server, &[("message", text), ("send", "1")])
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        let status = response.status();
        self.jar.take(response.headers());
        let reply: serde_json::Value =
            serde_json::from_str(&response.text().await.unwrap()).unwrap();
        if let Some(csrf) = reply["csrf"].as_str() {
            self.csrf = csrf.to_owned();
        }
        if let Some(log) = reply["log"].as_str() {
            self.log = log.to_owned();
        }
        (status, reply)
    }

    pub fn session_id(&self) -> String {
        self.jar.get("rightsbot_session").unwrap().to_owned()
    }

    /// The page as text (entities decoded, tags left in).
    pub fn text(&self) -> String {
        attr_unescape(&self.page)
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

pub fn text_of(html: &str) -> String {
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
    assert!(page.contains(
        "href=\"/leave\" rel=\"noreferrer\" data-exit=\"https://www.bbc.co.uk/weather\""
    ));
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

    // An https public URL means the chat is served over https.
    let server = Server::start(Config {
        public_url: Some(PublicUrl::parse("https://rights.example.org").unwrap()),
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
    assert_eq!(server.store.raw_record(&key).await, None);

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
    assert!(text_of(&person.page).contains("Where this comes from"));
    assert_eq!(person.press(&server, "Menu").await, StatusCode::OK);
    assert!(text_of(&person.page).contains("What would you like to know about?"));

    // Only the engine's session is stored, never what was typed or shown.
    let record = server
        .store
        .raw_record(&key)
        .await
        .expect("a session is stored");
    let record = String::from_utf8(record).unwrap();
    assert!(record.contains("\"version\""), "{record}");
    assert!(!record.contains("mum"));
    server.store.flush().await.unwrap();
    for entry in crate::live_bot::walk(server.dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        let found = bytes
            .windows(b"my mum visit".len())
            .any(|w| w == b"my mum visit");
        assert!(!found, "message text found in {}", entry.display());
    }
}

#[tokio::test]
async fn back_and_reload_without_javascript_never_post_again() {
    let server = Server::start(Config::default()).await;
    let mut person = Person::arrive(&server, "/").await;
    person.say(&server, "can my mum visit me").await;
    // Post/redirect/get: the post is answered with a redirect to a page that can be fetched
    // again (Back, reload) without posting.
    assert_eq!(person.posted, StatusCode::SEE_OTHER);
    assert_eq!(person.location.as_deref(), Some("/chat#latest"));
    let shown = person.page.clone();
    assert!(text_of(&shown).contains("Visits from family and friends"));
    // Reloading shows the same conversation, and nothing runs again.
    let counts = server.store.counts().await;
    assert_eq!(person.get(&server, "/chat").await, StatusCode::OK);
    assert_eq!(person.page, shown);
    assert_eq!(
        server.store.counts().await,
        counts,
        "a reload is not a new question"
    );
    // The browser holds the page, in session cookies only under /chat, out of scripts' reach.
    let response = person
        .request(&server, &[("message", "can my dad visit"), ("send", "1")])
        .send()
        .await
        .unwrap();
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .filter(|c| c.starts_with("rightsbot_page"))
        .collect();
    assert!(!cookies.is_empty());
    for cookie in &cookies {
        for attribute in ["Path=/chat", "HttpOnly", "SameSite=Strict"] {
            assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
        }
        assert!(
            cookie.contains("Max-Age=0") || !cookie.contains("Max-Age"),
            "gone when the browser closes: {cookie}"
        );
    }
    // Nothing of it on the server.
    server.store.flush().await.unwrap();
    for entry in crate::live_bot::walk(server.dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(7).any(|w| w == b"dad vis"),
            "message text found in {}",
            entry.display()
        );
    }
}

/// The topic whose "tell me more" is longest for a young person, and how a person reaches it
/// from the menu, as the buttons say.
pub struct LongestMore {
    pub id: String,
    /// The menu group that lists it.
    pub group: String,
    pub title: String,
    /// The text's last paragraph ("Last checked: ..."), which the page always shows.
    pub last_line: String,
    pub chars: usize,
}

pub fn longest_tell_me_more() -> LongestMore {
    use rightsbot::content::Item;
    use rightsbot::ids::Audience;
    let content = rightsbot::content::load_embedded().expect("content is valid");
    let locale = &content.default_locale;
    let menu = &content.menus[&Audience::YoungPerson];
    let (topic, text) = content
        .topics
        .values()
        .filter(|t| {
            menu.iter()
                .any(|g| g.items.contains(&Item::Topic(t.id.clone())))
        })
        .map(|t| {
            let text = rightsbot::engine::render_more(&content, locale, t, Audience::YoungPerson);
            (t, text)
        })
        .max_by_key(|(_, text)| text.len())
        .expect("topics");
    let group = menu
        .iter()
        .find(|g| g.items.contains(&Item::Topic(topic.id.clone())))
        .expect("in the menu");
    LongestMore {
        id: topic.id.to_string(),
        group: group.label.clone(),
        title: topic.title.clone(),
        last_line: text.rsplit("\n\n").next().unwrap().to_owned(),
        chars: text.chars().count(),
    }
}

#[tokio::test]
async fn a_reply_too_long_for_the_page_cookie_still_comes_by_redirect() {
    let server = Server::start(Config::default()).await;
    let longest = longest_tell_me_more();
    assert!(
        longest.chars > 2800,
        "longer than the page cookie may be (2,800 bytes): {} characters",
        longest.chars
    );
    let mut person = Person::arrive(&server, "/").await;
    person.press(&server, "I'm a young person").await;
    person.press(&server, &longest.group).await;
    person.press(&server, &longest.title).await;
    let value = button_value(&person.page, "Tell me more");
    let response = person
        .request(&server, &[("message", ""), ("action", &value)])
        .send()
        .await
        .unwrap();
    // Post/redirect/get, as for every other reply: Back and reload fetch the page again.
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/chat#latest");
    // The whole answer fits the 4 KiB a default nginx reads a response's headers into: the
    // page cookie names the reply rather than copying it.
    let header_bytes: usize = response
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    assert!(header_bytes < 3 * 1024, "{header_bytes} bytes of headers");
    person.jar.take(response.headers());
    let page_cookie = person.jar.get("rightsbot_page").expect("the page cookie");
    assert!(
        !page_cookie.contains("Last+checked"),
        "the reply is named, not copied: {page_cookie}"
    );
    assert_eq!(person.get(&server, "/chat").await, StatusCode::OK);
    let page = person.text();
    assert!(
        page.contains(&format!("<h2>{}</h2>", longest.title)),
        "{page}"
    );
    assert!(page.contains(&longest.last_line), "{page}");
    assert!(page.contains("You said: </span>Tell me more"), "{page}");
    assert!(page.contains("<h3>Where this comes from</h3>"), "{page}");

    // A reload (or Back) shows the same page, and nothing runs again.
    let shown = person.page.clone();
    let counts = server.store.counts().await;
    assert_eq!(person.get(&server, "/chat").await, StatusCode::OK);
    assert_eq!(person.page, shown);
    assert_eq!(
        server.store.counts().await,
        counts,
        "a reload is not a new question"
    );

    // Its buttons work, and it stays on the page above the next answer.
    assert_eq!(
        person.press(&server, "What can I ask?").await,
        StatusCode::OK
    );
    assert_eq!(person.posted, StatusCode::SEE_OTHER);
    let page = person.text();
    assert!(page.contains("You could ask staff:"), "{page}");
    assert!(
        page.contains(&longest.last_line),
        "the earlier turn is kept: {page}"
    );
}

#[tokio::test]
async fn the_script_gets_json_with_the_new_turn_only() {
    let server = Server::start(Config::default()).await;
    let mut person = Person::arrive(&server, "/").await;
    let csrf = person.csrf.clone();
    let (status, reply) = person.say_json(&server, "can my mum visit me").await;
    assert_eq!(status, StatusCode::OK);
    let html = reply["html"].as_str().unwrap();
    assert!(html.contains("Visits from family and friends"));
    assert!(html.contains("can my mum visit me"));
    assert!(!html.contains("<html"), "a fragment, not a page");
    assert!(
        !html.contains("I&#39;m a young person"),
        "earlier turns are not sent again"
    );
    assert_eq!(reply["csrf"].as_str().unwrap(), csrf);
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
    let cookie = person.jar.header("/chat").unwrap();

    // A forged token.
    let forged = |accept: &'static str| {
        client()
            .post(server.url("/chat"))
            .header("cookie", cookie.clone())
            .header("origin", server.origin())
            .header("accept", accept)
            .form(&[
                ("csrf", "0".repeat(32).as_str()),
                ("log", attack_log),
                ("message", "hi"),
            ])
            .send()
    };
    let response = forged("application/json").await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = response.text().await.unwrap();
    assert!(body.contains("from an earlier chat"), "{body}");
    assert!(
        !body.contains("PHISHING"),
        "a refused post's history is never shown"
    );
    // Without the script: sent on to the chat as it is, with the note, never the post.
    let response = forged("text/html").await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/chat?n=expired#latest");
    let mut page = Person::new();
    page.jar = person.jar.clone();
    page.get(&server, "/chat?n=expired").await;
    assert!(page.text().contains("from an earlier chat"));
    assert!(!page.text().contains("PHISHING"));

    // The right token from another site.
    let response = person
        .request_from(&server, "https://evil.example", &[("message", "hi")])
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = person
        .request(&server, &[("message", "hi")])
        .header("sec-fetch-site", "cross-site")
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("couldn't accept that message from this page")
    );

    // No cookie at all (a cross-site post: SameSite=Strict keeps it back, or cookies are
    // off): refused kindly, saying so, with a fresh cookie for next time.
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
    let page = text_of(&response.text().await.unwrap());
    assert!(!page.contains("PHISHING"));
    assert!(
        page.contains("isn't keeping cookies for this site"),
        "{page}"
    );

    // And the genuine post works.
    let mut person = person;
    assert_eq!(person.say(&server, "hello").await, StatusCode::OK);
    assert_eq!(person.posted, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn behind_a_proxy_the_public_url_decides_where_posts_may_come_from() {
    // A default nginx proxy_pass sends Host: 127.0.0.1:<port>, while the browser's Origin is
    // the public address.
    let public = "https://rights.example.org";
    let server = Server::start(Config {
        public_url: Some(PublicUrl::parse(public).unwrap()),
        ..Config::default()
    })
    .await;
    let person = Person::arrive(&server, "/").await;
    let post = |origin: &str| {
        person
            .request_from(
                &server,
                origin,
                &[("message", "can my mum visit me"), ("send", "1")],
            )
            .header("accept", "application/json")
            .send()
    };
    let response = post(public).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let reply: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert!(
        reply["html"]
            .as_str()
            .unwrap()
            .contains("Visits from family")
    );
    for other in [server.origin(), "https://evil.example".to_owned()] {
        let response = post(&other).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{other}");
    }
    // Links written out in full use it.
    let page = client()
        .get(server.url("/topics/visiting?audience=parent"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let link = "https://rights.example.org/topics/visiting?audience=parent";
    assert!(
        page.contains(&format!("<link rel=\"canonical\" href=\"{link}\">")),
        "{page}"
    );
    assert!(page.contains(&format!("<a href=\"{link}\">{link}</a>")));

    // Without a public URL the same proxied post is refused (and the log says why: see the
    // nginx test).
    let server = Server::start(Config::default()).await;
    let person = Person::arrive(&server, "/").await;
    let response = person
        .request_from(&server, public, &[("message", "hi")])
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_cry_for_help_is_answered_whatever_the_rate_limit_says() {
    // The default limits, as in the issue: twenty quick posts, then a cry for help.
    let server = Server::start(Config::default()).await;
    let mut person = Person::arrive(&server, "/").await;
    let mut limited = false;
    for _ in 0..25 {
        person.say(&server, "hello").await;
        limited |= person.text().contains("Please wait a few seconds");
    }
    assert!(
        limited,
        "the per-session limit applies to ordinary messages"
    );
    assert_eq!(
        person.say(&server, "i want to kill myself").await,
        StatusCode::OK
    );
    let page = person.text();
    assert!(page.contains("<h2>You matter</h2>"), "{page}");
    assert!(page.contains("Childline"));
    assert!(!page.contains("Please wait a few seconds"));
    assert!(person.page.contains("<body class=\"crisis\">"));
    // The same for the script, and for the button that asks for help.
    let (status, reply) = person
        .say_json(&server, "i dont want to be alive anymore")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        reply["html"].as_str().unwrap().contains("You matter"),
        "{reply}"
    );
    let help = person
        .post(&server, &[("message", ""), ("action", "1:ch")])
        .await;
    assert_eq!(help, StatusCode::OK);
    assert!(person.text().contains("<h2>You matter</h2>"));

    // And the per-address flood guard, however small, never swallows one either.
    let server = Server::start(Config {
        limits: Limits {
            per_session: Rate {
                burst: 100,
                per_minute: 100,
            },
            per_address: Rate {
                burst: 3,
                per_minute: 1,
            },
        },
        ..Config::default()
    })
    .await;
    let mut person = Person::arrive(&server, "/").await;
    for _ in 0..4 {
        person.say(&server, "hello").await;
    }
    assert!(person.text().contains("Please wait a few seconds"));
    person.say(&server, "i want to end it all").await;
    assert!(person.text().contains("<h2>You matter</h2>"));
}

#[tokio::test]
async fn a_cry_for_help_from_a_page_that_cannot_post_is_still_answered() {
    let server = Server::start(Config::default()).await;
    let person = Person::arrive(&server, "/").await;
    let cries = [
        // No cookie (cookies off): a page of its own, with a cookie to try again.
        client()
            .post(server.url("/chat"))
            .form(&[("csrf", ""), ("message", "i want to kill myself")]),
        // A page from an earlier session.
        person
            .request(&server, &[("message", "i want to kill myself")])
            .header("accept", "application/json")
            .form(&[
                ("csrf", "0".repeat(32)),
                ("message", "i want to kill myself".into()),
            ]),
        // From a site that is not ours (a proxy without --public-url).
        person
            .request_from(
                &server,
                "https://somewhere.example",
                &[("message", "i want to kill myself")],
            )
            .header("accept", "application/json"),
    ];
    for cry in cries {
        let response = cry.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = text_of(&response.text().await.unwrap());
        assert!(body.contains("You matter"), "{body}");
        assert!(body.contains("0800 1111"));
        assert!(
            !body.contains("kill myself"),
            "a post that was not the page's own is answered, never echoed"
        );
    }
    // None of them changed what is stored.
    let key = server.store.key(Channel::Web, &person.session_id());
    assert_eq!(server.store.raw_record(&key).await, None);
}

#[tokio::test]
async fn long_messages_are_read_whole_for_a_cry_for_help() {
    let server = Server::start(Config::default()).await;
    let mut person = Person::arrive(&server, "/").await;
    // The page does not cut what people type.
    assert!(!person.page.contains("maxlength"));
    let filler =
        |chars: usize| "I have been thinking about the ward a lot. ".repeat(chars / 43 + 1);

    // 4,096 characters, the cry for help at the very end: read whole.
    let cry = " i want to kill myself";
    let mut message: String = filler(4096)
        .chars()
        .take(web::MAX_MESSAGE_CHARS - cry.len())
        .collect();
    message.push_str(cry);
    assert_eq!(message.chars().count(), 4096);
    person.say(&server, &message).await;
    assert!(
        person.text().contains("<h2>You matter</h2>"),
        "4,096 characters"
    );
    assert!(!person.text().contains("longer than"), "nothing was cut");

    // Longer than that: still checked whole, before anything is cut.
    for length in [4097, 6000, 20_000] {
        let mut message: String = filler(length).chars().take(length - cry.len()).collect();
        message.push_str(cry);
        person.say(&server, &message).await;
        assert!(person.text().contains("<h2>You matter</h2>"), "{length}");
        let (status, reply) = person.say_json(&server, &message).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            reply["html"].as_str().unwrap().contains("You matter"),
            "{length}"
        );
    }

    // A long message without one is answered, and the page says what was read.
    let mut message = "can my mum visit me? ".to_owned();
    message.push_str(&filler(5000));
    person.say(&server, &message).await;
    let page = person.text();
    assert!(
        page.contains(
            "That message was longer than 4,096 characters, so I read only the first 4,096"
        ),
        "{page}"
    );
    assert!(
        page.contains("\u{2026}"),
        "the message shown ends where the reading stopped"
    );

    // Exactly at the limit is fine (multi-byte characters count as one), and fits the body
    // limit with a full history field.
    let at_limit = "\u{1f600}".repeat(web::MAX_MESSAGE_CHARS);
    assert_eq!(person.say(&server, &at_limit).await, StatusCode::OK);
    assert!(!person.text().contains("longer than"));

    let huge = "b".repeat(web::MAX_BODY_BYTES + 10);
    let response = person
        .request(&server, &[("message", &huge)])
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(text_of(&response.text().await.unwrap()).contains("more than I can read at once"));

    person.say(&server, "   ").await;
    assert!(person.text().contains("Type a question first"));
}

#[test]
fn the_readme_states_the_body_limit_the_code_enforces() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let stated = format!("bodies over {} KiB", web::MAX_BODY_BYTES / 1024);
    assert!(
        readme.contains(&stated),
        "the README does not say {stated:?}"
    );
    let stated = format!("{} characters", thousands(web::MAX_MESSAGE_CHARS));
    assert!(
        readme.contains(&stated),
        "the README does not say {stated:?}"
    );
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    if s.len() > 3 {
        format!("{},{}", &s[..s.len() - 3], &s[s.len() - 3..])
    } else {
        s
    }
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
        person.say(&server, "hello").await;
        assert!(!person.text().contains("Please wait"));
    }
    let (status, _) = person.say_json(&server, "hello").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    person.say(&server, "hello").await;
    assert!(text_of(&person.page).contains("Please wait a few seconds"));
    // The conversation is still there.
    assert!(person.text().contains("You said: </span>hello"));
    // Another person is not slowed down by the first.
    let mut other = Person::arrive(&server, "/").await;
    other.say(&server, "hello").await;
    assert!(!other.text().contains("Please wait"));

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
async fn the_address_comes_from_a_proxy_header_only_when_that_proxy_is_trusted() {
    let limits = Limits {
        per_session: Rate {
            burst: 100,
            per_minute: 100,
        },
        per_address: Rate {
            burst: 2,
            per_minute: 1,
        },
    };
    let visit = |server: &Server, from: &str| {
        client()
            .get(server.url("/"))
            .header("x-forwarded-for", from.to_owned())
            .send()
    };
    // Trusted: two people behind the proxy have their own allowance.
    let server = Server::start(Config {
        limits,
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..Config::default()
    })
    .await;
    for from in ["203.0.113.1", "203.0.113.1", "203.0.113.2", "203.0.113.2"] {
        assert_eq!(visit(&server, from).await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(
        visit(&server, "203.0.113.1").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Not trusted: the header is anyone's to write, so it is ignored.
    let server = Server::start(Config {
        limits,
        ..Config::default()
    })
    .await;
    for from in ["203.0.113.1", "203.0.113.2"] {
        assert_eq!(visit(&server, from).await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(
        visit(&server, "203.0.113.3").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
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
    let counts = server.store.counts().await;
    assert!(
        counts
            .iter()
            .any(|(_, campaign, topic, n)| campaign == "ward7" && topic == "visiting" && *n == 1),
        "{counts:?}"
    );
    // The audience is remembered for the conversation.
    let key = server.store.key(Channel::Web, &person.session_id());
    let record = String::from_utf8(server.store.raw_record(&key).await.unwrap()).unwrap();
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
    assert!(server.store.raw_record(&key).await.is_some());

    assert_eq!(person.command(&server, "mydata").await, StatusCode::OK);
    let page = text_of(&person.page);
    assert!(page.contains("Here is everything I keep about this chat"));
    assert!(page.contains("\"audience\":\"young_person\""), "{page}");

    assert_eq!(person.say(&server, "/privacy").await, StatusCode::OK);
    assert!(text_of(&person.page).contains("Your privacy"));

    assert_eq!(person.say(&server, "/forget").await, StatusCode::OK);
    assert!(text_of(&person.page).contains("Do you want me to delete everything"));
    let old_cookie = person.session_id();
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
    assert_eq!(server.store.raw_record(&key).await, None);
    assert_ne!(person.session_id(), old_cookie, "a new id after forgetting");

    // And the next message starts afresh under the new id.
    assert_eq!(person.command(&server, "forget").await, StatusCode::OK);
    assert!(text_of(&person.page).contains("Do you want me to delete everything"));
}

#[tokio::test]
async fn a_second_tab_after_delete_my_data_is_told_why() {
    let server = Server::start(Config::default()).await;
    let mut first = Person::arrive(&server, "/").await;
    first.say(&server, "can my mum visit me").await;
    // A second tab: the same browser, so the same cookies, and a page of its own.
    let mut second = Person::new();
    second.jar = first.jar.clone();
    second.get(&server, "/").await;
    second.jar = first.jar.clone();

    first.command(&server, "forget").await;
    first.press(&server, "Yes, delete it").await;
    assert!(first.text().contains("I've deleted everything"));
    second.jar = first.jar.clone();

    // With the script: the reason, the old conversation cleared, and a token that works.
    let (status, reply) = second.say_json(&server, "can my dad visit").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let notice = reply["notice"].as_str().unwrap();
    assert!(notice.contains("Your data was deleted"), "{reply}");
    assert!(
        !notice.contains("cookies"),
        "not blamed on cookies: {notice}"
    );
    assert_eq!(reply["reset"], true);
    let (status, reply) = second.say_json(&server, "can my dad visit").await;
    assert_eq!(status, StatusCode::OK, "{reply}");

    // Without it: the same reason on the page.
    let mut third = Person::new();
    third.jar = first.jar.clone();
    third.get(&server, "/").await;
    third.jar = first.jar.clone();
    first.command(&server, "forget").await;
    first.press(&server, "Yes, delete it").await;
    third.jar = first.jar.clone();
    third.say(&server, "can my dad visit").await;
    assert!(
        third.text().contains("Your data was deleted"),
        "{}",
        third.text()
    );
    // A page that is merely old says so, and does not claim a deletion.
    let mut old = Person::arrive(&server, "/").await;
    let mut newer = Person::new();
    newer.get(&server, "/").await;
    old.jar = newer.jar.clone();
    old.say(&server, "hello").await;
    assert!(
        old.text().contains("This page is from an earlier chat"),
        "{}",
        old.text()
    );
}

#[tokio::test]
async fn leave_this_page_quickly_forgets_the_page_the_browser_kept() {
    let server = Server::start(Config::default()).await;
    let mut person = Person::arrive(&server, "/").await;
    person.say(&server, "can my mum visit me").await;
    assert!(person.text().contains("can my mum visit me"));
    let response = client()
        .get(server.url("/leave"))
        .header("cookie", person.jar.header("/leave").unwrap_or_default())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()["location"],
        "https://www.bbc.co.uk/weather"
    );
    person.jar.take(response.headers());
    assert!(person.jar.get("rightsbot_page").is_none());
    // Back to the chat (someone pressing Back): the conversation is gone.
    person.get(&server, "/chat").await;
    assert!(!person.text().contains("can my mum visit me"));
    assert!(!person.text().contains("Visits from family"));
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
    // Every number in it can be tapped: to call, or to open a text ready to send.
    for link in [
        "href=\"tel:999\">999</a>",
        "href=\"tel:08001111\">0800 1111</a>",
        "href=\"tel:116123\">116 123</a>",
        "href=\"sms:85258?&amp;body=SHOUT\">85258</a>",
        "href=\"tel:111\">111</a>",
    ] {
        assert!(person.page.contains(link), "no {link}");
    }
    // The banner's 999 too.
    assert!(
        person
            .page
            .contains("Call <a class=\"num\" href=\"tel:999\">999</a> or tell staff")
    );
    // Help stays emphasised on the next reply too.
    assert_eq!(person.press(&server, "Menu").await, StatusCode::OK);
    assert!(person.page.contains("<body class=\"crisis\">"));
}

/// Every helpline number in the content, as written (digits and the spaces between them).
fn helpline_numbers() -> Vec<String> {
    let content = rightsbot::content::load_embedded().unwrap();
    let mut numbers = Vec::new();
    for helpline in &content.helplines {
        let mut current = String::new();
        for c in helpline.contact.chars().chain([' ', '.']) {
            if c.is_ascii_digit() || (c == ' ' && current.ends_with(|d: char| d.is_ascii_digit())) {
                current.push(c);
            } else {
                let number = current.trim().to_owned();
                if number.chars().filter(char::is_ascii_digit).count() >= 3 {
                    numbers.push(number);
                }
                current.clear();
            }
        }
    }
    numbers.sort();
    numbers.dedup();
    numbers
}

/// `html` without the parts from each `start` to the next `end` after it.
fn cut_out(html: &str, start: &str, end: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(at) = rest.find(start) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        rest = tail.find(end).map_or("", |e| &tail[e + end.len()..]);
    }
    out.push_str(rest);
    out
}

/// Each helpline number `html` shows that is not a link to dial or text it.
fn unlinked_numbers(html: &str, numbers: &[String]) -> Vec<String> {
    // The text a person reads, less the links that dial or text, the form's hidden history,
    // headings (a helpline's name, such as "NHS 111", heads its own contact line) and words
    // only screen readers get (inside another link).
    let seen = cut_out(html, "<a class=\"num\"", "</a>");
    let seen = cut_out(&seen, "<input type=\"hidden\"", ">");
    let seen = cut_out(&seen, "<h2>", "</h2>");
    let seen = cut_out(&seen, "<span class=\"visually-hidden\">", "</span>");
    let seen = cut_out(&seen, "<", ">");
    let mut bare = Vec::new();
    for number in numbers {
        for (at, _) in seen.match_indices(number.as_str()) {
            let before = seen[..at].chars().next_back();
            let after = seen[at + number.len()..].chars().next();
            let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
            if !digit(before) && !digit(after) {
                let from = seen[..at]
                    .char_indices()
                    .rev()
                    .nth(60)
                    .map_or(0, |(i, _)| i);
                bare.push(format!(
                    "{number} in \"...{}\"",
                    &seen[from..at + number.len()]
                ));
            }
        }
    }
    bare
}

#[tokio::test]
async fn every_number_in_every_reply_can_be_tapped() {
    let numbers = helpline_numbers();
    assert!(numbers.len() >= 10, "{numbers:?}");
    let server = Server::start(Config::default()).await;
    let content = rightsbot::content::load_embedded().unwrap();
    let mut bare = Vec::new();
    // Every topic, for every audience: the short answer, "tell me more" and "what can I ask".
    for (id, topic) in &content.topics {
        for audience in &topic.audiences {
            let url = server.url(&format!("/topics/{id}?audience={audience}"));
            let page = client()
                .get(url)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            bare.extend(unlinked_numbers(&page, &numbers));
        }
    }
    // The helplines page, and the crisis reply for each audience, with the abuse helplines.
    let page = client()
        .get(server.url("/helplines"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    bare.extend(unlinked_numbers(&page, &numbers));
    for audience in [
        "I'm a young person",
        "I'm a parent or carer",
        "I'm an advocate or professional",
    ] {
        let mut person = Person::arrive(&server, "/").await;
        person.press(&server, audience).await;
        person
            .say(&server, "i want to kill myself, staff hit me")
            .await;
        assert!(person.text().contains("You matter"));
        bare.extend(unlinked_numbers(&person.page, &numbers));
    }
    // Flow steps and interface texts go through the same renderer: its unit test
    // (`every_number_in_the_content_is_found`) covers each of them.
    assert!(
        bare.is_empty(),
        "numbers that cannot be tapped:\n{}",
        bare.join("\n")
    );
}

#[tokio::test]
async fn lists_and_sections_read_well_on_a_phone() {
    let server = Server::start(Config::default()).await;
    // Lines starting "- " are a list.
    let page = client()
        .get(server.url("/topics/ect"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<ul><li>You understand what ECT is"),
        "{page}"
    );
    assert!(
        !page.contains("<p>- You understand"),
        "no dashes left as text"
    );
    // In the chat, "tell me more" folds the notes for other nations and the sources under
    // headings, closed until asked for.
    let mut person = Person::arrive(&server, "/?start=t_complaints").await;
    person.press(&server, "Tell me more").await;
    let page = person.page.clone();
    for heading in ["If you are in Wales", "Where this comes from"] {
        assert!(
            page.contains(&format!(
                "<details class=\"section\"><summary><h3>{heading}</h3></summary>"
            )),
            "no folded {heading:?} in {page}"
        );
    }
    assert!(!page.contains("<details class=\"section\" open"));
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
        "<summary><h3>Where this comes from</h3></summary>",
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
    assert!(helplines.contains("Call <a class=\"num\" href=\"tel:08001111\">0800 1111</a>"));
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

    let chat = get("/chat").await.unwrap();
    assert_eq!(chat.status(), StatusCode::OK);
    assert!(text_of(&chat.text().await.unwrap()).contains("I'm a young person"));
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

/// Somewhere on loopback the web chat is served, by address only (so tasks can share it).
#[derive(Clone)]
pub struct Loopback(pub SocketAddr);

impl Site for Loopback {
    fn origin(&self) -> String {
        format!("http://{}", self.0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workshop_of_300_people_on_one_address_all_get_answers() {
    // One Wi-Fi, one address: everyone opens the link at once and asks a question.
    let server = Server::start(Config::default()).await;
    let site = Loopback(server.addr);
    let people = 300;
    let ready = Arc::new(tokio::sync::Barrier::new(people));
    let tasks: Vec<_> = (0..people)
        .map(|_| {
            let site = site.clone();
            let ready = ready.clone();
            tokio::spawn(async move {
                ready.wait().await;
                let mut person = Person::arrive(&site, "/").await;
                person.say(&site, "can my mum visit me").await;
                let page = person.text();
                (
                    page.contains("Visits from family and friends"),
                    page.contains("Please wait"),
                )
            })
        })
        .collect();
    let mut answered = 0;
    let mut told_to_wait = 0;
    for task in tasks {
        let (answer, wait) = task.await.unwrap();
        answered += usize::from(answer);
        told_to_wait += usize::from(wait);
    }
    assert_eq!(told_to_wait, 0, "nobody in the workshop is told to wait");
    assert_eq!(answered, people, "everyone gets an answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_idle_connections_do_not_keep_a_person_waiting() {
    use tokio::io::AsyncWriteExt;
    let server = Server::start(Config::default()).await;
    let mut idle = Vec::new();
    for i in 0..1000 {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        if i % 2 == 0 {
            // Half of them start a request and never finish it.
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
        }
        idle.push(stream);
    }
    let site = Loopback(server.addr);
    let mut person = Person::arrive(&site, "/").await;
    person.say(&site, "can my mum visit me").await;
    assert!(person.text().contains("Visits from family and friends"));
    person.say(&site, "i want to kill myself").await;
    assert!(person.text().contains("You matter"));
    assert_eq!(
        idle.len(),
        1000,
        "all still held while the person was answered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_connections_are_closed_so_the_cap_frees_up() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start(Config {
        connections: web::Connections {
            max_open: 20,
            header_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(2),
        },
        ..Config::default()
    })
    .await;
    // Every place taken by a connection that sends nothing, or half a request.
    let mut idle = Vec::new();
    for i in 0..20 {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        if i % 2 == 0 {
            stream.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        }
        idle.push(stream);
    }
    // A person is still answered: the idle connections are closed, and the wait is queued,
    // not refused.
    let site = Loopback(server.addr);
    let mut person = Person::arrive(&site, "/").await;
    person.say(&site, "can my mum visit me").await;
    assert!(person.text().contains("Visits from family and friends"));
    for mut stream in idle {
        let mut buf = [0u8; 256];
        let closed = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return true,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert_eq!(closed, Ok(true), "the server closes an idle connection");
    }
    // A body trickled in is cut off with 408, not waited for.
    let mut slow = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(
        b"POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 1000\r\n\r\nmessage=hel",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), slow.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server gave up on the slow body");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}
