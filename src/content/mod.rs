//! The checked content model: topics, flows, menus, pages, helplines, crisis texts and
//! locales, with every reference resolved. Everything the bot says comes from here.
//!
//! Only `load` builds a `Content`, and only after every check has passed, so code that holds
//! one may index it by any id it got from it without fear.

pub mod answers;
mod diagnostics;
mod load;
pub mod raw;
pub mod readability;
pub mod semantic;

use std::collections::BTreeMap;

pub use answers::Answers;
pub use diagnostics::{Diagnostic, Diagnostics};
pub use load::{
    ContentFiles, MAX_GRADE_CRISIS, MAX_GRADE_MORE, MAX_GRADE_SHORT, MAX_GRADE_STEP,
    embedded_files, load, load_checked, load_dir, load_embedded, read_dir_files,
};
pub use semantic::{Blob, ModelFiles, Phrasing, PhrasingTarget, RiskExample, Vectors};

use crate::ids::{
    Audience, FlowId, GroupId, HelplineId, IntentId, LocaleId, PageId, StepId, TopicId,
};

/// Words worded per audience, with a fallback so every audience gets something.
#[derive(Clone, Debug, Default)]
pub struct Text<T> {
    default: Option<T>,
    by_audience: [Option<T>; 3],
}

impl<T> Text<T> {
    pub fn plain(value: T) -> Self {
        Self {
            default: Some(value),
            by_audience: [None, None, None],
        }
    }

    pub fn new(default: Option<T>, by_audience: [Option<T>; 3]) -> Option<Self> {
        let any = default.is_some() || by_audience.iter().any(Option::is_some);
        any.then_some(Self {
            default,
            by_audience,
        })
    }

    /// The wording for `audience`: its own, else the default, else the first there is.
    pub fn for_audience(&self, audience: Audience) -> &T {
        let own = &self.by_audience[audience as usize];
        own.as_ref()
            .or(self.default.as_ref())
            .or_else(|| self.by_audience.iter().flatten().next())
            .expect("Text::new refuses a text with no wording at all")
    }

    /// Every wording there is, for checks that must look at all of them.
    pub fn all(&self) -> impl Iterator<Item = &T> {
        self.default.iter().chain(self.by_audience.iter().flatten())
    }
}

#[derive(Clone, Debug)]
pub struct Source {
    pub title: String,
    pub location: String,
}

#[derive(Clone, Debug, Default)]
pub struct NationNotes {
    pub wales: Option<String>,
    pub scotland: Option<String>,
    pub northern_ireland: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Topic {
    pub id: TopicId,
    pub title: String,
    pub reviewed: String,
    pub audiences: Vec<Audience>,
    pub rights: Vec<String>,
    pub related: Vec<TopicId>,
    pub triggers: Vec<String>,
    pub crisis_signpost: bool,
    pub short: Text<String>,
    pub more: Text<String>,
    pub ask: Text<Vec<String>>,
    pub nations: NationNotes,
    pub sources: Vec<Source>,
}

#[derive(Clone, Debug)]
pub struct Flow {
    pub id: FlowId,
    pub title: String,
    pub reviewed: Option<String>,
    pub audiences: Vec<Audience>,
    pub start: StepId,
    pub triggers: Vec<String>,
    pub sources: Vec<Source>,
    pub steps: BTreeMap<StepId, Step>,
}

#[derive(Clone, Debug)]
pub struct Step {
    pub text: Text<String>,
    pub options: Vec<StepOption>,
}

#[derive(Clone, Debug)]
pub struct StepOption {
    pub label: String,
    pub target: OptionTarget,
}

#[derive(Clone, Debug)]
pub enum OptionTarget {
    Step(StepId),
    Topic(TopicId),
    Flow(FlowId),
}

/// Anything a menu can list. Topic, flow and page ids share one namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Topic(TopicId),
    Flow(FlowId),
    Page(PageId),
}

