//! The workshop kit and the advocates' counts, as an advocate and an operator use them:
//! links that open what they say, QR codes that scan, an A4 poster and topic sheet printed by
//! a real Chromium, dashboard links that show one campaign only, small numbers that stay
//! hidden, and counters that say nothing about anyone.

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::StatusCode;
use rightsbot::access::{self, Scope};
use rightsbot::counts::{Cell, Filter, Measure, Shown, column, report};
use rightsbot::deeplink::StartLink;
use rightsbot::engine::{Command, Engine, Input};
use rightsbot::kit::{Addresses, Kit};
use rightsbot::web::Config;

use crate::web::{Person, Server, client};

fn content() -> rightsbot::content::Content {
    rightsbot::content::load_embedded().expect("content is valid")
}

fn addresses() -> Addresses {
    Addresses {
        web: "https://rights.example.org".to_owned(),
        telegram: Some("RightsBot".to_owned()),
    }
}

fn payload(url: &str) -> Option<&str> {
    url.split_once("?start=").map(|(_, p)| p)
}

/// A PNG's pixels as a grey image rqrr can search, and every code found in it.
fn decode_png(bytes: &[u8]) -> Vec<String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let channels = info.color_type.samples();
    let (w, h) = (info.width as usize, info.height as usize);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        let at = (y * w + x) * channels;
        // Colour to luminance: the plain average of RGB is enough for black on white.
        let rgb = &pixels[at..at + channels.min(3)];
        (rgb.iter().map(|&c| u32::from(c)).sum::<u32>() / rgb.len() as u32) as u8
    });
    image
        .detect_grids()
        .into_iter()
        .filter_map(|g| g.decode().ok().map(|(_, text)| text))
        .collect()
}

#[test]
fn every_link_opens_the_start_state_it_encodes() {
    let content = content();
    let engine = Engine::new(content.clone());
    let kit = Kit::new(&content, addresses(), Some("ward7".to_owned()));
    let links = kit.links();
    assert_eq!(links.len(), 1 + 3 + content.topics.len());
    for link in &links {
        let web = payload(&link.web).expect("a campaign link always has a payload");
        let telegram = payload(link.telegram.as_deref().unwrap()).unwrap();
        assert_eq!(web, telegram, "{}", link.name);
        assert!(link.web.starts_with("https://rights.example.org/?start="));
        assert!(
            link.telegram
                .as_deref()
                .unwrap()
                .starts_with("https://t.me/RightsBot?start=")
        );
        assert_eq!(
            StartLink::parse(web).as_ref(),
            Some(&link.start),
            "{}",
            link.name
        );
        // And the engine does what the link says.
        let outcome = engine.handle(
            engine.fresh_session(0),
            Input::Command(Command::Start(Some(web.to_owned()))),
            0,
        );
        assert_eq!(outcome.campaign.as_deref(), Some("ward7"), "{}", link.name);
        assert!(outcome.started);
        assert_eq!(outcome.shown_topic, link.start.topic, "{}", link.name);
        if let Some(audience) = link.start.audience {
            assert_eq!(outcome.session.audience, Some(audience), "{}", link.name);
        }
        // What the person asks next still counts under the campaign, and /mydata says so.
        let next = engine.handle(
            outcome.session,
            Input::Text("can my mum visit me".to_owned()),
            1,
        );
        assert_eq!(next.campaign.as_deref(), Some("ward7"), "{}", link.name);
        let mydata = engine.handle(next.session, Input::Command(Command::MyData), 2);
        assert!(
            mydata
                .replies
                .iter()
                .any(|r| r.text.contains("link marked ward7")),
            "{}",
            link.name
        );
    }
    // Without a campaign, the menu link is the bare address.
    let plain = Kit::new(&content, addresses(), None);
    assert_eq!(plain.links()[0].web, "https://rights.example.org/");
    assert_eq!(
        plain.links()[0].telegram.as_deref(),
        Some("https://t.me/RightsBot")
    );
}

#[test]
fn a_start_link_with_one_bad_part_still_opens_its_good_parts() {
    let engine = Engine::new(content());
    let outcome = engine.handle(
        engine.fresh_session(0),
        Input::Command(Command::Start(Some("t_visiting-a_p-c_Ward-7".to_owned()))),
        0,
    );
    assert_eq!(outcome.shown_topic.unwrap().as_str(), "visiting");
    assert_eq!(
        outcome.session.audience,
        Some(rightsbot::ids::Audience::Parent)
    );
    assert_eq!(outcome.campaign.as_deref(), Some("Ward"));
}

