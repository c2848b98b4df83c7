//! Serde structs that mirror the content files one to one. Nothing here is checked beyond
//! its shape: `load` turns these into the checked model or into diagnostics.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// Text that is either the same for everyone or worded per audience.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawText {
    Plain(String),
    ByAudience(RawByAudience<String>),
}

/// A list of strings, either the same for everyone or per audience.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawList {
    Plain(Vec<String>),
    ByAudience(RawByAudience<Vec<String>>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawByAudience<T> {
    pub default: Option<T>,
    pub young_person: Option<T>,
    pub parent: Option<T>,
    pub advocate: Option<T>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub title: String,
    #[serde(rename = "where")]
    pub location: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNations {
    pub wales: Option<String>,
    pub scotland: Option<String>,
    pub northern_ireland: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTopic {
    pub title: Spanned<String>,
    pub reviewed: Option<Spanned<String>>,
    pub audiences: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub rights: Vec<String>,
    #[serde(default)]
    pub related: Vec<Spanned<String>>,
    pub triggers: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub crisis_signpost: bool,
    pub short: Spanned<RawText>,
    pub more: Spanned<RawText>,
    pub ask: Spanned<RawList>,
    pub nations: Option<RawNations>,
    #[serde(default)]
    pub sources: Vec<RawSource>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    pub title: Spanned<String>,
    pub reviewed: Option<Spanned<String>>,
    pub audiences: Spanned<Vec<Spanned<String>>>,
    pub start: Spanned<String>,
    #[serde(default)]
    pub triggers: Vec<String>,
    #[serde(default)]
    pub sources: Vec<RawSource>,
    pub steps: BTreeMap<Spanned<String>, RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub text: Spanned<RawText>,
    #[serde(default)]
    pub options: Vec<Spanned<RawOption>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOption {
    pub label: Spanned<String>,
    pub next: Option<Spanned<String>>,
    pub topic: Option<Spanned<String>>,
    pub flow: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMenus {
    #[serde(default)]
    pub young_person: Vec<RawGroup>,
    #[serde(default)]
    pub parent: Vec<RawGroup>,
    #[serde(default)]
    pub advocate: Vec<RawGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    pub id: Spanned<String>,
    pub label: Spanned<String>,
    pub items: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHelplines {
    pub helplines: Vec<Spanned<RawHelpline>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHelpline {
    pub id: Spanned<String>,
    pub name: String,
    pub contact: String,
    #[serde(rename = "for")]
    pub for_whom: String,
    pub nations: Vec<Spanned<String>>,
    pub source: String,
    pub checked: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCrisis {
    pub reviewed: Option<Spanned<String>>,
    pub helplines: Vec<Spanned<String>>,
    #[serde(default)]
    pub abuse_helplines: Vec<Spanned<String>>,
    #[serde(default)]
    pub nation_helplines: Vec<Spanned<String>>,
    pub reply: Spanned<RawText>,
    pub check: RawCrisisCheck,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCrisisCheck {
    pub text: Spanned<RawText>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPage {
    pub title: Spanned<String>,
    #[serde(default)]
    pub audiences: Vec<Spanned<String>>,
    pub text: Spanned<RawText>,
}

/// `locales/<lang>/crisis.toml`: the phrases that raise the crisis reply, by category, and
/// the ambiguous ones that get a gentle check question instead.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCrisisPhrases {
    pub phrases: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub ambiguous: Vec<String>,
    #[serde(default)]
    pub figures_of_speech: Vec<String>,
    #[serde(default)]
    pub mentions: Vec<String>,
    #[serde(default)]
    pub double_meanings: Vec<String>,
    #[serde(default)]
    pub ordinary_objects: Vec<String>,
    #[serde(default)]
    pub sayings: Vec<String>,
    #[serde(default)]
    pub last_straws: Vec<String>,
    #[serde(default)]
    pub last_straw_openers: Vec<String>,
    #[serde(default)]
    pub meant_markers: Vec<String>,
    #[serde(default)]
    pub distress_emoji: Vec<String>,
    #[serde(default)]
    pub everyday_words: Vec<String>,
    #[serde(default)]
    pub past_markers: Vec<String>,
    #[serde(default)]
    pub recovery_markers: Vec<String>,
    #[serde(default)]
    pub safe_now_markers: Vec<String>,
    #[serde(default)]
    pub reported_markers: Vec<String>,
    #[serde(default)]
    pub doubt_markers: Vec<String>,
    #[serde(default)]
    pub present_markers: Vec<String>,
    #[serde(default)]
    pub recent_markers: Vec<String>,
    #[serde(default)]
    pub asked_markers: Vec<String>,
    #[serde(default)]
    pub general_markers: Vec<String>,
    #[serde(default)]
    pub told_markers: Vec<String>,
    #[serde(default)]
    pub dose_questions: Vec<String>,
    #[serde(default)]
    pub dose_dangers: Vec<String>,
    #[serde(default)]
    pub general_askers: Vec<String>,
    #[serde(default)]
    pub general_tellings: Vec<String>,
    #[serde(default)]
    pub short_pleas: Vec<String>,
    #[serde(default)]
    pub bare_pleas: Vec<String>,
    #[serde(default)]
    pub means_emoji: Vec<String>,
    #[serde(default)]
    pub denials: Vec<String>,
    #[serde(default)]
    pub denial_bridge: Vec<String>,
    #[serde(default)]
    pub denial_doubts: Vec<String>,
}

/// `locales/<lang>/intents.toml`: smalltalk and help.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIntents {
    #[serde(default)]
    pub intents: Vec<Spanned<RawIntent>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIntent {
    pub id: Spanned<String>,
    /// `smalltalk` or `help`.
    pub kind: Spanned<String>,
    /// Interface key of the reply, for smalltalk.
    pub reply: Option<Spanned<String>>,
    pub triggers: Vec<String>,
}

/// `locales/<lang>/lexicon.toml`: text-speak and misspellings, and stop words.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLexicon {
    #[serde(default)]
    pub stopwords: Vec<String>,
    #[serde(default)]
    pub replace: BTreeMap<String, String>,
    /// Suffix rules for the matcher's stemmer, `"ending>replacement"`, tried in order.
    #[serde(default)]
    pub suffixes: Vec<String>,
}

/// `locales/<lang>/scope.toml`: the settings the bot cannot speak for (a care home, a prison, a
/// school's isolation booth, Scotland's own law), and the words that place a message on a ward.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScope {
    pub elsewhere: Vec<String>,
    pub on_a_ward: Vec<String>,
}

/// `locales/<lang>/answers.toml`: typed answers to the bot's own questions, and the words that
/// show who is writing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnswers {
    #[serde(default)]
    pub yes: Vec<Spanned<String>>,
    #[serde(default)]
    pub no: Vec<Spanned<String>>,
    #[serde(default)]
    pub leaning_yes: Vec<Spanned<String>>,
    #[serde(default)]
    pub leaning_no: Vec<Spanned<String>>,
    #[serde(default)]
    pub unsure: Vec<Spanned<String>>,
    #[serde(default)]
    pub hedge: Vec<Spanned<String>>,
    #[serde(default)]
    pub filler: Vec<Spanned<String>>,
    pub safe: Option<RawSafeAnswers>,
    pub choices: Option<RawChoiceAnswers>,
    pub labels: Option<RawLabels>,
    pub audience: Option<RawAudienceWords>,
    pub who: Option<RawWho>,
}

/// `[who]`: "Who are you?" answered by typing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWho {
    #[serde(default)]
    pub young_person: Vec<Spanned<String>>,
    #[serde(default)]
    pub parent: Vec<Spanned<String>>,
    #[serde(default)]
    pub advocate: Vec<Spanned<String>>,
}

/// `[safe]`: more ways of answering "Are you safe right now?".
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSafeAnswers {
    #[serde(default)]
    pub yes: Vec<Spanned<String>>,
    #[serde(default)]
    pub no: Vec<Spanned<String>>,
}

/// `[choices]`: picking one of several buttons by typing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChoiceAnswers {
    #[serde(default)]
    pub none: Vec<Spanned<String>>,
    #[serde(default)]
    pub filler: Vec<Spanned<String>>,
    /// `"1" = ["first", ...]`, ..., `last = [...]`.
    #[serde(default)]
    pub place: BTreeMap<Spanned<String>, Vec<Spanned<String>>>,
}

/// `[labels]`: how a flow's option labels begin for Yes, No and "Not sure".
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLabels {
    #[serde(default)]
    pub yes: Vec<Spanned<String>>,
    #[serde(default)]
    pub no: Vec<Spanned<String>>,
    #[serde(default)]
    pub unsure: Vec<Spanned<String>>,
}

/// `[audience]`: phrases that show who is writing, for someone who never said.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudienceWords {
    #[serde(default)]
    pub parent: Vec<Spanned<String>>,
    #[serde(default)]
    pub advocate: Vec<Spanned<String>>,
}
