//! What stands between a request and the engine: the session cookie (a random 128-bit id),
//! the CSRF token tied to it, the same-origin check on posts (against `--public-url` when
//! set), the client's address (from a proxy's header only when that proxy is trusted), and
//! the rate limits.
//!
//! Nothing here is persisted or logged in the clear: the id and the address reach the store
//! only as keyed hashes (a session key, a rate-limit bucket). A refused post is
//! logged with its cause and the sites involved, never with anything the person sent.

use std::net::IpAddr;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::http::header::{COOKIE, HOST, ORIGIN, USER_AGENT};

use crate::store::{Channel, Store};

pub const COOKIE_NAME: &str = "rightsbot_session";
/// The page to show after a post without JavaScript (see `history`); only under `/chat`.
pub const PAGE_COOKIE: &str = "rightsbot_page";
/// Set when a browser's data is deleted: tells an older tab why its page stopped working.
pub const FORGOT_COOKIE: &str = "rightsbot_forgot";

/// The value of cookie `name` in a request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim())
}

/// A `Set-Cookie` value: HttpOnly and SameSite=Strict always; `max_age` `None` for a cookie
/// that goes when the browser closes.
pub fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<u64>,
    secure: bool,
) -> String {
    let mut out = format!("{name}={value}; Path={path}");
    if let Some(secs) = max_age {
        out.push_str(&format!("; Max-Age={secs}"));
    }
    out.push_str("; HttpOnly; SameSite=Strict");
    if secure {
        out.push_str("; Secure");
    }
    out
}

/// A session id: 16 random bytes, written as 32 lower-case hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    pub fn random() -> anyhow::Result<SessionId> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        Ok(SessionId(
            bytes.iter().map(|b| format!("{b:02x}")).collect(),
        ))
    }

    fn parse(s: &str) -> Option<SessionId> {
        let ok = s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| SessionId(s.to_owned()))
    }

    /// The id in the request's cookie, if there is a well-formed one.
    pub fn from_headers(headers: &HeaderMap) -> Option<SessionId> {
        cookie(headers, COOKIE_NAME).and_then(SessionId::parse)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The token a form must carry to post as this session: a keyed hash of the id under the
    /// install secret, so only a page we served to this cookie can know it, and it survives
    /// restarts.
    pub fn csrf_token(&self, store: &Store) -> String {
        self.derive(store, "csrf")
    }

    /// What binds a page cookie to this session, so a page is never shown to another one.
    pub fn page_tag(&self, store: &Store) -> String {
        self.derive(store, "page")
    }

    /// The mark left in the browser when its data is deleted and this id replaces the old.
    pub fn forgot_tag(&self, store: &Store) -> String {
        self.derive(store, "forgot")
    }

    /// A value tied to this id for one `purpose`: a keyed hash under the install secret.
    fn derive(&self, store: &Store, purpose: &str) -> String {
        let key = store.key(Channel::Web, &format!("{purpose}:{}", self.0));
        key.as_bytes()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether `token` is this session's token (compared in constant time).
    pub fn csrf_matches(&self, store: &Store, token: &str) -> bool {
        let expected = self.csrf_token(store);
        expected.len() == token.len()
            && expected
                .bytes()
                .zip(token.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    /// The `Set-Cookie` value for this id.
    pub fn cookie(&self, max_age_secs: u64, secure: bool) -> String {
        set_cookie(COOKIE_NAME, &self.0, "/", Some(max_age_secs), secure)
    }
}

/// The address people use to reach the web chat (`--public-url`), as an origin:
/// `https://rights.example.org`, lower case, without a default port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl {
    origin: String,
}

impl PublicUrl {
    pub fn parse(text: &str) -> Result<PublicUrl, String> {
        let text = text.trim().trim_end_matches('/');
        let (scheme, authority) = text
            .split_once("://")
            .ok_or_else(|| format!("{text:?} is not a URL like https://rights.example.org"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err(format!("{text:?} must start with https:// (or http://)"));
        }
        if authority.is_empty()
            || authority.contains(['/', '?', '#', '@'])
            || authority.chars().any(char::is_whitespace)
        {
            return Err(format!(
                "{text:?} must be the site's root, like https://rights.example.org \
                 (the chat cannot be served under a sub-path)"
            ));
        }
        let authority = authority.to_ascii_lowercase();
        let default_port = if scheme == "https" { ":443" } else { ":80" };
        let authority = authority.strip_suffix(default_port).unwrap_or(&authority);
        Ok(PublicUrl {
            origin: format!("{scheme}://{authority}"),
        })
    }

    /// `https://host[:port]`, with no trailing slash: prefix a path to make a link.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn is_https(&self) -> bool {
        self.origin.starts_with("https://")
    }
}

impl std::str::FromStr for PublicUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<PublicUrl, String> {
        PublicUrl::parse(s)
    }
}

/// Why a post was not taken from the page that sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The browser says another site sent it (`Sec-Fetch-Site`).
    CrossSite,
    /// Its `Origin` is not this site's (behind a proxy: `--public-url` not set, or wrong).
    WrongOrigin,
    /// No session cookie came with it: cookies are off for this site.
    NoCookie,
    /// The page belongs to an earlier session of this browser.
    StaleToken,
    /// The page belongs to a session whose data was deleted (in this tab or another).
    Deleted,
}

