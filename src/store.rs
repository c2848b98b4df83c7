//! Everything the bot keeps, behind one interface: sessions under pseudonymous keys (with
//! expiry), the Telegram delivery log and "told this group already" marks, the web rate
//! limits, short leases (locks with expiry) and the anonymous counts.
//!
//! Two backends: sled in the data folder (the default: one process, nothing to run beside
//! it) and Redis (`--store redis://...`), which several `rightsbot serve` processes can share
//! so that they behave as one bot. Callers never know which one they have.
//!
//! Keys are a keyed BLAKE3 hash of the channel and the channel's user id, under a per-install
//! secret (created on first run with owner-only permissions, or read from `--secret-file` so
//! that replicas share it), so the store alone says nothing about who anyone is. Never written
//! to either backend: message text, user or chat ids, names, addresses, the install secret,
//! the bot token.
//!
//! A store that cannot be reached (Redis restarting) is not an outage: `load` says
//! `Unavailable`, the channels answer from memory and say that they cannot remember the
//! conversation, and the next request tries again.

mod redis_backend;
mod sled_backend;

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::engine::Session;
use crate::ids::TopicId;
use redis_backend::RedisStore;
use sled_backend::SledStore;

/// Where a person is talking to us from. Part of the key, so the same number on two channels
/// is two different people.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Telegram,
    Web,
    Terminal,
}

impl Channel {
    fn tag(self) -> &'static [u8] {
        match self {
            Channel::Telegram => b"telegram",
            Channel::Web => b"web",
            Channel::Terminal => b"terminal",
        }
    }
}

/// A pseudonymous key for one person on one channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserKey([u8; 32]);

impl UserKey {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A short, non-reversible label for logs: the first bytes of the key, never the id.
    pub fn log_label(&self) -> String {
        self.0[..4].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The whole key in hex: how Redis names this person's records.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The store could not be reached: the caller answers from memory and says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the store cannot be reached")]
pub struct Unavailable;

/// What the delivery log knows about one Telegram update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Never seen, or seen and not one message sent.
    New,
    /// Being answered when the process stopped: this many messages went out.
    Sending(usize),
    Handled,
}

/// A token bucket: `burst` at once, refilled at `per_minute`.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    pub burst: u32,
    pub per_minute: u32,
}

/// Delivery records of webhook updates (no offset says when Telegram is done with them) are
/// dropped after this; Telegram keeps an unconfirmed update for 24 hours at most.
pub const DELIVERY_RECORD_SECS: u64 = 48 * 60 * 60;

const SECRET_FILE: &str = "secret.key";

/// Which backend, and how to reach it.
#[derive(Clone, Debug)]
pub struct Options {
    /// The data folder: sled's database, and the install secret unless `secret_file` is set.
    pub data: PathBuf,
    /// `redis://[:password@]host:port/db`; `None` for sled in `data`.
    pub url: Option<String>,
    /// The install secret, shared by replicas; created if missing.
    pub secret_file: Option<PathBuf>,
    /// Seconds after the last message when a session is deleted.
    pub ttl_secs: u64,
}

enum Backend {
    Sled(SledStore),
    Redis(RedisStore),
}

pub struct Store {
    backend: Backend,
    secret: [u8; 32],
    ttl_secs: u64,
    dir: PathBuf,
}

impl Store {
    /// Opens (creating if need be) the sled store in `dir`. Sessions not seen for `ttl_secs`
    /// expire.
    pub fn open(dir: &Path, ttl_secs: u64) -> Result<Store> {
        Store::open_sled(dir, &dir.join(SECRET_FILE), ttl_secs)
    }

