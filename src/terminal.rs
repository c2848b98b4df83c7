//! The terminal chat, for content authors: the real engine and store, buttons printed with
//! numbers (typing the number presses the button). Reads one message per line, so it works
//! interactively and with piped input.

use std::io::{BufRead, Write};

use anyhow::Result;

use crate::engine::{Button, Effect, Engine, Input, Outcome, Session};
use crate::ids::{Audience, LocaleId};
use crate::store::{Channel, Store};

pub struct Options {
    pub audience: Option<Audience>,
    pub locale: Option<LocaleId>,
    /// Show the matcher's decision under each reply ("peek inside").
    pub trace: bool,
}

/// The terminal has one user.
const TERMINAL_USER: &str = "local";

pub async fn run(
    engine: &Engine,
    store: &Store,
    options: &Options,
    input: impl BufRead,
    mut out: impl Write,
    clock: impl Fn() -> u64,
) -> Result<()> {
    let key = store.key(Channel::Terminal, TERMINAL_USER);
    let stored = match store.load(&key, clock()).await {
        Ok(stored) => stored,
        Err(e) => anyhow::bail!("{e}"),
    };
    let mut session = stored
        .clone()
        .unwrap_or_else(|| engine.fresh_session(clock()));
    if let Some(a) = options.audience {
        session.audience = Some(a);
    }
    if let Some(l) = &options.locale {
        session.locale = l.clone();
    }
    let mut buttons: Vec<Button> = Vec::new();
    let first = match stored {
        None => Some(Input::Command(crate::engine::Command::Start(None))),
        Some(_) => Some(Input::Command(crate::engine::Command::Menu)),
    };
    let mut pending = first;
    let mut lines = input.lines();
    loop {
        let input = match pending.take() {
            Some(i) => i,
            None => {
                write!(out, "you> ")?;
                out.flush()?;
                let Some(line) = lines.next() else { break };
                let line = line?;
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                if matches!(line, "/quit" | "/exit") {
                    break;
                }
                writeln!(out)?;
                match line.parse::<usize>() {
                    Ok(n) if (1..=buttons.len()).contains(&n) => {
                        Input::Button(buttons[n - 1].action.encode())
                    }
                    _ => Input::from_text(line),
                }
            }
        };
        let outcome = engine.handle(session, input, clock());
        buttons = print_outcome(&outcome, options.trace, &mut out)?;
        session = outcome.session;
        match outcome.effect {
            Effect::Forget => {
                store.forget(&key).await?;
                session = Session::fresh(session.locale.clone(), clock());
            }
            Effect::None => store.save(&key, &session).await?,
        }
    }
    Ok(())
}

fn print_outcome(outcome: &Outcome, trace: bool, out: &mut impl Write) -> Result<Vec<Button>> {
    let mut numbered = Vec::new();
    for reply in &outcome.replies {
        if let Some(title) = &reply.title {
            writeln!(out, "bot> == {title} ==")?;
        }
        for line in reply.text.lines() {
            writeln!(out, "bot> {line}")?;
        }
        for row in &reply.buttons {
            let labels: Vec<String> = row
                .iter()
                .map(|b| {
                    numbered.push(b.clone());
                    format!("[{}] {}", numbered.len(), b.label)
                })
                .collect();
            writeln!(out, "     {}", labels.join("   "))?;
        }
        writeln!(out)?;
    }
    if trace {
        let t = &outcome.trace;
        if let Some(decision) = t.decision {
            write!(out, "     (decision={decision}")?;
            if let Some(topic) = &t.topic {
                write!(out, " topic={topic}")?;
            }
            if !t.candidates.is_empty() {
                write!(out, " candidates={}", t.candidates.join(","))?;
            }
            if let Some(score) = t.score {
                write!(out, " score={score:.2}")?;
            }
            if let Some(read_as) = t.read_as {
                write!(out, " read_as={read_as}")?;
            }
            writeln!(out, " crisis={})", t.crisis)?;
        }
    }
    Ok(numbered)
}
