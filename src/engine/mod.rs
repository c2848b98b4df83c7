//! The conversation engine: a pure function of the content, the session, one input and the
//! time, returning the replies and the new session. Telegram, the web chat and the terminal
//! are thin shells around it.
//!
//! It must never do I/O, read a clock, or depend on teloxide, sled, tokio or axum (a test
//! checks the imports). Every word it says comes from content; it only arranges them.

mod action;
mod context;
mod session;

use std::sync::Arc;

pub use action::{Action, MAX_ACTION_BYTES};
pub use session::{Awaiting, Choice, FlowPosition, SESSION_VERSION, Session};

use crate::content::{Content, Item, OptionTarget, Topic};
use crate::deeplink::StartLink;
use crate::ids::{Audience, FlowId, GroupId, LocaleId, PageId, StepId, TopicId};
use crate::matcher::{Analysis, CrisisSignal, Decision, Matcher, Target};

/// How many replies "get help now" stays on screen after a crisis message. A single "I'm
/// fine" does not shorten it.
pub const CRISIS_TURNS: u8 = 5;

/// Longest text message the engine reads; the rest is cut before matching.
pub const MAX_INPUT_CHARS: usize = 4096;

/// Every interface key the engine uses; the checker insists each exists in the default locale.
pub const UI_KEYS: &[&str] = &[
    "welcome",
    "audience.ask",
    "audience.young_person",
    "audience.parent",
    "audience.advocate",
    "audience.set",
    "audience.guessed.parent",
    "audience.guessed.advocate",
    "answers.again",
    "menu.intro",
    "menu.choose",
    "button.menu",
    "button.back",
    "button.more",
    "button.ask",
    "button.get_help_now",
    "button.start_again",
    "button.resume_flow",
    "button.something_else",
    "topic.ask_intro",
    "topic.rights",
    "topic.sources",
    "topic.reviewed",
    "topic.nation.wales",
    "topic.nation.scotland",
    "topic.nation.northern_ireland",
    "disclaimer",
    "fallback",
    "fallback_elsewhere",
    "clarify",
    "help",
    "nontext",
    "out_of_date",
    "helplines.title",
    "helplines.intro",
    "helplines.abuse",
    "helplines.nations",
    "helplines.more",
    "crisis.title",
    "crisis.need_help",
    "crisis.ok",
    "crisis.ok_reply",
    "crisis.topic_offer",
    "mydata.plain",
    "mydata.who",
    "mydata.who_unknown",
    "mydata.language",
    "mydata.flow",
    "mydata.crisis",
    "mydata.disclaimer",
    "mydata.last_seen",
    "mydata.intro",
    "forget.ask",
    "forget.yes",
    "forget.no",
    "forget.done",
    "forget.cancelled",
    "language.ask",
    "language.name",
    "language.set",
    "commands.start",
    "commands.menu",
    "commands.help",
    "commands.about",
    "commands.privacy",
    "commands.mydata",
    "commands.forget",
    "commands.language",
    "commands.audience",
    "telegram.private_only",
];

/// What a person did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Text(String),
    /// A button press: the encoded action, which is never trusted.
    Button(String),
    Command(Command),
    /// Something that is not text. Its content is never passed in, let alone kept.
    NonText(NonTextKind),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Start(Option<String>),
    Menu,
    Help,
    About,
    Privacy,
    MyData,
    Forget,
    Language,
    Audience,
}

impl Command {
    /// Reads `/name rest` as a command, ignoring an `@botname` suffix; `None` for anything
    /// else, which is then free text.
    pub fn parse(text: &str) -> Option<Command> {
        let text = text.trim();
        let rest = text.strip_prefix('/')?;
        let (head, arg) = match rest.split_once(char::is_whitespace) {
            Some((h, a)) => (h, a.trim()),
            None => (rest, ""),
        };
        let name = head.split('@').next().unwrap_or(head).to_ascii_lowercase();
        let command = match name.as_str() {
            "start" => Command::Start((!arg.is_empty()).then(|| arg.to_owned())),
            "menu" => Command::Menu,
            "help" => Command::Help,
            "about" => Command::About,
            "privacy" => Command::Privacy,
            "mydata" => Command::MyData,
            "forget" => Command::Forget,
            "language" => Command::Language,
            "audience" => Command::Audience,
            _ => return None,
        };
        Some(command)
    }
}

impl Input {
    /// A typed line: a command if it is one, else free text.
    pub fn from_text(text: &str) -> Input {
        Command::parse(text).map_or_else(|| Input::Text(text.to_owned()), Input::Command)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonTextKind {
    Sticker,
    Photo,
    Voice,
    Video,
    Document,
    Location,
    Contact,
    Poll,
    Other,
}

/// One message to show: an optional heading, plain text (paragraphs split by blank lines;
/// channels escape it) and rows of buttons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub title: Option<String>,
    pub text: String,
    pub buttons: Vec<Vec<Button>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub action: Action,
}

/// What the shell must do besides showing the replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    None,
    /// Erase everything stored about this person, including delivery records. The returned
    /// session must not be saved.
    Forget,
}