    fn open_sled(dir: &Path, secret_file: &Path, ttl_secs: u64) -> Result<Store> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data folder {}", dir.display()))?;
        let secret = load_or_create_secret(secret_file)?;
        Ok(Store {
            backend: Backend::Sled(SledStore::open(dir)?),
            secret,
            ttl_secs,
            dir: dir.to_owned(),
        })
    }

    /// Opens the store `options` name: sled in the data folder, or Redis when a URL is given
    /// (which must answer now: a wrong address is a start-up error, said plainly).
    pub async fn connect(options: &Options) -> Result<Store> {
        let Some(url) = &options.url else {
            let secret_file = match &options.secret_file {
                Some(file) => file.clone(),
                None => options.data.join(SECRET_FILE),
            };
            return Store::open_sled(&options.data, &secret_file, options.ttl_secs);
        };
        let secret_file = match &options.secret_file {
            Some(file) => file.clone(),
            None => {
                std::fs::create_dir_all(&options.data).with_context(|| {
                    format!("cannot create the data folder {}", options.data.display())
                })?;
                options.data.join(SECRET_FILE)
            }
        };
        let secret = load_or_create_secret(&secret_file)?;
        Ok(Store {
            backend: Backend::Redis(RedisStore::connect(url).await?),
            secret,
            ttl_secs: options.ttl_secs,
            dir: options.data.clone(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// Whether other processes may be using this store at the same time (Redis): then the
    /// channels take leases to keep replicas out of each other's way.
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Redis(_))
    }

    pub fn key(&self, channel: Channel, user: &str) -> UserKey {
        let mut hasher = blake3::Hasher::new_keyed(&self.secret);
        hasher.update(channel.tag());
        hasher.update(b"\0");
        hasher.update(user.as_bytes());
        UserKey(*hasher.finalize().as_bytes())
    }

    /// The session stored for `key`, if there is one that has not expired and can be read.
    /// An expired or unreadable record is removed and treated as absent: a fresh start, never
    /// a crash. `Err(Unavailable)` when the store cannot be reached.
    pub async fn load(&self, key: &UserKey, now: u64) -> Result<Option<Session>, Unavailable> {
        let bytes = match &self.backend {
            Backend::Sled(s) => s.session(key),
            Backend::Redis(r) => r.session(key).await,
        }?;
        let Some(bytes) = bytes else { return Ok(None) };
        let session = Session::from_record(&bytes);
        let fresh = session
            .as_ref()
            .is_some_and(|s| now.saturating_sub(s.last_seen) < self.ttl_secs);
        if !fresh {
            if session.is_none() {
                tracing::warn!(user = %key.log_label(), "unreadable or old session record; starting afresh");
            }
            let _ = self.forget(key).await;
            return Ok(None);
        }
        Ok(session)
    }

    /// Saves `session`, durably: on sled it is flushed (off the request threads), so it
    /// survives the process being killed; on Redis it expires after the session lifetime.
    pub async fn save(&self, key: &UserKey, session: &Session) -> Result<()> {
        let record = session.to_record();
        match &self.backend {
            Backend::Sled(s) => s.save(key, record).await,
            Backend::Redis(r) => r.save(key, &record, self.ttl_secs).await,
        }
    }

    /// Stores `record` under `key` as it is: what a record from an older version, or a damaged
    /// one, looks like to `load`.
    pub async fn save_raw_record(&self, key: &UserKey, record: Vec<u8>) -> Result<()> {
        match &self.backend {
            Backend::Sled(s) => s.save(key, record).await,
            Backend::Redis(r) => r.save(key, &record, self.ttl_secs).await,
        }
    }

    /// The stored bytes for `key`, exactly as kept.
    pub async fn raw_record(&self, key: &UserKey) -> Option<Vec<u8>> {
        match &self.backend {
            Backend::Sled(s) => s.session(key).ok().flatten(),
            Backend::Redis(r) => r.session(key).await.ok().flatten(),
        }
    }

    /// Erases everything stored under `key`, for every replica.
    pub async fn forget(&self, key: &UserKey) -> Result<()> {
        match &self.backend {
            Backend::Sled(s) => s.forget(key).await,
            Backend::Redis(r) => r.forget(key).await,
        }
    }

    /// Removes every session not seen for the expiry period; returns how many. Redis expires
    /// its records itself, so there it has nothing to do.
    pub async fn sweep(&self, now: u64) -> Result<usize> {
        match &self.backend {
            Backend::Sled(s) => s.sweep(now, self.ttl_secs).await,
            Backend::Redis(_) => Ok(0),
        }
    }

    /// Counts one showing of `topic` on day `day` (days since 1970), under a start-link
    /// campaign if there was one. Nothing ties a count to a person.
    pub async fn count_topic(
        &self,
        day: u64,
        campaign: Option<&str>,
        topic: &TopicId,
    ) -> Result<()> {
        let key = format!("{day}/{}/{topic}", campaign.unwrap_or("-"));
        match &self.backend {
            Backend::Sled(s) => s.count(&key),
            Backend::Redis(r) => r.count(&key).await,
        }
    }

    /// All counts as (day, campaign, topic, count), in key order.
    pub async fn counts(&self) -> Vec<(u64, String, String, u64)> {
        let raw = match &self.backend {
            Backend::Sled(s) => s.counts(),
            Backend::Redis(r) => r.counts().await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot read the counts");
                Vec::new()
            }),
        };
        let mut counts: Vec<_> = raw
            .into_iter()
            .filter_map(|(key, n)| {
                let mut parts = key.splitn(3, '/');
                let day = parts.next()?.parse().ok()?;
                let campaign = parts.next()?.to_owned();
                let topic = parts.next()?.to_owned();
                Some((day, campaign, topic, n))
            })
            .collect();
        counts.sort();
        counts
    }

    /// Takes one token from the bucket `bucket` (a keyed hash, never an address or id);
    /// `Err(wait)` when it is empty. Shared by every replica on Redis; if Redis cannot be
    /// reached, this process's own buckets stand in.
    pub async fn take_token(&self, bucket: &UserKey, rate: Rate) -> Result<(), Duration> {
        match &self.backend {
            Backend::Sled(s) => s.take_token(bucket, rate),
            Backend::Redis(r) => r.take_token(bucket, rate).await,
        }
    }

    /// What the delivery log says about Telegram update `update_id`. A log that cannot be
    /// read says `New`: answering twice beats not answering.
    pub async fn delivery(&self, update_id: u32) -> Delivery {
        let found = match &self.backend {
            Backend::Sled(s) => s.delivery(update_id),
            Backend::Redis(r) => r.delivery(update_id).await,
        };
        found.unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read the delivery log");
            Delivery::New
        })
    }

    /// Records that `sent` messages of this update's reply went out, durably, so a restart
    /// (or another replica) does not send them again.
    pub async fn record_sent(&self, update_id: u32, sent: usize, now: u64) -> Result<()> {
        let record = DeliveryRecord::Sending(sent, now);
        match &self.backend {
            Backend::Sled(s) => s.record_delivery(update_id, record).await,
            Backend::Redis(r) => r.record_delivery(update_id, record).await,
        }
    }

    /// Marks an update handled (for updates that change no session), durably.
    pub async fn mark_handled(&self, update_id: u32, now: u64) -> Result<()> {
        let record = DeliveryRecord::Handled(now);
        match &self.backend {
            Backend::Sled(s) => s.record_delivery(update_id, record).await,
            Backend::Redis(r) => r.record_delivery(update_id, record).await,
        }
    }

    /// Saves the session for `key` (or, with `None`, erases it) and marks `update_id` handled,
    /// atomically: both happen or neither, even if the process is killed.
    pub async fn commit_handled(
        &self,
        key: &UserKey,
        session: Option<&Session>,
        update_id: u32,
        now: u64,
    ) -> Result<()> {
        let record = session.map(Session::to_record);
        match &self.backend {
            Backend::Sled(s) => s.commit_handled(key, record, update_id, now).await,
            Backend::Redis(r) => {
                r.commit_handled(key, record, self.ttl_secs, update_id, now)
                    .await
            }
        }
    }

    /// Drops the delivery records of updates below `offset`: Telegram has confirmed them.
    /// Redis drops them by expiry instead.
    pub async fn forget_deliveries_below(&self, offset: u32) -> Result<usize> {
        match &self.backend {
            Backend::Sled(s) => s.forget_deliveries_below(offset),
            Backend::Redis(_) => Ok(0),
        }
    }

    /// Drops delivery records older than `cutoff` (unix seconds). Redis drops them by expiry.
    pub async fn forget_deliveries_older_than(&self, cutoff: u64) -> Result<usize> {
        match &self.backend {
            Backend::Sled(s) => s.forget_deliveries_older_than(cutoff),
            Backend::Redis(_) => Ok(0),
        }
    }

    /// Whether the group under `group` (a keyed hash of its chat) was told already that the
    /// bot works in private chats only.
    pub async fn group_noted(&self, group: &UserKey) -> bool {
        match &self.backend {
            Backend::Sled(s) => s.group_noted(group),
            Backend::Redis(r) => r.group_noted(group).await,
        }
    }

    pub async fn note_group(&self, group: &UserKey, now: u64) -> Result<()> {
        match &self.backend {
            Backend::Sled(s) => s.note_group(group, now),
            Backend::Redis(r) => r.note_group(group).await,
        }
    }

    /// Takes the lease `name` (a keyed hash) for `holder` for `ttl`, if nobody else holds it
    /// (asking again for a lease one holds renews it).
    /// A holder that dies loses its lease when the time runs out, so nothing waits forever.
    pub async fn try_lease(&self, name: &UserKey, holder: &str, ttl: Duration) -> Result<bool> {
        match &self.backend {
            Backend::Sled(s) => Ok(s.try_lease(name, holder, ttl)),
            Backend::Redis(r) => r.try_lease(name, holder, ttl).await,
        }
    }

    /// Extends a lease `holder` still holds; `false` if it has lost it.
    pub async fn renew_lease(&self, name: &UserKey, holder: &str, ttl: Duration) -> Result<bool> {
        match &self.backend {
            Backend::Sled(s) => Ok(s.renew_lease(name, holder, ttl)),
            Backend::Redis(r) => r.renew_lease(name, holder, ttl).await,
        }
    }

    /// Gives a lease back, if `holder` still holds it.
    pub async fn release_lease(&self, name: &UserKey, holder: &str) -> Result<()> {
        match &self.backend {
            Backend::Sled(s) => {
                s.release_lease(name, holder);
                Ok(())
            }
            Backend::Redis(r) => r.release_lease(name, holder).await,
        }
    }

    /// Makes everything written so far durable (sled; Redis's own persistence is its
    /// operator's choice).
    pub async fn flush(&self) -> Result<()> {
        match &self.backend {
            Backend::Sled(s) => s.flush().await,
            Backend::Redis(_) => Ok(()),
        }
    }

    /// The campaign (or `*`) of the dashboard link whose token hashes to `token_hash`, if the
    /// shared store keeps one. Only Redis keeps links, so that a link works on every replica;
    /// with sled they are kept in a file beside the database (`access`), which the operator's
    /// command can write while the bot serves.
    pub async fn dashboard_link(&self, token_hash: &str) -> Option<String> {
        match &self.backend {
            Backend::Sled(_) => None,
            Backend::Redis(r) => r.dashboard(token_hash).await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot read the dashboard links");
                None
            }),
        }
    }

    /// Keeps a dashboard link in the shared store (Redis only).
    pub async fn add_dashboard_link(&self, token_hash: &str, tag: &str) -> Result<()> {
        match &self.backend {
            Backend::Sled(_) => anyhow::bail!("with sled, dashboard links live in the data folder"),
            Backend::Redis(r) => r.add_dashboard(token_hash, tag).await,
        }
    }

    /// Removes the shared store's dashboard links for `tag`; how many there were.
    pub async fn revoke_dashboard_links(&self, tag: &str) -> Result<usize> {
        match &self.backend {
            Backend::Sled(_) => Ok(0),
            Backend::Redis(r) => r.revoke_dashboards(tag).await,
        }
    }

    /// Every record the backend holds, as (key, value) bytes: for the privacy scan.
    pub async fn dump(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        match &self.backend {
            Backend::Sled(s) => Ok(s.dump()),
            Backend::Redis(r) => r.dump().await,
        }
    }

    /// Adds one to an anonymous count. Topics opened keep their place among the counts
    /// (`count_topic`); the other measures are tallied under `measure/day/campaign/topic`.
    /// The key is all there is: nothing ties it to a person.
    pub async fn count(&self, cell: &crate::counts::Cell) -> Result<()> {
        use crate::counts::Measure;
        if cell.measure == Measure::Opened {
            let topic = TopicId::parse(&cell.topic)
                .ok_or_else(|| anyhow::anyhow!("topics opened are counted by topic id"))?;
            let campaign = (cell.campaign != "-").then_some(cell.campaign.as_str());
            return self.count_topic(cell.day, campaign, &topic).await;
        }
        let key = format!(
            "{}/{}/{}/{}",
            cell.measure.name(),
            cell.day,
            cell.campaign,
            cell.topic
        );
        match &self.backend {
            Backend::Sled(s) => s.tally(&key),
            Backend::Redis(r) => r.tally(&key).await,
        }
    }

    /// Every anonymous count, of every measure.
    pub async fn all_counts(&self) -> Vec<(crate::counts::Cell, u64)> {
        use crate::counts::{Cell, Measure};
        let opened = self
            .counts()
            .await
            .into_iter()
            .map(|(day, campaign, topic, n)| {
                let measure = Measure::Opened;
                let cell = Cell {
                    day,
                    campaign,
                    topic,
                    measure,
                };
                (cell, n)
            });
        let raw = match &self.backend {
            Backend::Sled(s) => s.tallies(),
            Backend::Redis(r) => r.tallies().await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot read the counts");
                Vec::new()
            }),
        };
        let others = raw.into_iter().filter_map(|(key, n)| {
            let mut parts = key.splitn(4, '/');
            let measure = Measure::from_name(parts.next()?)?;
            let day = parts.next()?.parse().ok()?;
            let campaign = parts.next()?.to_owned();
            let topic = parts.next()?.to_owned();
            let cell = Cell {
                day,
                campaign,
                topic,
                measure,
            };
            Some((cell, n))
        });
        opened.chain(others.collect::<Vec<_>>()).collect()
    }
}

