//! The semantic layer: the shipped model is the real one (its vectors match an independent
//! numpy implementation), the precomputed vectors are fresh, and meaning finds what words
//! alone miss: danger said without a crisis word, in every kind the crisis examples cover, and
//! questions asked in words no trigger uses. The messages here are written for these tests and
//! are in no phrasings or examples file (a test checks that too).

use std::sync::OnceLock;

use rightsbot::content::{self, Content};
use rightsbot::embedder::{Embedder, similarity};
use rightsbot::ids::LocaleId;
use rightsbot::matcher::{CrisisSignal, Decision, Matcher, Target};

fn content() -> &'static Content {
    static CONTENT: OnceLock<Content> = OnceLock::new();
    CONTENT.get_or_init(|| content::load_embedded().expect("built-in content is valid"))
}

fn matcher() -> &'static Matcher {
    static MATCHER: OnceLock<Matcher> = OnceLock::new();
    MATCHER.get_or_init(|| Matcher::new(content()))
}

fn en() -> LocaleId {
    LocaleId::parse("en").expect("valid locale")
}

fn english_model() -> &'static content::ModelFiles {
    content().locales[&en()]
        .model
        .as_ref()
        .expect("English ships a model")
}

#[test]
fn the_shipped_model_gives_the_reference_vectors() {
    let reference: serde_json::Value =
        serde_json::from_str(include_str!("../reference/minilm_vectors.json"))
            .expect("reference vectors are JSON");
    let model = english_model();
    let embedder = Embedder::new(&model.weights, &model.tokenizer, &model.config).expect("loads");
    let cases = reference["vectors"].as_array().expect("a list");
    assert!(cases.len() >= 5);
    let texts: Vec<&str> = cases.iter().map(|c| c["text"].as_str().unwrap()).collect();
    let ours = embedder.embed(&texts).expect("embeds");
    for (case, got) in cases.iter().zip(&ours) {
        let want: Vec<f32> = case["vector"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(got.len(), want.len());
        // The shipped weights are half precision; the reference ran the f32 weights.
        let cos = similarity(got, &want);
        assert!(
            cos > 0.999,
            "{:?}: cosine {cos} with the reference",
            case["text"]
        );
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(
            worst < 0.01,
            "{:?}: a component is {worst} off",
            case["text"]
        );
    }
}

#[test]
fn the_shipped_weights_are_the_ones_the_model_readme_names() {
    let readme = include_str!("../../locales/en/model/README.md");
    let bytes = english_model().weights.bytes();
    let digest = sha256_hex(bytes);
    assert!(
        readme.contains(&digest),
        "locales/en/model/README.md does not record the shipped model's SHA-256 {digest}"
    );
}

/// SHA-256, written out here so the test needs no extra crate (FIPS 180-4).
fn sha256_hex(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut message = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend(bits.to_be_bytes());
    for block in message.chunks(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

#[test]
fn sha256_is_the_standard_one() {
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

/// Texts are packed into one pass, each group of like length padded only for attention: a
/// text's vector must be the one it gets alone, whatever it is read beside (a longer paragraph,
/// a single word, texts of its own length, far longer ones in another group).
#[test]
fn a_text_has_the_same_vector_whatever_it_is_read_beside() {
    let model = english_model();
    let embedder = Embedder::new(&model.weights, &model.tokenizer, &model.config).expect("loads");
    let texts = [
        "can my nan visit",
        "hi",
        "my daughter has been on the unit for three weeks and nobody has told us what section she          is on or whether she can have leave at the weekend, who do we ask",
        "is it ok that they took my charger",
        "",
        "what does a second opinion doctor do and can i ask for one myself or does my mum have to          ask for me because im only fourteen and they never listen to me in ward round",
        "ok",
    ];
    let together = embedder.embed(&texts).expect("embeds");
    let reversed: Vec<&str> = texts.iter().rev().copied().collect();
    let backwards = embedder.embed(&reversed).expect("embeds");
    for (i, text) in texts.iter().enumerate() {
        let alone = embedder.embed(&[text]).expect("embeds");
        for (read, how) in [
            (&together[i], "among the others"),
            (&backwards[texts.len() - 1 - i], "in reverse order"),
        ] {
            let worst = read
                .iter()
                .zip(&alone[0])
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(
                worst < 1e-5,
                "{text:?} read {how} is {worst} off its vector alone"
            );
        }
    }
}

#[test]
fn one_pass_gives_each_text_its_own_vector_and_each_span_one_read_in_context() {
    let model = english_model();
    let embedder = Embedder::new(&model.weights, &model.tokenizer, &model.config).expect("loads");
    let text = "my mum cant visit on sunday can she come on monday instead";
    let first = 0..text.find(" can").unwrap();
    let second = text.find("can she").unwrap()..text.len();
    let spans = [first.clone(), second.clone()];
    // Read beside a longer text, so this one is padded in the pass: padding must change nothing.
    let longer = "we were told visits are only at weekends and only for an hour, is that a rule for \
                  everyone or just for her";
    let read = embedder
        .embed_spans(&[(text, &spans), (longer, &[])])
        .expect("embeds")
        .expect("short texts fit in one pass");
    let alone = embedder
        .embed(&[text, &text[first], &text[second], longer])
        .expect("embeds");
    assert_eq!(read.len(), 2);
    let one_pass = &read[0];
    assert_eq!(one_pass.len(), 3);
    assert!(
        similarity(&one_pass[0], &alone[0]) > 0.9999,
        "the whole is read as before, padding and all"
    );
    assert!(similarity(&read[1][0], &alone[3]) > 0.9999);
    for (in_context, by_itself) in one_pass[1..].iter().zip(&alone[1..3]) {
        let norm = similarity(in_context, in_context).sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "a unit vector, not {norm}");
        let cos = similarity(in_context, by_itself);
        assert!(
            (0.5..0.999).contains(&cos),
            "a span in context is near, not equal, to the span alone: cosine {cos}"
        );
    }
    let no_token = 3..3;
    assert!(
        embedder
            .embed_spans(&[(text, std::slice::from_ref(&no_token))])
            .expect("embeds")
            .is_none(),
        "a span with no token"
    );
    let long = "they took my phone again and i want it back. ".repeat(40);
    assert!(
        embedder
            .embed_spans(&[(long.as_str(), &[])])
            .expect("embeds")
            .is_none(),
        "a text longer than one pass"
    );
}

#[test]
fn a_short_message_is_read_in_one_pass_yet_a_sentence_that_says_danger_is_read_alone_too() {
    // Each had the check question while every sentence was read only on its own: a danger
    // word told as over, or a figure of speech in a message that says it is over.
    for text in [
        "i took an overdose three years ago, thats how i ended up with camhs. doing loads \
         better these days tho",
        "they held me down and gave me an injection yesterday, felt like they were killing \
         me. is that allowed? im ok now just really angry",
    ] {
        assert_signal(text, CrisisSignal::None);
    }
    // Read in one pass this sounds calm (risk 0.19); its second sentence alone does not.
    let text = "slept properly for the first time in weeks. made my decision and i feel so much \
                lighter";
    assert_some_alarm(text);
}

#[test]
fn learnt_messages_teach_topics_but_leave_the_risk_reading_as_it_was() {
    let locale = &content().locales[&en()];
    let learnt = locale.phrasings.iter().filter(|p| p.learnt).count();
    assert!(learnt > 1000, "only {learnt} learnt messages");
    assert!(
        locale
            .phrasings
            .iter()
            .filter(|p| p.learnt)
            .all(|p| p.id.starts_with("learnt/")),
        "a trace must tell a learnt message from a phrasing"
    );
    let vectors = locale.vectors.as_ref().expect("fresh vectors");
    // The risk head is exactly the one fitted as if no message had been learnt.
    let mut without = locale.clone();
    without.phrasings.retain(|p| !p.learnt);
    let before = rightsbot::matcher::semantic::train_heads(&without, vectors, &|_| false);
    // Bit for bit on the machine that ran `embed`; another CPU may add up in another order (the
    // matrix kernels are picked at run time), so the weights are held to float noise: a weight
    // moved 0.00005 on another machine, where fitting the risk head with the learnt messages
    // moved one by 2.7.
    assert_eq!(vectors.risk_head.classes, before.risk.classes);
    let moved = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    };
    let noise = moved(&vectors.risk_head.weights, &before.risk.weights)
        .max(moved(&vectors.risk_head.bias, &before.risk.bias));
    assert!(
        noise < 1e-3,
        "the risk head learnt from learnt messages (a weight moved {noise})"
    );
    assert!(
        vectors.meaning_head != vectors.risk_head,
        "the meaning head did not learn from them"
    );
}

#[test]
fn the_built_in_content_has_fresh_vectors_and_uses_them() {
    let locale = &content().locales[&en()];
    assert!(
        locale.vectors.is_some(),
        "the vectors are stale: run rightsbot embed"
    );
    assert!(matcher().has_semantic(&en()));
}

/// Danger said without a crisis word, one message per kind of the crisis examples, written for
/// this test: each must bring the crisis reply or the gentle check question.
const DANGER_UNSAID: &[(&str, &str)] = &[
    (
        "plan_timing",
        "sorted out when im doing it. after the night staff do their 2am round",
    ),
    (
        "means",
        "nobody knows about the bit of glass i kept from the broken mirror",
    ),
    (
        "goodbye",
        "gave my hoodie to jess and wrote letters for everyone. tell mum im sorry",
    ),
    (
        "sudden_calm",
        "honestly i feel calm for the first time in ages now i know how this ends",
    ),
    (
        "self_harm_now",
        "i did it again in the toilets and theres a lot of blood this time",
    ),
    (
        "harm_by_staff",
        "the night nurse grabs my wrists really hard when nobody else is around",
    ),
    (
        "harm_by_patient",
        "the boy in room 4 said hell get me tonight when the staff swap over",
    ),
    (
        "danger_home_leave",
        "if i go home on leave this weekend my stepdad will be there and last time he hit me",
    ),
    (
        "exploitation",
        "a guy i met online says if i dont send more pics hell post the others",
    ),
    (
        "running_away",
        "im getting out when the door opens at visiting and going to the train tracks",
    ),
    (
        "harming_others",
        "i keep thinking about stabbing my roommate with a pencil and i dont think i can stop",
    ),
    (
        "command_voices",
        "the voices are telling me to hurt myself and theyre getting louder",
    ),
    (
        "medical_danger",
        "havent eaten or drunk anything for four days and i keep blacking out",
    ),
    (
        "reporter_now",
        "my son just rang me from the ward saying goodbye and now he wont answer",
    ),
    (
        "friend_in_danger",
        "my friend on the ward told me shes going to do it tonight and made me promise not to tell",
    ),
    (
        "disclosure_fear",
        "if i tell anyone what he does to me hell hurt my little sister",
    ),
];

#[test]
fn danger_said_without_a_crisis_word_is_heard_in_every_kind() {
    let examples = &content().locales[&en()].risk_examples;
    let mut missed = Vec::new();
    for (kind, text) in DANGER_UNSAID {
        assert!(
            examples.iter().any(|e| e.kind == *kind),
            "no crisis examples of the kind {kind}"
        );
        assert!(
            !examples.iter().any(|e| e.text == *text),
            "{text:?} is a training example: write a new one"
        );
        let a = matcher().analyse(&en(), text);
        if a.crisis == CrisisSignal::None {
            missed.push(format!("{kind}: {text:?} (risk {:.2})", a.evidence.risk));
        }
    }
    assert!(missed.is_empty(), "missed:\n{}", missed.join("\n"));
}

#[test]
fn harm_by_staff_or_another_patient_brings_the_abuse_helplines() {
    for text in [
        "one of the healthcare assistants hurts me when she does my obs at night",
        "a lad on the ward keeps cornering me in the corridor and touching me",
        "the girl in the next room says shes going to stab me with a pen tonight",
    ] {
        match matcher().analyse(&en(), text).crisis {
            CrisisSignal::Clear { abuse: true, .. } => {}
            other => panic!("{text:?}: {other:?}, not the abuse route"),
        }
    }
}

#[test]
fn emotional_but_safe_messages_do_not_get_the_crisis_reply() {
    for text in [
        "my mum is going to kill me when she sees the state of my room lol",
        "i used to self harm but ive been clean for over a year now",
        "what does ligature risk mean on my care plan",
        "can i have my phone charger back, i need to ring my nan",
    ] {
        let a = matcher().analyse(&en(), text);
        assert!(
            !matches!(a.crisis, CrisisSignal::Clear { .. }),
            "{text:?} got the full crisis reply (risk {:.2})",
            a.evidence.risk
        );
    }
}

/// `text` gets `expected` from the crisis check; a failure shows the classifier's risk.
fn assert_signal(text: &str, expected: CrisisSignal) {
    let a = matcher().analyse(&en(), text);
    assert_eq!(a.crisis, expected, "{text:?} (risk {:.2})", a.evidence.risk);
}

/// `text` gets the check question or the crisis reply; a failure shows the classifier's risk.
fn assert_some_alarm(text: &str) {
    let a = matcher().analyse(&en(), text);
    assert_ne!(
        a.crisis,
        CrisisSignal::None,
        "{text:?} (risk {:.2})",
        a.evidence.risk
    );
}

fn assert_full_reply(text: &str) {
    let a = matcher().analyse(&en(), text);
    assert!(
        matches!(a.crisis, CrisisSignal::Clear { .. }),
        "{text:?}: {:?} (risk {:.2})",
        a.crisis,
        a.evidence.risk
    );
}

#[test]
fn a_danger_only_named_or_long_past_raises_no_alarm() {
    for text in [
        "is suicide watch the same as being on 1 to 1 obs",
        "why does the ward have a rule about ligatures in the bathrooms",
        "i took an overdose two years ago but im fine now, can i go on leave",
        // One letter from "choking" and "strangle", and words of their own.
        "can i join the cooking group on saturday",
        "it was strange seeing my old school on leave",
    ] {
        assert_signal(text, CrisisSignal::None);
    }
}

#[test]
fn a_statement_of_present_intent_keeps_the_full_reply_whatever_else_is_said() {
    for text in [
        "i used to be fine but now i want to die",
        "i tried to kill myself last year and i still want to",
        "im feeling really suicidel",
        "lol i want to die",
    ] {
        assert_full_reply(text);
    }
}

/// Crisis words asked about are not a crisis told: the gentle question, not the full reply;
/// the same words meant keep it.
#[test]
fn crisis_words_asked_about_get_the_gentle_question_not_the_full_reply() {
    for text in [
        "what does suicidal mean on my care plan",
        "what does it mean when they say you are suicidal",
    ] {
        assert_signal(text, CrisisSignal::Ambiguous);
    }
    let meant = matcher().analyse(&en(), "i want to kill myself, you know what i mean");
    assert!(matches!(meant.crisis, CrisisSignal::Clear { .. }));
    // A word asked about does not take back what the writer says of themselves beside it,
    // though the classifier, reading so short a message in one pass, heard the first as calm.
    for text in [
        "what does suicidal mean, i want to kill myself",
        "what does ligature mean? honestly i want to die",
    ] {
        assert_full_reply(text);
    }
    // Asked about others' words, about what others think, or about what a ward does for
    // anyone in danger, it still asks gently.
    for text in [
        "the notes say SH and suicidal ideation, can someone explain these in plain english",
        "what does high risk to self mean, do they think im gonna kill myself or something",
        "what do staff do if someone feels suicidal at night? my son is settled, I just wonder",
    ] {
        assert_signal(text, CrisisSignal::Ambiguous);
    }
}

/// "I don't want to hurt myself anymore" says the opposite of intent: the gentle question, not
/// the full reply, and never silence. A "not" that is doubted, cannot be promised or invites
/// ("why not") keeps the full reply.
#[test]
fn a_crisis_phrase_said_with_a_not_gets_the_gentle_question_unless_the_not_is_doubted() {
    for text in [
        "i dont want to hurt myself anymore. can i have my leave back now",
        "my discharge letter says no current suicidal ideation, will that help me at my tribunal",
        "im never going to hurt myself again, 4 months now, proud of me",
        // "no one" and "nobody" deny as "not" does.
        "theres loads of fights on the ward and im scared even tho no one has hurt me",
    ] {
        assert_signal(text, CrisisSignal::Ambiguous);
    }
    for text in [
        "i cant promise i wont hurt myself tonight",
        "im not sure i wont kill myself",
        "why not just end it all",
        "no. i want to die",
        "if they let me go home i would not have to kill myself",
    ] {
        assert_full_reply(text);
    }
}

/// A story of recovery is not met with an alarm; the same words said of now still are (see
/// the test above).
#[test]
fn a_crisis_phrase_told_as_long_past_in_a_calm_message_raises_no_alarm() {
    for text in [
        "I tried to end my life last year and I'm genuinely fine now",
        "i used to want to die every day and now im planning my 16th birthday party",
        // Time since the last time, in weeks or months (blind-80: the full reply).
        "nearly 3 months since i last hurt myself and theyre talking about discharge in a few \
         weeks!! what support do i get when i go home",
        "its been 6 months since i last self harmed, can i have my razor back for shaving my legs?",
        // A coping skill used instead of harm, and weeks or months without it (blind-82 and
        // -83: each asked "are you safe?").
        "im using my playlist instead of hurting myself and its going ok. who decides about my leave",
        "two months without cutting!! my nurse thinks i could have weekend leave soon, who decides that",
        "been squeezing ice instead of harming and honestly it helps. can i ask for my obs to go down",
    ] {
        assert_signal(text, CrisisSignal::None);
    }
    // Beside a word of now, or for days, the same words keep their alarm.
    for text in [
        "i was doing it instead of hurting myself but tonight nothing works and i want to die",
        "i cant go 2 days without hurting myself, its getting worse",
        "3 weeks without cutting and i cut myself again just now, theres blood everywhere",
    ] {
        assert_some_alarm(text);
    }
}

#[test]
fn meaning_finds_topics_in_words_no_trigger_uses() {
    for (text, topic) in [
        (
            "my mam cant come in to see me cos of some new rule, is that even allowed",
            "visiting",
        ),
        (
            "the teacher lady on the unit says i dont have to do my gcse mocks here",
            "education",
        ),
        (
            "they want to put a tube up my nose to feed me",
            "eating_disorders",
        ),
    ] {
        let a = matcher().analyse(&en(), text);
        let offered = a.decision.offered();
        assert!(
            offered
                .iter()
                .any(|t| matches!(t, Target::Topic(id) if id.as_str() == topic)),
            "{text:?}: {:?}",
            a.decision
        );
    }
}

/// "Good morning" or "Please help" at the top of a paragraph is how people write, not what
/// they ask: the paragraph gets its answer, not a greeting back or the help page.
#[test]
fn a_paragraph_that_opens_with_a_greeting_is_read_for_its_question() {
    for (text, topics) in [
        (
            "Good morning. I am writing about my granddaughter, who is fifteen and was admitted \
             to the adolescent unit on Friday. Her mother and I would like to visit her at the \
             weekend. Are grandparents allowed to visit?",
            &["visiting"][..],
        ),
        (
            "Please help. My daughter is on the ward since Monday and nobody explain me what \
             medicine they give her. I am her mother. Who can tell me?",
            &[
                "parent_information",
                "information_for_parents",
                "medication",
            ][..],
        ),
    ] {
        let a = matcher().analyse(&en(), text);
        assert!(
            !matches!(a.decision, Decision::Smalltalk { .. } | Decision::Help),
            "{text:?}: {:?}",
            a.decision
        );
        assert!(
            a.decision
                .offered()
                .iter()
                .any(|t| topics.contains(&t.id())),
            "{text:?}: {:?}",
            a.decision
        );
    }
    // A long question about the bot itself is still the help page.
    let a = matcher().analyse(
        &en(),
        "sorry im new to this, what sort of things are you able to tell me about",
    );
    assert_eq!(a.decision, Decision::Help);
}

#[test]
fn a_long_message_is_read_for_its_question_and_its_danger() {
    let question = "Hello, sorry this is long. My daughter is 15 and has been on the ward for a \
                    month. We live two hours away and I work shifts, so I can only get there at \
                    weekends, and the ward says visiting is only in the afternoons. Can they \
                    change the visiting times for us?";
    let a = matcher().analyse(&en(), question);
    let offered = a.decision.offered();
    assert!(
        offered
            .iter()
            .any(|t| t.id() == "visiting" || t.id() == "far_from_home"),
        "{:?}",
        a.decision
    );
    let mut buried = "they took my phone again and its so unfair, i want to know if they are \
                      allowed to do that because its my only way to talk to my mum. "
        .repeat(26);
    buried.push_str("anyway i wont need it after tonight, ive got everything ready");
    assert!(buried.chars().count() > 3000);
    let a = matcher().analyse(&en(), &buried);
    assert_ne!(
        a.crisis,
        CrisisSignal::None,
        "the danger at the end was missed"
    );
}

#[test]
fn an_emoji_that_shows_distress_gets_a_kind_question_not_a_cold_fallback() {
    for text in ["😢", "😭😭😭", "💔 💔", "🆘"] {
        assert_eq!(
            matcher().analyse(&en(), text).crisis,
            CrisisSignal::Ambiguous,
            "{text:?}"
        );
    }
    for text in ["🙂", "👍👍", "😂"] {
        assert_eq!(
            matcher().analyse(&en(), text).crisis,
            CrisisSignal::None,
            "{text:?}"
        );
    }
}
