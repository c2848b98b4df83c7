//! The one integration test crate: a module per area.

mod fake_telegram;
mod telegram;