/// A delivery log record: an update number's state and a time, nothing about a person.
#[derive(Clone, Copy, Debug)]
enum DeliveryRecord {
    Sending(usize, u64),
    Handled(u64),
}

const HANDLED: u8 = b'h';
const SENDING: u8 = b's';

impl DeliveryRecord {
    fn to_bytes(self) -> Vec<u8> {
        match self {
            DeliveryRecord::Handled(at) => {
                let mut v = vec![HANDLED];
                v.extend_from_slice(&at.to_be_bytes());
                v
            }
            DeliveryRecord::Sending(sent, at) => {
                let mut v = vec![SENDING];
                v.extend_from_slice(&(sent.min(u16::MAX as usize) as u16).to_be_bytes());
                v.extend_from_slice(&at.to_be_bytes());
                v
            }
        }
    }

    fn state(bytes: &[u8]) -> Delivery {
        match bytes.first() {
            Some(&HANDLED) => Delivery::Handled,
            Some(&SENDING) if bytes.len() >= 3 => {
                Delivery::Sending(u16::from_be_bytes([bytes[1], bytes[2]]) as usize)
            }
            _ => Delivery::New,
        }
    }

    /// When the record was written; 0 if unreadable.
    fn at(bytes: &[u8]) -> u64 {
        match bytes.first() {
            Some(&HANDLED) if bytes.len() >= 9 => bytes[1..9].try_into().ok(),
            Some(&SENDING) if bytes.len() >= 11 => bytes[3..11].try_into().ok(),
            _ => None,
        }
        .map_or(0, u64::from_be_bytes)
    }
}