#[test]
fn links_check_says_what_a_link_opens_or_exactly_what_is_wrong() {
    let run = |link: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rightsbot"))
            .args(["links", "--check", link])
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, out) = run("https://t.me/RightsBot?start=t_visiting-a_p-c_ward7");
    assert!(ok, "{out}");
    assert!(out.contains("Visits") && out.contains("visiting"), "{out}");
    assert!(out.contains("parent") && out.contains("ward7"), "{out}");
    let (ok, out) = run("t_visting-c_Ward-7");
    assert!(!ok);
    assert!(out.contains("no topic \"visting\""), "{out}");
    assert!(out.contains("did you mean \"visiting\""), "{out}");
    assert!(out.contains("part \"7\""), "{out}");
    assert!(out.contains("campaign: Ward"), "{out}");
}

#[test]
fn every_qr_code_scans_to_its_link() {
    let content = content();
    let kit = Kit::new(&content, addresses(), Some("ward7".to_owned()));
    let paths = kit.paths();
    for link in kit.links() {
        for (channel, url) in [
            ("web", Some(&link.web)),
            ("telegram", link.telegram.as_ref()),
        ] {
            let url = url.unwrap();
            let png = format!("qr/{}-{channel}.png", link.name);
            assert!(paths.contains(&png), "{png}");
            let file = kit.file(&png).unwrap();
            assert_eq!(decode_png(&file.bytes), vec![url.clone()], "{png}");
            let svg = kit
                .file(&format!("qr/{}-{channel}.svg", link.name))
                .unwrap();
            let svg = String::from_utf8(svg.bytes).unwrap();
            assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        }
    }
}

#[test]
fn links_writes_the_kit_to_a_folder() {
    let out = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_rightsbot"))
        .args([
            "links",
            "--campaign",
            "ward7",
            "--bot-username",
            "RightsBot",
        ])
        .args(["--public-url", "https://rights.example.org", "--out"])
        .arg(out.path())
        .env_remove("TELOXIDE_TOKEN")
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    for file in [
        "index.html",
        "poster.html",
        "kit.css",
        "topics/visiting.html",
        "qr/menu-web.svg",
        "qr/menu-telegram.png",
        "qr/topic-visiting-web.png",
        "qr/for-parent-telegram.svg",
    ] {
        assert!(out.path().join(file).is_file(), "{file}");
    }
    let index = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    assert!(index.contains("https://rights.example.org/?start=t_visiting-c_ward7"));
    assert!(index.contains("https://t.me/RightsBot?start=a_p-c_ward7"));
    // Without an address it says what to give.
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_rightsbot"))
        .args(["links", "--out"])
        .arg(out.path())
        .env_remove("RIGHTSBOT_PUBLIC_URL")
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--public-url"));
}

#[tokio::test]
async fn topics_lists_every_topic_with_its_id() {
    let server = Server::start(Config::default()).await;
    for path in ["/topics", "/topics/"] {
        let response = client().get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let page = response.text().await.unwrap();
        for topic in content().topics.values() {
            assert!(
                page.contains(&format!("<code>{}</code>", topic.id)),
                "{}",
                topic.id
            );
        }
    }
}

#[test]
fn a_suppressed_count_cannot_be_read_back_by_subtraction() {
    // For every small column of counts, find every set of true counts that publishes the same
    // figures: each hidden count must fit every value from 1 to 7, whatever the other cells and
    // the total show. (Rounding alone fails this: 1, 8, 8 would give the 1 away.)
    for a in 0..=12u64 {
        for b in 0..=12u64 {
            for c in 0..=12u64 {
                let truth = [a, b, c];
                let shown = column(&truth);
                for (i, _) in truth
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| (1..=7).contains(*n))
                {
                    let others: Vec<usize> = (0..3).filter(|j| *j != i).collect();
                    let mut possible = BTreeSet::new();
                    for x in 1..=7 {
                        'search: for y in 0..=16u64 {
                            for z in 0..=16u64 {
                                let mut guess = truth;
                                guess[i] = x;
                                guess[others[0]] = y;
                                guess[others[1]] = z;
                                if column(&guess) == shown {
                                    possible.insert(x);
                                    break 'search;
                                }
                            }
                        }
                    }
                    assert_eq!(
                        possible.len(),
                        7,
                        "{truth:?}: cell {i} can only be {possible:?}"
                    );
                }
            }
        }
    }
    // And the report's total is the true total disclosed, not a sum of published cells.
    let cell = |topic: &str, n| {
        (
            Cell {
                day: 20_786,
                campaign: "ward7".to_owned(),
                topic: topic.to_owned(),
                measure: Measure::Opened,
            },
            n,
        )
    };
    let r = report(
        &[cell("visiting", 3), cell("leave", 10)],
        &Filter::default(),
    );
    assert_eq!(r.rows[0].1[1], Shown::Rounded(10));
    assert_eq!(r.rows[1].1[1], Shown::Suppressed);
    assert_eq!(
        r.total[1],
        Shown::Rounded(10),
        "the hidden 3 is left out of the total"
    );
    assert!(r.csv().contains("visiting,0,*,0,0"), "{}", r.csv());
}

