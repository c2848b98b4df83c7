//! The store contract: the same cases against sled in a temp dir and against a real
//! `redis-server` on loopback (one per test, on its own port). Sessions round-trip, expire,
//! and are seen by the next process (on Redis, by every replica at once); a damaged record
//! starts a fresh session instead of crashing; the delivery log, group marks, leases, rate
//! limits and counts behave the same on both; and nothing in either store says who anyone is.
//! Then what only one backend has: sled's sweep and owner-only secret file, Redis's TTLs.

use std::path::PathBuf;
use std::time::Duration;

use rightsbot::engine::{Engine, Input, Session};
use rightsbot::ids::{Audience, LocaleId, TopicId};
use rightsbot::store::{Channel, Delivery, Options, Rate, Store};

use crate::redis_server::RedisServer;

const DAY: u64 = 24 * 60 * 60;
const T0: u64 = 1_800_000_000;

fn session(now: u64) -> Session {
    let mut s = Session::fresh(LocaleId::parse("en").unwrap(), now);
    s.audience = Some(Audience::Parent);
    s
}

/// Where a case's store lives: a data folder and a secret file in a temp dir, and a Redis
/// server when the case runs on Redis.
pub struct Place {
    dir: tempfile::TempDir,
    pub redis: Option<RedisServer>,
}

impl Place {
    pub fn sled() -> Place {
        Place {
            dir: tempfile::tempdir().unwrap(),
            redis: None,
        }
    }

    pub fn redis() -> Place {
        Place {
            dir: tempfile::tempdir().unwrap(),
            redis: Some(RedisServer::start()),
        }
    }

    pub fn options(&self) -> Options {
        Options {
            data: self.dir.path().join("data"),
            url: self.redis.as_ref().map(|r| r.url(0)),
            secret_file: Some(self.secret_file()),
            ttl_secs: 30 * DAY,
        }
    }

    pub fn secret_file(&self) -> PathBuf {
        self.dir.path().join("shared.key")
    }

    pub async fn open(&self) -> Store {
        Store::connect(&self.options()).await.unwrap()
    }
}

/// One test per backend for each case.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        $(mod $case {
            #[tokio::test]
            async fn on_sled() {
                super::$case(super::Place::sled()).await;
            }
            #[tokio::test]
            async fn on_redis() {
                super::$case(super::Place::redis()).await;
            }
        })*
    };
}

contract!(
    a_session_round_trips_and_the_next_opening_sees_it,
    the_same_id_on_two_channels_is_two_people,
    expired_sessions_are_ignored_on_read,
    a_damaged_or_old_record_starts_afresh,
    forget_erases_the_record,
    counts_are_anonymous_per_day_campaign_and_topic,
    the_delivery_log_remembers_progress,
    a_group_is_told_once,
    a_lease_has_one_holder_until_released_or_run_out,
    rate_limits_refuse_past_the_burst,
    nothing_in_the_store_says_who_anyone_is,
);

async fn a_session_round_trips_and_the_next_opening_sees_it(place: Place) {
    {
        let store = place.open().await;
        let key = store.key(Channel::Telegram, "123456789");
        store.save(&key, &session(T0)).await.unwrap();
        assert_eq!(store.load(&key, T0 + 1).await, Ok(Some(session(T0))));
        store.flush().await.unwrap();
    }
    // Another process (a restart on sled, another replica on Redis) with the same secret.
    let store = place.open().await;
    let key = store.key(Channel::Telegram, "123456789");
    assert_eq!(
        store.load(&key, T0 + 60).await,
        Ok(Some(session(T0))),
        "the secret and the data are shared"
    );
}

async fn the_same_id_on_two_channels_is_two_people(place: Place) {
    let store = place.open().await;
    let telegram = store.key(Channel::Telegram, "42");
    let web = store.key(Channel::Web, "42");
    assert_ne!(telegram, web);
    store.save(&telegram, &session(T0)).await.unwrap();
    assert_eq!(store.load(&web, T0).await, Ok(None));
}

