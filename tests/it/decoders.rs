//! Property tests for everything that reads untrusted strings: button data (`Action`), start
//! links (`StartLink`) and whole conversations through `Engine::handle`. What is built from
//! valid parts must round-trip; anything at all must be read without a panic; and the engine
//! must always answer and always leave a session that can be stored and read back.

use std::sync::LazyLock;

use proptest::prelude::*;
use rightsbot::content;
use rightsbot::deeplink::{MAX_PAYLOAD_LEN, StartLink};
use rightsbot::engine::{
    Action, Awaiting, Command, Engine, FlowPosition, Input, MAX_ACTION_BYTES, NonTextKind, Session,
};
use rightsbot::ids::{Audience, FlowId, GroupId, LocaleId, MAX_ID_LEN, PageId, StepId, TopicId};

static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
    let content = content::load_embedded().expect("the embedded content loads");
    Engine::new(content)
});

const NOW: u64 = 1_800_000_000;

// ----- valid parts -----

/// A valid id, often of the longest length allowed: long ids are where limits break.
fn id() -> impl Strategy<Value = String> {
    let any_length = format!("[a-z0-9_]{{1,{MAX_ID_LEN}}}");
    let longest = format!("[a-z0-9_]{{{MAX_ID_LEN}}}");
    prop_oneof![
        proptest::string::string_regex(&any_length).unwrap(),
        proptest::string::string_regex(&longest).unwrap(),
    ]
}

fn locale() -> impl Strategy<Value = LocaleId> {
    // Two to eight lower-case letters and dashes, not starting or ending with a dash: `en`,
    // `cy`, `pt-br`.
    "[a-z][a-z-]{0,6}[a-z]".prop_map(|s| LocaleId::parse(&s).expect("a valid locale id"))
}

fn audience() -> impl Strategy<Value = Audience> {
    prop::sample::select(Audience::ALL.to_vec())
}

fn action() -> impl Strategy<Value = Action> {
    let topic = || id().prop_map(|s| TopicId::parse(&s).unwrap());
    prop_oneof![
        Just(Action::Menu),
        id().prop_map(|s| Action::Group(GroupId::parse(&s).unwrap())),
        topic().prop_map(Action::Topic),
        topic().prop_map(Action::More),
        topic().prop_map(Action::Ask),
        id().prop_map(|s| Action::Flow(FlowId::parse(&s).unwrap())),
        (id(), id()).prop_map(|(f, s)| Action::FlowStep(
            FlowId::parse(&f).unwrap(),
            StepId::parse(&s).unwrap()
        )),
        id().prop_map(|s| Action::Page(PageId::parse(&s).unwrap())),
        Just(Action::Helplines),
        Just(Action::ChooseAudience),
        audience().prop_map(Action::SetAudience),
        Just(Action::ChooseLanguage),
        locale().prop_map(Action::SetLocale),
        Just(Action::ForgetConfirm),
        Just(Action::ForgetCancel),
        Just(Action::CrisisNeedHelp),
        Just(Action::CrisisOk),
    ]
}

fn start_link() -> impl Strategy<Value = StartLink> {
    (
        proptest::option::of(id().prop_map(|s| TopicId::parse(&s).unwrap())),
        proptest::option::of(audience()),
        proptest::option::of(locale()),
        proptest::option::of("[A-Za-z0-9_]{1,16}"),
    )
        .prop_map(|(topic, audience, locale, campaign)| StartLink {
            topic,
            audience,
            locale,
            campaign,
        })
        .prop_filter("a link says something", |l| *l != StartLink::default())
}

/// How long the payload of `link` is, worked out apart from `encode`: each part is a key
/// letter, `_` and the value (audiences in their short form), joined by `-`.
fn payload_len(link: &StartLink) -> usize {
    let parts = [
        link.topic.as_ref().map(|t| t.as_str().len()),
        link.audience.map(|a| match a {
            Audience::YoungPerson => 2,
            Audience::Parent => 1,
            Audience::Advocate => 3,
        }),
        link.locale.as_ref().map(|l| l.as_str().len()),
        link.campaign.as_ref().map(String::len),
    ];
    let lens: Vec<usize> = parts.into_iter().flatten().map(|len| len + 2).collect();
    lens.iter().sum::<usize>() + lens.len() - 1
}

