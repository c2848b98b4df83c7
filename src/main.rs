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
    /// Print the anonymous counts per topic, with small numbers hidden: from the data folder,
    /// from the bot serving it (while it runs), or from a dashboard link (--url).
    Counts(CountsArgs),
    /// Make or revoke private dashboard links, each showing one campaign's counts (or, with
    /// --all, every campaign's) and its workshop kit. Works while the bot serves.
    Dashboard {
        #[command(subcommand)]
        action: DashboardAction,
    },
    /// Write the workshop kit (start links, QR codes, an index, an A4 poster and a sheet per
    /// topic) to a folder; or, with --check, say what one start link opens.
    Links(LinksArgs),
    /// Rebuild each locale's precomputed sentence vectors and meaning classifier
    /// (`locales/<lang>/model/vectors.bin`) after phrasings, triggers or examples change.
    /// Works on the content folder (`--content`, else the current folder), never the built-in
    /// copy. Build with --release: it embeds several thousand texts.
    Embed,
}

#[derive(clap::Args)]
struct LinksArgs {
    /// Say what this start link (a whole link, or what follows start=) opens, or what is
    /// wrong with it, and write nothing.
    #[arg(long, value_name = "LINK")]
    check: Option<String>,
    /// A code for the workshop or poster, counted with the chats these links start:
    /// 1 to 16 letters, digits or _.
    #[arg(long, value_name = "CODE", value_parser = parse_campaign)]
    campaign: Option<String>,
    /// Where to write the kit.
    #[arg(long, value_name = "DIR", default_value = "kit")]
    out: PathBuf,
    /// The web chat's address as people reach it, e.g. https://rights.example.org.
    #[arg(long, value_name = "URL", env = "RIGHTSBOT_PUBLIC_URL")]
    public_url: Option<rightsbot::web::PublicUrl>,
    /// The bot's Telegram username (without @). Without it, and with TELOXIDE_TOKEN set, it
    /// is asked of Telegram.
    #[arg(long, value_name = "NAME", env = "RIGHTSBOT_BOT_USERNAME")]
    bot_username: Option<String>,
}

#[derive(clap::Args)]
struct CountsArgs {
    /// First date to count, as YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    from: Option<String>,
    /// Last date to count, as YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    to: Option<String>,
    /// One campaign only (- for chats that came from no campaign link).
    #[arg(long, value_name = "CODE")]
    campaign: Option<String>,
    /// A dashboard link (https://.../advocates/<token>/): read that bot's counts over HTTP.
    #[arg(long, value_name = "LINK", env = "RIGHTSBOT_DASHBOARD")]
    url: Option<String>,
    /// Print CSV instead of a table.
    #[arg(long)]
    csv: bool,
}

#[derive(Subcommand)]
enum DashboardAction {
    /// Make a new dashboard link and print it: hand it to the campaign's advocate.
    New {
        #[command(flatten)]
        scope: ScopeArgs,
        /// The web chat's address, for the link printed.
        #[arg(long, value_name = "URL", env = "RIGHTSBOT_PUBLIC_URL")]
        public_url: Option<rightsbot::web::PublicUrl>,
    },
    /// Stop every dashboard link of a campaign (or, with --all, the operator's links) working.
    Revoke {
        #[command(flatten)]
        scope: ScopeArgs,
    },
}

#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct ScopeArgs {
    /// The campaign whose counts the link shows.
    #[arg(long, value_name = "CODE", value_parser = parse_campaign)]
    campaign: Option<String>,
    /// The operator's link: every campaign.
    #[arg(long)]
    all: bool,
}

impl ScopeArgs {
    fn scope(&self) -> rightsbot::access::Scope {
        match &self.campaign {
            Some(c) => rightsbot::access::Scope::Campaign(c.clone()),
            None => rightsbot::access::Scope::Everything,
        }
    }
}

fn parse_date(s: &str) -> Result<String, String> {
    rightsbot::counts::day(s)
        .map(|_| s.trim().to_owned())
        .ok_or_else(|| "write a date as YYYY-MM-DD, like 2026-11-28".to_owned())
}

