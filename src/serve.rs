//! `rightsbot serve`: runs the channels side by side (the web chat, and Telegram when a token
//! is set) until SIGTERM or Ctrl-C, with a periodic sweep of expired sessions, then lets them
//! finish what is in flight, flushes the store and returns.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::store::Store;

/// How often expired sessions are swept away.
const SWEEP_EVERY: Duration = Duration::from_secs(60 * 60);
/// How long open web requests may take to finish once stopping.
const WEB_DRAIN: Duration = Duration::from_secs(10);

#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Where the web chat listens (default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR", env = "RIGHTSBOT_HTTP")]
    pub http: Option<std::net::SocketAddr>,
    /// Do not serve the web chat.
    #[arg(long, conflicts_with = "http")]
    pub no_http: bool,
    /// Always mark the web chat's cookie Secure (set this when it is served over https; a
    /// proxy's `X-Forwarded-Proto: https` also does it per request).
    #[arg(long)]
    pub secure_cookie: bool,
    /// Telegram: receive updates by webhook at this public HTTPS URL instead of long polling.
    #[arg(long, env = "RIGHTSBOT_WEBHOOK_URL")]
    pub webhook_url: Option<String>,
    /// Telegram: the address the webhook listens on, behind the proxy serving --webhook-url.
    #[arg(
        long,
        env = "RIGHTSBOT_WEBHOOK_LISTEN",
        default_value = "127.0.0.1:8443"
    )]
    pub webhook_listen: std::net::SocketAddr,
    /// Telegram: seconds one long-polling request waits for news.
    #[arg(long, default_value_t = 10)]
    pub telegram_poll_secs: u32,
    /// Telegram: seconds any request may take before it is abandoned and retried.
    #[arg(long, default_value_t = 25)]
    pub telegram_timeout_secs: u64,
}

impl Default for ServeArgs {
    fn default() -> ServeArgs {
        ServeArgs {
            http: None,
            no_http: false,
            secure_cookie: false,
            webhook_url: None,
            webhook_listen: ([127, 0, 0, 1], 8443).into(),
            telegram_poll_secs: 10,
            telegram_timeout_secs: 25,
        }
    }
}

pub async fn run(engine: Engine, store: Store, args: ServeArgs) -> Result<()> {
    let store = Arc::new(store);
    let shutdown = CancellationToken::new();
    tokio::spawn(watch_signals(shutdown.clone()));
    let sweeper = tokio::spawn(sweep_periodically(store.clone(), shutdown.clone()));
    let web = if args.no_http {
        None
    } else {
        let addr = match args.http {
            Some(addr) => addr,
            None => crate::web::DEFAULT_ADDR.parse()?,
        };
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(e) => {
                shutdown.cancel();
                let _ = sweeper.await;
                return Err(e).with_context(|| format!("cannot listen on {addr} for the web chat"));
            }
        };
        tracing::info!("web chat on http://{}", listener.local_addr()?);
        let config = crate::web::Config {
            secure_cookie: args.secure_cookie,
            ..Default::default()
        };
        Some(tokio::spawn(crate::web::serve(
            listener,
            engine.clone(),
            store.clone(),
            config,
            shutdown.clone(),
        )))
    };
    let telegram = match std::env::var("TELOXIDE_TOKEN") {
        Ok(token) if !token.trim().is_empty() => {
            let options = crate::telegram::Options {
                webhook_url: args.webhook_url.clone(),
                webhook_listen: args.webhook_listen,
                webhook_secret: std::env::var("RIGHTSBOT_WEBHOOK_SECRET").ok(),
                poll_secs: args.telegram_poll_secs,
                timeout_secs: args.telegram_timeout_secs,
            };
            let api_url = std::env::var("TELOXIDE_API_URL").ok();
            Some(tokio::spawn(crate::telegram::run(
                engine.clone(),
                store.clone(),
                options,
                token.trim().to_owned(),
                api_url,
                shutdown.clone(),
            )))
        }
        _ => {
            tracing::info!("TELOXIDE_TOKEN is not set: Telegram is off");
            None
        }
    };
    let mut failure = None;
    if let Some(telegram) = telegram {
        // The channel returns when the shutdown token fires, or early on a set-up error.
        match telegram.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failure = Some(e.context("the Telegram channel stopped")),
            Err(e) => failure = Some(anyhow::anyhow!("the Telegram channel crashed: {e}")),
        }
        shutdown.cancel();
    }
    shutdown.cancelled().await;
    if let Some(web) = web {
        // Open requests get a moment to finish; a stuck connection must not hold up the stop.
        match tokio::time::timeout(WEB_DRAIN, web).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::error!(error = %e, "web chat"),
            Ok(Err(e)) => tracing::error!(error = %e, "web chat task"),
            Err(_) => tracing::warn!("web chat connections still open; stopping anyway"),
        }
    }
    let _ = sweeper.await;
    store.flush()?;
    if let Some(e) = failure {
        return Err(e);
    }
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Cancels `shutdown` on SIGTERM (systemd, containers) or Ctrl-C.
async fn watch_signals(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                let _ = tokio::signal::ctrl_c().await;
                return shutdown.cancel();
            }
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
            _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C: stopping"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    shutdown.cancel();
}

async fn sweep_periodically(store: Arc<Store>, shutdown: CancellationToken) {
    loop {
        match store.sweep(crate::now_secs()) {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "swept expired sessions"),
            Err(e) => tracing::error!(error = %e, "session sweep failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
    }
}
