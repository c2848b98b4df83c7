//! The `rightsbot` command: serve the channels, chat in the terminal, check content, and show
//! how the matcher reads messages.

use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use rightsbot::content::{self, Content};
use rightsbot::engine::Engine;
use rightsbot::ids::{Audience, LocaleId};
use rightsbot::store::Store;

#[derive(Parser)]
#[command(
    name = "rightsbot",
    version,
    about = "Tells young people in mental-health inpatient care, and their families, what their rights are."
)]
struct Cli {
    /// Load content from this folder (holding dialogues/ and locales/) instead of the built-in copy.
    #[arg(long, global = true, env = "RIGHTSBOT_CONTENT")]
    content: Option<PathBuf>,
    /// Where sessions and the install secret are kept.
    #[arg(long, global = true, env = "RIGHTSBOT_DATA", default_value = "data")]
    data: PathBuf,
    /// Days after the last message when a session is deleted.
    #[arg(
        long,
        global = true,
        env = "RIGHTSBOT_SESSION_DAYS",
        default_value_t = 30
    )]
    session_days: u64,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the channels: the web chat, and Telegram when TELOXIDE_TOKEN is set (the default).
    Serve(rightsbot::serve::ServeArgs),
    /// Chat in the terminal with the real engine and store. Type a button's number to press it.
    Chat {
        #[arg(long, value_parser = parse_audience)]
        audience: Option<Audience>,
        #[arg(long, value_parser = parse_locale)]
        locale: Option<LocaleId>,
        /// Show the matcher's decision under each reply.
        #[arg(long)]
        trace: bool,
    },
    /// Check the content and print a summary; exit 1 on any problem.
    Check,
    /// Read messages from stdin, one per line, and print the matcher's decision for each.
    Match {
        /// Print one JSON object per line (the only format for now).
        #[arg(long)]
        json: bool,
        /// Also print the words the matcher read and its five best candidates, for tuning.
        #[arg(long)]
        explain: bool,
        #[arg(long, value_parser = parse_locale)]
        locale: Option<LocaleId>,
    },
    /// Run a labelled set (`accepted<TAB>audience<TAB>locale<TAB>message` lines) through the
    /// matcher and report against the targets; exit 1 if any target is missed.
    Eval {
        file: PathBuf,
        /// List every message that missed, with the matcher's decision.
        #[arg(long)]
        show_misses: bool,
    },
    /// Print the anonymous counts of topics shown, by day and start-link campaign.
    Counts,
}

fn parse_audience(s: &str) -> Result<Audience, String> {
    Audience::parse(s).ok_or_else(|| "use young_person, parent or advocate".to_owned())
}

fn parse_locale(s: &str) -> Result<LocaleId, String> {
    LocaleId::parse(s).ok_or_else(|| "a locale looks like en or cy".to_owned())
}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    if cli.command.is_none() {
        // Plain `rightsbot` is `rightsbot serve`, environment variables and all.
        cli = Cli::parse_from(std::env::args_os().chain([std::ffi::OsString::from("serve")]));
    }
    rightsbot::logging::init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rightsbot: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_content(cli: &Cli) -> Result<Content, ExitCode> {
    let loaded = match &cli.content {
        Some(dir) => content::load_dir(dir),
        None => content::load_embedded(),
    };
    loaded.map_err(|problems| {
        for p in &problems {
            eprintln!("{p}");
        }
        eprintln!(
            "rightsbot: {} problem{} in the content; nothing was started",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        );
        ExitCode::FAILURE
    })
}

