//! The Telegram channel: a thin shell that turns Telegram updates into engine `Input`s and
//! the engine's replies into HTML messages with inline keyboards.
//!
//! Delivery is exactly-once as far as the bot can make it: updates are confirmed to Telegram
//! only once handled (`polling`, `webhook`), handling is idempotent (`delivery`, `handle`), and
//! every call survives 429s, 5xx answers, timeouts and dropped connections (`api`). Outgoing
//! messages keep to Telegram's rate limits in our own `pacer`: a 429 holds back only its chat,
//! and crisis replies go first. It uses teloxide for types and requests but not its
//! dispatcher, whose polling confirms updates before they are handled and whose default
//! handlers log message text, nor its Throttle adaptor, which stops every chat on any 429.
//!
//! The delivery log (which updates are handled, and how many of an update's messages went
//! out) lives in the store, keyed by `update_id`: a record holds an update number, a state and
//! a time, never a chat or user id, key or text. On a shared store (Redis) it is what lets
//! several replicas behind one webhook handle each update once, with a lease per chat keeping
//! one chat's updates from being handled side by side, and a lease per bot token letting only
//! one replica poll.
//!
//! It must never log message text, chat or user ids, names or the bot token, never store
//! anything but sessions under pseudonymous keys and the small delivery log, and never talk
//! in a group beyond one note that it works in private chats only.

mod api;
mod handle;
mod lanes;
mod pacer;
mod pacing;
mod polling;
pub mod render;
pub mod update;
mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use teloxide::Bot;
use teloxide::payloads::{DeleteWebhookSetters, SetMyCommandsSetters, SetWebhookSetters};
use teloxide::prelude::Requester;
use teloxide::types::BotCommand;
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::store::{Channel, Held, Lease, Store};
use api::{Failure, Redactor, retrying};

pub use webhook::SECRET_HEADER;

/// The commands shown in Telegram's menu; each has a description `commands.<name>` in the
/// interface strings.
pub const COMMANDS: &[&str] = &[
    "start", "menu", "help", "about", "privacy", "mydata", "forget", "language", "audience",
];

/// How long updates in progress may keep retrying after a shutdown signal before they are
/// left for Telegram to send again.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The `serve` flags for Telegram.
#[derive(clap::Args, Debug, Clone)]
pub struct TelegramArgs {
    /// Telegram: receive updates by webhook at this public HTTPS URL instead of long polling.
    #[arg(long, env = "RIGHTSBOT_WEBHOOK_URL")]
    pub webhook_url: Option<String>,
    /// Telegram: the address the webhook listens on, behind the proxy serving --webhook-url.
    #[arg(
        long,
        env = "RIGHTSBOT_WEBHOOK_LISTEN",
        default_value = "127.0.0.1:8443"
    )]
    pub webhook_listen: SocketAddr,
    /// Telegram: seconds one long-polling request waits for news.
    #[arg(long, default_value_t = 10)]
    pub telegram_poll_secs: u32,
    /// Telegram: seconds any request may take before it is abandoned and retried.
    #[arg(long, default_value_t = 25)]
    pub telegram_timeout_secs: u64,
}

impl Default for TelegramArgs {
    fn default() -> TelegramArgs {
        TelegramArgs {
            webhook_url: None,
            webhook_listen: ([127, 0, 0, 1], 8443).into(),
            telegram_poll_secs: 10,
            telegram_timeout_secs: 25,
        }
    }
}

/// Whether `TELOXIDE_TOKEN` is set, so `spawn_if_configured` will start the channel.
pub fn token_is_set() -> bool {
    std::env::var("TELOXIDE_TOKEN").is_ok_and(|t| !t.trim().is_empty())
}

