//! The command line as a content author uses it: the terminal chat with the real store, and
//! `match --json`'s contract.

use std::io::Write;
use std::process::{Command, Stdio};

fn run(args: &[&str], data: &std::path::Path, stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rightsbot"))
        .args(args)
        .arg("--data")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_terminal_chat_holds_a_conversation_and_remembers_it() {
    let data = tempfile::tempdir().unwrap();
    // Press "I'm a parent or carer", then the first menu group, then its first item.
    let (ok, out, err) = run(&["chat"], data.path(), "2\n1\n1\n");
    assert!(ok, "{err}");
    assert!(out.contains("Who are you?"), "{out}");
    assert!(out.contains("[2] I'm a parent or carer"), "{out}");
    assert!(out.contains("What would you like to know about?"), "{out}");

    // A second run picks up the saved session: no welcome question, straight to the menu.
    let (ok, out, _) = run(&["chat"], data.path(), "i want to die\n");
    assert!(ok);
    assert!(!out.contains("Who are you?"), "{out}");
    assert!(
        out.contains("999"),
        "the crisis reply comes on any message: {out}"
    );
    assert!(out.contains("Childline"), "{out}");
}

/// A typed "no" to "Are you safe right now?" brings the crisis reply in the terminal too, and
/// a typed "yes" carries on: the engine reads answers, so every channel does.
#[test]
fn the_terminal_chat_reads_a_typed_no_to_the_safety_question() {
    let data = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(
        &["chat", "--trace"],
        data.path(),
        "1\nthis ward is killing me\nno\nthis ward is killing me\nyes\n",
    );
    assert!(ok, "{err}");
    let turns: Vec<&str> = out.split("you> ").collect();
    // The welcome, the audience button, then the four typed lines.
    let [_, _, asked, no, asked_again, yes, ..] = turns.as_slice() else {
        panic!("expected six turns: {out}");
    };
    for asked in [asked, asked_again] {
        assert!(asked.contains("Are you safe right now?"), "{asked}");
        assert!(!asked.contains("Childline"), "{asked}");
    }
    assert!(no.contains("== You matter =="), "{no}");
    assert!(no.contains("Childline"), "{no}");
    assert!(no.contains("read_as=not_safe crisis=true"), "{no}");
    assert!(yes.contains("I'm glad"), "{yes}");
    assert!(!yes.contains("Childline"), "{yes}");
    assert!(yes.contains("Get help now"), "help stays on screen: {yes}");
}

#[test]
fn the_terminal_chat_stores_no_message_text() {
    let data = tempfile::tempdir().unwrap();
    let secret_words = "zebracrossing marmalade";
    let (ok, _, err) = run(
        &["chat"],
        data.path(),
        &format!("1\n{secret_words}\n/menu\n"),
    );
    assert!(ok, "{err}");
    for file in crate::live_bot::walk(data.path()) {
        let bytes = std::fs::read(&file).unwrap();
        for word in secret_words.split(' ') {
            assert!(
                !bytes.windows(word.len()).any(|w| w == word.as_bytes()),
                "{word} was written to {}",
                file.display()
            );
        }
    }
}

#[test]
fn match_json_prints_one_decision_per_line() {
    let data = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(
        &["match", "--json"],
        data.path(),
        "i want to die\nhello\nzzzz qqqq\n",
    );
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    for line in &lines {
        for field in ["text", "decision", "topic", "candidates", "crisis", "score"] {
            assert!(line.get(field).is_some(), "{field} missing in {line}");
        }
    }
    assert_eq!(lines[0]["text"], "i want to die");
    assert_eq!(lines[0]["crisis"], true);
    assert_eq!(lines[1]["decision"], "smalltalk");
    assert_eq!(lines[1]["crisis"], false);
    assert_eq!(lines[2]["decision"], "fallback");
    assert_eq!(lines[2]["topic"], serde_json::Value::Null);
}

#[tokio::test]
async fn counts_hide_small_numbers_that_could_point_at_a_person() {
    let data = tempfile::tempdir().unwrap();
    {
        let store = rightsbot::store::Store::open(data.path(), 30 * 24 * 60 * 60).unwrap();
        let topic = |id| rightsbot::ids::TopicId::parse(id).unwrap();
        for _ in 0..3 {
            store
                .count_topic(20_400, Some("ward7"), &topic("sectioned"))
                .await
                .unwrap();
        }
        for _ in 0..9 {
            store
                .count_topic(20_400, Some("ward7"), &topic("visiting"))
                .await
                .unwrap();
        }
        store.flush().await.unwrap();
    }
    let (ok, out, err) = run(&["counts", "--csv"], data.path(), "");
    assert!(ok, "{err}");
    // 1 to 7 hidden, the rest to the nearest 5 (NHS Digital's rule); totals leave hidden out.
    assert!(out.contains("sectioned,0,*,0,0"), "{out}");
    assert!(out.contains("visiting,0,10,0,0"), "{out}");
    assert!(out.contains("total,0,10,0,0"), "{out}");
    let (ok, out, err) = run(&["counts", "--campaign", "ward7"], data.path(), "");
    assert!(ok, "{err}");
    assert!(out.contains("campaign ward7"), "{out}");
    assert!(
        out.contains(&rightsbot::counts::date(20_400)),
        "dates, not day numbers:\n{out}"
    );
    let (ok, _, err) = run(&["counts", "--from", "2026-02-31"], data.path(), "");
    assert!(!ok && err.contains("YYYY-MM-DD"), "{err}");
}

#[test]
fn serving_nothing_is_an_error_that_says_why() {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rightsbot"))
        .args(["serve", "--no-http"])
        .arg("--data")
        .arg(data.path())
        .env_remove("TELOXIDE_TOKEN")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nothing to serve"), "{err}");
    assert!(err.contains("TELOXIDE_TOKEN"), "{err}");
    // And it stopped before opening anything.
    assert_eq!(std::fs::read_dir(data.path()).unwrap().count(), 0);
}

#[test]
fn a_public_url_that_is_not_a_site_root_is_refused_at_start() {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rightsbot"))
        .args(["serve", "--public-url", "https://rights.example.org/chat"])
        .arg("--data")
        .arg(data.path())
        .env_remove("TELOXIDE_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("must be the site's root"), "{err}");
}