async fn get(url: &str) -> reqwest::Response {
    client().get(url).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_link_shows_its_own_campaign_only_and_a_wrong_or_revoked_one_is_404() {
    let server = Server::start(Config::default()).await;
    let data = server.dir.path();
    // People arrive from two campaigns' posters, and open topics.
    for (campaign, topic, people) in [("ward7", "visiting", 9), ("ward9", "leave", 12)] {
        for _ in 0..people {
            let mut person =
                Person::arrive(&server, &format!("/?start=t_{topic}-a_yp-c_{campaign}")).await;
            assert_eq!(person.get(&server, "/chat").await, StatusCode::OK);
        }
    }
    let ward7 = access::create(data, &Scope::Campaign("ward7".to_owned())).unwrap();
    let operator = access::create(data, &Scope::Everything).unwrap();

    let response = get(&server.url(&format!("/advocates/{ward7}/"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let page = response.text().await.unwrap();
    assert!(page.contains("campaign ward7"), "{page}");
    assert!(page.contains("Visits"), "{page}");
    assert!(
        !page.contains("Leave"),
        "another campaign's topic shows:\n{page}"
    );
    // Asking for another campaign changes nothing.
    let csv = get(&server.url(&format!("/advocates/{ward7}/counts.csv?campaign=ward9")))
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.contains("visiting,10,10,0,0"), "{csv}");
    assert!(!csv.contains("leave"), "{csv}");
    assert!(csv.contains(&format!(
        "from {}",
        rightsbot::counts::date(rightsbot::now_secs() / 86_400)
    )));
    // The kit under the link counts under its campaign.
    let index = get(&server.url(&format!("/advocates/{ward7}/kit/index.html")))
        .await
        .text()
        .await
        .unwrap();
    assert!(index.contains("?start=t_visiting-c_ward7"), "{index}");
    let qr = get(&server.url(&format!("/advocates/{ward7}/kit/qr/menu-web.png"))).await;
    assert_eq!(qr.headers()["content-type"], "image/png");
    let decoded = decode_png(&qr.bytes().await.unwrap());
    assert_eq!(
        decoded,
        vec![format!("http://{}/?start=c_ward7", server.addr)]
    );

    // The operator sees both, and can pick one.
    let all = get(&server.url(&format!("/advocates/{operator}/counts.csv")))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        all.contains("visiting,10,10") && all.contains("leave,10,10"),
        "{all}"
    );
    let nine = get(&server.url(&format!("/advocates/{operator}/counts.csv?campaign=ward9")))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !nine.contains("visiting") && nine.contains("leave"),
        "{nine}"
    );

    let wrong = "0".repeat(64);
    for path in [
        format!("/advocates/{wrong}/"),
        format!("/advocates/{wrong}/counts.csv"),
        format!("/advocates/{wrong}/kit/index.html"),
        "/advocates/short/".to_owned(),
    ] {
        assert_eq!(
            get(&server.url(&path)).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert_eq!(
        access::revoke(data, &Scope::Campaign("ward7".to_owned())).unwrap(),
        1
    );
    for path in ["/", "/counts.csv", "/kit/index.html"] {
        let url = server.url(&format!("/advocates/{ward7}{path}"));
        assert_eq!(get(&url).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // The operator's link still works.
    let still = get(&server.url(&format!("/advocates/{operator}/"))).await;
    assert_eq!(still.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_hold_nothing_about_a_person() {
    let server = Server::start(Config::default()).await;
    let mut person = Person::arrive(&server, "/?start=t_visiting-c_ward7").await;
    let asked = ["can my mum visit", "zxqv blorp", "i want to kill myself"];
    for text in asked {
        person.say(&server, text).await;
    }
    let session = person.jar.get("rightsbot_session").unwrap().to_owned();
    let key = server.store.key(rightsbot::store::Channel::Web, &session);
    let counted = server.store.all_counts().await;
    let measures: BTreeSet<Measure> = counted.iter().map(|(c, _)| c.measure).collect();
    assert_eq!(measures.len(), 4, "{counted:?}");
    let topics: BTreeSet<String> = content().topics.keys().map(|t| t.to_string()).collect();
    // Each counter is day, campaign, topic and measure: nothing else. Everything this person
    // did counts under the campaign whose link brought them, not only the first page.
    for (cell, _) in &counted {
        assert_eq!(cell.campaign, "ward7", "{cell:?}");
        assert!(
            cell.topic == "-" || topics.contains(&cell.topic),
            "{cell:?}"
        );
    }
    // And every record the store holds, counters included, is free of what was said and of
    // the session: only the session's own record is under its keyed hash.
    for (k, v) in server.store.dump().await.unwrap() {
        let (k_text, v_text) = (String::from_utf8_lossy(&k), String::from_utf8_lossy(&v));
        for t in asked {
            assert!(!k_text.contains(t) && !v_text.contains(t), "{t:?} stored");
        }
        assert!(!k_text.contains(&session) && !v_text.contains(&session));
        if v.len() == 8 {
            assert!(
                !k.windows(32).any(|w| w == key.as_bytes()),
                "a counter names a person"
            );
        }
    }
}

fn tools() -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let chromedriver = Path::new("/usr/bin/chromedriver");
    let chromium = Path::new("/usr/bin/chromium");
    if !chromedriver.exists() || !chromium.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the print test needs chromium"
        );
        eprintln!("skipped: the print test needs chromium and chromium-driver");
        return None;
    }
    Some((chromedriver.to_owned(), chromium.to_owned()))
}

/// How many pages a PDF from Chromium has: its page objects.
fn pdf_pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    text.match_indices("/Type /Page")
        .filter(|(at, m)| !text[at + m.len()..].starts_with('s'))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poster_and_a_topic_sheet_print_on_one_a4_page_each() {
    let Some((chromedriver, chromium)) = tools() else {
        return;
    };
    let content = content();
    let dir = tempfile::tempdir().unwrap();
    let kit = Kit::new(&content, addresses(), Some("ward7".to_owned()));
    for path in kit.paths() {
        let target = dir.path().join(&path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, kit.file(&path).unwrap().bytes).unwrap();
    }
    let driver = crate::browser::Driver::start(&chromedriver).await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.browser(&chromium, true, profile.path()).await;
    let mut sheets = vec!["poster.html".to_owned()];
    // The longest topic, and one every workshop uses.
    let longest = content
        .topics
        .values()
        .max_by_key(|t| {
            rightsbot::engine::render_more(
                &content,
                &content.default_locale,
                t,
                rightsbot::ids::Audience::YoungPerson,
            )
            .len()
        })
        .unwrap();
    sheets.push(format!("topics/{}.html", longest.id));
    sheets.push("topics/visiting.html".to_owned());
    for sheet in sheets {
        let url = format!("file://{}", dir.path().join(&sheet).display());
        browser.goto(&url).await.unwrap();
        // Nothing is cut off: every part fits inside the sheet.
        let overflow = browser
            .execute(
                "const s = document.querySelector('.sheet'); \
                 const parts = [s, ...s.querySelectorAll('.text, footer, .codes')]; \
                 return parts.filter(e => e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1).map(e => e.className);",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(overflow, serde_json::json!([]), "{sheet} overflows");
        let name = sheet.replace('/', "-").replace(".html", "");
        let png = browser.screenshot().await.unwrap();
        std::fs::write(
            crate::browser::screenshot_path(&format!("kit-{name}.png")),
            &png,
        )
        .unwrap();
        if sheet == "poster.html" {
            // The codes on the printed poster scan.
            let mut found = decode_png(&png);
            found.sort();
            assert_eq!(
                found,
                vec![
                    "https://rights.example.org/?start=c_ward7".to_owned(),
                    "https://t.me/RightsBot?start=c_ward7".to_owned(),
                ],
                "{sheet}"
            );
        }
        let config = fantoccini::wd::PrintConfiguration::builder()
            .size(fantoccini::wd::PrintSize::A4)
            .margins(fantoccini::wd::PrintMargins {
                top: 1.2,
                bottom: 1.2,
                left: 1.2,
                right: 1.2,
            })
            .shrink_to_fit(false)
            .background(true)
            .build()
            .unwrap();
        let pdf = browser.print(config).await.unwrap();
        std::fs::write(
            crate::browser::screenshot_path(&format!("kit-{name}.pdf")),
            &pdf,
        )
        .unwrap();
        assert_eq!(pdf_pages(&pdf), 1, "{sheet} prints on more than one page");
    }
    browser.close().await.unwrap();
}

/// Runs the real binary on `data` with `args`; returns success, stdout and stderr.
fn rightsbot(data: &Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rightsbot"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("TELOXIDE_TOKEN")
        .env_remove("RIGHTSBOT_DASHBOARD")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_and_dashboard_links_work_while_the_bot_serves() {
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rightsbot"))
        .arg("--data")
        .arg(data.path())
        .args(["serve", "--http", &format!("127.0.0.1:{port}")])
        .env_remove("TELOXIDE_TOKEN")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let origin = format!("http://127.0.0.1:{port}");
    // Ready when it answers (the model takes a moment to load).
    let mut ready = false;
    for _ in 0..600 {
        if client()
            .get(format!("{origin}/healthz"))
            .send()
            .await
            .is_ok()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "the bot did not start");
    for _ in 0..9 {
        let response = get(&format!("{origin}/?start=t_visiting-c_ward7")).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    // The operator's commands, on the same data folder, while it serves.
    let (ok, link, err) = rightsbot(
        data.path(),
        &[
            "dashboard",
            "new",
            "--campaign",
            "ward7",
            "--public-url",
            &origin,
        ],
    );
    assert!(ok, "{err}");
    let link = link.lines().next().unwrap().to_owned();
    assert!(link.starts_with(&format!("{origin}/advocates/")), "{link}");
    let (ok, out, err) = rightsbot(data.path(), &["counts", "--campaign", "ward7"]);
    assert!(ok, "{err}");
    assert!(out.contains("campaign ward7"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("visiting") && l.contains("10")),
        "{out}"
    );
    // From anywhere, with the dashboard link: the same.
    let (ok, out, err) = rightsbot(data.path(), &["counts", "--csv", "--url", &link]);
    assert!(ok, "{err}");
    assert!(out.contains("visiting,10,10,0,0"), "{out}");
    let page = get(&link).await;
    assert_eq!(page.status(), StatusCode::OK);
    let (ok, _, err) = rightsbot(data.path(), &["dashboard", "revoke", "--campaign", "ward7"]);
    assert!(ok, "{err}");
    assert_eq!(get(&link).await.status(), StatusCode::NOT_FOUND);
    let (ok, _, err) = rightsbot(data.path(), &["counts", "--url", &link]);
    assert!(!ok && err.contains("wrong, or revoked"), "{err}");
    let _ = child.kill();
    let _ = child.wait();
}

/// An advocate posts a start link in a group chat: WhatsApp, Telegram, Slack and the rest fetch
/// it to draw a preview card. Those fetches are not people starting a chat and are not counted;
/// a person who then opens the link is.
#[tokio::test]
async fn a_link_preview_is_not_counted_as_a_start() {
    let server = Server::start(Config::default()).await;
    let link = "/?start=t_visiting-c_ward7";
    for agent in [
        "WhatsApp/2.23.20.0 A",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "TelegramBot (like TwitterBot)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    ] {
        assert!(
            open_as(&server, link, agent)
                .await
                .contains("Visits from family and friends"),
            "{agent} was not shown the page"
        );
    }
    assert!(
        server.store.all_counts().await.is_empty(),
        "a preview counted: {:?}",
        server.store.all_counts().await
    );
    let phone = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0 Mobile Safari/537.36";
    open_as(&server, link, phone).await;
    let counted = server.store.all_counts().await;
    assert!(
        counted
            .iter()
            .any(|(cell, _)| cell.measure == Measure::Started && cell.campaign == "ward7"),
        "the person's start was not counted: {counted:?}"
    );
}

/// The page at `path` as a client naming itself `agent` sees it.
async fn open_as(server: &Server, path: &str, agent: &str) -> String {
    let response = client()
        .get(server.url(path))
        .header("user-agent", agent)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{agent}");
    response.text().await.unwrap()
}
