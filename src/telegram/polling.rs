//! Long polling that confirms only what was handled. teloxide's own polling confirms a batch
//! as soon as it arrives, so a crash loses it; here the `offset` sent to getUpdates (which is
//! how Telegram is told "everything below this is done") never passes an update that is still
//! being handled. Telegram keeps re-sending the rest, and the delivery log skips repeats.
//!
//! It never gives up on a network error: it waits (as long as a 429 asks, else with backoff)
//! and polls again. On shutdown it stops polling, lets the updates in progress finish, and
//! returns.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use teloxide::payloads::GetUpdatesSetters;
use teloxide::prelude::Requester;
use tokio::sync::mpsc;

use super::Ctx;
use super::api::retrying;
use super::handle::Done;
use super::lanes::{Lanes, Report};
use super::update::ALLOWED;

/// Most updates Telegram hands over at once (its own maximum).
const BATCH: u8 = 100;

/// How long to wait for an update to finish when Telegram sends back only updates that are
/// still being handled, before polling again.
const WAIT_FOR_PROGRESS: Duration = Duration::from_millis(300);

pub async fn run(ctx: Arc<Ctx>, lanes: Lanes, poll_secs: u32) {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(u32, Done)>();
    // Dispatched and not finished: the offset may not pass the smallest of these.
    let mut in_flight: BTreeSet<u32> = BTreeSet::new();
    // Left unfinished at shutdown: never confirmed, so Telegram sends them again.
    let mut unfinished: BTreeSet<u32> = BTreeSet::new();
    let mut last_dispatched: Option<u32> = None;
    let finish = |in_flight: &mut BTreeSet<u32>, unfinished: &mut BTreeSet<u32>, (id, done)| {
        in_flight.remove(&id);
        if done == Done::Unfinished {
            unfinished.insert(id);
        }
    };
    loop {
        while let Ok(report) = done_rx.try_recv() {
            finish(&mut in_flight, &mut unfinished, report);
        }
        if ctx.shutdown.is_cancelled() {
            break;
        }
        let offset = in_flight
            .first()
            .into_iter()
            .chain(unfinished.first())
            .min()
            .copied()
            .or(last_dispatched.map(|d| d.wrapping_add(1)));
        let polled = retrying("getUpdates", &ctx.redactor, &ctx.shutdown, || {
            let mut request = ctx
                .bot
                .get_updates()
                .timeout(poll_secs)
                .limit(BATCH)
                .allowed_updates(ALLOWED.to_vec());
            if let Some(offset) = offset {
                request = request.offset(offset as i32);
            }
            async move { request.await }
        })
        .await;
        let Ok(updates) = polled else {
            // Stopping, or Telegram refused the call itself (a revoked token, say): that is
            // logged, and polling tries again a little later rather than giving up.
            tokio::select! {
                _ = ctx.shutdown.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_secs(5)) => continue,
            }
        };
        if let Some(offset) = offset
            && let Err(e) = ctx.store.forget_deliveries_below(offset).await
        {
            tracing::warn!(error = %e, "cannot prune the delivery log");
        }
        let mut fresh = 0;
        for update in updates {
            let id = update.id.0;
            // Between the offset and the last update dispatched: in progress, or done and not
            // yet confirmed. Anything else is new, including a lower id after Telegram restarts
            // its numbering (it does after a week without updates).
            let seen = offset.is_some_and(|o| id >= o) && last_dispatched.is_some_and(|l| id <= l);
            if seen {
                continue;
            }
            last_dispatched = Some(id);
            in_flight.insert(id);
            lanes.submit(update, Report::Poll(id, done_tx.clone()));
            fresh += 1;
        }
        if fresh == 0 && !in_flight.is_empty() {
            // Telegram answered at once with updates we already have: let one finish first,
            // rather than asking again in a tight loop.
            tokio::select! {
                Some(report) = done_rx.recv() => finish(&mut in_flight, &mut unfinished, report),
                _ = tokio::time::sleep(WAIT_FOR_PROGRESS) => {}
                _ = ctx.shutdown.cancelled() => {}
            }
        }
    }
    tracing::info!(
        in_flight = in_flight.len(),
        "polling stopped; finishing updates in progress"
    );
    while !in_flight.is_empty() {
        match done_rx.recv().await {
            Some(report) => finish(&mut in_flight, &mut unfinished, report),
            None => break,
        }
    }
    confirm_handled(&ctx, &unfinished, last_dispatched).await;
}

/// Tells Telegram which updates are done, so a restart does not fetch them again (the delivery
/// log would skip them anyway). Best effort, and quick.
async fn confirm_handled(ctx: &Ctx, unfinished: &BTreeSet<u32>, last: Option<u32>) {
    let Some(offset) = unfinished
        .first()
        .copied()
        .or(last.map(|l| l.wrapping_add(1)))
    else {
        return;
    };
    let request = ctx
        .bot
        .get_updates()
        .offset(offset as i32)
        .timeout(0)
        .limit(1)
        .allowed_updates(ALLOWED.to_vec());
    match tokio::time::timeout(Duration::from_secs(3), request).await {
        Ok(Ok(_)) => {
            if let Err(e) = ctx.store.forget_deliveries_below(offset).await {
                tracing::warn!(error = %e, "cannot prune the delivery log");
            }
        }
        Ok(Err(e)) => {
            tracing::debug!(error = %ctx.redactor.redact(&super::api::describe(&e)), "final confirmation failed")
        }
        Err(_) => tracing::debug!("final confirmation timed out"),
    }
}