/// The engine's view of why it answered as it did, for transcripts and `match --json`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    pub decision: Option<&'static str>,
    pub topic: Option<String>,
    pub candidates: Vec<String>,
    pub score: Option<f32>,
    pub crisis: bool,
    /// How a typed message was read as the answer to the question just asked ("no",
    /// "not_safe", "place"...), when it was.
    pub read_as: Option<&'static str>,
}

#[derive(Clone, Debug)]
pub struct Outcome {
    pub replies: Vec<Reply>,
    pub session: Session,
    pub effect: Effect,
    /// A crisis was raised within the last few replies: channels keep "get help now" prominent.
    pub crisis_active: bool,
    /// This turn brought help: a crisis reply, or the helplines someone asked for. Channels
    /// send it ahead of ordinary replies.
    pub brings_help: bool,
    /// The topic shown, if any: the only thing anonymous counts may record.
    pub shown_topic: Option<TopicId>,
    /// The campaign code of the start link that brought this person, for anonymous counts.
    pub campaign: Option<String>,
    /// This turn began a conversation (a start, with or without a link), for anonymous counts.
    pub started: bool,
    pub trace: Trace,
}

/// The engine: content plus the matcher built from it. Cheap to share between tasks.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    content: Content,
    matcher: Matcher,
}

impl Engine {
    pub fn new(mut content: Content) -> Engine {
        let matcher = Matcher::new(&content);
        // The matcher has copied the vectors it reads with into its own banks and head; the
        // content's copy of every phrasing's vector (about 25 MB) would otherwise stay in
        // memory for the life of the process, unread.
        for locale in content.locales.values_mut() {
            locale.vectors = None;
        }
        Engine {
            inner: Arc::new(Inner { content, matcher }),
        }
    }

    pub fn content(&self) -> &Content {
        &self.inner.content
    }

    pub fn matcher(&self) -> &Matcher {
        &self.inner.matcher
    }

    /// A session for someone new.
    pub fn fresh_session(&self, now: u64) -> Session {
        Session::fresh(self.content().default_locale.clone(), now)
    }

    /// Handles one input. Never panics on any input.
    pub fn handle(&self, session: Session, input: Input, now: u64) -> Outcome {
        let mut turn = Turn {
            content: self.content(),
            matcher: self.matcher(),
            session,
            replies: Vec::new(),
            effect: Effect::None,
            shown_topic: None,
            started: false,
            trace: Trace::default(),
            raised_crisis: false,
            showed_helplines: false,
            mydata_reply: None,
            guessed_audience: None,
        };
        turn.session.last_seen = now;
        if !turn.content.locales.contains_key(&turn.session.locale) {
            turn.session.locale = turn.content.default_locale.clone();
        }
        match input {
            Input::Text(text) => turn.text(&text),
            Input::Button(data) => turn.button(&data),
            Input::Command(command) => turn.command(command),
            Input::NonText(_) => turn.say(None, turn.ui("nontext"), vec![turn.menu_row()]),
        }
        turn.finish()
    }
}

/// One input being handled.
struct Turn<'a> {
    content: &'a Content,
    matcher: &'a Matcher,
    session: Session,
    replies: Vec<Reply>,
    effect: Effect,
    shown_topic: Option<TopicId>,
    started: bool,
    trace: Trace,
    raised_crisis: bool,
    showed_helplines: bool,
    /// Which reply shows the stored record (`/mydata`), filled in last.
    mydata_reply: Option<usize>,
    /// The audience this message showed, for someone who never chose one ("my daughter").
    guessed_audience: Option<Audience>,
}

impl<'a> Turn<'a> {
    fn ui(&self, key: &str) -> String {
        self.content.ui(&self.session.locale, key).to_owned()
    }

    fn audience(&self) -> Audience {
        self.session.audience()
    }

    /// What `/mydata` says first: the stored record in plain words, one fact a line, so a
    /// child need not read JSON to know what is kept.
    fn plain_record(&self) -> String {
        let s = &self.session;
        let fill = |key: &str, value: &str| self.ui(key).replacen("{}", value, 1);
        let mut lines = vec![self.ui("mydata.plain")];
        lines.push(match s.audience {
            Some(a) => fill(
                "mydata.who",
                &format!(
                    "\u{201c}{}\u{201d}",
                    self.ui(&format!("audience.{}", a.as_str()))
                ),
            ),
            None => self.ui("mydata.who_unknown"),
        });
        lines.push(fill("mydata.language", &self.ui("language.name")));
        if let Some(position) = &s.flow
            && let Some(flow) = self.content.flows.get(&position.flow)
        {
            lines.push(fill("mydata.flow", &flow.title));
        }
        if s.crisis_turns_left > 0 {
            lines.push(fill("mydata.crisis", &s.crisis_turns_left.to_string()));
        }
        if s.disclaimer_shown {
            lines.push(self.ui("mydata.disclaimer"));
        }
        if let Some(campaign) = &s.campaign {
            lines.push(fill("mydata.campaign", campaign));
        }
        lines.push(fill("mydata.last_seen", &calendar_date(s.last_seen)));
        lines.join("\n")
    }