/// Starts the channel when `TELOXIDE_TOKEN` is set (`TELOXIDE_API_URL` may point at another
/// Bot API server). The task ends once `shutdown` fires and the updates in progress are done,
/// or early with an error if the set-up is wrong (a refused token, a bad URL).
pub fn spawn_if_configured(
    engine: &Engine,
    store: &Arc<Store>,
    args: &TelegramArgs,
    shutdown: &CancellationToken,
) -> Option<tokio::task::JoinHandle<Result<()>>> {
    let token = std::env::var("TELOXIDE_TOKEN").unwrap_or_default();
    let token = token.trim();
    if token.is_empty() {
        tracing::info!("TELOXIDE_TOKEN is not set: Telegram is off");
        return None;
    }
    let options = Options {
        webhook_url: args.webhook_url.clone(),
        webhook_listen: args.webhook_listen,
        webhook_secret: std::env::var("RIGHTSBOT_WEBHOOK_SECRET").ok(),
        poll_secs: args.telegram_poll_secs,
        timeout_secs: args.telegram_timeout_secs,
    };
    Some(tokio::spawn(run(
        engine.clone(),
        store.clone(),
        options,
        token.to_owned(),
        std::env::var("TELOXIDE_API_URL").ok(),
        shutdown.clone(),
    )))
}

/// How the channel connects to Telegram.
#[derive(Clone, Debug)]
pub struct Options {
    /// Long polling when `None`; otherwise Telegram POSTs updates to this public HTTPS URL.
    pub webhook_url: Option<String>,
    /// Where the webhook listens (behind the reverse proxy that serves `webhook_url`).
    pub webhook_listen: SocketAddr,
    /// The secret Telegram must send with each webhook request; random per start if `None`.
    pub webhook_secret: Option<String>,
    /// How long one getUpdates call waits for news.
    pub poll_secs: u32,
    /// How long any call to Telegram may take before it is abandoned and retried.
    pub timeout_secs: u64,
}

/// What every update handler needs.
pub(crate) struct Ctx {
    bot: Bot,
    /// Every message waits its turn here, to keep to Telegram's rate limits.
    pacer: pacer::Pacer,
    engine: Engine,
    store: Arc<Store>,
    bot_username: String,
    redactor: Redactor,
    /// This process's name as a lease holder (random per start).
    holder: String,
    shutdown: CancellationToken,
    /// Fires a grace period after `shutdown`: retries in progress stop then.
    give_up: CancellationToken,
}

/// Runs the Telegram channel until `shutdown` fires. `token` is the bot token; `api_url`
/// points at another Bot API server (tests use a fake one on loopback).
pub async fn run(
    engine: Engine,
    store: Arc<Store>,
    options: Options,
    token: String,
    api_url: Option<String>,
    shutdown: CancellationToken,
) -> Result<()> {
    if options.timeout_secs <= u64::from(options.poll_secs) {
        bail!("the Telegram request timeout must be longer than the polling time");
    }
    let redactor = Redactor::new(&token);
    let client = teloxide::net::default_reqwest_settings()
        .timeout(Duration::from_secs(options.timeout_secs))
        .build()
        .context("cannot build the HTTP client")?;
    let poller_lease = store.key(Channel::Telegram, &format!("lease-poller:{token}"));
    let mut bot = Bot::with_client(token, client);
    if let Some(url) = api_url {
        let url = reqwest::Url::parse(&url).context("TELOXIDE_API_URL is not a URL")?;
        bot = bot.set_api_url(url);
    }

    // teloxide's `dispatch()` panics if this first call fails; we wait and retry instead.
    let me = match retrying("getMe", &redactor, &shutdown, || {
        let request = bot.get_me();
        async move { request.await }
    })
    .await
    {
        Ok(me) => me,
        Err(Failure::Stopped) => return Ok(()),
        Err(_) => bail!("Telegram refused the bot token (check TELOXIDE_TOKEN)"),
    };
    let bot_username = me.username().to_owned();
    tracing::info!(bot = %bot_username, "Telegram bot connected");

    let give_up = CancellationToken::new();
    {
        let (shutdown, give_up) = (shutdown.clone(), give_up.clone());
        tokio::spawn(async move {
            shutdown.cancelled().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
            give_up.cancel();
        });
    }
    let ctx = Arc::new(Ctx {
        bot,
        pacer: match store.is_shared() {
            true => pacer::Pacer::start(pacer::Limits::TELEGRAM)
                .sharing(pacer::SharedBudget::new(store.clone())),
            false => pacer::Pacer::start(pacer::Limits::TELEGRAM),
        },
        engine,
        store,
        bot_username,
        redactor,
        holder: crate::store::holder_name(),
        shutdown,
        give_up,
    });
    tokio::spawn(register_commands(ctx.clone()));
    let lanes = lanes::Lanes::new(ctx.clone());

    match &options.webhook_url {
        None => {
            // Telegram allows one poller per bot: on a shared store the other replicas stand
            // by (serving the web chat) and take over when the poller's lease runs out.
            let lease = if ctx.store.is_shared() {
                match wait_to_poll(&ctx, &poller_lease).await {
                    Some(lease) => Some(lease),
                    None => return Ok(()),
                }
            } else {
                None
            };
            // getUpdates fails while a webhook is set.
            let deleted = retrying("deleteWebhook", &ctx.redactor, &ctx.shutdown, || {
                let request = ctx.bot.delete_webhook().drop_pending_updates(false);
                async move { request.await }
            })
            .await;
            if deleted == Err(Failure::Stopped) {
                return Ok(());
            }
            polling::run(ctx, lanes, options.poll_secs).await;
            if let Some(lease) = lease {
                lease.release().await;
            }
            Ok(())
        }
        Some(url) => {
            let url = reqwest::Url::parse(url).context("--webhook-url is not a URL")?;
            let path = url.path().to_owned();
            let listener = webhook::bind(options.webhook_listen).await?;
            let secret = match &options.webhook_secret {
                Some(s) => s.clone(),
                None => webhook::new_secret()?,
            };
            let set = retrying("setWebhook", &ctx.redactor, &ctx.shutdown, || {
                let request = ctx
                    .bot
                    .set_webhook(url.clone())
                    .secret_token(secret.clone())
                    .allowed_updates(update::ALLOWED.to_vec());
                async move { request.await }
            })
            .await;
            match set {
                Ok(_) => {}
                Err(Failure::Stopped) => return Ok(()),
                Err(_) => bail!("Telegram refused the webhook URL"),
            }
            tokio::spawn(prune_periodically(ctx.clone()));
            webhook::serve(ctx, lanes, listener, &path, secret).await
        }
    }
}

