//! The delivery log: which Telegram updates are handled, and how many of an update's reply
//! messages went out, in a sled tree keyed by `update_id`. It is what makes handling
//! idempotent: Telegram re-sends every update it has not been told is confirmed (after a
//! `kill -9`, say), and an update found here as handled is skipped, while one found half-sent
//! resumes after the last message that went out.
//!
//! A record holds an update number, a state and a time: never a chat id, a user id, a user key
//! or any text, so nothing in it points at a person (and `/forget` has nothing here to erase).
//! Records are dropped once Telegram confirms the update (polling) or after a day (webhooks),
//! so the log stays small.

use anyhow::Result;

const TREE: &str = "telegram_delivery";
const HANDLED: u8 = b'h';
const SENDING: u8 = b's';

/// What the log knows about one update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Never seen, or seen and not one message sent.
    New,
    /// Being answered when the process stopped: this many messages went out.
    Sending(usize),
    Handled,
}

#[derive(Clone)]
pub struct DeliveryLog {
    tree: sled::Tree,
    db: sled::Db,
}

impl DeliveryLog {
    pub fn open(db: &sled::Db) -> Result<DeliveryLog> {
        Ok(DeliveryLog {
            tree: db.open_tree(TREE)?,
            db: db.clone(),
        })
    }

    pub fn tree(&self) -> &sled::Tree {
        &self.tree
    }

    pub fn key(update_id: u32) -> [u8; 4] {
        update_id.to_be_bytes()
    }

    /// The record that marks an update handled at `now`.
    pub fn handled_record(now: u64) -> Vec<u8> {
        let mut v = vec![HANDLED];
        v.extend_from_slice(&now.to_be_bytes());
        v
    }

    pub fn state(&self, update_id: u32) -> State {
        match self.tree.get(Self::key(update_id)) {
            Ok(Some(v)) => match v.first() {
                Some(&HANDLED) => State::Handled,
                Some(&SENDING) if v.len() >= 3 => {
                    State::Sending(u16::from_be_bytes([v[1], v[2]]) as usize)
                }
                _ => State::New,
            },
            Ok(None) => State::New,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the delivery log");
                State::New
            }
        }
    }

    /// Records that `sent` messages of this update's reply went out, and flushes, so a restart
    /// does not send them again.
    pub fn record_sent(&self, update_id: u32, sent: usize, now: u64) -> Result<()> {
        let mut v = vec![SENDING];
        v.extend_from_slice(&(sent.min(u16::MAX as usize) as u16).to_be_bytes());
        v.extend_from_slice(&now.to_be_bytes());
        self.tree.insert(Self::key(update_id), v)?;
        self.db.flush()?;
        Ok(())
    }

    /// Marks an update handled (for updates that change no session), and flushes.
    pub fn mark_handled(&self, update_id: u32, now: u64) -> Result<()> {
        self.tree
            .insert(Self::key(update_id), Self::handled_record(now))?;
        self.db.flush()?;
        Ok(())
    }

    /// Drops the records of updates below `offset`: Telegram has confirmed them and will not
    /// send them again.
    pub fn forget_below(&self, offset: u32) -> Result<usize> {
        let mut removed = 0;
        for key in self.tree.range(..Self::key(offset)).keys() {
            self.tree.remove(key?)?;
            removed += 1;
        }
        Ok(removed)
    }

    /// Drops records older than `cutoff` (unix seconds): for webhooks, where no offset says
    /// what Telegram has confirmed.
    pub fn forget_older_than(&self, cutoff: u64) -> Result<usize> {
        let mut removed = 0;
        for entry in self.tree.iter() {
            let (key, value) = entry?;
            let at = match value.first() {
                Some(&HANDLED) if value.len() >= 9 => value[1..9].try_into().ok(),
                Some(&SENDING) if value.len() >= 11 => value[3..11].try_into().ok(),
                _ => None,
            }
            .map_or(0, u64::from_be_bytes);
            if at < cutoff {
                self.tree.remove(key)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_progress_and_forgets_what_telegram_confirmed() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let log = DeliveryLog::open(&db).unwrap();
        assert_eq!(log.state(7), State::New);
        log.record_sent(7, 2, 100).unwrap();
        assert_eq!(log.state(7), State::Sending(2));
        log.mark_handled(7, 100).unwrap();
        log.mark_handled(9, 200).unwrap();
        assert_eq!(log.state(7), State::Handled);
        assert_eq!(log.forget_below(8).unwrap(), 1);
        assert_eq!(log.state(7), State::New);
        assert_eq!(log.state(9), State::Handled);
        assert_eq!(log.forget_older_than(201).unwrap(), 1);
        assert!(log.tree().is_empty());
    }
}
