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
    /// Keep sessions, counts and limits in Redis instead of the data folder, so that several
    /// `serve` processes act as one bot: redis://[:PASSWORD@]HOST:PORT/DB.
    #[arg(long, global = true, value_name = "URL", env = "RIGHTSBOT_STORE")]
    store: Option<String>,
    /// The install secret (32 bytes, created if missing), instead of DATA/secret.key. Replicas
    /// on one Redis must share it (and --public-url), or none can read another's sessions.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "RIGHTSBOT_SECRET_FILE"
    )]
    secret_file: Option<PathBuf>,
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
        /// The labelled set; with --folds, leave it out.
        file: Option<PathBuf>,
        /// Cross-validate over the phrasings and crisis examples instead, in this many parts.
        #[arg(long)]
        folds: Option<usize>,
        /// List every message that missed, with the matcher's decision.
        #[arg(long)]
        show_misses: bool,
        /// `safety`: exit 1 only when crisis recall or wrong answers miss their targets (the
        /// others are still reported). `all` (the default): on any target.
        #[arg(long, default_value = "all", value_parser = ["all", "safety"])]
        gate: String,
    },
    /// Print the anonymous counts of topics shown, by day and start-link campaign.
    Counts,
    /// Rebuild each locale's precomputed sentence vectors and crisis classifier
    /// (`locales/<lang>/model/vectors.bin`) after phrasings, triggers or examples change.
    /// Works on the content folder (`--content`, else the current folder), never the built-in
    /// copy. Build with --release: it embeds several thousand texts.
    Embed,
}

fn targets(gate: &str) -> rightsbot::matcher::eval::Targets {
    rightsbot::matcher::eval::Targets {
        safety_only: gate == "safety",
        ..rightsbot::matcher::eval::TARGETS
    }
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

/// `rightsbot embed`: stale vectors are what it is for, so they do not stop it.
fn embed(cli: &Cli) -> Result<ExitCode> {
    let root = cli.content.clone().unwrap_or_else(|| PathBuf::from("."));
    let loaded = content::read_dir_files(&root).and_then(|f| content::load_checked(&f, false));
    let content = match loaded {
        Ok(c) => c,
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    for (id, locale) in &content.locales {
        if locale.model.is_none() {
            continue;
        }
        let started = std::time::Instant::now();
        let path = root
            .join("locales")
            .join(id.as_str())
            .join(content::semantic::VECTORS_PATH);
        let previous = std::fs::read(&path).ok();
        let mut shown = 0;
        let bytes = rightsbot::matcher::semantic::build_vectors(
            &content,
            locale,
            previous.as_deref(),
            |done, all| {
                if done * 10 / all.max(1) > shown || done == all {
                    shown = done * 10 / all.max(1);
                    eprintln!("locales/{id}: {done} of {all} new texts embedded");
                }
            },
        )
        .map_err(|e| anyhow::anyhow!("locales/{id}: {e}"))?;
        std::fs::write(&path, &bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!(
            "wrote {} ({} KiB) in {:.0} s",
            path.display(),
            bytes.len() / 1024,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
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
    if let Some(Command::Embed) = cli.command {
        return embed(&cli);
    }
    let content = match load_content(&cli) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let ttl = cli.session_days.saturating_mul(24 * 60 * 60);
    let stored_in = store_options(&cli, ttl);
    match cli.command {
        Some(Command::Embed) => unreachable!("embed runs before the content is checked"),
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
        Some(Command::Eval {
            file: None,
            folds: Some(folds),
            show_misses,
            gate,
        }) => {
            let report = rightsbot::matcher::eval::cross_validate(
                &content,
                folds,
                &targets(&gate),
                show_misses,
            );
            emit(&report.text);
            Ok(if report.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Some(Command::Eval {
            file: Some(_),
            folds: Some(_),
            ..
        })
        | Some(Command::Eval {
            file: None,
            folds: None,
            ..
        }) => {
            eprintln!("rightsbot eval: give a labelled file, or --folds N to cross-validate");
            Ok(ExitCode::from(2))
        }
        Some(Command::Eval {
            file: Some(file),
            folds: None,
            show_misses,
            gate,
        }) => {
            let tsv = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let engine = Engine::new(content);
            let report = rightsbot::matcher::eval::evaluate(
                engine.matcher(),
                engine.content(),
                &tsv,
                &targets(&gate),
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
            let options = rightsbot::terminal::Options {
                audience,
                locale,
                trace,
            };
            runtime()?.block_on(async {
                let store = Store::connect(&stored_in).await?;
                let stdin = std::io::stdin();
                rightsbot::terminal::run(
                    &engine,
                    &store,
                    &options,
                    stdin.lock(),
                    std::io::stdout().lock(),
                    rightsbot::now_secs,
                )
                .await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Counts) => {
            let counts = runtime()?.block_on(async {
                let store = Store::connect(&stored_in).await?;
                anyhow::Ok(store.counts().await)
            })?;
            emit(&counts_table(counts));
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Serve(args)) => serve(content, stored_in, args),
        None => serve(content, stored_in, rightsbot::serve::ServeArgs::default()),
    }
}

fn store_options(cli: &Cli, ttl: u64) -> rightsbot::store::Options {
    rightsbot::store::Options {
        data: cli.data.clone(),
        url: cli.store.clone().filter(|url| !url.trim().is_empty()),
        secret_file: cli.secret_file.clone(),
        ttl_secs: ttl,
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("cannot start the async runtime")
}

fn serve(
    content: Content,
    store: rightsbot::store::Options,
    args: rightsbot::serve::ServeArgs,
) -> Result<ExitCode> {
    // Before anything opens: a set-up that serves nothing is an error, said plainly.
    rightsbot::serve::check(&args)?;
    let engine = Engine::new(content);
    runtime()?.block_on(async {
        let store = Store::connect(&store).await?;
        rightsbot::serve::run(engine, store, args).await
    })?;
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
    let _ = writeln!(
        out,
        "  hardest for a young person to read ({} texts; Flesch-Kincaid grade / limit):",
        content.readability.len()
    );
    for t in content.readability.iter().take(3) {
        let _ = writeln!(
            out,
            "    {:>4.1} / {}  {}  {}",
            t.grade, t.limit, t.place, t.what
        );
    }
    out
}

fn counts_table(counts: Vec<(u64, String, String, u64)>) -> String {
    let mut out = String::new();
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