    fn say(&mut self, title: Option<String>, text: String, buttons: Vec<Vec<Button>>) {
        self.replies.push(Reply {
            title,
            text,
            buttons: buttons.into_iter().filter(|r| !r.is_empty()).collect(),
        });
    }

    fn btn(&self, key: &str, action: Action) -> Button {
        Button {
            label: self.ui(key),
            action,
        }
    }

    fn menu_row(&self) -> Vec<Button> {
        vec![self.btn("button.menu", Action::Menu)]
    }

    fn finish(mut self) -> Outcome {
        let crisis_active = self.session.crisis_turns_left > 0;
        if crisis_active && self.effect == Effect::None {
            // Help stays one tap away: the last message always carries it while the crisis
            // state lasts, whatever was pressed or typed.
            let help = self.btn("button.get_help_now", Action::Helplines);
            if let Some(last) = self.replies.last_mut()
                && !last
                    .buttons
                    .iter()
                    .flatten()
                    .any(|b| matches!(b.action, Action::Helplines | Action::CrisisNeedHelp))
            {
                last.buttons.insert(0, vec![help]);
            }
            if !self.raised_crisis {
                self.session.crisis_turns_left -= 1;
            }
        }
        self.trace.crisis = self.raised_crisis;
        if let Some(at) = self.mydata_reply {
            let record = String::from_utf8_lossy(&self.session.to_record()).into_owned();
            let text = format!(
                "{}\n\n{}\n\n{record}",
                self.plain_record(),
                self.ui("mydata.intro")
            );
            if let Some(reply) = self.replies.get_mut(at) {
                reply.text = text;
            }
        }
        Outcome {
            campaign: self.session.campaign.clone(),
            replies: self.replies,
            session: self.session,
            effect: self.effect,
            crisis_active,
            brings_help: self.raised_crisis || self.showed_helplines,
            shown_topic: self.shown_topic,
            started: self.started,
            trace: self.trace,
        }
    }

    // ----- free text -----

    fn text(&mut self, text: &str) {
        let text: String = text.chars().take(MAX_INPUT_CHARS).collect();
        // The question just asked, if any, which this message may answer. Either way it is
        // closed now: a question is answered once.
        let pending = self.session.awaiting.take();
        let never_chose = self.session.audience.is_none();
        // Before any reply, so that the crisis reply too is worded for a parent who wrote
        // "my son...".
        self.guess_audience(&text);
        // The crisis check, on the whole message, whatever was asked before.
        let analysis = self.matcher.analyse(&self.session.locale, &text);
        self.trace_analysis(&analysis);
        self.understand(&text, analysis, pending, never_chose);
        self.say_guessed_audience();
    }