// ----- hostile text -----

/// Characters that have broken chat bots: controls, zero-width and direction marks, the
/// byte-order mark, combining marks, surrogate-adjacent and private-use code points, emoji
/// with joiners, homoglyphs, and markup that could be echoed back.
const ODD: &[&str] = &[
    "\u{0}",
    "\u{7}",
    "\u{8}",
    "\t",
    "\n",
    "\r",
    "\u{1b}[31m",
    "\u{7f}",
    "\u{85}",
    "\u{200b}",
    "\u{200c}",
    "\u{200d}",
    "\u{200e}",
    "\u{200f}",
    "\u{202a}",
    "\u{202b}",
    "\u{202e}",
    "\u{2066}",
    "\u{2067}",
    "\u{2069}",
    "\u{2028}",
    "\u{2029}",
    "\u{feff}",
    "\u{fffd}",
    "\u{301}",
    "\u{20dd}",
    "\u{e000}",
    "\u{10ffff}",
    "\u{d7ff}",
    "\u{1f600}",
    "\u{1f469}\u{200d}\u{1f467}",
    "\u{130}",
    "\u{3a3}",
    "\u{1e9e}",
    "\u{fb03}",
    "\u{430}",
    "\u{456}",
    "\u{ff56}",
    "\u{1d5c1}",
    "<b>",
    "</i>",
    "<script>alert(1)</script>",
    "&amp;",
    "&",
    "\"",
    "'",
    "/",
    "@",
    "*_`[]()",
    "\u{0627}\u{0644}",
    "\u{5e9}",
    " ",
    "  ",
];

/// Words the matcher listens for, so hostile text also lands on real topics and crisis
/// phrases, not only on the fallback.
const WORDS: &[&str] = &[
    "visiting",
    "visit",
    "phone",
    "section",
    "sectioned",
    "rights",
    "restraint",
    "medication",
    "complain",
    "advocate",
    "leave",
    "discharge",
    "parent",
    "mum",
    "help",
    "hi",
    "thanks",
    "kill",
    "myself",
    "hurt",
    "killing me",
    "want to die",
    "abuse",
    "start",
    "menu",
    "/start",
    "/forget",
    "/mydata",
    "t_visiting",
];

fn odd_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(ODD).prop_map(str::to_owned),
        prop::sample::select(WORDS).prop_map(str::to_owned),
        any::<char>().prop_map(String::from),
        "[ -~]{0,12}",
    ];
    prop_oneof![
        // Anything at all, including unpaired combining marks and every control character.
        any::<String>(),
        prop::collection::vec(piece, 0..40).prop_map(|v| v.join("")),
        prop::collection::vec(prop::sample::select(WORDS), 0..12).prop_map(|v| v.join(" ")),
        // Telegram's longest message, and just past it, of one character or of words.
        (any::<char>(), 4090usize..4100).prop_map(|(c, n)| std::iter::repeat_n(c, n).collect()),
        (prop::sample::select(WORDS), 0usize..3).prop_map(|(w, extra)| {
            let mut s = format!("{w} ").repeat(4096);
            s.truncate(4096 + extra);
            s
        }),
        Just("a".repeat(500)),
    ]
}

