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

#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Where the web chat listens (default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR", env = "RIGHTSBOT_HTTP")]
    pub http: Option<std::net::SocketAddr>,
    /// Do not serve the web chat.
    #[arg(long, conflicts_with = "http")]
    pub no_http: bool,
    /// Always mark the web chat's cookie Secure (set this when it is served over https; an
    /// https --public-url, or a proxy's `X-Forwarded-Proto: https`, also does it).
    #[arg(long)]
    pub secure_cookie: bool,
    /// The address people use to reach the web chat, e.g. https://rights.example.org: posts
    /// must come from it, and links written out in full use it. Set it behind a reverse
    /// proxy, which may rewrite the Host header.
    #[arg(long, value_name = "URL", env = "RIGHTSBOT_PUBLIC_URL")]
    pub public_url: Option<crate::web::PublicUrl>,
    /// A reverse proxy whose X-Forwarded-For header names the client (for the per-address
    /// flood guard). Repeat it, or separate addresses with commas. Without it the header is
    /// ignored.
    #[arg(
        long,
        value_name = "ADDR",
        env = "RIGHTSBOT_TRUSTED_PROXY",
        value_delimiter = ','
    )]
    pub trusted_proxy: Vec<std::net::IpAddr>,
    /// Web connections open at once; more wait until one closes.
    #[arg(
        long,
        value_name = "N",
        env = "RIGHTSBOT_MAX_CONNECTIONS",
        default_value_t = crate::web::Connections::default().max_open
    )]
    pub max_connections: usize,
    /// The bot's Telegram username (without @), for the Telegram links and QR codes in the
    /// workshop kit on the advocates' pages.
    #[arg(long, value_name = "NAME", env = "RIGHTSBOT_BOT_USERNAME")]
    pub bot_username: Option<String>,
    #[command(flatten)]
    pub telegram: crate::telegram::TelegramArgs,
}

impl Default for ServeArgs {
    /// What `rightsbot` with no command runs: the same as `rightsbot serve` with no flags.
    fn default() -> ServeArgs {
        ServeArgs {
            http: None,
            no_http: false,
            secure_cookie: false,
            public_url: None,
            trusted_proxy: Vec::new(),
            max_connections: crate::web::Connections::default().max_open,
            bot_username: None,
            telegram: crate::telegram::TelegramArgs::default(),
        }
    }
}

/// Whether `args` leave anything to serve: `--no-http` needs Telegram.
pub fn check(args: &ServeArgs) -> Result<()> {
    if args.no_http && !crate::telegram::token_is_set() {
        anyhow::bail!(
            "nothing to serve: --no-http turns the web chat off and TELOXIDE_TOKEN is not set, \
             so Telegram is off too. Set TELOXIDE_TOKEN, or drop --no-http"
        );
    }
    Ok(())
}

pub async fn run(engine: Engine, store: Store, args: ServeArgs) -> Result<()> {
    check(&args)?;
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
        let local = listener.local_addr()?;
        tracing::info!("web chat on http://{local}");
        // `rightsbot counts` on this machine asks the running bot, since sled allows one
        // process; it finds the bot here and reads the counts with the operator's token.
        if let Err(e) = crate::access::write_address(store.dir(), local)
            .and_then(|()| crate::access::operator_token(store.dir()).map(|_| ()))
        {
            tracing::warn!(error = %e, "rightsbot counts will not reach this bot");
        }
        if let Some(url) = &args.public_url {
            tracing::info!("web chat public address {}", url.origin());
        }
        let config = crate::web::Config {
            secure_cookie: args.secure_cookie,
            public_url: args.public_url.clone(),
            trusted_proxies: args
                .trusted_proxy
                .iter()
                .map(|ip| ip.to_canonical())
                .collect(),
            connections: crate::web::Connections {
                max_open: args.max_connections,
                ..Default::default()
            },
            bot_username: args
                .bot_username
                .as_deref()
                .map(|name| name.trim_start_matches('@').to_owned()),
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
    let telegram = crate::telegram::spawn_if_configured(&engine, &store, &args.telegram, &shutdown);
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
    crate::access::remove_address(store.dir());
    store.flush().await?;
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
        match store.sweep(crate::now_secs()).await {
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
