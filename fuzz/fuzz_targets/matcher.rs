//! Fuzzes the normaliser and matcher: `Matcher::analyse` on arbitrary text, in every locale of
//! the embedded content and in one it does not have. It must never panic, must be
//! deterministic, and may only ever name topics and flows that exist.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rightsbot::ids::LocaleId;
use rightsbot::matcher::{Decision, Target};
use rightsbot_fuzz::{engine, text_of};

fuzz_target!(|data: &[u8]| {
    let text = text_of(data);
    let engine = engine();
    let content = engine.content();
    let unknown = LocaleId::parse("zz").expect("a well-formed locale id");
    for locale in content.locales.keys().chain([&unknown]) {
        let analysis = engine.matcher().analyse(locale, &text);
        assert_eq!(
            analysis,
            engine.matcher().analyse(locale, &text),
            "not deterministic"
        );
        let exists = |t: &Target| match t {
            Target::Topic(id) => content.topics.contains_key(id),
            Target::Flow(id) => content.flows.contains_key(id),
        };
        match &analysis.decision {
            Decision::Answer { target, score } => {
                assert!(exists(target), "answered with unknown {target:?}");
                assert!(score.is_finite(), "score {score}");
            }
            Decision::Clarify { candidates, score } => {
                // One candidate is a "did you mean ...?"; never none, never one twice, never
                // more than the content allows.
                let max = content.matcher.clarify_max.max(1);
                assert!(
                    (1..=max).contains(&candidates.len()),
                    "clarify with {candidates:?}"
                );
                let mut ids: Vec<&str> = candidates.iter().map(Target::id).collect();
                ids.sort_unstable();
                ids.dedup();
                assert_eq!(ids.len(), candidates.len(), "clarify with {candidates:?}");
                assert!(candidates.iter().all(exists), "clarify with {candidates:?}");
                assert!(score.is_finite(), "score {score}");
            }
            Decision::Fallback { score } => assert!(score.is_finite(), "score {score}"),
            Decision::Smalltalk { .. } | Decision::Help => {}
        }
    }
});
