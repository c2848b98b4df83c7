//! Fuzzes the deep-link decoder: `StartLink::parse` on arbitrary payloads (anyone can craft a
//! `?start=` link), then the whole engine with `/start <payload>` on a fresh session. Nothing
//! may panic; what parses must encode to a valid payload that parses back to the same link,
//! and the engine's reply must keep its promises.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rightsbot::deeplink::{MAX_PAYLOAD_LEN, StartLink};
use rightsbot::engine::{Command, Input};
use rightsbot_fuzz::{NOW, engine, handle_checked, text_of};

fuzz_target!(|data: &[u8]| {
    let payload = text_of(data);
    if let Some(link) = StartLink::parse(&payload) {
        let encoded = link.encode().expect("a parsed link always encodes");
        assert!(
            !encoded.is_empty() && encoded.len() <= MAX_PAYLOAD_LEN,
            "{encoded:?}"
        );
        assert!(
            encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "{encoded:?}"
        );
        assert_eq!(StartLink::parse(&encoded), Some(link), "{encoded:?}");
    }
    let input = Input::Command(Command::Start(Some(payload)));
    handle_checked(engine().fresh_session(NOW), input);
});