async fn expired_sessions_are_ignored_on_read(place: Place) {
    let store = place.open().await;
    let key = store.key(Channel::Web, "recent");
    store.save(&key, &session(T0)).await.unwrap();
    assert!(store.load(&key, T0 + 29 * DAY).await.unwrap().is_some());
    assert_eq!(store.load(&key, T0 + 31 * DAY).await, Ok(None));
    assert_eq!(
        store.raw_record(&key).await,
        None,
        "an expired record read is deleted"
    );
}

async fn a_damaged_or_old_record_starts_afresh(place: Place) {
    let store = place.open().await;
    let key = store.key(Channel::Telegram, "7");
    for garbage in [
        &b"\xff\x00not json"[..],
        br#"{"version":0,"audience":null}"#,
        br#"{"version":999,"audience":"parent","locale":"en","flow":null,"crisis_turns_left":0,"disclaimer_shown":false,"awaiting":null,"last_seen":1800000000}"#,
    ] {
        store.save_raw_record(&key, garbage.to_vec()).await.unwrap();
        assert_eq!(store.load(&key, T0).await, Ok(None));
    }
    // And the conversation carries on from a fresh session.
    let engine = Engine::new(rightsbot::content::load_embedded().unwrap());
    let fresh = store
        .load(&key, T0)
        .await
        .unwrap()
        .unwrap_or_else(|| engine.fresh_session(T0));
    let outcome = engine.handle(fresh, Input::from_text("/start"), T0);
    assert!(!outcome.replies.is_empty());
    store.save(&key, &outcome.session).await.unwrap();
    assert!(store.load(&key, T0).await.unwrap().is_some());
}

async fn forget_erases_the_record(place: Place) {
    let store = place.open().await;
    let key = store.key(Channel::Web, "someone");
    store.save(&key, &session(T0)).await.unwrap();
    store.forget(&key).await.unwrap();
    assert_eq!(store.raw_record(&key).await, None);
    assert_eq!(store.load(&key, T0).await, Ok(None));
}

async fn counts_are_anonymous_per_day_campaign_and_topic(place: Place) {
    let store = place.open().await;
    let visiting = TopicId::parse("visiting").unwrap();
    for _ in 0..3 {
        store
            .count_topic(20_000, Some("ward7"), &visiting)
            .await
            .unwrap();
    }
    store.count_topic(20_000, None, &visiting).await.unwrap();
    let counts = store.counts().await;
    assert_eq!(
        counts,
        vec![
            (20_000, "-".into(), "visiting".into(), 1),
            (20_000, "ward7".into(), "visiting".into(), 3),
        ]
    );
}

async fn the_delivery_log_remembers_progress(place: Place) {
    let store = place.open().await;
    assert_eq!(store.delivery(7).await, Delivery::New);
    store.record_sent(7, 2, T0).await.unwrap();
    assert_eq!(store.delivery(7).await, Delivery::Sending(2));
    store.mark_handled(7, T0).await.unwrap();
    assert_eq!(store.delivery(7).await, Delivery::Handled);

    // A session and "handled" together; and an erasure with it.
    let key = store.key(Channel::Telegram, "5");
    store
        .commit_handled(&key, Some(&session(T0)), 8, T0)
        .await
        .unwrap();
    assert_eq!(store.delivery(8).await, Delivery::Handled);
    assert_eq!(store.load(&key, T0).await, Ok(Some(session(T0))));
    store.commit_handled(&key, None, 9, T0).await.unwrap();
    assert_eq!(store.delivery(9).await, Delivery::Handled);
    assert_eq!(store.load(&key, T0).await, Ok(None));
}

async fn a_group_is_told_once(place: Place) {
    let store = place.open().await;
    let group = store.key(Channel::Telegram, "chat:-100");
    assert!(!store.group_noted(&group).await);
    store.note_group(&group, T0).await.unwrap();
    assert!(store.group_noted(&group).await);
}

