//! rightsbot: tells young people in mental-health inpatient care, and their families, what
//! their rights are and what they can ask for.
//!
//! The conversation engine (`engine`) is pure; `content` loads and checks what it says;
//! `matcher` understands free text; `store` keeps the least possible state; the channels
//! (`terminal`, and later Telegram and the web chat) are thin shells.

pub mod content;
pub mod deeplink;
pub mod engine;
pub mod ids;
pub mod matcher;