fn load_or_create_secret(path: &Path) -> Result<[u8; 32]> {
    match std::fs::File::open(path) {
        Ok(mut file) => {
            let mut secret = [0u8; 32];
            let mut extra = Vec::new();
            file.read_exact(&mut secret)
                .and_then(|_| file.read_to_end(&mut extra))
                .with_context(|| format!("cannot read {}", path.display()))?;
            if !extra.is_empty() {
                bail!("{} is not a 32-byte key file", path.display());
            }
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = match options.open(path) {
                Ok(file) => file,
                // Another replica created it a moment ago: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return load_or_create_secret(path);
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", path.display()));
                }
            };
            file.write_all(&secret)?;
            file.sync_all()?;
            Ok(secret)
        }
        Err(e) => Err(e).with_context(|| format!("cannot open {}", path.display())),
    }
}

/// How `Store::hold_lease` ended.
pub enum Held {
    Lease(Lease),
    /// The store cannot be reached: the caller goes on without the lease (answering matters
    /// more than ordering).
    Unreachable,
    /// `stop` fired while waiting.
    Stopped,
}

/// A lease held and kept alive: renewed at a third of its time until released. If this
/// process dies, the lease runs out and another replica takes over.
pub struct Lease {
    store: std::sync::Arc<Store>,
    name: UserKey,
    holder: String,
    renewer: tokio::task::JoinHandle<()>,
}

