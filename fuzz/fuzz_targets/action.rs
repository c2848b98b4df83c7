//! Fuzzes the callback-data decoder: `Action::decode` on arbitrary data (Telegram hands back
//! whatever a client sends, forged or not), then the whole engine with that data as a button
//! press on a fresh session. Nothing may panic; what decodes must encode back to exactly the
//! same data (one spelling per action), and the engine's reply must keep its promises.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rightsbot::engine::{Action, Input, MAX_ACTION_BYTES};
use rightsbot_fuzz::{NOW, engine, handle_checked, text_of};

fuzz_target!(|data: &[u8]| {
    let data = text_of(data);
    if let Some(action) = Action::decode(&data) {
        assert!(data.len() <= MAX_ACTION_BYTES);
        assert_eq!(action.encode(), data, "{action:?} has two spellings");
    }
    handle_checked(engine().fresh_session(NOW), Input::Button(data));
});