fn run(cli: Cli) -> Result<ExitCode> {
    let content = match load_content(&cli) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let ttl = cli.session_days.saturating_mul(24 * 60 * 60);
    match cli.command {
        Some(Command::Check) => {
            emit(&summary(&content));
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Match {
            json: _,
            explain,
            locale,
        }) => {
            let engine = Engine::new(content);
            let locale = locale.unwrap_or_else(|| engine.content().default_locale.clone());
            let stdin = std::io::stdin();
            let mut out = std::io::stdout().lock();
            for line in stdin.lock().lines() {
                let line = line?;
                let a = engine.matcher().analyse(&locale, &line);
                let json = rightsbot::matcher::decision_json(&line, &a);
                writeln!(out, "{json}")?;
                if explain {
                    let e = engine.matcher().explain(&locale, &line, 5);
                    writeln!(out, "  words: {}", e.words.join(" "))?;
                    for (score, name) in e.scores {
                        writeln!(out, "  {score:.3} {name}")?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Eval { file, show_misses }) => {
            let tsv = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let engine = Engine::new(content);
            let report = rightsbot::matcher::eval::evaluate(
                engine.matcher(),
                engine.content(),
                &tsv,
                &rightsbot::matcher::eval::TARGETS,
                show_misses,
            )
            .with_context(|| format!("cannot read {}", file.display()))?;
            emit(&report.text);
            Ok(if report.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Some(Command::Chat {
            audience,
            locale,
            trace,
        }) => {
            let engine = Engine::new(content);
            let store = Store::open(&cli.data, ttl)?;
            let options = rightsbot::terminal::Options {
                audience,
                locale,
                trace,
            };
            let stdin = std::io::stdin();
            rightsbot::terminal::run(
                &engine,
                &store,
                &options,
                stdin.lock(),
                std::io::stdout().lock(),
                rightsbot::now_secs,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Counts) => {
            let store = Store::open(&cli.data, ttl)?;
            emit(&counts_table(&store));
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Serve(args)) => serve(content, &cli.data, ttl, args),
        None => serve(
            content,
            &cli.data,
            ttl,
            rightsbot::serve::ServeArgs::default(),
        ),
    }
}

fn serve(
    content: Content,
    data: &std::path::Path,
    ttl: u64,
    args: rightsbot::serve::ServeArgs,
) -> Result<ExitCode> {
    // Before anything opens: a set-up that serves nothing is an error, said plainly.
    rightsbot::serve::check(&args)?;
    let engine = Engine::new(content);
    let store = Store::open(data, ttl)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(rightsbot::serve::run(engine, store, args))?;
    Ok(ExitCode::SUCCESS)
}

fn summary(content: &Content) -> String {
    let mut out = String::new();
    let steps: usize = content.flows.values().map(|f| f.steps.len()).sum();
    let triggers: usize = content.topics.values().map(|t| t.triggers.len()).sum();
    let _ = writeln!(out, "content OK");
    let _ = writeln!(
        out,
        "  topics:    {} ({triggers} triggers)",
        content.topics.len()
    );
    let _ = writeln!(out, "  flows:     {} ({steps} steps)", content.flows.len());
    let _ = writeln!(out, "  pages:     {}", content.pages.len());
    let _ = writeln!(out, "  helplines: {}", content.helplines.len());
    for (audience, groups) in &content.menus {
        let items: usize = groups.iter().map(|g| g.items.len()).sum();
        let _ = writeln!(
            out,
            "  menu {audience}: {} groups, {items} items",
            groups.len()
        );
    }
    for (id, locale) in &content.locales {
        let _ = writeln!(
            out,
            "  locale {id}: {} interface strings, {} crisis phrases, {} intents",
            locale.strings.len(),
            locale.crisis_phrases.values().map(Vec::len).sum::<usize>(),
            locale.intents.len()
        );
    }
    let oldest = content.topics.values().map(|t| t.reviewed.as_str()).min();
    if let Some(oldest) = oldest {
        let _ = writeln!(out, "  oldest topic review: {oldest}");
    }
    out
}

fn counts_table(store: &Store) -> String {
    let mut out = String::new();
    let counts = store.counts();
    if counts.is_empty() {
        let _ = writeln!(out, "no counts yet");
        return out;
    }
    let _ = writeln!(out, "day\tcampaign\ttopic\tcount");
    for (day, campaign, topic, n) in counts {
        // Small numbers in a small workshop could point at a person: show them as "<5".
        let shown = if n < 5 {
            "<5".to_owned()
        } else {
            n.to_string()
        };
        let _ = writeln!(out, "{day}\t{campaign}\t{topic}\t{shown}");
    }
    out
}

/// Writes a report to stdout. A reader that goes away early (`rightsbot check | head`) is not
/// an error worth a panic.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