impl Refusal {
    /// The interface string that tells the person.
    pub fn notice_key(self) -> &'static str {
        match self {
            Refusal::CrossSite | Refusal::WrongOrigin => "web.refused",
            Refusal::NoCookie => "web.no_cookie",
            Refusal::StaleToken => "web.expired",
            Refusal::Deleted => "web.deleted",
        }
    }

    /// The cause as the log names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::CrossSite => "cross-site",
            Refusal::WrongOrigin => "wrong-origin",
            Refusal::NoCookie => "no-cookie",
            Refusal::StaleToken => "stale-page",
            Refusal::Deleted => "data-deleted",
        }
    }
}

/// A refused post: the cause, and for the operator's log what was compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub cause: Refusal,
    pub detail: String,
}

/// Whether a post comes from our own page and this browser's current session: the origin,
/// then the cookie, then the page's CSRF token.
pub fn check_post(
    headers: &HeaderMap,
    cookie_id: Option<&SessionId>,
    csrf: &str,
    store: &Store,
    public: Option<&PublicUrl>,
) -> Result<(), Refused> {
    same_origin(headers, public)?;
    let Some(id) = cookie_id else {
        return Err(Refused {
            cause: Refusal::NoCookie,
            detail: "no session cookie came with the post".to_owned(),
        });
    };
    if id.csrf_matches(store, csrf) {
        return Ok(());
    }
    let deleted = cookie(headers, FORGOT_COOKIE).is_some_and(|mark| mark == id.forgot_tag(store));
    Err(if deleted {
        Refused {
            cause: Refusal::Deleted,
            detail: "the page's session was deleted".to_owned(),
        }
    } else {
        Refused {
            cause: Refusal::StaleToken,
            detail: "the page's token is not the session's".to_owned(),
        }
    })
}

/// Whether a post comes from our own site. `Sec-Fetch-Site` (sent by current browsers, and
/// not settable by pages) must say same-origin; an `Origin` naming a site must name this one:
/// the `--public-url` when set, else the `Host` the post was sent to (which a proxy may have
/// rewritten: the refusal's detail says so). `Origin: null` is what browsers send for a form
/// post from a page with `Referrer-Policy: no-referrer` (ours), so it passes here: the CSRF
/// token and the SameSite=Strict cookie still guard it.
pub fn same_origin(headers: &HeaderMap, public: Option<&PublicUrl>) -> Result<(), Refused> {
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return Err(Refused {
            cause: Refusal::CrossSite,
            detail: format!(
                "Sec-Fetch-Site: {}",
                String::from_utf8_lossy(site.as_bytes())
            ),
        });
    }
    let wrong = |detail: String| {
        Err(Refused {
            cause: Refusal::WrongOrigin,
            detail,
        })
    };
    let mut origins = headers.get_all(ORIGIN).iter();
    let origin = match (origins.next(), origins.next()) {
        (None, _) => return Ok(()),
        (Some(origin), None) => origin,
        // Several, which no browser sends.
        (Some(_), Some(_)) => return wrong("several Origin headers".to_owned()),
    };
    if origin.as_bytes() == b"null" {
        return Ok(());
    }
    let Ok(origin) = origin.to_str() else {
        return wrong("an unreadable Origin header".to_owned());
    };
    if let Some(public) = public {
        return if origin.eq_ignore_ascii_case(public.origin()) {
            Ok(())
        } else {
            wrong(format!(
                "Origin {origin} is not the --public-url {}",
                public.origin()
            ))
        };
    }
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    if authority.is_some_and(|a| a.eq_ignore_ascii_case(host)) {
        Ok(())
    } else {
        wrong(format!(
            "Origin {origin} does not match Host {host:?}; behind a reverse proxy, \
             start the bot with --public-url {origin} (or have the proxy pass the Host header)"
        ))
    }
}

