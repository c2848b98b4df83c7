//! Session state in sled: the least the conversation needs, under pseudonymous keys, with
//! expiry. One database per process, in the data folder.
//!
//! Keys are a keyed BLAKE3 hash of the channel and the channel's user id, with a per-install
//! secret created on first run (owner-only permissions), so the database alone says nothing
//! about who anyone is. Message text is never written here: only `Session` records.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::engine::Session;
use crate::ids::TopicId;

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
}

/// Sled's default cache is 1 GiB; our records are tiny.
const CACHE_BYTES: u64 = 16 * 1024 * 1024;
const SECRET_FILE: &str = "secret.key";
const DB_DIR: &str = "db";

pub struct Store {
    db: sled::Db,
    sessions: sled::Tree,
    counts: sled::Tree,
    tallies: sled::Tree,
    secret: [u8; 32],
    ttl_secs: u64,
    dir: PathBuf,
}

impl Store {
    /// Opens (creating if need be) the store in `dir`. Sessions not seen for `ttl_secs` expire.
    pub fn open(dir: &Path, ttl_secs: u64) -> Result<Store> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data folder {}", dir.display()))?;
        let secret = load_or_create_secret(&dir.join(SECRET_FILE))?;
        let db = open_db(&dir.join(DB_DIR)).with_context(|| {
            format!(
                "cannot open the database in {} (one process at a time: is rightsbot already \
                     running with this data folder?)",
                dir.display()
            )
        })?;
        let sessions = db.open_tree("sessions")?;
        let counts = db.open_tree("counts")?;
        let tallies = db.open_tree("tallies")?;
        Ok(Store {
            db,
            sessions,
            counts,
            tallies,
            secret,
            ttl_secs,
            dir: dir.to_owned(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// The database, for channels that keep their own small records (such as which Telegram
    /// updates were handled). Everything in it must follow this module's rules.
    pub fn db(&self) -> &sled::Db {
        &self.db
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
    /// a crash.
    pub fn load(&self, key: &UserKey, now: u64) -> Option<Session> {
        let bytes = match self.sessions.get(key.as_bytes()) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return None,
            Err(e) => {
                tracing::error!(user = %key.log_label(), error = %e, "cannot read a session");
                return None;
            }
        };
        let session = Session::from_record(&bytes);
        let fresh = session
            .as_ref()
            .is_some_and(|s| now.saturating_sub(s.last_seen) < self.ttl_secs);
        if !fresh {
            if session.is_none() {
                tracing::warn!(user = %key.log_label(), "unreadable or old session record; starting afresh");
            }
            let _ = self.sessions.remove(key.as_bytes());
            return None;
        }
        session
    }

    /// Saves `session` and flushes, so it survives the process being killed.
    pub fn save(&self, key: &UserKey, session: &Session) -> Result<()> {
        self.sessions.insert(key.as_bytes(), session.to_record())?;
        self.db.flush()?;
        Ok(())
    }

    /// Saves the session for `key` (or, with `None`, erases it) and inserts one channel
    /// record into `tree`, in one transaction, then flushes: both happen or neither, even if
    /// the process is killed. Telegram uses it to save a session together with "this update
    /// is handled".
    pub fn commit_with_record(
        &self,
        key: &UserKey,
        session: Option<&Session>,
        tree: &sled::Tree,
        record_key: &[u8],
        record_value: &[u8],
    ) -> Result<()> {
        use sled::Transactional;
        use sled::transaction::ConflictableTransactionError;
        (&self.sessions, tree)
            .transaction(|(sessions, records)| {
                match session {
                    Some(s) => {
                        sessions.insert(&key.as_bytes()[..], s.to_record())?;
                    }
                    None => {
                        sessions.remove(&key.as_bytes()[..])?;
                    }
                }
                records.insert(record_key, record_value)?;
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e| anyhow::anyhow!("a transaction failed: {e:?}"))?;
        self.db.flush()?;
        Ok(())
    }

    /// The stored bytes for `key`, exactly as kept.
    pub fn raw_record(&self, key: &UserKey) -> Option<Vec<u8>> {
        self.sessions
            .get(key.as_bytes())
            .ok()
            .flatten()
            .map(|v| v.to_vec())
    }

    /// Erases everything stored under `key`.
    pub fn forget(&self, key: &UserKey) -> Result<()> {
        self.sessions.remove(key.as_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    /// Removes every session not seen for the expiry period; returns how many.
    pub fn sweep(&self, now: u64) -> Result<usize> {
        let mut removed = 0;
        for entry in self.sessions.iter() {
            let (key, value) = entry?;
            let expired = Session::from_record(&value)
                .is_none_or(|s| now.saturating_sub(s.last_seen) >= self.ttl_secs);
            if expired {
                self.sessions.remove(key)?;
                removed += 1;
            }
        }
        if removed > 0 {
            self.db.flush()?;
        }
        Ok(removed)
    }

    /// Counts one showing of `topic` on day `day` (days since 1970), under a start-link
    /// campaign if there was one. Nothing ties a count to a person.
    pub fn count_topic(&self, day: u64, campaign: Option<&str>, topic: &TopicId) -> Result<()> {
        let key = format!("{day}/{}/{topic}", campaign.unwrap_or("-"));
        self.counts.update_and_fetch(key.as_bytes(), |old| {
            let n = old.map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap_or([0; 8])));
            Some((n + 1).to_be_bytes().to_vec())
        })?;
        Ok(())
    }

    /// All counts as (day, campaign, topic, count).
    pub fn counts(&self) -> Vec<(u64, String, String, u64)> {
        self.counts
            .iter()
            .flatten()
            .filter_map(|(k, v)| {
                let key = String::from_utf8(k.to_vec()).ok()?;
                let mut parts = key.splitn(3, '/');
                let day = parts.next()?.parse().ok()?;
                let campaign = parts.next()?.to_owned();
                let topic = parts.next()?.to_owned();
                let n = u64::from_be_bytes(v.as_ref().try_into().ok()?);
                Some((day, campaign, topic, n))
            })
            .collect()
    }

    /// Adds one to an anonymous count. Topics opened keep their place in the `counts` tree
    /// (`count_topic`); the other measures live in `tallies` under
    /// `measure/day/campaign/topic`. The key is all there is: nothing ties it to a person.
    pub fn count(&self, cell: &crate::counts::Cell) -> Result<()> {
        use crate::counts::Measure;
        if cell.measure == Measure::Opened {
            let topic = TopicId::parse(&cell.topic)
                .ok_or_else(|| anyhow::anyhow!("topics opened are counted by topic id"))?;
            let campaign = (cell.campaign != "-").then_some(cell.campaign.as_str());
            return self.count_topic(cell.day, campaign, &topic);
        }
        let key = format!(
            "{}/{}/{}/{}",
            cell.measure.name(),
            cell.day,
            cell.campaign,
            cell.topic
        );
        self.tallies.update_and_fetch(key.as_bytes(), |old| {
            let n = old.map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap_or([0; 8])));
            Some((n + 1).to_be_bytes().to_vec())
        })?;
        Ok(())
    }

    /// Every anonymous count, of every measure.
    pub fn all_counts(&self) -> Vec<(crate::counts::Cell, u64)> {
        use crate::counts::{Cell, Measure};
        let opened = self.counts().into_iter().map(|(day, campaign, topic, n)| {
            let measure = Measure::Opened;
            let cell = Cell {
                day,
                campaign,
                topic,
                measure,
            };
            (cell, n)
        });
        let others = self.tallies.iter().flatten().filter_map(|(k, v)| {
            let key = String::from_utf8(k.to_vec()).ok()?;
            let mut parts = key.splitn(4, '/');
            let measure = Measure::from_name(parts.next()?)?;
            let day = parts.next()?.parse().ok()?;
            let campaign = parts.next()?.to_owned();
            let topic = parts.next()?.to_owned();
            let n = u64::from_be_bytes(v.as_ref().try_into().ok()?);
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

    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}

/// How long to wait for the database's lock: a process that is still exiting (a quick restart,
/// or a store dropped a moment ago whose flusher thread has not yet finished) holds it briefly.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

fn open_db(path: &Path) -> sled::Result<sled::Db> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        let opened = sled::Config::new()
            .path(path)
            .cache_capacity(CACHE_BYTES)
            .open();
        match opened {
            // sled reports a held lock only in the message of an `Other` error.
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
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
            let mut file = options
                .open(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            file.write_all(&secret)?;
            file.sync_all()?;
            Ok(secret)
        }
        Err(e) => Err(e).with_context(|| format!("cannot open {}", path.display())),
    }
}