async fn a_lease_has_one_holder_until_released_or_run_out(place: Place) {
    let store = place.open().await;
    let name = store.key(Channel::Telegram, "lease-chat:1");
    let long = Duration::from_secs(60);
    assert!(store.try_lease(&name, "a", long).await.unwrap());
    assert!(!store.try_lease(&name, "b", long).await.unwrap());
    assert!(
        store.try_lease(&name, "a", long).await.unwrap(),
        "re-entrant"
    );
    assert!(store.renew_lease(&name, "a", long).await.unwrap());
    assert!(!store.renew_lease(&name, "b", long).await.unwrap());
    store.release_lease(&name, "b").await.unwrap();
    assert!(
        !store.try_lease(&name, "b", long).await.unwrap(),
        "only the holder releases"
    );
    store.release_lease(&name, "a").await.unwrap();
    assert!(store.try_lease(&name, "b", long).await.unwrap());

    // A holder that dies (never renews) loses the lease when it runs out.
    let other = store.key(Channel::Telegram, "lease-chat:2");
    assert!(
        store
            .try_lease(&other, "dead", Duration::from_millis(50))
            .await
            .unwrap()
    );
    let mut taken = false;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        if store.try_lease(&other, "alive", long).await.unwrap() {
            taken = true;
            break;
        }
    }
    assert!(taken, "a lease that is not renewed runs out");
}

