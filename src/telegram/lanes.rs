//! Per-chat queues: updates from one chat are handled one after another, in the order
//! Telegram sent them; different chats are handled at the same time. Each busy chat has one
//! task, which ends when its queue is empty. On a shared store, a lease per chat (with expiry,
//! so a dead replica's hold runs out) keeps two replicas from answering one chat at once.
//!
//! Once the bot is stopping, updates not yet started are handed back unfinished (Telegram
//! sends them again next time), while the ones in progress finish.
//!
//! Flood control: Telegram confirms updates by a single offset, so a chat with a long queue
//! (about a second per reply, Telegram's per-chat limit) holds back everyone's confirmations
//! and, past 100 updates, everyone's new messages. A chat with `MAX_WAITING` updates already
//! waiting has further messages set aside unanswered until its queue is empty again, except
//! any that might be a cry for help, which always join the queue.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use teloxide::types::Update;
use tokio::sync::{mpsc, oneshot};

use super::Ctx;
use super::handle::{Done, handle};
use super::update::{Plan, lane, plan};
use crate::engine::Action;
use crate::engine::Input;
use crate::matcher::CrisisSignal;
use crate::store::{Channel, Held};

/// How long a replica's hold on one chat lasts unless renewed: if it dies mid-reply, the
/// chat's next update waits at most this long.
const CHAT_LEASE: std::time::Duration = std::time::Duration::from_secs(15);
/// How often a chat another replica holds is asked for again: about a tenth of a reply.
const LEASE_POLL: std::time::Duration = std::time::Duration::from_millis(25);

/// Updates one chat may have waiting (besides the one in progress) before more are set aside.
pub const MAX_WAITING: usize = 10;

/// Where to say that an update is done.
pub enum Report {
    /// The polling loop: which update, on its completion channel.
    Poll(u32, mpsc::UnboundedSender<(u32, Done)>),
    /// A webhook request waiting to answer Telegram.
    Hook(oneshot::Sender<Done>),
}

impl Report {
    fn send(self, done: Done) {
        match self {
            Report::Poll(id, tx) => {
                let _ = tx.send((id, done));
            }
            Report::Hook(tx) => {
                let _ = tx.send(done);
            }
        }
    }
}

struct Job {
    update: Update,
    report: Report,
}

/// One busy chat.
#[derive(Default)]
struct Lane {
    waiting: VecDeque<Job>,
    /// Set when the queue hit `MAX_WAITING`; cleared when it is empty again.
    flooding: bool,
}

#[derive(Clone)]
pub struct Lanes {
    ctx: Arc<Ctx>,
    lanes: Arc<Mutex<HashMap<i64, Lane>>>,
}

impl Lanes {
    pub fn new(ctx: Arc<Ctx>) -> Lanes {
        Lanes {
            ctx,
            lanes: Arc::default(),
        }
    }

    pub fn submit(&self, update: Update, report: Report) {
        let lane = lane(&update);
        let job = Job { update, report };
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(busy) = lanes.get_mut(&lane) {
            busy.flooding |= busy.waiting.len() >= MAX_WAITING;
            if !busy.flooding || self.might_be_a_cry_for_help(&job.update) {
                busy.waiting.push_back(job);
                return;
            }
            drop(lanes);
            tokio::spawn(self.clone().set_aside(job));
            return;
        }
        lanes.insert(
            lane,
            Lane {
                waiting: VecDeque::from([job]),
                flooding: false,
            },
        );
        drop(lanes);
        tokio::spawn(self.clone().work(lane));
    }

    fn might_be_a_cry_for_help(&self, update: &Update) -> bool {
        let text = match plan(update) {
            Plan::Converse {
                input: Input::Text(text),
                ..
            }
            | Plan::CrisisCheckOnly { text, .. } => text,
            Plan::Converse {
                input: Input::Button(data),
                ..
            } => return Action::decode(&data).is_some_and(|a| a.asks_for_help()),
            _ => return false,
        };
        let content = self.ctx.engine.content();
        let analysis = self
            .ctx
            .engine
            .matcher()
            .analyse(&content.default_locale, &text);
        analysis.crisis != CrisisSignal::None
    }

    async fn set_aside(self, job: Job) {
        let id = job.update.id.0;
        tracing::warn!(
            update = id,
            "a chat is flooding; a message was set aside unanswered"
        );
        if let Err(e) = self.ctx.store.mark_handled(id, crate::now_secs()).await {
            tracing::error!(error = %e, "cannot record a handled update");
        }
        job.report.send(Done::Handled);
    }

    async fn work(self, lane: i64) {
        loop {
            let job = {
                let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
                let next = lanes.get_mut(&lane).and_then(|l| l.waiting.pop_front());
                if next.is_none() {
                    lanes.remove(&lane);
                }
                next
            };
            let Some(job) = job else { return };
            if self.ctx.shutdown.is_cancelled() {
                job.report.send(Done::Unfinished);
                continue;
            }
            // On a shared store, another replica may have an update of this chat in hand (a
            // webhook retry, or the next message sent to another replica): one at a time.
            let lease = if self.ctx.store.is_shared() {
                let name = self
                    .ctx
                    .store
                    .key(Channel::Telegram, &format!("lease-chat:{lane}"));
                match self
                    .ctx
                    .store
                    .hold_lease(
                        &name,
                        &self.ctx.holder,
                        CHAT_LEASE,
                        LEASE_POLL,
                        &self.ctx.shutdown,
                    )
                    .await
                {
                    Held::Lease(lease) => Some(lease),
                    Held::Unreachable => None,
                    Held::Stopped => {
                        job.report.send(Done::Unfinished);
                        continue;
                    }
                }
            } else {
                None
            };
            let ctx = self.ctx.clone();
            let update = job.update;
            // In its own task, so a bug that panics loses one update, not the whole chat.
            let done = match tokio::spawn(async move { handle(&ctx, &update).await }).await {
                Ok(done) => done,
                Err(_) => {
                    tracing::error!("handling an update panicked (a bug); it is skipped");
                    Done::Handled
                }
            };
            if let Some(lease) = lease {
                lease.release().await;
            }
            job.report.send(done);
        }
    }
}