fn parse_campaign(s: &str) -> Result<String, String> {
    rightsbot::deeplink::campaign_code(s)
        .ok_or_else(|| "a campaign code is 1 to 16 letters, digits or _, like ward7".to_owned())
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
    rightsbot::cores::settle_thread_count();
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
                    if !e.crisis_phrases.is_empty() {
                        writeln!(out, "  crisis phrases: {}", e.crisis_phrases.join(", "))?;
                    }
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
        Some(Command::Counts(args)) => counts(&stored_in, &args),
        Some(Command::Dashboard { action }) => dashboard(&stored_in, action),
        Some(Command::Links(args)) => links(&content, args),
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

/// `rightsbot links`: checks one link, or writes the whole kit.
fn links(content: &Content, args: LinksArgs) -> Result<ExitCode> {
    if let Some(link) = &args.check {
        let (report, fine) = rightsbot::kit::check(content, link);
        emit(&report);
        return Ok(if fine {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let Some(public_url) = &args.public_url else {
        eprintln!(
            "rightsbot links: give the web chat's address with --public-url (or \
             RIGHTSBOT_PUBLIC_URL), e.g. --public-url https://rights.example.org"
        );
        return Ok(ExitCode::from(2));
    };
    let telegram = match &args.bot_username {
        Some(name) => Some(name.trim_start_matches('@').to_owned()),
        None if rightsbot::telegram::token_is_set() => Some(bot_username_from_telegram()?),
        None => None,
    };
    let addresses = rightsbot::kit::Addresses {
        web: public_url.origin().to_owned(),
        telegram,
    };
    let kit = rightsbot::kit::Kit::new(content, addresses, args.campaign.clone());
    let paths = kit.paths();
    for path in &paths {
        let file = kit.file(path).context("a kit file listed but not made")?;
        let target = args.out.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&target, &file.bytes)
            .with_context(|| format!("cannot write {}", target.display()))?;
    }
    emit(&format!(
        "wrote {} files to {}: open {} in a browser; print poster.html and topics/*.html \
         on A4\n",
        paths.len(),
        args.out.display(),
        args.out.join("index.html").display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// The bot's username, from Telegram's getMe with TELOXIDE_TOKEN.
fn bot_username_from_telegram() -> Result<String> {
    use teloxide::prelude::Requester;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let me = runtime
        .block_on(async { teloxide::Bot::from_env().get_me().await })
        .context("cannot ask Telegram for the bot's username (or give --bot-username)")?;
    Ok(me.username().to_owned())
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

/// `rightsbot dashboard`: with sled it needs only the data folder, never the database, so it
/// works while the bot serves; with Redis (`--store`) the link is kept there, for every replica.
fn dashboard(stored_in: &rightsbot::store::Options, action: DashboardAction) -> Result<ExitCode> {
    let data = stored_in.data.as_path();
    let shared = match stored_in.url {
        Some(_) => {
            let runtime = runtime()?;
            let store = runtime.block_on(Store::connect(stored_in))?;
            Some((runtime, store))
        }
        None => None,
    };
    match action {
        DashboardAction::New { scope, public_url } => {
            let token = match &shared {
                Some((runtime, store)) => {
                    runtime.block_on(rightsbot::access::create_shared(store, &scope.scope()))?
                }
                None => rightsbot::access::create(data, &scope.scope())?,
            };
            let origin = public_url.as_ref().map_or_else(
                || format!("http://{}", rightsbot::web::DEFAULT_ADDR),
                |u| u.origin().to_owned(),
            );
            emit(&format!(
                "{origin}/advocates/{token}/\nKeep it private: anyone with the link can read \
                 these counts. Stop it with `rightsbot dashboard revoke`.\n"
            ));
        }
        DashboardAction::Revoke { scope } => {
            let n = match &shared {
                Some((runtime, store)) => {
                    runtime.block_on(rightsbot::access::revoke_shared(store, &scope.scope()))?
                }
                None => rightsbot::access::revoke(data, &scope.scope())?,
            };
            emit(&format!(
                "revoked {n} link{}\n",
                if n == 1 { "" } else { "s" }
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `rightsbot counts`: from a dashboard link, else from the bot serving this data folder,
/// else from the data folder itself.
fn counts(stored_in: &rightsbot::store::Options, args: &CountsArgs) -> Result<ExitCode> {
    let data = stored_in.data.as_path();
    let mut query = Vec::new();
    for (key, value) in [
        ("from", &args.from),
        ("to", &args.to),
        ("campaign", &args.campaign),
    ] {
        if let Some(v) = value {
            query.push(format!("{key}={v}"));
        }
    }
    let query = query.join("&");
    let csv = if let Some(link) = &args.url {
        let base = link.split(['?', '#']).next().unwrap_or(link);
        let base = base.trim_end_matches('/');
        fetch(&format!("{base}/counts.csv?{query}"))?
    } else if let Some(addr) = rightsbot::access::address(data)
        && let Ok(token) = rightsbot::access::operator_token(data)
        && let Ok(csv) = fetch(&format!(
            "http://{addr}/advocates/{token}/counts.csv?{query}"
        ))
    {
        csv
    } else {
        let all = runtime()?.block_on(async {
            let store = Store::connect(stored_in).await?;
            anyhow::Ok(store.all_counts().await)
        })?;
        let filter = rightsbot::counts::Filter {
            from: args.from.as_deref().and_then(rightsbot::counts::day),
            to: args.to.as_deref().and_then(rightsbot::counts::day),
            campaign: args.campaign.clone(),
        };
        let report = rightsbot::counts::report(&all, &filter);
        format!("# {}\n{}", report.scope(), report.csv())
    };
    emit(&if args.csv { csv } else { counts_table(&csv) });
    Ok(ExitCode::SUCCESS)
}

/// GETs `url` and returns the body, or says plainly why not.
fn fetch(url: &str) -> Result<String> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let response = reqwest::get(url)
            .await
            .context("cannot reach the bot (is it running, and is the link right?)")?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            anyhow::bail!("the bot does not know this dashboard link (wrong, or revoked)");
        }
        let response = response.error_for_status()?;
        Ok(response.text().await?)
    })
}

/// The CSV of a report as an aligned table, its scope line first.
fn counts_table(csv: &str) -> String {
    let mut out = String::new();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .filter(|l| {
            if let Some(scope) = l.strip_prefix("# ") {
                let _ = writeln!(out, "{scope}");
                false
            } else {
                true
            }
        })
        .map(|l| l.split(',').collect())
        .collect();
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 0 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    let _ = writeln!(
        out,
        "* is 1 to 7 (hidden so nobody can be picked out); other counts are rounded to the nearest \
         5; totals add only the counts shown"
    );
    out
}

/// Writes a report to stdout. A reader that goes away early (`rightsbot check | head`) is not
/// an error worth a panic.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