async fn rate_limits_refuse_past_the_burst(place: Place) {
    let store = place.open().await;
    // One token a minute: none comes back during the test.
    let rate = Rate {
        burst: 2,
        per_minute: 1,
    };
    let bucket = store.key(Channel::Web, "rate-session:x");
    assert!(store.take_token(&bucket, rate).await.is_ok());
    assert!(store.take_token(&bucket, rate).await.is_ok());
    let wait = store.take_token(&bucket, rate).await.unwrap_err();
    assert!(
        wait > Duration::from_secs(1) && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
    let other = store.key(Channel::Web, "rate-session:y");
    assert!(
        store.take_token(&other, rate).await.is_ok(),
        "buckets are separate"
    );
}

/// Every byte the store holds, after a conversation's worth of records, is free of the user
/// id, the campaign-free text of a message, and the install secret.
async fn nothing_in_the_store_says_who_anyone_is(place: Place) {
    let store = place.open().await;
    let user_id = "987654321";
    let key = store.key(Channel::Telegram, user_id);
    store.save(&key, &session(T0)).await.unwrap();
    store
        .commit_handled(&key, Some(&session(T0)), 31, T0)
        .await
        .unwrap();
    let group = store.key(Channel::Telegram, &format!("chat:{user_id}"));
    store.note_group(&group, T0).await.unwrap();
    let bucket = store.key(Channel::Web, &format!("rate-address:{user_id}"));
    let _ = store
        .take_token(
            &bucket,
            Rate {
                burst: 5,
                per_minute: 5,
            },
        )
        .await;
    let secret = std::fs::read(place.secret_file()).unwrap();
    assert_eq!(secret.len(), 32);
    let dump = store.dump().await.unwrap();
    assert!(!dump.is_empty());
    for (k, v) in dump {
        for bytes in [&k, &v] {
            assert!(
                !bytes
                    .windows(user_id.len())
                    .any(|w| w == user_id.as_bytes()),
                "the raw id is in {:?}",
                String::from_utf8_lossy(&k)
            );
            assert!(
                !bytes.windows(32).any(|w| w == secret.as_slice()),
                "the install secret is in {:?}",
                String::from_utf8_lossy(&k)
            );
        }
    }
}

// ----- sled only -----

#[tokio::test]
async fn sled_sweeps_expired_sessions_from_the_disk() {
    let place = Place::sled();
    let store = place.open().await;
    let old = store.key(Channel::Web, "old");
    let recent = store.key(Channel::Web, "recent");
    store.save(&old, &session(T0)).await.unwrap();
    store.save(&recent, &session(T0 + 20 * DAY)).await.unwrap();
    assert_eq!(store.sweep(T0 + 29 * DAY).await.unwrap(), 0);
    assert_eq!(store.sweep(T0 + 31 * DAY).await.unwrap(), 1);
    assert!(
        store.raw_record(&old).await.is_none(),
        "the sweep deletes, not just hides"
    );
    assert!(store.raw_record(&recent).await.is_some());
}

#[tokio::test]
async fn the_install_secret_is_owner_only_and_ids_never_reach_the_disk() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let user_id = "987654321";
    {
        let store = Store::open(dir.path(), 30 * DAY).unwrap();
        let key = store.key(Channel::Telegram, user_id);
        store.save(&key, &session(T0)).await.unwrap();
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

// ----- Redis only -----

/// Two replicas at once: each sees the other's sessions, erasures, counts, limits and leases.
#[tokio::test]
async fn replicas_on_one_redis_share_everything_at_once() {
    let place = Place::redis();
    let (a, b) = (place.open().await, place.open().await);
    let key = a.key(Channel::Web, "abc");
    assert_eq!(key, b.key(Channel::Web, "abc"), "one secret, one key");
    a.save(&key, &session(T0)).await.unwrap();
    assert_eq!(b.load(&key, T0).await, Ok(Some(session(T0))));
    b.forget(&key).await.unwrap();
    assert_eq!(a.load(&key, T0).await, Ok(None), "forgotten everywhere");

    let topic = TopicId::parse("visiting").unwrap();
    a.count_topic(1, None, &topic).await.unwrap();
    b.count_topic(1, None, &topic).await.unwrap();
    assert_eq!(
        a.counts().await,
        vec![(1, "-".into(), "visiting".into(), 2)]
    );

    let rate = Rate {
        burst: 1,
        per_minute: 1,
    };
    let bucket = a.key(Channel::Web, "rate-address:127.0.0.1");
    assert!(a.take_token(&bucket, rate).await.is_ok());
    assert!(b.take_token(&bucket, rate).await.is_err(), "one bucket");

    let name = a.key(Channel::Telegram, "lease-poller:x");
    assert!(
        a.try_lease(&name, "replica-a", Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(
        !b.try_lease(&name, "replica-b", Duration::from_secs(60))
            .await
            .unwrap()
    );
}

/// Sessions, delivery records and rate buckets carry Redis TTLs, so Redis expires them
/// itself; only the counts are kept.
#[tokio::test]
async fn redis_expires_what_the_bot_keeps() {
    let place = Place::redis();
    let store = place.open().await;
    let key = store.key(Channel::Web, "abc");
    store.save(&key, &session(T0)).await.unwrap();
    store.mark_handled(3, T0).await.unwrap();
    let bucket = store.key(Channel::Web, "rate-session:abc");
    let _ = store
        .take_token(
            &bucket,
            Rate {
                burst: 3,
                per_minute: 3,
            },
        )
        .await;
    store
        .count_topic(1, None, &TopicId::parse("visiting").unwrap())
        .await
        .unwrap();
    let url = place.options().url.unwrap();
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 4, "{keys:?}");
    for k in keys {
        let ttl: i64 = redis::cmd("TTL")
            .arg(&k)
            .query_async(&mut conn)
            .await
            .unwrap();
        if k == "rightsbot:counts" {
            assert_eq!(ttl, -1, "counts are kept");
        } else {
            assert!(ttl > 0, "{k} has no expiry");
        }
    }
}

/// A wrong address is a start-up error that names it, without the password.
#[tokio::test]
async fn an_unreachable_redis_is_a_clear_start_up_error() {
    let place = Place::sled();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let options = Options {
        url: Some(format!("redis://:hunter2@127.0.0.1:{port}/0")),
        ..place.options()
    };
    let error = format!("{:#}", Store::connect(&options).await.err().unwrap());
    assert!(error.contains("cannot reach Redis"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
}