    fn understand(
        &mut self,
        text: &str,
        analysis: Analysis,
        pending: Option<Awaiting>,
        never_chose: bool,
    ) {
        let matched = match &analysis.decision {
            Decision::Answer { target, .. } => Some(target.clone()),
            _ => None,
        };
        // Beside the check question, what the message may also have asked about stays one tap
        // away: the topic it asked about, or the ones it may have meant.
        let asked_about = match &analysis.decision {
            Decision::Answer { target, .. } => vec![target.clone()],
            Decision::Clarify { candidates, .. } => candidates.clone(),
            _ => Vec::new(),
        };
        let checking = match &pending {
            Some(Awaiting::CrisisCheck { offer, .. }) => {
                Some(offer.as_ref().and_then(|c| self.target_of(c)))
            }
            _ => None,
        };
        // "im fine" straight after the crisis reply may be the calm of someone who has
        // decided, or wanting the subject dropped: the gentle question, with help one tap
        // away, rather than a greeting.
        if pending.is_none()
            && self.session.crisis_turns_left == CRISIS_TURNS
            && analysis.crisis == CrisisSignal::None
            && self.reads_as_safe(text)
        {
            self.trace.read_as = Some("calm_after_crisis");
            self.crisis_check(Vec::new());
            return;
        }
        match &analysis.crisis {
            CrisisSignal::Clear { abuse, .. } => {
                let offer = checking.flatten();
                self.crisis(*abuse, matched.or(offer));
                return;
            }
            // Asked "are you safe?", a plain "I'm fine" is the answer, even if the classifier
            // finds it worrying (calm words can sound like sudden calm); only a phrase that
            // may be distress ("im not ok") overrides it.
            CrisisSignal::Ambiguous
                if checking.is_some()
                    && analysis.evidence.crisis_source == Some("classifier")
                    && self.reads_as_safe(text) => {}
            // A plain pick or yes/no typed to the bot's own question ("the last one", "nope")
            // is that answer, even if the classifier finds the bare words worrying ("the last
            // one" sounds like a goodbye); a crisis phrase still overrides it.
            CrisisSignal::Ambiguous
                if analysis.evidence.crisis_source == Some("classifier")
                    && pending
                        .as_ref()
                        .is_some_and(|p| self.reads_as_plain_answer(p, text)) => {}
            CrisisSignal::Ambiguous => {
                match checking {
                    // Asked "are you safe?" already, and the answer is itself a sign of
                    // distress ("im not ok", "cant cope"): no longer a figure of speech to
                    // check, so the full reply rather than the same question again.
                    Some(offer) => {
                        self.trace.read_as = Some("not_safe");
                        self.crisis(false, matched.or(offer));
                    }
                    None => self.crisis_check(asked_about),
                }
                return;
            }
            CrisisSignal::None => {}
        }
        if let Some(pending) = pending
            && self.answer(pending, text, &analysis)
        {
            return;
        }
        // "Who are you?" from /start stays open until someone answers it.
        if never_chose && self.answer_audience(text, false) {
            return;
        }
        match analysis.decision {
            Decision::Answer { target, .. } => {
                self.open_target(&target);
                self.offer_resume_flow();
            }
            Decision::Clarify { candidates, .. } => self.clarify(&candidates),
            Decision::Fallback { .. } => {
                let buttons = vec![
                    self.menu_row(),
                    vec![self.btn("button.get_help_now", Action::Helplines)],
                ];
                // "My mum's care home has stopped visits": understood, but not ours to answer.
                let key = match analysis.evidence.elsewhere {
                    true => "fallback_elsewhere",
                    false => "fallback",
                };
                self.say(None, self.ui(key), buttons);
            }
            Decision::Smalltalk { intent } => {
                let reply = self
                    .content
                    .locale(&self.session.locale)
                    .intents
                    .iter()
                    .chain(&self.content.locale(&self.content.default_locale).intents)
                    .find(|i| i.id == intent)
                    .and_then(|i| i.reply.clone());
                let text = match reply {
                    Some(key) => self.ui(&key),
                    None => self.ui("help"),
                };
                self.say(None, text, vec![self.menu_row()]);
            }
            Decision::Help => self.help(),
        }
    }

    fn trace_analysis(&mut self, analysis: &Analysis) {
        self.trace.decision = Some(analysis.decision.name());
        self.trace.score = Some(analysis.decision.score());
        match &analysis.decision {
            Decision::Answer { target, .. } => self.trace.topic = Some(target.id().to_owned()),
            Decision::Clarify { candidates, .. } => {
                self.trace.candidates = candidates.iter().map(|c| c.id().to_owned()).collect()
            }
            _ => {}
        }
        self.raised_crisis = analysis.crisis != CrisisSignal::None;
    }

    fn offer_resume_flow(&mut self) {
        let Some(pos) = self.session.flow.clone() else {
            return;
        };
        let Some(flow) = self.content.flows.get(&pos.flow) else {
            return;
        };
        let label = self
            .ui("button.resume_flow")
            .replace("{title}", &flow.title);
        if let Some(last) = self.replies.last_mut() {
            last.buttons.push(vec![Button {
                label,
                action: Action::FlowStep(pos.flow, pos.step),
            }]);
        }
    }

    fn open_target(&mut self, target: &Target) {
        match target {
            Target::Topic(id) => self.topic(id),
            Target::Flow(id) => self.flow_step(id, None),
        }
    }

    /// A button that opens what the matcher found, labelled with its title.
    fn target_button(&self, target: &Target) -> Button {
        let (label, action) = match target {
            Target::Topic(id) => (&self.content.topics[id].title, Action::Topic(id.clone())),
            Target::Flow(id) => (&self.content.flows[id].title, Action::Flow(id.clone())),
        };
        Button {
            label: label.clone(),
            action,
        }
    }

    fn clarify(&mut self, candidates: &[Target]) {
        let mut rows: Vec<Vec<Button>> = candidates
            .iter()
            .map(|c| vec![self.target_button(c)])
            .collect();
        rows.push(vec![self.btn("button.something_else", Action::Menu)]);
        self.say(None, self.ui("clarify"), rows);
        self.session.awaiting = Some(Awaiting::Clarify {
            choices: candidates.iter().map(Self::choice_of).collect(),
        });
    }

    // ----- crisis -----

