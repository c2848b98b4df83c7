//! What every fuzz target shares: the engine, built once from the embedded content, and the
//! promises a reply must keep whatever came in. A broken promise panics, which libFuzzer
//! records as a crash with the input that caused it. Nothing here does I/O.

use std::sync::LazyLock;

use rightsbot::engine::{Action, Engine, Input, MAX_ACTION_BYTES, Outcome, Session};

/// A fixed clock: the engine takes time as an argument, and a fixed one keeps every run
/// reproducible.
pub const NOW: u64 = 1_800_000_000;

static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
    let content = rightsbot::content::load_embedded()
        .unwrap_or_else(|problems| panic!("the embedded content must load: {problems:?}"));
    Engine::new(content)
});

/// The engine on the real, embedded content. Building it is slow, so it happens once per
/// fuzzing process, not once per input.
pub fn engine() -> &'static Engine {
    &ENGINE
}

/// Handles `input` on `session` and checks what came back; returns the new session.
pub fn handle_checked(session: Session, input: Input) -> Session {
    let outcome = engine().handle(session, input, NOW);
    check_outcome(&outcome);
    outcome.session
}

/// The promises every outcome keeps: something is said, every button can be pressed (its data
/// fits Telegram's limit and decodes to the same action), and the session survives being
/// stored and read back.
pub fn check_outcome(outcome: &Outcome) {
    assert!(!outcome.replies.is_empty(), "the engine said nothing");
    for reply in &outcome.replies {
        assert!(!reply.text.trim().is_empty(), "an empty reply text");
        for button in reply.buttons.iter().flatten() {
            let data = button.action.encode();
            assert!(
                data.len() <= MAX_ACTION_BYTES,
                "button data {data:?} is longer than {MAX_ACTION_BYTES} bytes"
            );
            assert_eq!(
                Action::decode(&data).as_ref(),
                Some(&button.action),
                "button data {data:?} does not decode to its own action"
            );
        }
    }
    let record = outcome.session.to_record();
    assert_eq!(
        Session::from_record(&record).as_ref(),
        Some(&outcome.session),
        "the session does not survive a store and load"
    );
}

/// Bytes as text the way a channel would hand them over: valid UTF-8 as it is, anything else
/// with replacement characters (Telegram and browsers never deliver invalid UTF-8).
pub fn text_of(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}
