//! The one integration test crate: a module per area, each testing behaviour a user would
//! notice through the real parts (real content, real store, real HTTP on loopback).

mod matcher;