#[derive(Clone, Debug)]
pub struct MenuGroup {
    pub id: GroupId,
    pub label: String,
    pub items: Vec<Item>,
}

#[derive(Clone, Debug)]
pub struct Page {
    pub id: PageId,
    pub title: String,
    pub audiences: Vec<Audience>,
    pub text: Text<String>,
}

#[derive(Clone, Debug)]
pub struct Helpline {
    pub id: HelplineId,
    pub name: String,
    pub contact: String,
    pub for_whom: String,
    pub nations: Vec<String>,
    pub source: String,
    pub checked: String,
}

#[derive(Clone, Debug)]
pub struct Crisis {
    pub reviewed: Option<String>,
    pub helplines: Vec<HelplineId>,
    pub abuse_helplines: Vec<HelplineId>,
    pub nation_helplines: Vec<HelplineId>,
    pub reply: Text<String>,
    pub check: Text<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntentKind {
    Smalltalk,
    Help,
}

#[derive(Clone, Debug)]
pub struct Intent {
    pub id: IntentId,
    pub kind: IntentKind,
    /// Interface key of the reply (smalltalk only; help shows the help text).
    pub reply: Option<String>,
    pub triggers: Vec<String>,
}

/// Everything in `locales/<lang>/`.
#[derive(Clone, Debug, Default)]
pub struct Locale {
    pub id: Option<LocaleId>,
    /// Interface strings by dotted key.
    pub strings: BTreeMap<String, String>,
    pub stopwords: Vec<String>,
    /// Text-speak and misspellings: a word and what it stands for.
    pub replacements: BTreeMap<String, String>,
    /// Suffix rules for the matcher's stemmer, `"ending>replacement"`, tried in order.
    pub suffixes: Vec<String>,
    pub crisis_phrases: BTreeMap<String, Vec<String>>,
    pub ambiguous_phrases: Vec<String>,
    /// Ambiguous phrases that are most often a figure of speech in a rant ("so done with this
    /// place"), from `figures_of_speech` in crisis.toml: see `crisis_figure_calm_max`.
    pub figures_of_speech: Vec<String>,
    /// Crisis phrases that only name a danger (`mentions` in crisis.toml).
    pub mention_phrases: Vec<String>,
    /// Crisis phrases as often said of something ordinary (`double_meanings` in crisis.toml:
    /// "i dont want to be here" of the hospital): the full reply only when the classifier
    /// hears danger too, otherwise the check question.
    pub double_meanings: Vec<String>,
    /// Things a double meaning is said of when it is ordinary ("cant go on the cinema trip",
    /// "cant go on snap"; `ordinary_objects` in crisis.toml): found just after one, the phrase
    /// is not a crisis phrase there.
    pub ordinary_objects: Vec<String>,
    /// Everyday sayings that hold a crisis phrase ("want to die of embarrassment"; `sayings`
    /// in crisis.toml): the phrase inside one is read as a figure of speech.
    pub sayings: Vec<String>,
    /// "one more" in "if I have to sit through one more ward round I'll throw myself out the
    /// window" (`last_straws` in crisis.toml): a clear phrase said after one, in a sentence
    /// that opens with it or says one of `last_straw_openers` ("if") before it, is read as a
    /// saying, unless the message says one of `meant_markers` ("i mean it").
    pub last_straws: Vec<String>,
    pub last_straw_openers: Vec<String>,
    pub meant_markers: Vec<String>,
    /// Emoji that show distress: a message of emoji alone with one of these gets the check
    /// question, not "I'm not sure I understood".
    pub distress_emoji: Vec<String>,
    /// Everyday words that are never read as a typo of a crisis word ("cooking" is not
    /// "choking"), from `everyday_words` in crisis.toml.
    pub everyday_words: Vec<String>,
    /// Words that put what a message says in the past ("used to", "last year"), from
    /// `past_markers` in crisis.toml.
    pub past_markers: Vec<String>,
    /// Words of a story of the past or of getting better ("2 yrs ago", "been clean", "much
    /// better"), from `recovery_markers` in crisis.toml: with one and none of
    /// `present_markers`, a clear phrase in a message the classifier hears as wholly calm asks
    /// the check question. Never enough to let a phrase go, unlike `past_markers`.
    pub recovery_markers: Vec<String>,
    /// Words that say the person a message is about is safe now ("she is fine", "no
    /// danger"), from `safe_now_markers` in crisis.toml.
    pub safe_now_markers: Vec<String>,
    /// Words that make a safe-now marker someone else's ("staff say she is fine") when one
    /// stands in the three words before it, from `reported_markers` in crisis.toml.
    pub reported_markers: Vec<String>,
    /// Words that doubt a safe-now marker anywhere in the message ("i dont believe it", "for
    /// now"), from `doubt_markers` in crisis.toml.
    pub doubt_markers: Vec<String>,
    /// Words that say it is happening now or again ("still", "tonight", "but now"): a message
    /// with one of these is never read as told of the past.
    pub present_markers: Vec<String>,
    /// Words that tell of something just gone ("last night", "this morning"), from
    /// `recent_markers` in crisis.toml: a harm told of someone else with one of these is news
    /// the writer may be shaken by, never a mention to let go.
    pub recent_markers: Vec<String>,
    /// Words that ask what words mean ("what does it mean", "stand for"), from
    /// `asked_markers` in crisis.toml: a crisis phrase asked about is not a crisis told.
    pub asked_markers: Vec<String>,
    /// Words that ask about someone else in general ("if a young person tells", "if a pupil
    /// says"), from `general_markers` in crisis.toml: see `crisis_general_calm_max`.
    pub general_markers: Vec<String>,
    /// Words that tell of a real person who has said a danger ("she keeps saying it", "asking
    /// for a friend"), from `told_markers` in crisis.toml: beside them a question asked in
    /// general is not let go.
    pub told_markers: Vec<String>,
    /// Words that ask about a medicine taken as prescribed ("if she missed one", "double up",
    /// "how many mg"), from `dose_questions` in crisis.toml, and words that turn such a
    /// question back into danger ("would it take", "enough", "took"), from `dose_dangers`:
    /// the classifier alone asks the check question of the first, never of the second.
    pub dose_questions: Vec<String>,
    pub dose_dangers: Vec<String>,
    /// The words that open the person a general question is asked about ("someone", "a",
    /// "my"), from `general_askers` in crisis.toml, and the words of telling that close it
    /// ("tells", "says"), from `general_tellings`: "if someone in care tells their key worker"
    /// is asked in general as much as "if someone tells".
    pub general_askers: Vec<String>,
    pub general_tellings: Vec<String>,
    /// Pleas that, in a message of a few words, get the check question ("someone please help
    /// me"), from `short_pleas` in crisis.toml; in a longer message they are a polite opening
    /// ("can someone help me write my complaint").
    pub short_pleas: Vec<String>,
    /// A plea of a word or two ("help") that, said last after a few words of something else
    /// ("bathroom. red. help"), gets the check question; said alone it asks how to use the
    /// bot. From `bare_pleas` in crisis.toml.
    pub bare_pleas: Vec<String>,
    /// Emoji of a means or an injury (a knife, pills, blood, a knot) that get the check
    /// question in a message of a few words ("🔪 tonight"), not only alone. From `means_emoji`
    /// in crisis.toml.
    pub means_emoji: Vec<String>,
    /// Words that deny a crisis phrase said just after them ("not", "never"), the words that
    /// may stand between ("going", "to") and the words before a denial that take it back
    /// ("promise", "sure"): `denials`, `denial_bridge` and `denial_doubts` in crisis.toml.
    pub denials: Vec<String>,
    pub denial_bridge: Vec<String>,
    pub denial_doubts: Vec<String>,
    pub intents: Vec<Intent>,
    /// What the semantic layer learns topics, flows and intents from.
    pub phrasings: Vec<Phrasing>,
    /// Labelled messages the crisis classifier was trained on.
    pub risk_examples: Vec<RiskExample>,
    /// The sentence-embedding model, when the locale ships one.
    pub model: Option<ModelFiles>,
    /// Precomputed vectors of every text above, with the trained risk head; present only when
    /// they match today's texts and model.
    pub vectors: Option<Vectors>,
    /// Typed answers to the bot's questions (`answers.toml`), if this locale has its own.
    pub answers: Option<Answers>,
    /// Settings outside the bot's scope ("care home", "in prison"), from `scope.toml`: a
    /// message naming one and none of `on_a_ward` is told the bot cannot speak for it.
    pub elsewhere: Vec<String>,
    /// Words that place a message on a children's mental-health ward ("sectioned", "the
    /// ward", "camhs"), from `scope.toml`.
    pub on_a_ward: Vec<String>,
}

/// How hard one text a young person sees is to read, as the checker measured it.
#[derive(Clone, Debug)]
pub struct GradedText {
    /// `path:line:col` of the wording.
    pub place: String,
    /// What kind of text it is: "short answer", "flow step", "crisis reply"...
    pub what: &'static str,
    /// The Flesch-Kincaid grade, rounded to one place.
    pub grade: f64,
    /// The highest grade allowed for this kind of text.
    pub limit: f64,
}

/// The whole checked content.
#[derive(Clone, Debug)]
pub struct Content {
    pub topics: BTreeMap<TopicId, Topic>,
    pub flows: BTreeMap<FlowId, Flow>,
    pub pages: BTreeMap<PageId, Page>,
    /// The root menu per audience, in display order.
    pub menus: BTreeMap<Audience, Vec<MenuGroup>>,
    /// In file order.
    pub helplines: Vec<Helpline>,
    pub crisis: Crisis,
    pub default_locale: LocaleId,
    pub locales: BTreeMap<LocaleId, Locale>,
    pub matcher: crate::matcher::Config,
    /// The reading grade of every text a young person sees, hardest first.
    pub readability: Vec<GradedText>,
}

impl Content {
    pub fn topic(&self, id: &TopicId) -> Option<&Topic> {
        self.topics.get(id)
    }