    fn crisis(&mut self, abuse: bool, topic: Option<Target>) {
        self.raised_crisis = true;
        self.session.crisis_turns_left = CRISIS_TURNS;
        let c = &self.content.crisis;
        let mut text = c.reply.for_audience(self.audience()).clone();
        text.push_str("\n\n");
        text.push_str(&self.helpline_lines(&c.helplines));
        if abuse && !c.abuse_helplines.is_empty() {
            text.push_str("\n\n");
            text.push_str(&self.ui("helplines.abuse"));
            text.push('\n');
            text.push_str(&self.helpline_lines(&c.abuse_helplines));
        }
        if !c.nation_helplines.is_empty() {
            text.push_str("\n\n");
            text.push_str(&self.ui("helplines.nations"));
            text.push('\n');
            text.push_str(&self.helpline_lines(&c.nation_helplines));
        }
        let mut rows = Vec::new();
        if let Some(target) = topic {
            // Offered after the helplines, never instead of them.
            text.push_str("\n\n");
            text.push_str(&self.ui("crisis.topic_offer"));
            rows.push(vec![self.target_button(&target)]);
        }
        rows.push(vec![self.btn("helplines.more", Action::Helplines)]);
        rows.push(self.menu_row());
        self.say(Some(self.ui("crisis.title")), text, rows);
    }

    fn crisis_check(&mut self, topics: Vec<Target>) {
        self.raised_crisis = true;
        // Not a full crisis yet, but help stays near until we know more.
        self.session.crisis_turns_left = self.session.crisis_turns_left.max(2);
        let text = self
            .content
            .crisis
            .check
            .for_audience(self.audience())
            .clone();
        let mut rows = vec![
            vec![self.btn("crisis.need_help", Action::CrisisNeedHelp)],
            vec![self.btn("crisis.ok", Action::CrisisOk)],
        ];
        // What else the message asked about stays one tap away, below the check.
        for target in &topics {
            rows.push(vec![self.target_button(target)]);
        }
        self.say(None, text, rows);
        let mut choices = topics.iter().map(Self::choice_of);
        self.session.awaiting = Some(Awaiting::CrisisCheck {
            offer: choices.next(),
            also: choices.collect(),
        });
    }

