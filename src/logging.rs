//! Logging set-up. Logs go to stderr, filtered by `RUST_LOG` (default: our info, dependencies
//! quieter). What may be logged is narrow: never message text, names, chat or user ids, or the
//! bot token; a user appears only as `UserKey::log_label`.

use tracing_subscriber::EnvFilter;

pub const DEFAULT_FILTER: &str =
    "info,teloxide=warn,teloxide_core=warn,sled=warn,hyper=warn,reqwest=warn";

pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never in a journal or a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
