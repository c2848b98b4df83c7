//! Typed answers to the bot's own questions, read in context through the real engine and
//! content: one table per question, each line a way people type it and what must happen. The
//! transcripts in `tests/transcripts/13_*` to `17_*` show whole conversations; these tables
//! hold the many everyday forms.

use std::sync::LazyLock;

use rightsbot::engine::{Awaiting, Engine, Input, Outcome, Session};
use rightsbot::ids::Audience;

const NOW: u64 = 1_800_000_000;

use rightsbot::matcher::Target;

static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
    Engine::new(rightsbot::content::load_embedded().expect("built-in content is valid"))
});

/// A young person's session after typing `lines`, one by one.
fn after(lines: &[&str]) -> Session {
    let mut session = ENGINE.fresh_session(NOW);
    session.audience = Some(Audience::YoungPerson);
    for line in lines {
        session = ENGINE.handle(session, Input::from_text(line), NOW).session;
    }
    session
}

fn say(session: Session, text: &str) -> Outcome {
    ENGINE.handle(session, Input::from_text(text), NOW + 1)
}

fn all_text(outcome: &Outcome) -> String {
    outcome
        .replies
        .iter()
        .map(|r| format!("{} {}", r.title.clone().unwrap_or_default(), r.text))
        .collect::<Vec<_>>()
        .join("\n")
}

const ARE_YOU_SAFE: &str = "Are you safe right now?";

#[test]
fn anything_but_a_clear_yes_to_are_you_safe_brings_the_crisis_reply() {
    let asked = after(&["this place is killing me"]);
    assert!(
        matches!(asked.awaiting, Some(Awaiting::CrisisCheck { .. })),
        "the check question was asked: {asked:?}"
    );
    let not_safe = [
        "no",
        "No.",
        "NO!!",
        "nooo",
        "nope",
        "nah",
        "n",
        "not really",
        "no im not",
        "no i'm not",
        "im not safe",
        "not safe",
        "i am not",
        "idk",
        "i dont know",
        "i don't know",
        "dunno",
        "not sure",
        "no idea",
        "kind of not",
        "kinda",
        "maybe",
        "probably",
        "i think so",
        "sort of",
        "a bit",
        "not at all",
        "yes and no",
        "yeah no",
        "yes but no",
        "😢",
        "😭😭",
        "☹️",
        "help",
        "help me",
        "i need help",
        "please help",
        "scared",
        "no, im scared",
        "no, can they take my phone",
        "idk tbh",
        "not ok",
        "im not okay",
        "i cant cope",
        "whatever",
        "bye",
        "leave me alone",
        "hi",
        "thanks",
        "🙂",
        "...",
    ];
    for text in not_safe {
        let outcome = say(asked.clone(), text);
        let replied = all_text(&outcome);
        assert!(
            replied.contains("You matter") && replied.contains("Childline"),
            "{text:?} to \"are you safe\" must bring the crisis reply; got {replied}"
        );
        assert!(outcome.trace.crisis, "{text:?}");
        assert!(
            !replied.contains(ARE_YOU_SAFE),
            "{text:?}: not the same question again"
        );
    }
}

#[test]
fn a_clear_yes_to_are_you_safe_carries_on_as_the_button_does() {
    let asked = after(&["this place is killing me"]);
    let pressed = ENGINE.handle(
        asked.clone(),
        Input::Button(rightsbot::engine::Action::CrisisOk.encode()),
        NOW + 1,
    );
    let safe = [
        "yes",
        "Yes!",
        "YES",
        "yess",
        "yeah",
        "yep",
        "ya",
        "y",
        "im ok",
        "i'm ok",
        "I'm fine",
        "im fine thanks",
        "yes im safe",
        "yeah i'm ok",
        "yes i am",
        "i am",
        "ok",
        "okay",
        "all good",
        "im alright",
        "fine",
        "👍",
        "yes thank you",
        "yeah im good",
    ];
    for text in safe {
        let outcome = say(asked.clone(), text);
        assert_eq!(outcome.replies, pressed.replies, "{text:?}");
        // "Get help now" may stay on screen longer when the answer itself sounded worrying
        // to the classifier ("fine"), never shorter.
        assert!(
            outcome.session.crisis_turns_left >= pressed.session.crisis_turns_left,
            "{text:?}"
        );
    }
}

#[test]
fn a_new_question_after_are_you_safe_is_answered_and_a_crisis_is_still_a_crisis() {
    let asked = after(&["this place is killing me"]);
    let outcome = say(asked.clone(), "can they take my phone");
    assert_eq!(
        outcome.shown_topic.as_ref().map(|t| t.as_str()),
        Some("phone_and_internet")
    );
    assert!(outcome.crisis_active, "help stays on screen");
    let outcome = say(asked, "yes but i want to kill myself");
    assert!(all_text(&outcome).contains("Childline"));
}

