//! The shared backend: Redis, for several `rightsbot serve` processes that behave as one bot.
//! One multiplexed connection per process (redis's `ConnectionManager`, which reconnects by
//! itself) carries every request; each has a short timeout, so a Redis that has gone away
//! costs a request half a second, not a hang.
//!
//! Every key starts `rightsbot:` and, past that, holds only keyed hashes and update numbers;
//! every value is a `Session` record, a delivery record, a count or a lease holder's random
//! token. Expiry is Redis's own (TTL on every key but the counts), so no sweep is needed.

use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{DELIVERY_RECORD_SECS, Delivery, DeliveryRecord, Rate, Unavailable, UserKey};

/// How long one request to Redis may take before the caller treats the store as unavailable.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a "told this group already" mark lasts: long enough that a group hears it once.
const GROUP_MARK_SECS: u64 = 365 * 24 * 60 * 60;
const COUNTS: &str = "rightsbot:counts";
/// Starts, fallbacks and crisis replies, under `measure/day/campaign/topic`.
const TALLIES: &str = "rightsbot:tallies";
/// Dashboard links: the BLAKE3 hash of each link's token -> the campaign it shows, or `*`.
const DASHBOARDS: &str = "rightsbot:dashboards";

/// A token bucket, computed inside Redis so that every replica draws from the same one. Time
/// is Redis's clock, so replicas' clocks need not agree. Returns 0, or the milliseconds to
/// wait for the next token.
const TAKE_TOKEN: &str = r"
local burst = tonumber(ARGV[1])
local per_ms = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local saved = redis.call('HMGET', KEYS[1], 't', 'l')
local tokens = tonumber(saved[1]) or burst
local last = tonumber(saved[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - last) * per_ms)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / per_ms) end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'l', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / per_ms) + 1000)
return wait
";

/// Takes a lease that is free or already this holder's (so a holder may ask again).
const TAKE_LEASE: &str = r"
local holder = redis.call('GET', KEYS[1])
if not holder or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";

/// Extends a lease only for its holder.
const RENEW_LEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// Gives a lease back only for its holder: a lease that expired and was taken by another
/// replica stays theirs.
const RELEASE_LEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

pub(super) struct RedisStore {
    connection: ConnectionManager,
    take_token: redis::Script,
    take_lease: redis::Script,
    renew_lease: redis::Script,
    release_lease: redis::Script,
    /// Stands in for the shared buckets while Redis cannot be reached.
    local_buckets: Mutex<super::sled_backend::LocalBuckets>,
}

fn session_key(key: &UserKey) -> String {
    format!("rightsbot:session:{}", key.hex())
}

fn delivery_key(update_id: u32) -> String {
    format!("rightsbot:update:{update_id}")
}

fn group_key(group: &UserKey) -> String {
    format!("rightsbot:group:{}", group.hex())
}

fn bucket_key(bucket: &UserKey) -> String {
    format!("rightsbot:rate:{}", bucket.hex())
}

fn lease_key(name: &UserKey) -> String {
    format!("rightsbot:lease:{}", name.hex())
}

/// The URL with any password replaced, for messages.
fn shown(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://***{}", &url[at..]),
        _ => url.to_owned(),
    }
}

