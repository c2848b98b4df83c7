//! Speed of understanding one message, with the full built-in catalogue and model. Targets on
//! a 2-core machine (issue 10): the whole `analyse` (crisis phrases, words, meaning, crisis
//! classifier, decision) median <= 15 ms and p99 <= 60 ms over a varied set; a 4,096-character
//! message read whole <= 1 s; loading the content and building the matcher (the start-up before
//! serving) <= 1 s; resident memory after that <= 200 MiB; and the words alone (no model) as
//! fast as before, about 10 us.
//!
//! Run: `cargo bench --bench matcher`. Criterion measures the words-only matcher on a typical
//! message, a typo-heavy one and a long one; plain loops then time every message of a varied
//! set one by one and print the median and 99th percentile per message (criterion reports
//! means and medians of batches, not tail latency).

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
    c.bench_function("words only: typical message", |b| {
        b.iter(|| matcher.analyse_afresh(locale, black_box("can they take my phone off me")))
    });
    c.bench_function("words only: typos and text-speak", |b| {
        b.iter(|| {
            matcher.analyse_afresh(
                locale,
                black_box("r they alowed to tak my fone n my chargr"),
            )
        })
    });
    c.bench_function("words only: long message", |b| {
        b.iter(|| matcher.analyse_afresh(locale, black_box(MESSAGES[MESSAGES.len() - 1])))
    });
}

/// Messages written by people who never saw the bot, in the voices of its users (blind rounds
/// 14 and 15 of the evaluation): their lengths are what a realistic mix looks like, a long
/// paragraph about one message in twenty, where the varied set above has one in 21 far longer
/// than most.
fn written_by_users() -> Vec<&'static str> {
    [
        include_str!("../tests/eval/blind-14.tsv"),
        include_str!("../tests/eval/blind-15.tsv"),
    ]
    .iter()
    .flat_map(|file| file.lines().skip(1))
    .filter_map(|line| line.split('\t').nth(3))
    .collect()
}

/// Times each message alone, `rounds` times over, and prints the median and p99.
fn percentiles(
    name: &str,
    messages: &[&str],
    matcher: &Matcher,
    locale: &rightsbot::ids::LocaleId,
    rounds: usize,
) {
    let mut times: Vec<Duration> = Vec::with_capacity(messages.len() * rounds);
    for _ in 0..rounds {
        for m in messages {
            let start = Instant::now();
            black_box(matcher.analyse_afresh(locale, black_box(m)));
            times.push(start.elapsed());
        }
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "\n{name}, per message over {} messages x {rounds} rounds: median {:.1} us, p90 {:.1} us, \
         p99 {:.1} us, max {:.1} us",
        messages.len(),
        at(0.5).as_secs_f64() * 1e6,
        at(0.9).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        at(1.0).as_secs_f64() * 1e6,
    );
}

/// Resident memory of this process, from /proc (Linux), in MiB.
fn resident_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

fn main() {
    rightsbot::cores::settle_thread_count();
    let started = Instant::now();
    let content = rightsbot::content::load_embedded().expect("the built-in content is valid");
    let loaded = started.elapsed();
    let matcher = Matcher::new(&content);
    println!(
        "start-up: loading and checking the content {:.0} ms, building the matcher with the model \
         {:.0} ms, {:.0} ms in all; resident memory {:.0} MiB",
        loaded.as_secs_f64() * 1e3,
        (started.elapsed() - loaded).as_secs_f64() * 1e3,
        started.elapsed().as_secs_f64() * 1e3,
        resident_mib().unwrap_or(f64::NAN),
    );
    let locale = content.default_locale.clone();
    let mut words_only = content.clone();
    for l in words_only.locales.values_mut() {
        l.model = None;
        l.vectors = None;
    }
    let lexical = Matcher::new(&words_only);
    let mut criterion = Criterion::default().configure_from_args();
    criterion_benches(&mut criterion, &lexical, &locale);
    criterion.final_summary();
    percentiles("words only", MESSAGES, &lexical, &locale, 2000);
    percentiles(
        "whole analyse (words, meaning, crisis classifier)",
        MESSAGES,
        &matcher,
        &locale,
        20,
    );
    percentiles(
        "whole analyse, messages written in users' voices",
        &written_by_users(),
        &matcher,
        &locale,
        3,
    );

    let mut longest = "they took my phone again and its so unfair, i want to know if they are \
                       allowed to do that because its my only way to talk to my mum. "
        .repeat(40);
    longest.push_str("anyway i wont need it after tonight");
    let longest: String = longest
        .chars()
        .rev()
        .take(4096)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let mut times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        black_box(matcher.analyse_afresh(&locale, black_box(&longest)));
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "a 4,096-character message read whole: median {:.0} ms, max {:.0} ms (5 runs); resident \
         memory now {:.0} MiB",
        times[2].as_secs_f64() * 1e3,
        times[4].as_secs_f64() * 1e3,
        resident_mib().unwrap_or(f64::NAN),
    );
}