/// The restriction check's first step: "Yes, it's about that" / "No, it's a rule or a limit"
/// / "Not sure".
#[test]
fn a_flow_step_takes_yes_no_and_not_sure_typed() {
    let asked = after(&["/start"]);
    let asked = ENGINE
        .handle(
            asked,
            Input::Button(
                rightsbot::engine::Action::Flow(
                    rightsbot::ids::FlowId::parse("restriction_check").unwrap(),
                )
                .encode(),
            ),
            NOW,
        )
        .session;
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "yes",
                "yeah",
                "yep",
                "ya",
                "y",
                "yup",
                "aye",
                "Yes.",
                "yes it is",
                "i think so",
                "yeah kind of",
                "👍",
            ],
            "absolute right",
        ),
        (
            &[
                "no",
                "nope",
                "nah",
                "n",
                "no.",
                "NO",
                "i dont think so",
                "not really",
                "probably not",
                "no it isnt",
                "kind of not",
                "👎",
            ],
            "is there a law that allows it",
        ),
        (
            &[
                "idk",
                "i dont know",
                "not sure",
                "dunno",
                "maybe",
                "no idea",
                "kinda",
            ],
            "Did it hurt you, scare you",
        ),
    ];
    for (texts, next) in cases {
        for text in *texts {
            let replied = all_text(&say(asked.clone(), text));
            assert!(
                replied.contains(next),
                "{text:?} should lead to {next:?}: {replied}"
            );
        }
    }
    for text in ["yes and no", "yeah nah", "the fifth one"] {
        let replied = all_text(&say(asked.clone(), text));
        assert!(
            replied.contains("Sorry, I couldn't tell") && replied.contains("one step at a time"),
            "{text:?} should ask the step again: {replied}"
        );
    }
}

/// "can i see" is not clear (my notes? my family?): the matcher offers several topics (which
/// ones is its business; the cases below follow whatever it offers).
#[test]
fn a_clarifying_question_takes_a_place_or_a_title() {
    let locale = rightsbot::ids::LocaleId::parse("en").unwrap();
    let rightsbot::matcher::Decision::Clarify { candidates, .. } =
        ENGINE.matcher().analyse(&locale, "can i see").decision
    else {
        panic!("\"can i see\" should get a clarifying question");
    };
    assert!(candidates.len() >= 2, "{candidates:?}");
    let asked = after(&["can i see"]);
    let id = |i: usize| candidates[i].id().to_owned();
    let last = candidates.len() - 1;
    let title = |i: usize| {
        ENGINE.content().topics[&rightsbot::ids::TopicId::parse(&id(i)).unwrap()]
            .title
            .to_lowercase()
    };
    let mut cases: Vec<(String, String)> = [
        ("the first one", 0),
        ("first", 0),
        ("1", 0),
        ("1st", 0),
        ("the top one", 0),
        ("number one", 0),
        ("the second one", 1),
        ("second", 1),
        ("2", 1),
        ("2nd one please", 1),
        ("option 2", 1),
        ("the 2nd", 1),
        ("the last one", last),
        ("last", last),
    ]
    .into_iter()
    .map(|(text, i)| (text.to_owned(), id(i)))
    .collect();
    for (i, candidate) in candidates.iter().enumerate() {
        if matches!(candidate, Target::Topic(_)) {
            cases.push((title(i), id(i)));
        }
    }
    let cases: Vec<(&str, &str)> = cases
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    for (text, topic) in cases {
        let outcome = say(asked.clone(), text);
        assert_eq!(
            outcome.shown_topic.as_ref().map(|t| t.as_str()),
            Some(topic),
            "{text:?}: {}",
            all_text(&outcome)
        );
    }
    for text in ["neither", "none of them", "something else", "no"] {
        let replied = all_text(&say(asked.clone(), text));
        assert!(
            replied.contains("What would you like"),
            "{text:?}: {replied}"
        );
    }
}

#[test]
fn a_parent_is_recognised_by_how_they_speak_of_their_child() {
    let parents = [
        "my daughter has been sectioned",
        "my son is on a ward",
        "can i visit my child",
        "my kid was restrained",
        "our son was moved",
        "my 14 year old is in hospital",
        "my 15yo is on a ward",
        "My Daughter's phone was taken",
        "im a parent, can i see the notes",
    ];
    for text in parents {
        let session = ENGINE.fresh_session(NOW);
        let outcome = say(session, text);
        assert_eq!(
            outcome.session.audience,
            Some(Audience::Parent),
            "{text:?}: {}",
            all_text(&outcome)
        );
        assert!(
            all_text(&outcome).contains("I've answered as I would for a parent or carer"),
            "{text:?}"
        );
    }
    for text in [
        "can my mum visit",
        "my dad is not allowed in",
        "my sister is on my ward",
    ] {
        let outcome = say(ENGINE.fresh_session(NOW), text);
        assert_eq!(outcome.session.audience, None, "{text:?}");
    }
}

/// "Does your child agree to staff sharing information about them with you?": "Yes, they
/// agree" / "No, they don't want me told" / "I don't know".
#[test]
fn an_i_dont_know_button_is_picked_by_a_typed_dont_know() {
    let mut session = ENGINE.fresh_session(NOW);
    session.audience = Some(Audience::Parent);
    let step = rightsbot::engine::Action::FlowStep(
        rightsbot::ids::FlowId::parse("parent_information").unwrap(),
        rightsbot::ids::StepId::parse("agree").unwrap(),
    );
    let asked = ENGINE
        .handle(session, Input::Button(step.encode()), NOW)
        .session;
    for (text, next) in [
        ("dunno", "Can you ask my child whether they agree"),
        ("i don't know", "Can you ask my child whether they agree"),
        (
            "yes they do",
            "Then staff can share what your child has agreed to",
        ),
        (
            "no",
            "Can your child decide, and do they not want information shared?",
        ),
        (
            "nope they dont",
            "Can your child decide, and do they not want information shared?",
        ),
    ] {
        let replied = all_text(&say(asked.clone(), text));
        assert!(
            replied.contains(next),
            "{text:?} should lead to {next:?}: {replied}"
        );
    }
}