impl Lease {
    pub async fn release(self) {
        self.renewer.abort();
        if let Err(e) = self.store.release_lease(&self.name, &self.holder).await {
            tracing::warn!(error = %e, "cannot release a lease; it will run out");
        }
    }
}

impl Store {
    /// Waits for the lease `name`, asking again every `poll`, then holds it (renewing) until
    /// released.
    pub async fn hold_lease(
        self: &std::sync::Arc<Self>,
        name: &UserKey,
        holder: &str,
        ttl: Duration,
        poll: Duration,
        stop: &tokio_util::sync::CancellationToken,
    ) -> Held {
        loop {
            match self.try_lease(name, holder, ttl).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot take a lease");
                    return Held::Unreachable;
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return Held::Stopped,
                _ = tokio::time::sleep(poll) => {}
            }
        }
        let renewer = {
            let (store, name, holder) = (self.clone(), *name, holder.to_owned());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(ttl / 3).await;
                    match store.renew_lease(&name, &holder, ttl).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!("a lease ran out before it was renewed");
                            return;
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot renew a lease"),
                    }
                }
            })
        };
        Held::Lease(Lease {
            store: self.clone(),
            name: *name,
            holder: holder.to_owned(),
            renewer,
        })
    }
}

/// A random name for this process, as a lease holder.
pub fn holder_name() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // Unique enough for a holder: the process id and the time.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        return format!("{}-{now}", std::process::id());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
