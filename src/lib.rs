//! rightsbot: tells young people in mental-health inpatient care, and their families, what
//! their rights are and what they can ask for.
//!
//! The conversation engine (`engine`) is pure; `content` loads and checks what it says;
//! `matcher` understands free text; `store` keeps the least possible state; the channels
//! (`terminal`, `web`, `telegram`) are thin shells.

pub mod access;
pub mod content;
pub mod cores;
pub mod counts;
pub mod deeplink;
pub mod embedder;
pub mod engine;
pub mod ids;
pub mod kit;
pub mod matcher;
pub mod store;
pub mod telegram;
pub mod terminal;
pub mod web;

/// Seconds since 1970 from the system clock: the shells' only clock.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
pub mod logging;
pub mod serve;
