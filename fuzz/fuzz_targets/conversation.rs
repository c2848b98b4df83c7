//! Fuzzes whole conversations: a sequence of arbitrary inputs (free text, typed commands,
//! button data, including data taken from the buttons the bot just showed, and non-text
//! messages) fed to the engine one after another, with the session stored and read back
//! between turns as the shells do. Every reply must keep its promises.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use rightsbot::engine::{Input, NonTextKind, Session};
use rightsbot_fuzz::{NOW, check_outcome, engine};

#[derive(Arbitrary, Debug)]
enum Step {
    /// A typed line: a command if it starts with `/`, else free text.
    Typed(String),
    /// Raw button data, forged or not.
    Button(String),
    /// Press the n-th button of the last reply, as a person would.
    Press(u8),
    NonText(u8),
}

fuzz_target!(|steps: Vec<Step>| {
    let engine = engine();
    let mut session = engine.fresh_session(NOW);
    let mut last_buttons: Vec<String> = Vec::new();
    for (turn, step) in steps.into_iter().take(32).enumerate() {
        let input = match step {
            Step::Typed(text) => Input::from_text(&text),
            Step::Button(data) => Input::Button(data),
            Step::Press(n) if !last_buttons.is_empty() => {
                Input::Button(last_buttons[n as usize % last_buttons.len()].clone())
            }
            Step::Press(_) => Input::Text(String::new()),
            Step::NonText(n) => Input::NonText(match n % 9 {
                0 => NonTextKind::Sticker,
                1 => NonTextKind::Photo,
                2 => NonTextKind::Voice,
                3 => NonTextKind::Video,
                4 => NonTextKind::Document,
                5 => NonTextKind::Location,
                6 => NonTextKind::Contact,
                7 => NonTextKind::Poll,
                _ => NonTextKind::Other,
            }),
        };
        let outcome = engine.handle(session, input, NOW + turn as u64);
        check_outcome(&outcome);
        last_buttons = outcome
            .replies
            .iter()
            .flat_map(|r| r.buttons.iter().flatten())
            .map(|b| b.action.encode())
            .collect();
        session =
            Session::from_record(&outcome.session.to_record()).expect("checked by check_outcome");
    }
});