/// The address a request comes from: the connection's peer, unless that peer is a proxy the
/// operator trusts (`--trusted-proxy`), in which case the nearest address in
/// `X-Forwarded-For` that is not itself a trusted proxy. A header from anyone else is ignored,
/// or anyone could pick an address to hide behind.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(value) = value.to_str() else {
            return peer;
        };
        for hop in value.split(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => hops.push(ip.to_canonical()),
                Err(_) => return peer,
            }
        }
    }
    hops.into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

/// Whether the person reached us over TLS: a reverse proxy says so in `X-Forwarded-Proto`.
pub fn forwarded_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

pub use crate::store::Rate;

/// The limits the web chat applies. A message that may be a cry for help is answered
/// whatever they say.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Per conversation (the session cookie), checked first: a person reading and pressing
    /// buttons stays well inside it.
    pub per_session: Rate,
    /// Per address, only a guard against floods: a workshop of 300 people, or a whole ward,
    /// may share one address, each opening the chat and asking at once.
    pub per_address: Rate,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            per_session: Rate {
                burst: 20,
                per_minute: 30,
            },
            // 300 people: three requests each at once, six a minute each after that.
            per_address: Rate {
                burst: 900,
                per_minute: 1800,
            },
        }
    }
}

/// Both limits together, kept in the store: shared by every replica on Redis, in this
/// process's memory on sled. The buckets are named by keyed hashes of the session id and the
/// address, so neither is ever written down.
pub struct RateLimiter {
    limits: Limits,
}

impl RateLimiter {
    pub fn new(limits: Limits) -> Self {
        RateLimiter { limits }
    }

    pub async fn address(&self, store: &Store, ip: IpAddr) -> Result<(), Duration> {
        let bucket = store.key(Channel::Web, &format!("rate-address:{ip}"));
        store.take_token(&bucket, self.limits.per_address).await
    }

    pub async fn session(&self, store: &Store, id: &SessionId) -> Result<(), Duration> {
        let bucket = store.key(Channel::Web, &format!("rate-session:{}", id.0));
        store.take_token(&bucket, self.limits.per_session).await
    }
}

/// The fetchers messaging apps and sites send to draw a shared link's preview card, by the
/// names they give in `User-Agent`. An advocate who posts a start link in a group chat sets
/// several of them off at once; none of them is a person starting a chat.
const LINK_PREVIEWERS: &[&str] = &[
    "whatsapp",
    "facebookexternalhit",
    "facebookcatalog",
    "telegrambot",
    "twitterbot",
    "slackbot",
    "discordbot",
    "linkedinbot",
    "skypeuripreview",
    "microsoftpreview",
    "applebot",
    "googlebot",
    "bingbot",
    "pinterestbot",
    "redditbot",
    "embedly",
    "iframely",
];

/// Whether a request comes from a link-preview fetcher or a search engine's crawler rather
/// than a person (`LINK_PREVIEWERS`). A request without a `User-Agent` counts as a person: a
/// missed start is worse than a counted crawler.
pub fn previews_links(headers: &HeaderMap) -> bool {
    headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase)
        .is_some_and(|agent| LINK_PREVIEWERS.iter().any(|name| agent.contains(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_origins() {
        let url = |s: &str| PublicUrl::parse(s).map(|u| u.origin().to_owned());
        assert_eq!(
            url("https://Rights.Example.org/"),
            Ok("https://rights.example.org".into())
        );
        assert_eq!(url("https://x.org:443"), Ok("https://x.org".into()));
        assert_eq!(
            url("http://127.0.0.1:8080"),
            Ok("http://127.0.0.1:8080".into())
        );
        assert!(url("rights.example.org").is_err());
        assert!(url("ftp://x.org").is_err());
        assert!(url("https://x.org/rights").is_err());
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, 10.0.0.1".parse().unwrap());
        assert_eq!(
            client_ip(proxy, &headers, &[]),
            proxy,
            "no trusted proxy named"
        );
        assert_eq!(
            client_ip(proxy, &headers, &[proxy]),
            "10.0.0.1".parse::<IpAddr>().unwrap(),
            "the nearest hop the proxy saw"
        );
        let inner: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(
            client_ip(proxy, &headers, &[proxy, inner]),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        headers.insert("x-forwarded-for", "garbage".parse().unwrap());
        assert_eq!(client_ip(proxy, &headers, &[proxy]), proxy);
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(client_ip(mapped, &HeaderMap::new(), &[]), proxy);
    }

    #[test]
    fn cookie_ids_must_be_well_formed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            "x=1; rightsbot_session=0123456789abcdef0123456789abcdef"
                .parse()
                .unwrap(),
        );
        assert!(SessionId::from_headers(&headers).is_some());
        headers.insert(COOKIE, "rightsbot_session=../../etc".parse().unwrap());
        assert!(SessionId::from_headers(&headers).is_none());
    }
}
