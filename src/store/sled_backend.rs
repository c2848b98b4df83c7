//! The embedded backend: sled in the data folder, for one process. Writes that must survive a
//! `kill -9` are flushed before the call returns, but by one flusher thread, never on the
//! threads that answer requests; writers that arrive while a flush runs share the next one
//! (a group commit), so 300 people answered at once cost a handful of flushes, not 300. Rate limits and leases live in this process's memory: with
//! one process there is nobody to share them with.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::{DeliveryRecord, Rate, Unavailable, UserKey};

/// Sled's default cache is 1 GiB; our records are tiny.
const CACHE_BYTES: u64 = 16 * 1024 * 1024;
const DB_DIR: &str = "db";
/// How long to wait for the database's lock: a process that is still exiting (a quick
/// restart, or a store dropped a moment ago whose flusher thread has not yet finished) holds
/// it briefly.
const LOCK_WAIT: Duration = Duration::from_secs(10);
/// Token buckets are pruned of full ones when there are more than this.
const PRUNE_ABOVE: usize = 10_000;

pub(super) struct SledStore {
    db: sled::Db,
    flusher: Mutex<std::sync::mpsc::Sender<FlushWaiter>>,
    sessions: sled::Tree,
    counts: sled::Tree,
    /// Starts, fallbacks and crisis replies, under `measure/day/campaign/topic`.
    tallies: sled::Tree,
    delivery: sled::Tree,
    groups: sled::Tree,
    buckets: Mutex<LocalBuckets>,
    leases: Mutex<HashMap<UserKey, (String, Instant)>>,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets in this process's memory, pruned of full ones when they grow.
#[derive(Default)]
pub(super) struct LocalBuckets(HashMap<UserKey, Bucket>);

impl LocalBuckets {
    pub(super) fn take(&mut self, bucket: &UserKey, rate: Rate) -> Result<(), Duration> {
        let now = Instant::now();
        let per_sec = f64::from(rate.per_minute.max(1)) / 60.0;
        let burst = f64::from(rate.burst.max(1));
        let map = &mut self.0;
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * per_sec < burst
            });
        }
        let bucket = map.entry(*bucket).or_insert(Bucket {
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

impl SledStore {
    pub(super) fn open(dir: &Path) -> Result<SledStore> {
        let db = open_db(&dir.join(DB_DIR)).map_err(|e| {
            anyhow::anyhow!(
                "cannot open the database in {} (one process at a time: is rightsbot already \
                 running with this data folder? Several processes need --store redis://...): {e}",
                dir.display()
            )
        })?;
        let flusher = Mutex::new(spawn_flusher(db.clone())?);
        Ok(SledStore {
            flusher,
            sessions: db.open_tree("sessions")?,
            counts: db.open_tree("counts")?,
            tallies: db.open_tree("tallies")?,
            delivery: db.open_tree("telegram_delivery")?,
            groups: db.open_tree("telegram_groups_noted")?,
            db,
            buckets: Mutex::default(),
            leases: Mutex::default(),
        })
    }

    /// Waits until everything written so far is on disk, flushed by the flusher thread.
    pub(super) async fn flush(&self) -> Result<()> {
        let (done, flushed) = tokio::sync::oneshot::channel();
        self.flusher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(done)
            .map_err(|_| anyhow::anyhow!("the flusher thread has stopped"))?;
        flushed
            .await
            .map_err(|_| anyhow::anyhow!("the flusher thread has stopped"))?
            .map_err(|e| anyhow::anyhow!("cannot flush the database: {e}"))
    }

    pub(super) fn session(&self, key: &UserKey) -> Result<Option<Vec<u8>>, Unavailable> {
        match self.sessions.get(key.as_bytes()) {
            Ok(found) => Ok(found.map(|v| v.to_vec())),
            Err(e) => {
                tracing::error!(user = %key.log_label(), error = %e, "cannot read a session");
                Err(Unavailable)
            }
        }
    }

    pub(super) async fn save(&self, key: &UserKey, record: Vec<u8>) -> Result<()> {
        self.sessions.insert(key.as_bytes(), record)?;
        self.flush().await
    }

    pub(super) async fn forget(&self, key: &UserKey) -> Result<()> {
        self.sessions.remove(key.as_bytes())?;
        self.flush().await
    }

    pub(super) async fn sweep(&self, now: u64, ttl_secs: u64) -> Result<usize> {
        let mut removed = 0;
        for entry in self.sessions.iter() {
            let (key, value) = entry?;
            let expired = crate::engine::Session::from_record(&value)
                .is_none_or(|s| now.saturating_sub(s.last_seen) >= ttl_secs);
            if expired {
                self.sessions.remove(key)?;
                removed += 1;
            }
        }
        if removed > 0 {
            self.flush().await?;
        }
        Ok(removed)
    }

    pub(super) fn count(&self, key: &str) -> Result<()> {
        add_one(&self.counts, key)
    }

    pub(super) fn tally(&self, key: &str) -> Result<()> {
        add_one(&self.tallies, key)
    }

    pub(super) fn counts(&self) -> Vec<(String, u64)> {
        read_counters(&self.counts)
    }

    pub(super) fn tallies(&self) -> Vec<(String, u64)> {
        read_counters(&self.tallies)
    }

    pub(super) fn take_token(&self, bucket: &UserKey, rate: Rate) -> Result<(), Duration> {
        self.buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(bucket, rate)
    }

    pub(super) fn delivery(&self, update_id: u32) -> Result<super::Delivery> {
        Ok(self
            .delivery
            .get(update_id.to_be_bytes())?
            .map_or(super::Delivery::New, |v| DeliveryRecord::state(&v)))
    }

    pub(super) async fn record_delivery(
        &self,
        update_id: u32,
        record: DeliveryRecord,
    ) -> Result<()> {
        self.delivery
            .insert(update_id.to_be_bytes(), record.to_bytes())?;
        self.flush().await
    }

    pub(super) async fn commit_handled(
        &self,
        key: &UserKey,
        session: Option<Vec<u8>>,
        update_id: u32,
        now: u64,
    ) -> Result<()> {
        use sled::Transactional;
        use sled::transaction::ConflictableTransactionError;
        let handled = DeliveryRecord::Handled(now).to_bytes();
        (&self.sessions, &self.delivery)
            .transaction(|(sessions, records)| {
                match &session {
                    Some(s) => {
                        sessions.insert(&key.as_bytes()[..], s.clone())?;
                    }
                    None => {
                        sessions.remove(&key.as_bytes()[..])?;
                    }
                }
                records.insert(&update_id.to_be_bytes(), handled.clone())?;
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e| anyhow::anyhow!("a transaction failed: {e:?}"))?;
        self.flush().await
    }

    pub(super) fn forget_deliveries_below(&self, offset: u32) -> Result<usize> {
        let mut removed = 0;
        for key in self.delivery.range(..offset.to_be_bytes()).keys() {
            self.delivery.remove(key?)?;
            removed += 1;
        }
        Ok(removed)
    }

    pub(super) fn forget_deliveries_older_than(&self, cutoff: u64) -> Result<usize> {
        let mut removed = 0;
        for entry in self.delivery.iter() {
            let (key, value) = entry?;
            if DeliveryRecord::at(&value) < cutoff {
                self.delivery.remove(key)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    pub(super) fn group_noted(&self, group: &UserKey) -> bool {
        matches!(self.groups.get(group.as_bytes()), Ok(Some(_)))
    }

    pub(super) fn note_group(&self, group: &UserKey, now: u64) -> Result<()> {
        self.groups.insert(group.as_bytes(), &now.to_be_bytes())?;
        Ok(())
    }

    pub(super) fn try_lease(&self, name: &UserKey, holder: &str, ttl: Duration) -> bool {
        let now = Instant::now();
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        leases.retain(|_, (_, until)| *until > now);
        match leases.get(name) {
            Some((other, _)) if other != holder => false,
            _ => {
                leases.insert(*name, (holder.to_owned(), now + ttl));
                true
            }
        }
    }

    pub(super) fn renew_lease(&self, name: &UserKey, holder: &str, ttl: Duration) -> bool {
        let now = Instant::now();
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        match leases.get_mut(name) {
            Some((who, until)) if who == holder && *until > now => {
                *until = now + ttl;
                true
            }
            _ => false,
        }
    }

    pub(super) fn release_lease(&self, name: &UserKey, holder: &str) {
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        if leases.get(name).is_some_and(|(who, _)| who == holder) {
            leases.remove(name);
        }
    }

    pub(super) fn dump(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        for name in self.db.tree_names() {
            let Ok(tree) = self.db.open_tree(&name) else {
                continue;
            };
            for (k, v) in tree.iter().flatten() {
                out.push((k.to_vec(), v.to_vec()));
            }
        }
        out
    }
}

type FlushWaiter = tokio::sync::oneshot::Sender<Result<(), String>>;

/// The flusher: waits for a request, takes every other request already waiting, flushes
/// once and answers them all. It ends when the store is dropped.
fn spawn_flusher(db: sled::Db) -> Result<std::sync::mpsc::Sender<FlushWaiter>> {
    let (tx, rx) = std::sync::mpsc::channel::<FlushWaiter>();
    std::thread::Builder::new()
        .name("sled-flusher".to_owned())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut waiting = vec![first];
                waiting.extend(rx.try_iter());
                let result = db.flush().map(|_| ()).map_err(|e| e.to_string());
                for waiter in waiting {
                    let _ = waiter.send(result.clone());
                }
            }
        })
        .map_err(|e| anyhow::anyhow!("cannot start the flusher thread: {e}"))?;
    Ok(tx)
}

fn open_db(path: &Path) -> sled::Result<sled::Db> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        let opened = sled::Config::new()
            .path(path)
            .cache_capacity(CACHE_BYTES)
            .open();
        match opened {
            // sled reports a held lock only in the message of an `Other` error.
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// Adds one to the counter under `key`.
fn add_one(tree: &sled::Tree, key: &str) -> Result<()> {
    tree.update_and_fetch(key.as_bytes(), |old| {
        let n = old.map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap_or([0; 8])));
        Some((n + 1).to_be_bytes().to_vec())
    })?;
    Ok(())
}

/// Every counter in `tree`, as (key, count).
fn read_counters(tree: &sled::Tree) -> Vec<(String, u64)> {
    tree.iter()
        .flatten()
        .filter_map(|(k, v)| {
            let key = String::from_utf8(k.to_vec()).ok()?;
            let n = u64::from_be_bytes(v.as_ref().try_into().ok()?);
            Some((key, n))
        })
        .collect()
}
