//! `rightsbot check`: broken content must be reported at the right file, line and column,
//! with a hint, and nothing may start.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use rightsbot::content::{self, ContentFiles};

fn fixture_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/content")
}

fn fixture() -> ContentFiles {
    let root = fixture_root();
    let mut files = BTreeMap::new();
    for top in ["dialogues", "locales"] {
        read(&root, &root.join(top), &mut files);
    }
    ContentFiles {
        files,
        ..ContentFiles::default()
    }
}

fn read(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read(root, &path, out);
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.insert(rel, std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// Applies `edit` (file, from, to) to the fixture and checks the diagnostics are exactly `expect`.
#[track_caller]
fn check(edits: &[(&str, &str, &str)], expect: &[&str]) {
    let mut files = fixture();
    for (path, from, to) in edits {
        let text = files
            .files
            .get_mut(*path)
            .unwrap_or_else(|| panic!("no fixture file {path}"));
        assert!(text.contains(from), "{path} does not contain {from:?}");
        *text = text.replacen(from, to, 1);
    }
    let got: Vec<String> = match content::load(&files) {
        Ok(_) => vec![],
        Err(problems) => problems.iter().map(ToString::to_string).collect(),
    };
    assert_eq!(got, expect);
}

#[test]
fn the_fixture_itself_is_clean() {
    check(&[], &[]);
}

#[test]
fn a_misspelt_related_topic_points_at_it_with_a_suggestion() {
    check(
        &[("dialogues/topics/alpha.toml", "\"gamma\"]", "\"gama\"]")],
        &[
            "dialogues/topics/alpha.toml:5:20: unknown topic \"gama\" in related; did you mean \"gamma\"?",
        ],
    );
}

#[test]
fn a_broken_flow_reference_and_an_unreachable_step_are_both_reported() {
    check(
        &[
            (
                "dialogues/flows/check.toml",
                "next = \"yes\"",
                "next = \"yess\"",
            ),
            (
                "dialogues/flows/check.toml",
                "topic = \"alpha\"",
                "topic = \"alfa\"",
            ),
        ],
        &[
            "dialogues/flows/check.toml:11:8: unknown step \"yess\" in next; did you mean \"yes\"?",
            "dialogues/flows/check.toml:17:8: step \"yes\" cannot be reached from start",
            "dialogues/flows/check.toml:22:9: unknown topic \"alfa\" in topic",
        ],
    );
}

#[test]
fn unknown_fields_are_refused() {
    check(
        &[(
            "dialogues/topics/beta.toml",
            "title = ",
            "titel = \"x\"\ntitle = ",
        )],
        &[
            "dialogues/topics/beta.toml:1:1: unknown field `titel`, expected one of `title`, `reviewed`, `audiences`, `rights`, `related`, `triggers`, `crisis_signpost`, `short`, `more`, `ask`, `nations`, `sources`",
        ],
    );
}

#[test]
fn topics_need_sources_a_review_date_and_enough_triggers() {
    check(
        &[
            (
                "dialogues/topics/gamma.toml",
                "reviewed = \"2026-11-22\"\n",
                "",
            ),
            (
                "dialogues/topics/gamma.toml",
                "  \"gamma question 14\",\n",
                "",
            ),
            (
                "dialogues/topics/gamma.toml",
                "[[sources]]\ntitle = \"A source\"\nwhere = \"https://example.org/gamma\"\n",
                "",
            ),
        ],
        &[
            "dialogues/topics/gamma.toml:1:1: missing reviewed = \"YYYY-MM-DD\": when the facts were last checked",
            "dialogues/topics/gamma.toml:1:1: no [[sources]]: every fact must trace to a source (title and where)",
            "dialogues/topics/gamma.toml:5:12: 14 triggers; a topic needs at least 15, written the way people really type",
        ],
    );
}

#[test]
fn long_texts_bad_ids_and_missing_catalogue_topics_are_reported() {
    let long = vec!["word."; 91].join(" ");
    check(
        &[
            (
                "dialogues/topics/alpha.toml",
                "You have alpha rights.",
                &long,
            ),
            ("dialogues/menus.toml", "id = \"all\"", "id = \"All\""),
            (
                "dialogues/catalogue.toml",
                "\"gamma\"]",
                "\"gamma\", \"delta\"]",
            ),
        ],
        &[
            "dialogues/catalogue.toml:1:37: catalogue topic \"delta\" has no file: add dialogues/topics/delta.toml",
            "dialogues/menus.toml:2:6: group id \"All\" is not valid: use a-z, 0-9 and _, at most 32 characters",
            "dialogues/topics/alpha.toml:24:1: short answer has 91 words; keep it to 90 or fewer",
        ],
    );
}

/// Every text a young person sees is measured (Flesch-Kincaid, as `readability.py` does) and
/// refused above its limit, at the wording they would get: their own, else the default.
#[test]
fn texts_too_hard_for_a_young_person_are_refused_with_their_grade() {
    check(
        &[
            (
                "dialogues/topics/alpha.toml",
                "You have alpha rights.",
                "Notwithstanding the aforementioned statutory considerations, practitioners \
                 must demonstrate proportionality.",
            ),
            // A parent's wording is not a young person's: it is not measured.
            (
                "dialogues/topics/alpha.toml",
                "Your child has alpha rights.",
                "Your child has alpha rights, notwithstanding the aforementioned statutory \
                 considerations of proportionality.",
            ),
            (
                "dialogues/topics/alpha.toml",
                "More about alpha.",
                "Responsibilities concerning alpha are determined by legislation.",
            ),
            (
                "dialogues/flows/check.toml",
                "Is it about alpha?",
                "Is it about alpha, or about the independent professional responsibilities?",
            ),
            (
                "dialogues/crisis.toml",
                "Please get help now.",
                "Immediately contact emergency services.",
            ),
        ],
        &[
            "dialogues/crisis.toml:5:1: grade 27.3 is above 5 for a young person's crisis reply: use shorter sentences and everyday words",
            "dialogues/flows/check.toml:7:8: grade 16.6 is above 6 for a young person's flow step: use shorter sentences and everyday words",
            "dialogues/topics/alpha.toml:25:1: grade 32.5 is above 6 for a young person's short answer: use shorter sentences and everyday words",
            "dialogues/topics/alpha.toml:29:1: grade 22.5 is above 7 for a young person's \"tell me more\": use shorter sentences and everyday words",
        ],
    );
}

#[test]
fn the_check_summary_names_the_hardest_texts_for_a_young_person() {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in fixture().files {
        let target = dir.path().join(&path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, text).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_rightsbot"))
        .args(["check", "--content"])
        .arg(dir.path())
        .env("RIGHTSBOT_DATA", dir.path().join("data"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    // Equal grades come in file order: topics, then flows, then the crisis texts.
    let expect = "  hardest for a young person to read (10 texts; Flesch-Kincaid grade / limit):\n\
                  \x20    5.2 / 7  dialogues/topics/alpha.toml:29:1  \"tell me more\"\n\
                  \x20    5.2 / 7  dialogues/topics/beta.toml:29:1  \"tell me more\"\n\
                  \x20    5.2 / 7  dialogues/topics/gamma.toml:29:1  \"tell me more\"\n";
    assert!(stdout.ends_with(expect), "{stdout}");
}

#[test]
fn interface_keys_the_bot_needs_must_exist() {
    check(
        &[("locales/en/interface.toml", "nontext = ", "non_text = ")],
        &["locales/en/interface.toml:1:1: interface key \"nontext\" is missing; the bot uses it"],
    );
}

/// Typed answers are content: a phrase that means two things, a place that is no place, a
/// phrase with no words or a misplaced `{n}` are each pointed at.
#[test]
fn typed_answer_words_are_checked_where_they_are_written() {
    let answers = "locales/en/answers.toml";
    check(
        &[(answers, "no = [\"no\", \"nah\"]", "no = [\"no\", \"yeah\"]")],
        &[
            "locales/en/answers.toml:3:13: \"yeah\" is in no and in yes (line 2): a phrase can \
             mean one thing only",
        ],
    );
    check(
        &[(answers, "yes = [\"fine\"]", "yes = [\"fine\", \"nah\"]")],
        &[
            "locales/en/answers.toml:8:16: \"nah\" is in safe.yes and in no (line 3): a phrase \
             can mean one thing only",
        ],
    );
    check(
        &[(answers, "last = [\"last\"]", "lats = [\"last\"]")],
        &["locales/en/answers.toml:16:1: unknown place \"lats\": write \"1\" to \"9\", or last"],
    );
    check(
        &[(answers, "unsure = [\"idk\"]", "unsure = [\"idk\", \"?!\"]")],
        &["locales/en/answers.toml:4:18: \"?!\" has no words in it"],
    );
    check(
        &[(answers, "none = [\"neither\"]", "none = [\"{n} of them\"]")],
        &[
            "locales/en/answers.toml:12:9: {n} (any number) may only stand in an [audience] \
             phrase",
        ],
    );
    check(
        &[(answers, "[who]", "[whom]")],
        &[
            "locales/en/answers.toml:26:2: unknown field `whom`, expected one of `yes`, `no`, \
           `leaning_yes`, `leaning_no`, `unsure`, `hedge`, `filler`, `safe`, `choices`, \
           `labels`, `audience`, `who`",
        ],
    );
}

#[test]
fn a_topic_missing_from_every_menu_is_too_many_taps_away() {
    check(
        &[(
            "dialogues/menus.toml",
            "items = [\"alpha\", \"beta\", \"gamma\"]\n\n[[advocate]]",
            "items = [\"check\"]\n\n[[advocate]]",
        )],
        &[
            "dialogues/menus.toml:1:1: topic \"alpha\" is more than 3 taps from the parent menu: list it in a group",
            "dialogues/menus.toml:1:1: topic \"gamma\" is more than 3 taps from the parent menu: list it in a group",
        ],
    );
}

#[test]
fn the_check_command_exits_non_zero_and_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in fixture().files {
        let target = dir.path().join(&path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        let text = if path == "dialogues/topics/beta.toml" {
            text.replacen("\"alpha\", \"gamma\"", "\"alpha\", \"gama\"", 1)
        } else {
            text
        };
        std::fs::write(target, text).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_rightsbot"))
        .args(["check", "--content"])
        .arg(dir.path())
        .env("RIGHTSBOT_DATA", dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "dialogues/topics/beta.toml:5:21: unknown topic \"gama\" in related; did you mean \"gamma\"?"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 problem in the content; nothing was started"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "nothing may start on broken content"
    );
}

#[test]
fn the_built_in_content_passes_the_check() {
    let out = Command::new(env!("CARGO_BIN_EXE_rightsbot"))
        .arg("check")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("topics:    50"), "{stdout}");
}

/// A translation may word the interface, never add to it: a key the default locale lacks is
/// refused (and topics have no translated text at all), so a translated locale cannot carry
/// legal wording of its own.
#[test]
fn a_translated_locale_cannot_add_words_the_default_lacks() {
    let mut files = fixture();
    let english = files.files["locales/en/interface.toml"].clone();
    files.files.insert(
        "locales/cy/interface.toml".into(),
        format!("{english}\n[law]\nsection_3 = \"Mae adran 3 yn para am byth\"\n"),
    );
    let problems: Vec<String> = match content::load(&files) {
        Ok(_) => vec![],
        Err(problems) => problems.iter().map(ToString::to_string).collect(),
    };
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("locales/cy/interface.toml:")
                && p.contains("interface key \"law.section_3\" is not in the default locale")),
        "{problems:?}"
    );
}