    pub fn helpline(&self, id: &HelplineId) -> Option<&Helpline> {
        self.helplines.iter().find(|h| &h.id == id)
    }

    pub fn group(&self, audience: Audience, id: &GroupId) -> Option<&MenuGroup> {
        self.menus.get(&audience)?.iter().find(|g| &g.id == id)
    }

    pub fn locale(&self, id: &LocaleId) -> &Locale {
        self.locales
            .get(id)
            .unwrap_or_else(|| &self.locales[&self.default_locale])
    }

    /// The interface string `key` in `locale`, falling back to the default locale. The
    /// checker makes sure every key the engine uses exists in the default locale.
    pub fn ui<'a>(&'a self, locale: &LocaleId, key: &'a str) -> &'a str {
        self.locale(locale)
            .strings
            .get(key)
            .or_else(|| self.locales[&self.default_locale].strings.get(key))
            .map(String::as_str)
            .unwrap_or(key)
    }

    /// How typed answers are read in `locale`: its own `answers.toml`, else the default
    /// locale's, else no words at all (then only the buttons answer questions).
    pub fn answers(&self, locale: &LocaleId) -> &Answers {
        static NONE: std::sync::LazyLock<Answers> = std::sync::LazyLock::new(Answers::default);
        self.locale(locale)
            .answers
            .as_ref()
            .or(self.locales[&self.default_locale].answers.as_ref())
            .unwrap_or(&NONE)
    }

    /// The title of anything a menu or button can point at.
    pub fn item_title(&self, item: &Item) -> &str {
        match item {
            Item::Topic(id) => &self.topics[id].title,
            Item::Flow(id) => &self.flows[id].title,
            Item::Page(id) => &self.pages[id].title,
        }
    }
}