impl RedisStore {
    pub(super) async fn connect(url: &str) -> Result<RedisStore> {
        let client = redis::Client::open(url)
            .with_context(|| format!("--store {} is not a Redis URL", shown(url)))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REQUEST_TIMEOUT))
            .set_response_timeout(Some(REQUEST_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let mut connection = ConnectionManager::new_with_config(client, config)
            .await
            .with_context(|| format!("cannot reach Redis at {}", shown(url)))?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .with_context(|| format!("Redis at {} does not answer", shown(url)))?;
        Ok(RedisStore {
            connection,
            take_token: redis::Script::new(TAKE_TOKEN),
            take_lease: redis::Script::new(TAKE_LEASE),
            renew_lease: redis::Script::new(RENEW_LEASE),
            release_lease: redis::Script::new(RELEASE_LEASE),
            local_buckets: Mutex::default(),
        })
    }

    /// A handle on the shared connection: cloning it is cheap and every clone multiplexes
    /// over the same socket.
    fn conn(&self) -> ConnectionManager {
        self.connection.clone()
    }

    pub(super) async fn session(&self, key: &UserKey) -> Result<Option<Vec<u8>>, Unavailable> {
        redis::cmd("GET")
            .arg(session_key(key))
            .query_async(&mut self.conn())
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "Redis: cannot read a session");
                Unavailable
            })
    }

    pub(super) async fn save(&self, key: &UserKey, record: &[u8], ttl_secs: u64) -> Result<()> {
        redis::cmd("SET")
            .arg(session_key(key))
            .arg(record)
            .arg("EX")
            .arg(ttl_secs.max(1))
            .query_async::<()>(&mut self.conn())
            .await?;
        Ok(())
    }

    pub(super) async fn forget(&self, key: &UserKey) -> Result<()> {
        redis::cmd("DEL")
            .arg(session_key(key))
            .query_async::<()>(&mut self.conn())
            .await?;
        Ok(())
    }

    pub(super) async fn count(&self, key: &str) -> Result<()> {
        self.add_one(COUNTS, key).await
    }

    pub(super) async fn tally(&self, key: &str) -> Result<()> {
        self.add_one(TALLIES, key).await
    }

    pub(super) async fn counts(&self) -> Result<Vec<(String, u64)>> {
        self.read_counters(COUNTS).await
    }

    pub(super) async fn tallies(&self) -> Result<Vec<(String, u64)>> {
        self.read_counters(TALLIES).await
    }

    pub(super) async fn add_dashboard(&self, token_hash: &str, tag: &str) -> Result<()> {
        redis::cmd("HSET")
            .arg(DASHBOARDS)
            .arg(token_hash)
            .arg(tag)
            .query_async::<()>(&mut self.conn())
            .await?;
        Ok(())
    }

    pub(super) async fn dashboard(&self, token_hash: &str) -> Result<Option<String>> {
        Ok(redis::cmd("HGET")
            .arg(DASHBOARDS)
            .arg(token_hash)
            .query_async(&mut self.conn())
            .await?)
    }

    pub(super) async fn revoke_dashboards(&self, tag: &str) -> Result<usize> {
        let all: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(DASHBOARDS)
            .query_async(&mut self.conn())
            .await?;
        let doomed: Vec<&String> = all
            .iter()
            .filter(|(_, t)| t == tag)
            .map(|(h, _)| h)
            .collect();
        if !doomed.is_empty() {
            redis::cmd("HDEL")
                .arg(DASHBOARDS)
                .arg(&doomed)
                .query_async::<()>(&mut self.conn())
                .await?;
        }
        Ok(doomed.len())
    }

    async fn add_one(&self, hash: &str, key: &str) -> Result<()> {
        redis::cmd("HINCRBY")
            .arg(hash)
            .arg(key)
            .arg(1)
            .query_async::<()>(&mut self.conn())
            .await?;
        Ok(())
    }

    async fn read_counters(&self, hash: &str) -> Result<Vec<(String, u64)>> {
        let all: Vec<(String, u64)> = redis::cmd("HGETALL")
            .arg(hash)
            .query_async(&mut self.conn())
            .await?;
        Ok(all)
    }

    pub(super) async fn take_token(&self, bucket: &UserKey, rate: Rate) -> Result<(), Duration> {
        let per_ms = f64::from(rate.per_minute.max(1)) / 60_000.0;
        let shared = self
            .take_token
            .key(bucket_key(bucket))
            .arg(rate.burst.max(1))
            .arg(per_ms)
            .invoke_async::<u64>(&mut self.conn())
            .await;
        match shared {
            Ok(0) => Ok(()),
            Ok(wait_ms) => Err(Duration::from_millis(wait_ms)),
            Err(e) => {
                tracing::warn!(error = %e, "Redis: rate limits fall back to this process's own");
                self.local_buckets
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take(bucket, rate)
            }
        }
    }

    pub(super) async fn delivery(&self, update_id: u32) -> Result<Delivery> {
        let found: Option<Vec<u8>> = redis::cmd("GET")
            .arg(delivery_key(update_id))
            .query_async(&mut self.conn())
            .await?;
        Ok(found.map_or(Delivery::New, |v| DeliveryRecord::state(&v)))
    }

    pub(super) async fn record_delivery(
        &self,
        update_id: u32,
        record: DeliveryRecord,
    ) -> Result<()> {
        redis::cmd("SET")
            .arg(delivery_key(update_id))
            .arg(record.to_bytes())
            .arg("EX")
            .arg(DELIVERY_RECORD_SECS)
            .query_async::<()>(&mut self.conn())
            .await?;
        Ok(())
    }

    pub(super) async fn commit_handled(
        &self,
        key: &UserKey,
        session: Option<Vec<u8>>,
        ttl_secs: u64,
        update_id: u32,
        now: u64,
    ) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        match session {
            Some(record) => pipe
                .cmd("SET")
                .arg(session_key(key))
                .arg(record)
                .arg("EX")
                .arg(ttl_secs.max(1))
                .ignore(),
            None => pipe.cmd("DEL").arg(session_key(key)).ignore(),
        };
        pipe.cmd("SET")
            .arg(delivery_key(update_id))
            .arg(DeliveryRecord::Handled(now).to_bytes())
            .arg("EX")
            .arg(DELIVERY_RECORD_SECS)
            .ignore();
        pipe.query_async::<()>(&mut self.conn()).await?;
        Ok(())
    }

    pub(super) async fn group_noted(&self, group: &UserKey) -> bool {
        redis::cmd("EXISTS")
            .arg(group_key(group))
            .query_async::<bool>(&mut self.conn())
            .await
            .unwrap_or(false)
    }

    pub(super) async fn note_group(&self, group: &UserKey) -> Result<()> {
        redis::cmd("SET")
            .arg(group_key(group))
            .arg(1)
            .arg("EX")
            .arg(GROUP_MARK_SECS)
            .query_async::<()>(&mut self.conn())
            .await?;
        Ok(())
    }

    pub(super) async fn try_lease(
        &self,
        name: &UserKey,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool> {
        let taken: u64 = self
            .take_lease
            .key(lease_key(name))
            .arg(holder)
            .arg(ttl.as_millis().max(1) as u64)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(taken == 1)
    }

    pub(super) async fn renew_lease(
        &self,
        name: &UserKey,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool> {
        let renewed: u64 = self
            .renew_lease
            .key(lease_key(name))
            .arg(holder)
            .arg(ttl.as_millis().max(1) as u64)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(renewed == 1)
    }

    pub(super) async fn release_lease(&self, name: &UserKey, holder: &str) -> Result<()> {
        self.release_lease
            .key(lease_key(name))
            .arg(holder)
            .invoke_async::<u64>(&mut self.conn())
            .await?;
        Ok(())
    }

    pub(super) async fn dump(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut conn = self.conn();
        let mut out = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg("rightsbot:*")
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await?;
            for key in keys {
                let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut conn).await?;
                let values: Vec<Vec<u8>> = match kind.as_str() {
                    "string" => vec![redis::cmd("GET").arg(&key).query_async(&mut conn).await?],
                    "hash" => {
                        redis::cmd("HGETALL")
                            .arg(&key)
                            .query_async(&mut conn)
                            .await?
                    }
                    _ => Vec::new(),
                };
                for value in values {
                    out.push((key.clone().into_bytes(), value));
                }
            }
            if next == 0 {
                return Ok(out);
            }
            cursor = next;
        }
    }
}
