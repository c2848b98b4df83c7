//! The sled store on a real database in a temp dir: sessions round-trip, expire, survive a
//! reopen, and a corrupted record starts a fresh session instead of crashing. Keys say nothing
//! about who anyone is.

use rightsbot::engine::{Engine, Input, Session};
use rightsbot::ids::{Audience, LocaleId};
use rightsbot::store::{Channel, Store};

const DAY: u64 = 24 * 60 * 60;
const T0: u64 = 1_800_000_000;

fn session(now: u64) -> Session {
    let mut s = Session::fresh(LocaleId::parse("en").unwrap(), now);
    s.audience = Some(Audience::Parent);
    s
}

#[test]
fn a_session_round_trips_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), 30 * DAY).unwrap();
        let key = store.key(Channel::Telegram, "123456789");
        store.save(&key, &session(T0)).unwrap();
        assert_eq!(store.load(&key, T0 + 1), Some(session(T0)));
    }
    let store = Store::open(dir.path(), 30 * DAY).unwrap();
    let key = store.key(Channel::Telegram, "123456789");
    assert_eq!(
        store.load(&key, T0 + 60),
        Some(session(T0)),
        "the secret and the data persist"
    );
}

#[test]
fn the_same_id_on_two_channels_is_two_people() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 30 * DAY).unwrap();
    let telegram = store.key(Channel::Telegram, "42");
    let web = store.key(Channel::Web, "42");
    assert_ne!(telegram, web);
    store.save(&telegram, &session(T0)).unwrap();
    assert_eq!(store.load(&web, T0), None);
}

#[test]
fn sessions_expire_on_read_and_in_the_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 30 * DAY).unwrap();
    let old = store.key(Channel::Web, "old");
    let recent = store.key(Channel::Web, "recent");
    store.save(&old, &session(T0)).unwrap();
    store.save(&recent, &session(T0 + 20 * DAY)).unwrap();

    assert_eq!(store.sweep(T0 + 29 * DAY).unwrap(), 0);
    assert_eq!(store.sweep(T0 + 31 * DAY).unwrap(), 1);
    assert!(
        store.raw_record(&old).is_none(),
        "the sweep deletes, not just hides"
    );
    assert!(store.load(&recent, T0 + 31 * DAY).is_some());
    assert_eq!(
        store.load(&recent, T0 + 51 * DAY),
        None,
        "expired records are ignored on read"
    );
    assert!(store.raw_record(&recent).is_none());
}

#[test]
fn a_corrupted_or_old_record_starts_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 30 * DAY).unwrap();
    let key = store.key(Channel::Telegram, "7");
    let sessions = store.db().open_tree("sessions").unwrap();
    for garbage in [
        &b"\xff\x00not json"[..],
        br#"{"version":0,"audience":null}"#,
        br#"{"version":999,"audience":"parent","locale":"en","flow":null,"crisis_turns_left":0,"disclaimer_shown":false,"awaiting":null,"last_seen":1800000000}"#,
    ] {
        sessions.insert(key.as_bytes(), garbage).unwrap();
        assert_eq!(store.load(&key, T0), None);
    }

    // And the conversation carries on from a fresh session.
    let engine = Engine::new(rightsbot::content::load_embedded().unwrap());
    let fresh = store
        .load(&key, T0)
        .unwrap_or_else(|| engine.fresh_session(T0));
    let outcome = engine.handle(fresh, Input::from_text("/start"), T0);
    assert!(!outcome.replies.is_empty());
    store.save(&key, &outcome.session).unwrap();
    assert!(store.load(&key, T0).is_some());
}

#[test]
fn forget_erases_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 30 * DAY).unwrap();
    let key = store.key(Channel::Web, "someone");
    store.save(&key, &session(T0)).unwrap();
    store.forget(&key).unwrap();
    assert_eq!(store.raw_record(&key), None);
    assert_eq!(store.load(&key, T0), None);
}

#[test]
fn the_install_secret_is_owner_only_and_ids_never_reach_the_disk() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let user_id = "987654321";
    {
        let store = Store::open(dir.path(), 30 * DAY).unwrap();
        let key = store.key(Channel::Telegram, user_id);
        store.save(&key, &session(T0)).unwrap();
    }
    let mode = std::fs::metadata(dir.path().join("secret.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let mut found = Vec::new();
    for entry in crate::live_bot::walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        if bytes
            .windows(user_id.len())
            .any(|w| w == user_id.as_bytes())
        {
            found.push(entry);
        }
    }
    assert!(found.is_empty(), "the raw user id was written to {found:?}");
}

#[test]
fn counts_are_anonymous_per_day_campaign_and_topic() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 30 * DAY).unwrap();
    let visiting = rightsbot::ids::TopicId::parse("visiting").unwrap();
    for _ in 0..3 {
        store.count_topic(20_000, Some("ward7"), &visiting).unwrap();
    }
    store.count_topic(20_000, None, &visiting).unwrap();
    let counts = store.counts();
    assert!(counts.contains(&(20_000, "ward7".into(), "visiting".into(), 3)));
    assert!(counts.contains(&(20_000, "-".into(), "visiting".into(), 1)));
}
