//! Speed of understanding one message: crisis check + normalise + score + decide, with the
//! full built-in catalogue. Target (issue 4): median <= 20 us, p99 <= 100 us on a 2-core
//! machine.
//!
//! Run: `cargo bench --bench matcher`. Criterion measures a typical message, a typo-heavy one
//! and a long one; then a plain loop times every message of a varied set one by one, many
//! rounds, and prints the median and 99th percentile per message (criterion reports means
//! and medians of batches, not tail latency).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use rightsbot::matcher::Matcher;

/// A varied set: plain questions, typos and text-speak, parents' longer questions, crisis
/// messages, out-of-scope messages, smalltalk, emoji and non-Latin text, and one very long
/// message. Written for the benchmark, not taken from any evaluation set.
const MESSAGES: &[&str] = &[
    "can my nan come and see me on saturday",
    "they took my fone and wont give it back",
    "r staff alowed to restrain u",
    "wat happens at a tribunel",
    "My 15 year old has been sectioned under section 3. Can I ask for a second opinion?",
    "why am i on 2:1 obs all the time",
    "i want to complain about a nurse",
    "can they search my room without asking",
    "is it ok that everyone has to go to bed at 9",
    "i feel like nobody listens to me at ward round",
    "i want to kms",
    "this ward is killing me",
    "my son said he wants to end it all",
    "what is the weather in leeds",
    "hi",
    "thank u sooooo much!!!",
    "what can you do",
    "😡😡😡 they took my stuff 😡",
    "можно мне позвонить маме",
    "Ｃａｎ ｉ ｓｅｅ ｍｙ ｎｏｔｅｓ",
    "I have been on this ward for three months now and I still do not know whether I am \
     sectioned or not, nobody has explained anything to me, my mum keeps asking the nurses \
     and they just say the doctor will talk to her at the next ward round but that never \
     happens, and I am starting to think I will never get home. What are my rights here?",
];

fn criterion_benches(c: &mut Criterion, matcher: &Matcher, locale: &rightsbot::ids::LocaleId) {
    c.bench_function("analyse: typical message", |b| {
        b.iter(|| matcher.analyse(locale, black_box("can they take my phone off me")))
    });
    c.bench_function("analyse: typos and text-speak", |b| {
        b.iter(|| {
            matcher.analyse(
                locale,
                black_box("r they alowed to tak my fone n my chargr"),
            )
        })
    });
    c.bench_function("analyse: long message", |b| {
        b.iter(|| matcher.analyse(locale, black_box(MESSAGES[MESSAGES.len() - 1])))
    });
}

/// Times each message alone, `rounds` times over, and prints the median and p99.
fn percentiles(matcher: &Matcher, locale: &rightsbot::ids::LocaleId, rounds: usize) {
    let mut times: Vec<Duration> = Vec::with_capacity(MESSAGES.len() * rounds);
    for _ in 0..rounds {
        for m in MESSAGES {
            let start = Instant::now();
            black_box(matcher.analyse(locale, black_box(m)));
            times.push(start.elapsed());
        }
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "\nper message over {} messages x {rounds} rounds: median {:.1} us, p90 {:.1} us, \
         p99 {:.1} us, max {:.1} us",
        MESSAGES.len(),
        at(0.5).as_secs_f64() * 1e6,
        at(0.9).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        at(1.0).as_secs_f64() * 1e6,
    );
}

fn main() {
    let content = rightsbot::content::load_embedded().expect("the built-in content is valid");
    let started = Instant::now();
    let matcher = Matcher::new(&content);
    println!(
        "building the matcher (all indexes): {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    let locale = content.default_locale.clone();
    let mut criterion = Criterion::default().configure_from_args();
    criterion_benches(&mut criterion, &matcher, &locale);
    criterion.final_summary();
    percentiles(&matcher, &locale, 2000);
}