/// How long the polling replica's hold lasts unless renewed: a standby takes over at most
/// this long after the poller dies.
const POLLER_LEASE: Duration = Duration::from_secs(30);

/// Waits until this replica may poll; `None` if stopped first.
async fn wait_to_poll(ctx: &Arc<Ctx>, name: &crate::store::UserKey) -> Option<Lease> {
    let mut said = false;
    loop {
        match ctx.store.try_lease(name, &ctx.holder, POLLER_LEASE).await {
            Ok(true) => {
                // Taken: now hold it, renewing (this returns at once).
                let held = ctx
                    .store
                    .hold_lease(name, &ctx.holder, POLLER_LEASE, POLLER_LEASE, &ctx.shutdown)
                    .await;
                return match held {
                    Held::Lease(lease) => Some(lease),
                    Held::Stopped => None,
                    Held::Unreachable => continue,
                };
            }
            Ok(false) if !said => {
                tracing::info!(
                    "another replica polls Telegram for this bot; standing by to take over"
                );
                said = true;
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "cannot ask for the polling lease"),
        }
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return None,
            _ = tokio::time::sleep(POLLER_LEASE / 6) => {}
        }
    }
}

/// Registers the command menu, in each language the content has.
async fn register_commands(ctx: Arc<Ctx>) {
    let content = ctx.engine.content();
    for locale in content.locales.keys() {
        let commands: Vec<BotCommand> = COMMANDS
            .iter()
            .map(|name| BotCommand::new(*name, content.ui(locale, &format!("commands.{name}"))))
            .collect();
        let default = locale == &content.default_locale;
        let result = retrying("setMyCommands", &ctx.redactor, &ctx.shutdown, || {
            let mut request = ctx.bot.set_my_commands(commands.clone());
            if !default {
                request = request.language_code(locale.to_string());
            }
            async move { request.await }
        })
        .await;
        if result.is_err() {
            tracing::warn!(%locale, "could not register the command menu");
        }
    }
}

async fn prune_periodically(ctx: Arc<Ctx>) {
    loop {
        let cutoff = crate::now_secs().saturating_sub(crate::store::DELIVERY_RECORD_SECS);
        if let Err(e) = ctx.store.forget_deliveries_older_than(cutoff).await {
            tracing::warn!(error = %e, "cannot prune the delivery log");
        }
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(60 * 60)) => {}
        }
    }
}
