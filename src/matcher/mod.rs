//! Understanding free text: the crisis check (always first), normalisation, topic scoring and
//! the decision (answer, clarify, fallback, smalltalk, help). Pure: no I/O, no clock.
//!
//! Everything that can be precomputed is built once in `Matcher::new` from the content.

use serde::Deserialize;

use crate::content::{Content, IntentKind};
use crate::ids::{FlowId, IntentId, LocaleId, TopicId};

/// Thresholds, from `dialogues/matcher.toml`, so content authors can tune them without Rust.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Lowest score that may answer with a topic.
    pub answer_min: f32,
    /// A runner-up within this fraction of the winner's score makes a clarifying question.
    pub clarify_margin: f32,
    /// How many topics a clarifying question may offer.
    pub clarify_max: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            answer_min: 0.5,
            clarify_margin: 0.15,
            clarify_max: 3,
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

struct Entry {
    target: Target,
    words: Vec<String>,
}

struct LocaleIndex {
    locale: LocaleId,
    crisis: Vec<(String, String)>,
    ambiguous: Vec<String>,
    intents: Vec<(IntentId, IntentKind, Vec<String>)>,
}

/// The matcher, built once from the content.
pub struct Matcher {
    config: Config,
    entries: Vec<Entry>,
    locales: Vec<LocaleIndex>,
}

fn normalise(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

impl Matcher {
    pub fn new(content: &Content) -> Self {
        let mut entries = Vec::new();
        for topic in content.topics.values() {
            entries.push(Entry {
                target: Target::Topic(topic.id.clone()),
                words: topic.triggers.iter().map(|t| normalise(t)).collect(),
            });
        }
        for flow in content.flows.values() {
            entries.push(Entry {
                target: Target::Flow(flow.id.clone()),
                words: flow.triggers.iter().map(|t| normalise(t)).collect(),
            });
        }
        let locales = content
            .locales
            .iter()
            .map(|(id, l)| LocaleIndex {
                locale: id.clone(),
                crisis: l
                    .crisis_phrases
                    .iter()
                    .flat_map(|(cat, list)| list.iter().map(move |p| (cat.clone(), normalise(p))))
                    .collect(),
                ambiguous: l.ambiguous_phrases.iter().map(|p| normalise(p)).collect(),
                intents: l
                    .intents
                    .iter()
                    .map(|i| {
                        (
                            i.id.clone(),
                            i.kind,
                            i.triggers.iter().map(|t| normalise(t)).collect(),
                        )
                    })
                    .collect(),
            })
            .collect();
        Self {
            config: content.matcher.clone(),
            entries,
            locales,
        }
    }

    /// Crisis check, then topic decision, for one message.
    pub fn analyse(&self, locale: &LocaleId, text: &str) -> Analysis {
        let norm = normalise(text);
        let padded = format!(" {norm} ");
        let index = self
            .locales
            .iter()
            .find(|l| &l.locale == locale)
            .or(self.locales.first());
        let mut crisis = CrisisSignal::None;
        if let Some(index) = index {
            if let Some((cat, _)) = index
                .crisis
                .iter()
                .find(|(_, p)| !p.is_empty() && padded.contains(&format!(" {p} ")))
            {
                crisis = CrisisSignal::Clear {
                    category: cat.clone(),
                    abuse: cat == "abuse",
                };
            } else if index
                .ambiguous
                .iter()
                .any(|p| !p.is_empty() && padded.contains(&format!(" {p} ")))
            {
                crisis = CrisisSignal::Ambiguous;
            }
            for (id, kind, triggers) in &index.intents {
                if triggers.contains(&norm) {
                    let decision = match kind {
                        IntentKind::Smalltalk => Decision::Smalltalk { intent: id.clone() },
                        IntentKind::Help => Decision::Help,
                    };
                    return Analysis { crisis, decision };
                }
            }
        }
        let words: Vec<&str> = norm.split(' ').filter(|w| w.len() > 2).collect();
        let mut scored: Vec<(f32, &Target)> = self
            .entries
            .iter()
            .map(|e| {
                let best = e
                    .words
                    .iter()
                    .map(|t| {
                        let tw: Vec<&str> = t.split(' ').filter(|w| w.len() > 2).collect();
                        if tw.is_empty() {
                            return 0.0;
                        }
                        let hits = tw.iter().filter(|w| words.contains(w)).count();
                        hits as f32 / tw.len() as f32
                    })
                    .fold(0.0f32, f32::max);
                (best, &e.target)
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let decision = match scored.as_slice() {
            [(s, t), rest @ ..] if *s >= self.config.answer_min => {
                let close: Vec<Target> = rest
                    .iter()
                    .take_while(|(r, _)| *r >= s * (1.0 - self.config.clarify_margin))
                    .map(|(_, t)| (*t).clone())
                    .take(self.config.clarify_max.saturating_sub(1))
                    .collect();
                if close.is_empty() {
                    Decision::Answer {
                        target: (*t).clone(),
                        score: *s,
                    }
                } else {
                    let mut candidates = vec![(*t).clone()];
                    candidates.extend(close);
                    Decision::Clarify {
                        candidates,
                        score: *s,
                    }
                }
            }
            [(s, _), ..] => Decision::Fallback { score: *s },
            [] => Decision::Fallback { score: 0.0 },
        };
        Analysis { crisis, decision }
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
