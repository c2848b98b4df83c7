//! What stands between a request and the engine: the session cookie (a random 128-bit id),
//! the CSRF token tied to it, the same-origin check on posts, and the in-memory rate limits.
//!
//! Nothing here is persisted or logged: not the id (only its keyed hash reaches the store),
//! not the address (used as a rate-limit key in memory, then forgotten).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::{COOKIE, HOST, ORIGIN};

use crate::store::{Channel, Store};

pub const COOKIE_NAME: &str = "rightsbot_session";

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
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE_NAME)
            .and_then(|(_, value)| SessionId::parse(value.trim()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The token a form must carry to post as this session: a keyed hash of the id under the
    /// install secret, so only a page we served to this cookie can know it, and it survives
    /// restarts.
    pub fn csrf_token(&self, store: &Store) -> String {
        let key = store.key(Channel::Web, &format!("csrf:{}", self.0));
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
        format!(
            "{COOKIE_NAME}={}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{}",
            self.0,
            if secure { "; Secure" } else { "" }
        )
    }
}

/// Whether a post comes from our own page. `Sec-Fetch-Site` (sent by current browsers, and
/// not settable by pages) must say same-origin; an `Origin` naming a site must name the host
/// the post was sent to. `Origin: null` is what browsers send for a form post from a page
/// with `Referrer-Policy: no-referrer` (ours), so it passes here: the CSRF token and the
/// SameSite=Strict cookie still guard it.
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return false;
    }
    let mut origins = headers.get_all(ORIGIN).iter();
    let origin = match (origins.next(), origins.next()) {
        (None, _) => return true,
        (Some(origin), None) => origin,
        // Several, which no browser sends.
        (Some(_), Some(_)) => return false,
    };
    if origin.as_bytes() == b"null" {
        return true;
    }
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    authority.is_some_and(|a| a.eq_ignore_ascii_case(host))
}

/// Whether the person reached us over TLS: a reverse proxy says so in `X-Forwarded-Proto`.
pub fn forwarded_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// A rate: `burst` requests at once, refilled at `per_minute`.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    pub burst: u32,
    pub per_minute: u32,
}

/// The limits the web chat applies.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Per conversation: a person reading and pressing buttons stays well inside it.
    pub per_session: Rate,
    /// Per address: a whole ward may share one address, so this is generous.
    pub per_address: Rate,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            per_session: Rate {
                burst: 20,
                per_minute: 30,
            },
            per_address: Rate {
                burst: 200,
                per_minute: 600,
            },
        }
    }
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets by key, in memory only. The map is pruned of full buckets when it grows, so
/// it holds only recently active keys.
pub struct Buckets<K> {
    rate: Rate,
    map: Mutex<HashMap<K, Bucket>>,
}

const PRUNE_ABOVE: usize = 10_000;

impl<K: std::hash::Hash + Eq> Buckets<K> {
    pub fn new(rate: Rate) -> Self {
        Buckets {
            rate,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`; `Err(wait)` when there is none.
    pub fn take(&self, key: K, now: Instant) -> Result<(), Duration> {
        let per_sec = f64::from(self.rate.per_minute.max(1)) / 60.0;
        let burst = f64::from(self.rate.burst.max(1));
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * per_sec < burst
            });
        }
        let bucket = map.entry(key).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_sec).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_sec))
        }
    }
}

/// Both limits together.
pub struct RateLimiter {
    sessions: Buckets<SessionId>,
    addresses: Buckets<IpAddr>,
}

impl RateLimiter {
    pub fn new(limits: Limits) -> Self {
        RateLimiter {
            sessions: Buckets::new(limits.per_session),
            addresses: Buckets::new(limits.per_address),
        }
    }

    pub fn address(&self, ip: IpAddr) -> Result<(), Duration> {
        self.addresses.take(ip, Instant::now())
    }

    pub fn session(&self, id: &SessionId) -> Result<(), Duration> {
        self.sessions.take(id.clone(), Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refill_over_time() {
        let buckets = Buckets::new(Rate {
            burst: 2,
            per_minute: 60,
        });
        let t0 = Instant::now();
        assert!(buckets.take("a", t0).is_ok());
        assert!(buckets.take("a", t0).is_ok());
        assert!(buckets.take("a", t0).is_err());
        assert!(buckets.take("b", t0).is_ok(), "keys are separate");
        assert!(buckets.take("a", t0 + Duration::from_secs(1)).is_ok());
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
