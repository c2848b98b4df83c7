//! The one integration test crate: each module tests one area through its user-visible
//! boundary, with real parts (a real sled in a temp dir, real HTTP on loopback).

mod answers;
mod bench;
mod browser;
mod cli;
mod content_check;
mod decoders;
mod fake_telegram;
mod hostile;
mod live_bot;
mod matcher;
mod privacy;
mod redis_server;
mod replicas;
mod semantic;
mod store;
mod telegram;
mod tidy;
mod transcripts;
mod web;
mod workshop;
