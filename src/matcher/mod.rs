//! Understanding free text: the crisis check (always first), normalisation, topic scoring and
//! the decision (answer, clarify, fallback, smalltalk, help). The README section "How free
//! text is understood" explains the pipeline for content authors.
//!
//! Everything that can be precomputed is built once in `Matcher::new` from the content. It is
//! pure and must stay so: no I/O, no clock, no state between messages, no panic on any input,
//! the same decision for the same message every time (`tests/it/matcher.rs` holds it to that).
//! Its thresholds are content (`dialogues/matcher.toml`), not code.

mod crisis;
pub mod eval;
mod index;
mod normalise;
mod vocab;

use std::collections::BTreeMap;

use serde::Deserialize;

use self::crisis::CrisisPhrases;
use self::index::Index;
use self::normalise::Normaliser;
use crate::content::{Content, IntentKind, Locale, OptionTarget};
use crate::ids::{FlowId, IntentId, LocaleId, TopicId};

/// Thresholds and weights, from `dialogues/matcher.toml`, so content authors can tune them
/// without Rust. The README ("How free text is understood") says what each one does.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Lowest topic score that may answer straight away.
    pub answer_min: f32,
    /// Lowest topic score that may be offered in a clarifying question.
    pub clarify_min: f32,
    /// Topics scoring within this fraction of the best are too close to call: ask.
    pub clarify_margin: f32,
    /// How many topics a clarifying question may offer.
    pub clarify_max: usize,
    /// Lowest score for smalltalk or help ("hi", "what can you do").
    pub intent_min: f32,
    /// A flow's score is multiplied by this, so a topic wins a tie with a flow.
    pub flow_factor: f32,
    /// A flow steps aside for a topic it leads to that scores within this fraction of it:
    /// the topic is the more direct answer ("nobody tells me anything" -> the topic about
    /// information for parents, not the questions that end there).
    pub flow_yield: f32,
    /// Weight of a stop word ("the", "my") against 1 for a word found in one topic only.
    pub stopword_weight: f32,
    /// Weight of a word no trigger uses: how much an unknown word pulls a message away.
    pub unknown_weight: f32,
    /// How much the share of the message a trigger explains matters (0 = not at all).
    pub message_exponent: f32,
    /// Share of a trigger's score that depends on its words coming in the same order.
    pub phrase_bonus: f32,
    /// Share of a topic's score from all its triggers together rather than the best one.
    pub bag_weight: f32,
    /// Words at least this long may carry a typo (one edit; two from nine letters).
    pub fuzzy_min_chars: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            answer_min: 0.36,
            clarify_min: 0.33,
            clarify_margin: 0.12,
            clarify_max: 3,
            intent_min: 0.5,
            flow_factor: 0.95,
            flow_yield: 0.25,
            stopword_weight: 0.1,
            unknown_weight: 0.8,
            message_exponent: 0.5,
            phrase_bonus: 0.2,
            bag_weight: 0.5,
            fuzzy_min_chars: 5,
        }
    }
}

/// What a message may lead to: a topic, or a flow that has triggers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Topic(TopicId),
    Flow(FlowId),
}

impl Target {
    pub fn id(&self) -> &str {
        match self {
            Target::Topic(id) => id.as_str(),
            Target::Flow(id) => id.as_str(),
        }
    }
}

/// Whether a message may be a cry for help.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CrisisSignal {
    None,
    /// Clearly a crisis; `abuse` when it is about harm by others.
    Clear {
        category: String,
        abuse: bool,
    },
    /// Could be a figure of speech ("this ward is killing me"): ask gently.
    Ambiguous,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Answer { target: Target, score: f32 },
    Clarify { candidates: Vec<Target>, score: f32 },
    Fallback { score: f32 },
    Smalltalk { intent: IntentId },
    Help,
}

