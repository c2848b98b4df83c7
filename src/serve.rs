//! `rightsbot serve`: runs the channels side by side until SIGTERM or Ctrl-C, with a periodic
//! sweep of expired sessions, then flushes the store and returns.

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

#[derive(clap::Args, Debug, Default, Clone)]
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
    let _ = engine;
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