    fn helpline_lines(&self, ids: &[crate::ids::HelplineId]) -> String {
        ids.iter()
            .filter_map(|id| self.content.helpline(id))
            .map(|h| format!("\u{2022} {}: {}", h.name, h.contact))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn helplines(&mut self) {
        self.showed_helplines = true;
        let c = &self.content.crisis;
        let mut text = self.ui("helplines.intro");
        text.push_str("\n\n");
        text.push_str(&self.helpline_lines(&c.helplines));
        let shown: Vec<_> = c
            .helplines
            .iter()
            .chain(&c.nation_helplines)
            .cloned()
            .collect();
        let others: Vec<_> = self
            .content
            .helplines
            .iter()
            .filter(|h| !shown.contains(&h.id))
            .map(|h| format!("\u{2022} {}: {} ({})", h.name, h.contact, h.for_whom))
            .collect();
        if !others.is_empty() {
            text.push_str("\n\n");
            text.push_str(&others.join("\n"));
        }
        if !c.nation_helplines.is_empty() {
            text.push_str("\n\n");
            text.push_str(&self.ui("helplines.nations"));
            text.push('\n');
            text.push_str(&self.helpline_lines(&c.nation_helplines));
        }
        self.say(
            Some(self.ui("helplines.title")),
            text,
            vec![self.menu_row()],
        );
    }

    // ----- buttons -----

    fn button(&mut self, data: &str) {
        // Whatever is pressed, the question just asked is closed.
        let pending = self.session.awaiting.take();
        let Some(action) = Action::decode(data) else {
            return self.out_of_date();
        };
        let offers = match &pending {
            Some(Awaiting::CrisisCheck { offer, also }) => {
                self.targets_of(offer.iter().chain(also))
            }
            _ => Vec::new(),
        };
        let offer = offers.first().cloned();
        match action {
            Action::Menu => self.menu(),
            Action::Group(id) => self.group(&id),
            Action::Topic(id) => self.topic(&id),
            Action::More(id) => self.more(&id),
            Action::Ask(id) => self.ask(&id),
            Action::Flow(id) => self.flow_step(&id, None),
            Action::FlowStep(flow, step) => self.flow_step(&flow, Some(&step)),
            Action::Page(id) => self.page(&id),
            Action::Helplines => self.helplines(),
            Action::ChooseAudience => self.choose_audience(),
            Action::SetAudience(a) => self.set_audience(a),
            Action::ChooseLanguage => self.choose_language(),
            Action::SetLocale(l) => {
                if !self.content.locales.contains_key(&l) {
                    return self.out_of_date();
                }
                self.session.locale = l;
                self.say(None, self.ui("language.set"), vec![self.menu_row()]);
            }
            Action::ForgetConfirm => {
                if pending != Some(Awaiting::ForgetConfirm) {
                    return self.out_of_date();
                }
                self.forget_confirmed();
            }
            Action::ForgetCancel => {
                self.say(None, self.ui("forget.cancelled"), vec![self.menu_row()]);
            }
            // What else the message asked about comes after the helplines, never instead.
            Action::CrisisNeedHelp => self.crisis(false, offer),
            // Deliberately leaves the crisis state as it is: help stays one tap away.
            Action::CrisisOk => self.crisis_ok(offers),
        }
    }

    fn out_of_date(&mut self) {
        self.say(None, self.ui("out_of_date"), vec![]);
        self.menu();
    }

    // ----- commands -----

    fn command(&mut self, command: Command) {
        if command != Command::Forget {
            self.session.awaiting = None;
        }
        match command {
            Command::Start(payload) => self.start(payload.as_deref()),
            Command::Menu => self.menu(),
            Command::Help => self.help(),
            Command::About => self.page_by_name("about"),
            Command::Privacy => self.page_by_name("privacy"),
            Command::MyData => {
                // The record is written in by `finish`, once the session is as it will be
                // stored: "exactly what is kept" must be exact.
                self.mydata_reply = Some(self.replies.len());
                self.say(None, String::new(), vec![self.menu_row()]);
            }
            Command::Forget => {
                self.session.awaiting = Some(Awaiting::ForgetConfirm);
                let rows = vec![
                    vec![self.btn("forget.yes", Action::ForgetConfirm)],
                    vec![self.btn("forget.no", Action::ForgetCancel)],
                ];
                self.say(None, self.ui("forget.ask"), rows);
            }
            Command::Language => self.choose_language(),
            Command::Audience => self.choose_audience(),
        }
    }

    fn start(&mut self, payload: Option<&str>) {
        // A malformed or unknown part is left out and the rest still applies: never an error.
        let link = payload.map(|p| StartLink::read(p).link).unwrap_or_default();
        if let Some(a) = link.audience {
            self.session.audience = Some(a);
        }
        if let Some(l) = link.locale.filter(|l| self.content.locales.contains_key(l)) {
            self.session.locale = l;
        }
        // A link without a campaign keeps the one that first brought this person.
        if link.campaign.is_some() {
            self.session.campaign = link.campaign;
        }
        self.started = true;
        self.session.flow = None;
        let topic = link.topic.filter(|t| self.content.topics.contains_key(t));
        if self.session.audience.is_none() && topic.is_none() {
            let mut text = self.ui("welcome");
            text.push_str("\n\n");
            text.push_str(&self.ui("audience.ask"));
            // Not stored as `awaiting`: a first visit must change nothing (the web chat then
            // keeps no record of it). Someone who never chose may answer it at any time; see
            // `understand`.
            let rows = self.audience_rows();
            self.say(None, text, rows);
            return;
        }
        self.say(None, self.ui("welcome"), vec![]);
        match topic {
            Some(t) => self.topic(&t),
            None => self.menu(),
        }
    }

    fn help(&mut self) {
        let rows = vec![
            self.menu_row(),
            vec![self.btn("button.get_help_now", Action::Helplines)],
        ];
        self.say(None, self.ui("help"), rows);
    }

    fn audience_rows(&self) -> Vec<Vec<Button>> {
        Audience::ALL
            .iter()
            .map(|a| vec![self.btn(&format!("audience.{a}"), Action::SetAudience(*a))])
            .collect()
    }

    fn set_audience(&mut self, audience: Audience) {
        self.session.audience = Some(audience);
        let text = self.ui("audience.set");
        self.say(None, text, vec![]);
        self.menu();
    }

    fn choose_audience(&mut self) {
        let rows = self.audience_rows();
        self.say(None, self.ui("audience.ask"), rows);
        self.session.awaiting = Some(Awaiting::Audience);
    }

    fn choose_language(&mut self) {
        let rows = self
            .content
            .locales
            .iter()
            .map(|(id, locale)| {
                let name = locale
                    .strings
                    .get("language.name")
                    .cloned()
                    .unwrap_or_else(|| id.to_string());
                vec![Button {
                    label: name,
                    action: Action::SetLocale(id.clone()),
                }]
            })
            .collect();
        self.say(None, self.ui("language.ask"), rows);
    }

    // ----- menus, topics, flows, pages -----

    fn menu(&mut self) {
        self.session.flow = None;
        let groups = self
            .content
            .menus
            .get(&self.audience())
            .cloned()
            .unwrap_or_default();
        let mut rows: Vec<Vec<Button>> = groups
            .into_iter()
            .map(|g| {
                vec![Button {
                    label: g.label,
                    action: Action::Group(g.id),
                }]
            })
            .collect();
        rows.push(vec![self.btn("button.get_help_now", Action::Helplines)]);
        self.say(None, self.ui("menu.intro"), rows);
    }

    fn group(&mut self, id: &GroupId) {
        let Some(group) = self.content.group(self.audience(), id).cloned() else {
            return self.out_of_date();
        };
        let mut rows: Vec<Vec<Button>> = group
            .items
            .iter()
            .map(|item| {
                let action = match item {
                    Item::Topic(t) => Action::Topic(t.clone()),
                    Item::Flow(f) => Action::Flow(f.clone()),
                    Item::Page(p) => Action::Page(p.clone()),
                };
                vec![Button {
                    label: self.content.item_title(item).to_owned(),
                    action,
                }]
            })
            .collect();
        rows.push(vec![self.btn("button.back", Action::Menu)]);
        self.say(Some(group.label), self.ui("menu.choose"), rows);
    }

    /// Where "Back" from a topic goes: the menu group that lists it, else the menu.
    fn back_from_topic(&self, id: &TopicId) -> Action {
        self.content
            .menus
            .get(&self.audience())
            .into_iter()
            .flatten()
            .find(|g| g.items.contains(&Item::Topic(id.clone())))
            .map_or(Action::Menu, |g| Action::Group(g.id.clone()))
    }

    fn related_rows(&self, topic: &Topic) -> Vec<Vec<Button>> {
        topic
            .related
            .chunks(2)
            .map(|pair| {
                pair.iter()
                    .map(|r| Button {
                        label: self.content.topics[r].title.clone(),
                        action: Action::Topic(r.clone()),
                    })
                    .collect()
            })
            .collect()
    }

    fn topic(&mut self, id: &TopicId) {
        let Some(topic) = self.content.topic(id) else {
            return self.out_of_date();
        };
        self.shown_topic = Some(id.clone());
        let audience = self.audience();
        let mut text = topic.short.for_audience(audience).clone();
        if topic.crisis_signpost {
            text.push_str("\n\n");
            text.push_str(&self.ui("helplines.intro"));
            text.push('\n');
            text.push_str(&self.helpline_lines(&self.content.crisis.helplines));
        }
        if !self.session.disclaimer_shown {
            self.session.disclaimer_shown = true;
            text.push_str("\n\n");
            text.push_str(&self.ui("disclaimer"));
        }
        let mut rows = vec![vec![
            self.btn("button.more", Action::More(id.clone())),
            self.btn("button.ask", Action::Ask(id.clone())),
        ]];
        rows.extend(self.related_rows(topic));
        rows.push(vec![
            self.btn("button.back", self.back_from_topic(id)),
            self.btn("button.menu", Action::Menu),
        ]);
        self.say(Some(topic.title.clone()), text, rows);
    }

    fn more(&mut self, id: &TopicId) {
        let Some(topic) = self.content.topic(id) else {
            return self.out_of_date();
        };
        self.shown_topic = Some(id.clone());
        let text = render_more(self.content, &self.session.locale, topic, self.audience());
        let mut rows = vec![vec![self.btn("button.ask", Action::Ask(id.clone()))]];
        rows.extend(self.related_rows(topic));
        rows.push(vec![
            self.btn("button.back", Action::Topic(id.clone())),
            self.btn("button.menu", Action::Menu),
        ]);
        self.say(Some(topic.title.clone()), text, rows);
    }

    fn ask(&mut self, id: &TopicId) {
        let Some(topic) = self.content.topic(id) else {
            return self.out_of_date();
        };
        self.shown_topic = Some(id.clone());
        let text = render_ask(self.content, &self.session.locale, topic, self.audience());
        let mut rows = vec![vec![self.btn("button.more", Action::More(id.clone()))]];
        rows.extend(self.related_rows(topic));
        rows.push(vec![
            self.btn("button.back", Action::Topic(id.clone())),
            self.btn("button.menu", Action::Menu),
        ]);
        self.say(Some(topic.title.clone()), text, rows);
    }

    fn flow_step(&mut self, id: &FlowId, step: Option<&StepId>) {
        let Some(flow) = self.content.flows.get(id) else {
            return self.out_of_date();
        };
        let step_id = step.unwrap_or(&flow.start);
        let Some(step) = flow.steps.get(step_id) else {
            return self.out_of_date();
        };
        let text = step.text.for_audience(self.audience()).clone();
        let mut rows: Vec<Vec<Button>> = step
            .options
            .iter()
            .map(|o| {
                let action = match &o.target {
                    OptionTarget::Step(s) => Action::FlowStep(id.clone(), s.clone()),
                    OptionTarget::Topic(t) => Action::Topic(t.clone()),
                    OptionTarget::Flow(f) => Action::Flow(f.clone()),
                };
                vec![Button {
                    label: o.label.clone(),
                    action,
                }]
            })
            .collect();
        let ends = !step
            .options
            .iter()
            .any(|o| matches!(o.target, OptionTarget::Step(_)));
        let position = FlowPosition {
            flow: id.clone(),
            step: step_id.clone(),
        };
        self.session.flow = (!ends).then(|| position.clone());
        // Its options answer it, typed as well as pressed.
        self.session.awaiting = (!step.options.is_empty()).then_some(Awaiting::FlowStep(position));
        let mut last = Vec::new();
        if step_id != &flow.start {
            last.push(self.btn("button.start_again", Action::Flow(id.clone())));
        }
        last.push(self.btn("button.menu", Action::Menu));
        rows.push(last);
        self.say(Some(flow.title.clone()), text, rows);
    }

    fn page(&mut self, id: &PageId) {
        let Some(page) = self.content.pages.get(id) else {
            return self.out_of_date();
        };
        let text = page.text.for_audience(self.audience()).clone();
        self.say(Some(page.title.clone()), text, vec![self.menu_row()]);
    }

    fn page_by_name(&mut self, name: &str) {
        match PageId::parse(name) {
            Some(id) => self.page(&id),
            None => self.out_of_date(),
        }
    }
}

/// The interface keys whose words open a section of a "tell me more" text (`render_more`): the
/// notes for the other nations, the rights engaged and the sources. Channels may show each
/// such paragraph under its own heading (the web folds them away until asked).
pub const MORE_SECTION_KEYS: &[&str] = &[
    "topic.nation.wales",
    "topic.nation.scotland",
    "topic.nation.northern_ireland",
    "topic.rights",
    "topic.sources",
];

/// The "tell me more" text: the detail, notes for the other nations, the rights engaged, the
/// sources and the date it was checked.
pub fn render_more(
    content: &Content,
    locale: &LocaleId,
    topic: &Topic,
    audience: Audience,
) -> String {
    let ui = |key: &str| content.ui(locale, key).to_owned();
    let mut text = topic.more.for_audience(audience).clone();
    for (key, note) in [
        ("topic.nation.wales", &topic.nations.wales),
        ("topic.nation.scotland", &topic.nations.scotland),
        (
            "topic.nation.northern_ireland",
            &topic.nations.northern_ireland,
        ),
    ] {
        if let Some(note) = note {
            text.push_str(&format!("\n\n{} {note}", ui(key)));
        }
    }
    if !topic.rights.is_empty() {
        text.push_str(&format!("\n\n{}\n", ui("topic.rights")));
        let lines: Vec<String> = topic
            .rights
            .iter()
            .map(|r| format!("\u{2022} {r}"))
            .collect();
        text.push_str(&lines.join("\n"));
    }
    text.push_str(&format!("\n\n{}\n", ui("topic.sources")));
    let lines: Vec<String> = topic
        .sources
        .iter()
        .map(|s| format!("\u{2022} {} ({})", s.title, s.location))
        .collect();
    text.push_str(&lines.join("\n"));
    text.push_str("\n\n");
    text.push_str(&ui("topic.reviewed").replace("{date}", &topic.reviewed));
    text
}

/// The "what can I ask?" text.
pub fn render_ask(
    content: &Content,
    locale: &LocaleId,
    topic: &Topic,
    audience: Audience,
) -> String {
    let mut text = content.ui(locale, "topic.ask_intro").to_owned();
    for question in topic.ask.for_audience(audience) {
        text.push_str(&format!("\n\n\u{2022} \u{201c}{question}\u{201d}"));
    }
    text
}

/// Every topic reply that would be longer than `max` characters, as (file, problem).
pub fn oversized_replies(content: &Content, max: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for locale in content.locales.keys() {
        for topic in content.topics.values() {
            for audience in Audience::ALL {
                let texts = [
                    ("short answer", topic.short.for_audience(audience).clone()),
                    (
                        "\"tell me more\"",
                        render_more(content, locale, topic, audience),
                    ),
                    (
                        "\"what can I ask\"",
                        render_ask(content, locale, topic, audience),
                    ),
                ];
                for (what, text) in texts {
                    let chars = text.chars().count() + topic.title.chars().count() + 400;
                    if chars > max {
                        out.push((
                            format!("dialogues/topics/{}.toml", topic.id),
                            format!(
                                "the {what} for {audience} would be about {chars} characters \
                                 with headings; a message holds {max}"
                            ),
                        ));
                    }
                }
            }
        }
    }
    out
}

/// "29 November 2026" for Unix seconds (UTC), by the proleptic Gregorian calendar.
fn calendar_date(unix_seconds: u64) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let (year, month, day) = crate::counts::civil(unix_seconds / 86_400);
    format!("{day} {} {year}", MONTHS[(month - 1) as usize])
}

#[cfg(test)]
mod tests {
    use super::calendar_date;

    #[test]
    fn dates_are_written_as_people_write_them() {
        assert_eq!(calendar_date(0), "1 January 1970");
        assert_eq!(calendar_date(951_782_400), "29 February 2000");
        assert_eq!(calendar_date(1_795_996_799), "29 November 2026");
        // 2100 is not a leap year.
        assert_eq!(calendar_date(4_107_542_400), "1 March 2100");
    }
}