impl Decision {
    pub fn name(&self) -> &'static str {
        match self {
            Decision::Answer { .. } => "answer",
            Decision::Clarify { .. } => "clarify",
            Decision::Fallback { .. } => "fallback",
            Decision::Smalltalk { .. } => "smalltalk",
            Decision::Help => "help",
        }
    }

    pub fn score(&self) -> f32 {
        match self {
            Decision::Answer { score, .. }
            | Decision::Clarify { score, .. }
            | Decision::Fallback { score } => *score,
            Decision::Smalltalk { .. } | Decision::Help => 1.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    pub crisis: CrisisSignal,
    pub decision: Decision,
}

/// What the matcher read in a message and how it scored the best candidates (before flows
/// are discounted). For people tuning triggers; not a contract.
#[derive(Clone, Debug, Default)]
pub struct Explanation {
    /// The words after normalisation: `(stop)`, `word`, or `word~stem`.
    pub words: Vec<String>,
    pub scores: Vec<(f32, String)>,
}

/// What a document of the index stands for.
#[derive(Clone, Debug)]
enum Doc {
    Target(Target),
    Intent(IntentId, IntentKind),
}

/// Documents (by index) of the topics a flow's steps link to, per document.
type Links = Vec<Vec<usize>>;

/// Everything precomputed for one locale.
struct LocaleIndex {
    normaliser: Normaliser,
    crisis: CrisisPhrases,
    docs: Vec<Doc>,
    /// For a flow's document: the documents of the topics it leads to; empty otherwise.
    links: Links,
    index: Index,
}

/// The matcher, built once from the content.
pub struct Matcher {
    config: Config,
    default_locale: LocaleId,
    locales: BTreeMap<LocaleId, LocaleIndex>,
}

impl Matcher {
    pub fn new(content: &Content) -> Self {
        let default = content.locales.get(&content.default_locale);
        let locales = content
            .locales
            .iter()
            .map(|(id, locale)| {
                let index = LocaleIndex::new(content, locale, default);
                (id.clone(), index)
            })
            .collect();
        Self {
            config: content.matcher.clone(),
            default_locale: content.default_locale.clone(),
            locales,
        }
    }

    /// Crisis check, then the decision, for one message. Pure and deterministic.
    pub fn analyse(&self, locale: &LocaleId, text: &str) -> Analysis {
        let Some(index) = self
            .locales
            .get(locale)
            .or_else(|| self.locales.get(&self.default_locale))
        else {
            return Analysis {
                crisis: CrisisSignal::None,
                decision: Decision::Fallback { score: 0.0 },
            };
        };
        let tokens = index.normaliser.tokens(text);
        let crisis = match index.crisis.check(&tokens, |w| index.index.knows(w)) {
            crisis::Found::None => CrisisSignal::None,
            crisis::Found::Clear { category, abuse } => CrisisSignal::Clear { category, abuse },
            crisis::Found::Ambiguous => CrisisSignal::Ambiguous,
        };
        let decision = self.decide(index, &tokens);
        Analysis { crisis, decision }
    }

    /// The best-scoring topics, flows and intents for `text`, highest first, with the words
    /// the matcher read: what `rightsbot match --explain` shows a content author.
    pub fn explain(&self, locale: &LocaleId, text: &str, top: usize) -> Explanation {
        let Some(index) = self
            .locales
            .get(locale)
            .or_else(|| self.locales.get(&self.default_locale))
        else {
            return Explanation::default();
        };
        let tokens = index.normaliser.tokens(text);
        let words = tokens
            .iter()
            .map(|t| match (t.stop, t.text == t.stem) {
                (true, _) => format!("({})", t.text),
                (false, true) => t.text.clone(),
                (false, false) => format!("{}~{}", t.text, t.stem),
            })
            .collect();
        let scores = index.index.score(&tokens).by_doc;
        let mut ranked: Vec<(f32, String)> = scores
            .iter()
            .zip(&index.docs)
            .filter(|(s, _)| **s > 0.0)
            .map(|(s, d)| {
                let name = match d {
                    Doc::Target(Target::Topic(id)) => id.as_str().to_owned(),
                    Doc::Target(Target::Flow(id)) => format!("flow:{id}"),
                    Doc::Intent(id, _) => format!("intent:{id}"),
                };
                (*s, name)
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.truncate(top);
        Explanation {
            words,
            scores: ranked,
        }
    }

    fn decide(&self, index: &LocaleIndex, tokens: &[normalise::Token]) -> Decision {
        let c = &self.config;
        let scores = index.index.score(tokens).by_doc;
        let mut ranked: Vec<(f32, usize)> = scores
            .iter()
            .enumerate()
            .map(|(doc, &s)| match &index.docs[doc] {
                Doc::Target(Target::Flow(_)) => {
                    let topic_close = index.links[doc]
                        .iter()
                        .any(|&t| scores[t] >= s * (1.0 - c.flow_yield));
                    (if topic_close { 0.0 } else { s * c.flow_factor }, doc)
                }
                _ => (s, doc),
            })
            .filter(|(s, _)| *s > 0.0)
            .collect();
        // Highest first; ties by document order, so the result never depends on chance.
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));

        if let Some(&(score, doc)) = ranked.first()
            && let Doc::Intent(id, kind) = &index.docs[doc]
            && score >= c.intent_min
        {
            return match kind {
                IntentKind::Smalltalk => Decision::Smalltalk { intent: id.clone() },
                IntentKind::Help => Decision::Help,
            };
        }
        let targets: Vec<(f32, &Target)> = ranked
            .iter()
            .filter_map(|&(s, doc)| match &index.docs[doc] {
                Doc::Target(t) => Some((s, t)),
                Doc::Intent(..) => None,
            })
            .collect();
        let Some(&(best, winner)) = targets.first() else {
            return Decision::Fallback { score: 0.0 };
        };
        if best < c.clarify_min {
            return Decision::Fallback { score: best };
        }
        let close: Vec<Target> = targets
            .iter()
            .skip(1)
            .take_while(|(s, _)| *s >= best * (1.0 - c.clarify_margin) && *s >= c.clarify_min)
            .take(c.clarify_max.saturating_sub(1))
            .map(|(_, t)| (*t).clone())
            .collect();
        if best >= c.answer_min && close.is_empty() {
            return Decision::Answer {
                target: winner.clone(),
                score: best,
            };
        }
        let mut candidates = vec![winner.clone()];
        candidates.extend(close);
        Decision::Clarify {
            candidates,
            score: best,
        }
    }
}

impl LocaleIndex {
    fn new(content: &Content, locale: &Locale, default: Option<&Locale>) -> Self {
        // A locale without its own lexicon, phrases or intents borrows the default locale's;
        // crisis phrases of the default locale always apply too: people switch languages.
        let lexicon = match (
            locale.stopwords.is_empty() && locale.replacements.is_empty(),
            default,
        ) {
            (true, Some(d)) => d,
            _ => locale,
        };
        let normaliser = Normaliser::new(lexicon);
        let mut phrases: Vec<(&String, &Vec<String>)> = locale.crisis_phrases.iter().collect();
        let mut ambiguous: Vec<String> = locale.ambiguous_phrases.clone();
        if let Some(d) = default
            && !std::ptr::eq(d, locale)
        {
            phrases.extend(d.crisis_phrases.iter());
            ambiguous.extend(d.ambiguous_phrases.iter().cloned());
        }
        let crisis = CrisisPhrases::new(&normaliser, phrases, &ambiguous);

        let mut docs = Vec::new();
        let mut triggers: Vec<Vec<&str>> = Vec::new();
        for topic in content.topics.values() {
            docs.push(Doc::Target(Target::Topic(topic.id.clone())));
            triggers.push(topic.triggers.iter().map(String::as_str).collect());
        }
        for flow in content.flows.values() {
            if flow.triggers.is_empty() {
                continue;
            }
            docs.push(Doc::Target(Target::Flow(flow.id.clone())));
            triggers.push(flow.triggers.iter().map(String::as_str).collect());
        }
        let intents = match (locale.intents.is_empty(), default) {
            (true, Some(d)) => &d.intents,
            _ => &locale.intents,
        };
        for intent in intents {
            docs.push(Doc::Intent(intent.id.clone(), intent.kind));
            triggers.push(intent.triggers.iter().map(String::as_str).collect());
        }
        let links = docs
            .iter()
            .map(|d| match d {
                Doc::Target(Target::Flow(flow)) => content.flows[flow]
                    .steps
                    .values()
                    .flat_map(|s| &s.options)
                    .filter_map(|o| match &o.target {
                        OptionTarget::Topic(t) => docs
                            .iter()
                            .position(|d| matches!(d, Doc::Target(Target::Topic(id)) if id == t)),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            })
            .collect();
        let index = Index::new(&normaliser, &triggers, &content.matcher);
        Self {
            normaliser,
            crisis,
            docs,
            links,
            index,
        }
    }
}

/// One line of `rightsbot match --json`: the contract other tools rely on.
pub fn decision_json(text: &str, analysis: &Analysis) -> String {
    let (topic, candidates): (Option<&str>, Vec<&str>) = match &analysis.decision {
        Decision::Answer { target, .. } => (Some(target.id()), vec![target.id()]),
        Decision::Clarify { candidates, .. } => (None, candidates.iter().map(Target::id).collect()),
        _ => (None, vec![]),
    };
    serde_json::json!({
        "text": text,
        "decision": analysis.decision.name(),
        "topic": topic,
        "candidates": candidates,
        "crisis": analysis.crisis != CrisisSignal::None,
        "score": analysis.decision.score(),
    })
    .to_string()
}
