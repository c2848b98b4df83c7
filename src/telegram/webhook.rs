//! Webhook mode: Telegram POSTs each update to our URL. A request must carry the secret we
//! gave Telegram in setWebhook (`X-Telegram-Bot-Api-Secret-Token`, compared in constant time)
//! or it is refused with 401 and never read. We answer only once the update is handled, so a
//! crash means no 200 and Telegram sends it again; the delivery log skips repeats.
//!
//! teloxide's own webhook listener answers 200 before handling and compares the secret in
//! non-constant time, which is why this is our own small axum route.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use teloxide::types::Update;
use tokio::sync::oneshot;

use super::Ctx;
use super::handle::Done;
use super::lanes::{Lanes, Report};

pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// Largest update body we read; real updates are a few kilobytes.
const MAX_BODY: usize = 1024 * 1024;

#[derive(Clone)]
struct Hook {
    lanes: Lanes,
    secret: Arc<str>,
}

/// Listens before Telegram is told the URL, so its first delivery finds us.
pub async fn bind(listen: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen for the Telegram webhook on {listen}"))
}

/// Serves the webhook at `path` until the shutdown token fires.
pub async fn serve(
    ctx: Arc<Ctx>,
    lanes: Lanes,
    listener: tokio::net::TcpListener,
    path: &str,
    secret: String,
) -> Result<()> {
    let hook = Hook {
        lanes,
        secret: secret.into(),
    };
    let app = Router::new()
        .route(path, post(receive))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(hook);
    if let Ok(listen) = listener.local_addr() {
        tracing::info!(%listen, "Telegram webhook listening");
    }
    let shutdown = ctx.shutdown.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .context("the Telegram webhook server failed")
}

async fn receive(State(hook): State<Hook>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let given = headers
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !constant_time_eq(given, hook.secret.as_bytes()) {
        tracing::warn!("refused a webhook request without the right secret");
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(update) = serde_json::from_slice::<Update>(&body) else {
        // Not something Telegram sent; a 400 tells it not to retry.
        return StatusCode::BAD_REQUEST;
    };
    let (tx, rx) = oneshot::channel();
    hook.lanes.submit(update, Report::Hook(tx));
    match rx.await {
        Ok(Done::Handled) => StatusCode::OK,
        // Stopping: Telegram will send it again.
        Ok(Done::Unfinished) | Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Compares without stopping at the first difference, so timing says nothing about the secret.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh secret for setWebhook: 32 random bytes as hex (Telegram allows `[A-Za-z0-9_-]`).
pub fn new_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_secrets_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"abc"));
        assert_eq!(new_secret().unwrap().len(), 64);
    }
}
