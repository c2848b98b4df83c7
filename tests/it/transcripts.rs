//! Conversation scripts in `tests/transcripts/*.chat`, run through the real engine and content
//! and compared as snapshots (user lines, bot lines, buttons, the matched topic), so a content
//! author can add a scenario without writing Rust.
//!
//! Script lines:
//! - `> text`: the person types text (or a /command)
//! - `press Label`: the person presses the button with that label in the last replies
//! - `? topic ID` / `? decision NAME` / `? crisis` / `? no crisis`: what the bot must have done
//! - `? read as WORD`: a typed message was read as the answer to the question just asked, as
//!   WORD (`safe`, `not_safe`, `unclear`, `yes`, `no`, `not_sure`, `place`, `title`, `none`,
//!   `who`); `? not read as answer`: it was read as a new question
//! - `? audience NAME`: the session's audience after this turn (`none` if never chosen)
//! - `? says TEXT`: the last replies contain TEXT (case-insensitive)
//! - `? no says TEXT`: they do not
//! - `? button LABEL` / `? no button LABEL`: the last replies offer (or do not offer) a button
//! - `? help button`: a button to the helplines is on the last reply
//! - `# ...`: a comment

use std::fmt::Write as _;
use std::path::Path;

use rightsbot::engine::{Action, Button, Effect, Engine, Input, Outcome};

const NOW: u64 = 1_800_000_000;

fn engine() -> Engine {
    Engine::new(rightsbot::content::load_embedded().expect("built-in content is valid"))
}

fn labels(outcome: &Outcome) -> Vec<&Button> {
    outcome
        .replies
        .iter()
        .flat_map(|r| r.buttons.iter().flatten())
        .collect()
}

fn render(outcome: &Outcome, out: &mut String) {
    for reply in &outcome.replies {
        if let Some(title) = &reply.title {
            writeln!(out, "bot: == {title} ==").unwrap();
        }
        for line in reply.text.lines() {
            writeln!(out, "bot: {line}").unwrap();
        }
        for row in &reply.buttons {
            let row: Vec<String> = row.iter().map(|b| format!("[{}]", b.label)).collect();
            writeln!(out, "     {}", row.join(" ")).unwrap();
        }
    }
    let t = &outcome.trace;
    if let Some(decision) = t.decision {
        write!(out, "     (decision={decision}").unwrap();
        if let Some(topic) = &t.topic {
            write!(out, " topic={topic}").unwrap();
        }
        if !t.candidates.is_empty() {
            write!(out, " candidates={}", t.candidates.join(",")).unwrap();
        }
        if let Some(read_as) = t.read_as {
            write!(out, " read_as={read_as}").unwrap();
        }
        writeln!(out, " crisis={})", t.crisis).unwrap();
    }
}

/// Runs one script; returns the transcript, or panics with the line that failed.
fn run_script(name: &str, script: &str) -> String {
    let engine = engine();
    let mut session = engine.fresh_session(NOW);
    let mut last: Option<Outcome> = None;
    let mut transcript = String::new();
    for (n, line) in script.lines().enumerate() {
        let at = format!("{name}.chat:{}", n + 1);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let input = if let Some(text) = line.strip_prefix("> ") {
            writeln!(transcript, "\nuser: {text}").unwrap();
            Some(Input::from_text(text))
        } else if let Some(label) = line.strip_prefix("press ") {
            let outcome = last
                .as_ref()
                .unwrap_or_else(|| panic!("{at}: nothing to press yet"));
            let button = labels(outcome)
                .into_iter()
                .find(|b| b.label == label)
                .unwrap_or_else(|| {
                    let offered: Vec<_> = labels(outcome).iter().map(|b| b.label.clone()).collect();
                    panic!("{at}: no button {label:?}; offered {offered:?}")
                });
            writeln!(transcript, "\nuser presses: [{label}]").unwrap();
            Some(Input::Button(button.action.encode()))
        } else if let Some(check) = line.strip_prefix("? ") {
            let outcome = last
                .as_ref()
                .unwrap_or_else(|| panic!("{at}: nothing to check yet"));
            assert_check(&at, check, outcome);
            None
        } else {
            panic!("{at}: cannot read {line:?}");
        };
        if let Some(input) = input {
            let outcome = engine.handle(session, input, NOW + n as u64);
            render(&outcome, &mut transcript);
            session = match outcome.effect {
                Effect::Forget => engine.fresh_session(NOW),
                Effect::None => outcome.session.clone(),
            };
            last = Some(outcome);
        }
    }
    transcript
}

#[track_caller]
fn assert_check(at: &str, check: &str, outcome: &Outcome) {
    let text: String = outcome
        .replies
        .iter()
        .map(|r| format!("{} {}", r.title.clone().unwrap_or_default(), r.text))
        .collect::<Vec<_>>()
        .join("\n")
        .to_lowercase();
    let t = &outcome.trace;
    let (word, arg) = check.split_once(' ').unwrap_or((check, ""));
    let ok = match (word, arg) {
        ("topic", id) => {
            t.topic.as_deref() == Some(id)
                || outcome
                    .shown_topic
                    .as_ref()
                    .is_some_and(|s| s.as_str() == id)
        }
        ("decision", name) => t.decision == Some(name),
        ("candidates", ids) => ids
            .split(',')
            .all(|id| t.candidates.iter().any(|c| c == id)),
        ("crisis", "") => t.crisis,
        ("no", "crisis") => !t.crisis,
        ("says", needle) => text.contains(&needle.to_lowercase()),
        ("no", rest) if rest.starts_with("says ") => {
            !text.contains(&rest["says ".len()..].to_lowercase())
        }
        ("read", rest) if rest.starts_with("as ") => t.read_as == Some(&rest["as ".len()..]),
        ("not", "read as answer") => t.read_as.is_none(),
        ("audience", name) => {
            let audience = outcome.session.audience.map_or("none", |a| a.as_str());
            audience == name
        }
        ("button", label) => labels(outcome).iter().any(|b| b.label == label),
        ("no", rest) if rest.starts_with("button ") => {
            let label = &rest["button ".len()..];
            !labels(outcome).iter().any(|b| b.label == label)
        }
        ("help", "button") => outcome.replies.last().is_some_and(|r| {
            r.buttons
                .iter()
                .flatten()
                .any(|b| b.action == Action::Helplines)
        }),
        _ => panic!("{at}: unknown check {check:?}"),
    };
    assert!(
        ok,
        "{at}: check failed: ? {check}\ntrace: {t:?}\nreplies: {:#?}",
        outcome.replies
    );
}

#[test]
fn transcripts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
    let mut scripts: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "chat"))
        .collect();
    scripts.sort();
    assert!(scripts.len() >= 8, "expected at least eight conversations");
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir.join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for path in scripts {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let script = std::fs::read_to_string(&path).unwrap();
            let transcript = run_script(&name, &script);
            insta::assert_snapshot!(name, transcript);
        }
    });
}