/// Button data: anything, data shaped like ours, and real buttons for the embedded content
/// (so presses reach topics, flows and steps, not only "out of date").
fn button_data() -> impl Strategy<Value = String> {
    let content = ENGINE.content();
    let topics: Vec<String> = content.topics.keys().map(|t| t.to_string()).collect();
    let steps: Vec<String> = content
        .flows
        .values()
        .flat_map(|f| f.steps.keys().map(move |s| format!("{}:{s}", f.id)))
        .collect();
    let flows: Vec<String> = content.flows.keys().map(|f| f.to_string()).collect();
    let groups: Vec<String> = content
        .menus
        .values()
        .flatten()
        .map(|g| g.id.to_string())
        .collect();
    prop_oneof![
        any::<String>(),
        "[0-9]:[a-z]{0,3}(:[a-z0-9_:-]{0,70})?",
        action().prop_map(|a| a.encode()),
        prop::sample::select(topics.clone()).prop_map(|t| format!("1:t:{t}")),
        prop::sample::select(topics.clone()).prop_map(|t| format!("1:tm:{t}")),
        prop::sample::select(topics).prop_map(|t| format!("1:ta:{t}")),
        prop::sample::select(flows).prop_map(|f| format!("1:f:{f}")),
        prop::sample::select(steps).prop_map(|s| format!("1:fs:{s}")),
        prop::sample::select(groups).prop_map(|g| format!("1:g:{g}")),
        prop::sample::select(vec![
            "1:fy",
            "1:fn",
            "1:ch",
            "1:co",
            "1:h",
            "1:p:about",
            "1:l:en"
        ])
        .prop_map(str::to_owned),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        Just(Command::Start(None)),
        any::<String>().prop_map(|s| Command::Start(Some(s))),
        start_link()
            .prop_filter_map("fits a payload", |l| l.encode())
            .prop_map(|p| Command::Start(Some(p))),
        Just(Command::Start(Some(
            "t_visiting-a_parent-l_en-c_ward7".to_owned()
        ))),
        Just(Command::Menu),
        Just(Command::Help),
        Just(Command::About),
        Just(Command::Privacy),
        Just(Command::MyData),
        Just(Command::Forget),
        Just(Command::Language),
        Just(Command::Audience),
    ]
}

fn non_text() -> impl Strategy<Value = NonTextKind> {
    prop::sample::select(vec![
        NonTextKind::Sticker,
        NonTextKind::Photo,
        NonTextKind::Voice,
        NonTextKind::Video,
        NonTextKind::Document,
        NonTextKind::Location,
        NonTextKind::Contact,
        NonTextKind::Poll,
        NonTextKind::Other,
    ])
}

/// What the engine is handed: free text, a typed line read as the shells read it (so
/// `/start <anything>` and `/forget@somebot` arrive as commands), button data, commands, and
/// messages that are not text. `Press` stands for tapping one of the buttons just shown.
#[derive(Clone, Debug)]
enum Step {
    Given(Input),
    Press(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => odd_text().prop_map(|t| Step::Given(Input::Text(t))),
        1 => odd_text().prop_map(|t| Step::Given(Input::from_text(&format!("/{t}")))),
        2 => button_data().prop_map(|d| Step::Given(Input::Button(d))),
        1 => command().prop_map(|c| Step::Given(Input::Command(c))),
        1 => non_text().prop_map(|k| Step::Given(Input::NonText(k))),
        3 => any::<usize>().prop_map(Step::Press),
    ]
}

/// Where a conversation may start: afresh, or from a stored session that older content or
/// an older release left behind (an unknown locale or flow, a crisis still active, a pending
/// "forget me").
fn start_session() -> impl Strategy<Value = Session> {
    let flows: Vec<FlowPosition> = ENGINE
        .content()
        .flows
        .values()
        .flat_map(|f| {
            f.steps.keys().map(|s| FlowPosition {
                flow: f.id.clone(),
                step: s.clone(),
            })
        })
        .chain([FlowPosition {
            flow: FlowId::parse("gone").unwrap(),
            step: StepId::parse("gone").unwrap(),
        }])
        .collect();
    prop_oneof![
        Just(ENGINE.fresh_session(NOW)),
        (
            proptest::option::of(audience()),
            prop_oneof![Just(LocaleId::parse("en").unwrap()), locale()],
            proptest::option::of(prop::sample::select(flows)),
            any::<u8>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(audience, locale, flow, crisis, disclaimer, forget)| Session {
                    audience,
                    locale,
                    flow,
                    crisis_turns_left: crisis,
                    disclaimer_shown: disclaimer,
                    awaiting: forget.then_some(Awaiting::ForgetConfirm),
                    ..ENGINE.fresh_session(NOW - 60)
                }
            ),
    ]
}

