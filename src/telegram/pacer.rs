//! Runs the `pacing` rules for the Telegram channel: every outgoing message takes a `Place`,
//! waits for its turn, and reports back a 429 or a failed try (or just drops the place once
//! done). One task hands out the turns, waking only when the next one is due or something
//! changed.
//!
//! It replaces teloxide's Throttle adaptor, which freezes every chat on any 429 and knows
//! nothing of crisis replies. It never sees a message's text.
//!
//! Telegram's overall limit is the bot's, not one process's: replicas sharing a store also
//! take every send from one budget there (`SharedBudget`), so that two webhook replicas
//! together keep to it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use teloxide::types::ChatId;
use tokio::sync::Notify;

use crate::store::{Channel, Rate, Store, UserKey};

pub use super::pacing::{Held, Limits, Urgency};
use super::pacing::{Next, Schedule, Ticket};

/// The queue of outgoing messages. Cheap to share: clones are the same queue.
#[derive(Clone)]
pub struct Pacer {
    shared: Arc<Shared>,
    budget: Option<SharedBudget>,
}

/// The bot's overall sending budget, kept in a store that every replica shares: a token
/// bucket refilling at the overall rate that holds one send, so no second of sends from all
/// replicas together goes over the limit.
#[derive(Clone)]
pub struct SharedBudget {
    store: Arc<Store>,
    bucket: UserKey,
}

impl SharedBudget {
    pub fn new(store: Arc<Store>) -> SharedBudget {
        let bucket = store.key(Channel::Telegram, "every reply the bot sends");
        SharedBudget { store, bucket }
    }

    /// Waits until the budget holds a send, and spends it. When the store cannot be reached
    /// its stand-in is this process's own bucket, so a send is never held up for good.
    async fn spend(&self) {
        let rate = Rate {
            burst: 1,
            per_minute: Limits::TELEGRAM.overall_per_minute(),
        };
        while let Err(wait) = self.store.take_token(&self.bucket, rate).await {
            tokio::time::sleep(wait).await;
        }
    }
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the task that hands out turns.
    changed: Arc<Notify>,
}

struct State {
    schedule: Schedule,
    /// How to tell each queued message its turn has come.
    turns: HashMap<Ticket, Arc<Notify>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Lets the task see that the queue is gone, and end.
        self.changed.notify_one();
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Pacer {
    /// Starts the task that hands out turns; it ends when the last clone is dropped.
    pub fn start(limits: Limits) -> Pacer {
        let changed = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                schedule: Schedule::new(limits),
                turns: HashMap::new(),
            }),
            changed: changed.clone(),
        });
        tokio::spawn(hand_out_turns(Arc::downgrade(&shared), changed));
        Pacer {
            shared,
            budget: None,
        }
    }

    /// Also spends every send from `budget`, shared with other replicas.
    pub fn sharing(self, budget: SharedBudget) -> Pacer {
        Pacer {
            budget: Some(budget),
            ..self
        }
    }

    /// Queues a message for `chat`; it may go once `Place::turn` returns.
    pub fn join(&self, chat: ChatId, urgency: Urgency) -> Place {
        let turn = Arc::new(Notify::new());
        let ticket = {
            let mut state = self.shared.state();
            let ticket = state.schedule.join(chat.0, urgency);
            state.turns.insert(ticket, turn.clone());
            ticket
        };
        self.shared.changed.notify_one();
        Place {
            shared: self.shared.clone(),
            ticket,
            turn,
            budget: self.budget.clone(),
        }
    }
}

/// One message's place in the queue. Dropping it (sent, refused for good, or abandoned) lets
/// its chat's next message go.
pub struct Place {
    shared: Arc<Shared>,
    ticket: Ticket,
    turn: Arc<Notify>,
    budget: Option<SharedBudget>,
}

impl Place {
    /// Waits until the message may go: its turn here, then room in the shared budget.
    pub async fn turn(&self) {
        self.turn.notified().await;
        if let Some(budget) = &self.budget {
            budget.spend().await;
        }
    }

    /// Telegram answered 429: the message goes again, first in its chat, after `retry_after`.
    pub fn refused(&self, retry_after: Duration) -> Held {
        let held = self
            .shared
            .state()
            .schedule
            .refused(self.ticket, retry_after, now());
        self.shared.changed.notify_one();
        held
    }

    /// The try failed on the way (a 5xx, a timeout): again, first in its chat, after `wait`.
    pub fn retry_later(&self, wait: Duration) {
        self.shared
            .state()
            .schedule
            .retry_later(self.ticket, wait, now());
        self.shared.changed.notify_one();
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        {
            let mut state = self.shared.state();
            state.schedule.leave(self.ticket);
            state.turns.remove(&self.ticket);
        }
        self.shared.changed.notify_one();
    }
}

/// Tokio's clock, which is the system's except in tests that pause time.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

async fn hand_out_turns(shared: Weak<Shared>, changed: Arc<Notify>) {
    loop {
        let next = {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let mut state = shared.state();
            loop {
                match state.schedule.next(now()) {
                    Next::Go(ticket) => {
                        if let Some(turn) = state.turns.get(&ticket) {
                            turn.notify_one();
                        }
                    }
                    other => break other,
                }
            }
        };
        match next {
            Next::WaitUntil(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at.into()) => {}
                    _ = changed.notified() => {}
                }
            }
            Next::Idle | Next::Go(_) => changed.notified().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shell hands turns out in the schedule's order and frees a chat when a place drops.
    #[tokio::test]
    async fn turns_come_in_order_and_a_dropped_place_frees_its_chat() {
        let pacer = Pacer::start(Limits::TELEGRAM);
        let first = pacer.join(ChatId(1), Urgency::Ordinary);
        let second = pacer.join(ChatId(1), Urgency::Ordinary);
        let other = pacer.join(ChatId(2), Urgency::Crisis);
        other.turn().await;
        first.turn().await;
        // The second cannot go while the first is in flight...
        let waited = tokio::time::timeout(Duration::from_millis(200), second.turn()).await;
        assert!(waited.is_err());
        // ...and goes once it is done.
        drop(first);
        tokio::time::timeout(Duration::from_secs(60), second.turn())
            .await
            .expect("the second message's turn");
        assert_eq!(second.refused(Duration::from_secs(3)), Held::Chat);
    }
}
