//! Per-chat queues: updates from one chat are handled one after another, in the order
//! Telegram sent them; different chats are handled at the same time. Each busy chat has one
//! task, which ends when its queue is empty.
//!
//! Once the bot is stopping, updates not yet started are handed back unfinished (Telegram
//! sends them again next time), while the ones in progress finish.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use teloxide::types::Update;
use tokio::sync::{mpsc, oneshot};

use super::Ctx;
use super::handle::{Done, handle};
use super::update::lane;

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

#[derive(Clone)]
pub struct Lanes {
    ctx: Arc<Ctx>,
    queues: Arc<Mutex<HashMap<i64, VecDeque<Job>>>>,
}

impl Lanes {
    pub fn new(ctx: Arc<Ctx>) -> Lanes {
        Lanes {
            ctx,
            queues: Arc::default(),
        }
    }

    pub fn submit(&self, update: Update, report: Report) {
        let lane = lane(&update);
        let job = Job { update, report };
        let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(queue) = queues.get_mut(&lane) {
            queue.push_back(job);
            return;
        }
        queues.insert(lane, VecDeque::from([job]));
        drop(queues);
        tokio::spawn(self.clone().work(lane));
    }

    async fn work(self, lane: i64) {
        loop {
            let job = {
                let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
                let next = queues.get_mut(&lane).and_then(VecDeque::pop_front);
                if next.is_none() {
                    queues.remove(&lane);
                }
                next
            };
            let Some(job) = job else { return };
            if self.ctx.shutdown.is_cancelled() {
                job.report.send(Done::Unfinished);
                continue;
            }
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
            job.report.send(done);
        }
    }
}