// ----- properties -----

proptest! {
    #[test]
    fn every_action_that_fits_callback_data_decodes_to_itself(action in action()) {
        // Only a flow step names two ids, and two of the longest would not fit in 64 bytes:
        // `rightsbot check` refuses such a flow, and the decoder refuses such data.
        let data = action.encode();
        if data.len() <= MAX_ACTION_BYTES {
            prop_assert_eq!(Action::decode(&data), Some(action));
        } else {
            prop_assert!(matches!(action, Action::FlowStep(..)), "{data:?} is {} bytes", data.len());
            prop_assert_eq!(Action::decode(&data), None);
        }
    }

    #[test]
    fn any_button_data_decodes_without_panic_and_only_in_our_spelling(
        data in prop_oneof![any::<String>(), "1:[a-z]{0,3}(:[a-zA-Z0-9_:-]{0,70})?"]
    ) {
        // Whatever decodes must be exactly how we would have written it: forged data that
        // differs by a byte is refused, not read as something near it.
        if let Some(action) = Action::decode(&data) {
            prop_assert_eq!(action.encode(), data);
        }
    }

    #[test]
    fn every_start_link_encodes_to_a_payload_that_parses_back(link in start_link()) {
        match link.encode() {
            Some(payload) => {
                prop_assert!(!payload.is_empty() && payload.len() <= MAX_PAYLOAD_LEN);
                prop_assert!(
                    payload.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                    "{payload:?}"
                );
                prop_assert_eq!(StartLink::parse(&payload), Some(link));
            }
            // Only a link too long for Telegram may fail to encode.
            None => prop_assert!(payload_len(&link) > MAX_PAYLOAD_LEN, "{link:?}"),
        }
    }

    #[test]
    fn any_payload_parses_without_panic_and_what_parses_round_trips(
        payload in prop_oneof![
            any::<String>(),
            "[tacl]_[A-Za-z0-9_]{0,20}(-[tacl]_[A-Za-z0-9_-]{0,20}){0,4}",
        ]
    ) {
        if let Some(link) = StartLink::parse(&payload) {
            let encoded = link.encode();
            prop_assert!(encoded.is_some(), "{link:?} read from {payload:?} does not encode");
            prop_assert_eq!(StartLink::parse(&encoded.unwrap()), Some(link));
        }
    }

    #[test]
    fn the_engine_always_answers_and_keeps_a_storable_session(
        start in start_session(),
        steps in prop::collection::vec(step(), 1..12),
    ) {
        let mut session = start;
        let mut shown: Vec<Action> = Vec::new();
        for (turn, step) in steps.into_iter().enumerate() {
            let input = match step {
                Step::Given(input) => input,
                Step::Press(_) if shown.is_empty() => Input::Text(String::new()),
                Step::Press(n) => Input::Button(shown[n % shown.len()].encode()),
            };
            let outcome = ENGINE.handle(session, input.clone(), NOW + turn as u64);
            prop_assert!(!outcome.replies.is_empty(), "no reply to {input:?}");
            for reply in &outcome.replies {
                prop_assert!(!reply.text.trim().is_empty(), "an empty reply to {input:?}");
                for button in reply.buttons.iter().flatten() {
                    let data = button.action.encode();
                    prop_assert!(data.len() <= MAX_ACTION_BYTES, "{data:?}");
                    prop_assert_eq!(Action::decode(&data), Some(button.action.clone()));
                }
            }
            let record = outcome.session.to_record();
            prop_assert_eq!(Session::from_record(&record), Some(outcome.session.clone()));
            shown = outcome
                .replies
                .iter()
                .flat_map(|r| r.buttons.iter().flatten().map(|b| b.action.clone()))
                .collect();
            session = outcome.session;
        }
    }
}
