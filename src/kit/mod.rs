//! The workshop kit: start links for the menu, each audience and each topic, as text and QR
//! codes, with an index page, an A4 poster and an A4 sheet per topic. Advocates print it or
//! hand the links out. `rightsbot links` writes it to a folder; the web server serves the same
//! files on an advocates' page.
//!
//! Pure: content and addresses in, files (as bytes) out. No I/O, no clock, nothing about any
//! person; every text comes from content (`kit.*` and `web.*` interface strings) and goes
//! through the web chat's HTML escaping.

pub mod qr;

use std::fmt::Write as _;

use crate::content::{Content, Topic};
use crate::deeplink::StartLink;
use crate::engine::{render_ask, render_more};
use crate::ids::{Audience, LocaleId, TopicId};
use crate::web::render::{Words, escape, page_html, text_html};

/// The print style every kit page links to, beside it in the kit's folder.
pub const CSS_PATH: &str = "kit.css";
const CSS: &str = include_str!("kit.css");

/// Where a start link leads: the web chat's address and, if known, the Telegram bot's.
#[derive(Clone, Debug)]
pub struct Addresses {
    /// The web chat's origin, like `https://rights.example.org` (no trailing slash).
    pub web: String,
    /// The bot's Telegram username, without `@`.
    pub telegram: Option<String>,
}

/// One start link in both channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// Its file stem in the kit: `menu`, `for-parent`, `topic-visiting`.
    pub name: String,
    pub start: StartLink,
    pub web: String,
    pub telegram: Option<String>,
}

/// A file of the kit: its bytes and its media type.
pub struct File {
    pub bytes: Vec<u8>,
    pub media_type: &'static str,
}

pub struct Kit<'a> {
    content: &'a Content,
    locale: LocaleId,
    addresses: Addresses,
    campaign: Option<String>,
}

impl<'a> Kit<'a> {
    pub fn new(content: &'a Content, addresses: Addresses, campaign: Option<String>) -> Kit<'a> {
        let web = addresses.web.trim_end_matches('/').to_owned();
        Kit {
            content,
            locale: content.default_locale.clone(),
            addresses: Addresses { web, ..addresses },
            campaign,
        }
    }

    fn words(&self) -> Words<'_> {
        Words::new(self.content, &self.locale)
    }

    fn link(&self, name: String, topic: Option<TopicId>, audience: Option<Audience>) -> Link {
        let start = StartLink {
            topic,
            audience,
            locale: None,
            campaign: self.campaign.clone(),
        };
        // Topic ids and campaign codes are short enough that this always encodes; a start
        // link that did not would only lose its parts, never break.
        let payload = start.encode();
        let query = payload.as_deref().map(|p| format!("?start={p}"));
        let query = query.unwrap_or_default();
        Link {
            name,
            web: format!("{}/{query}", self.addresses.web),
            telegram: self
                .addresses
                .telegram
                .as_ref()
                .map(|bot| format!("https://t.me/{bot}{query}")),
            start,
        }
    }

    /// Every link of the kit: the menu, each audience, each topic (by title).
    pub fn links(&self) -> Vec<Link> {
        let mut links = vec![self.link("menu".to_owned(), None, None)];
        for audience in Audience::ALL {
            links.push(self.link(format!("for-{audience}"), None, Some(audience)));
        }
        for topic in self.topics() {
            links.push(self.link(format!("topic-{}", topic.id), Some(topic.id.clone()), None));
        }
        links
    }

    fn topics(&self) -> Vec<&'a Topic> {
        let mut topics: Vec<&Topic> = self.content.topics.values().collect();
        topics.sort_by_key(|t| t.title.to_lowercase());
        topics
    }

    /// Every file of the kit by its path in the kit's folder.
    pub fn paths(&self) -> Vec<String> {
        let mut paths = vec![
            "index.html".to_owned(),
            "poster.html".to_owned(),
            CSS_PATH.to_owned(),
        ];
        for link in self.links() {
            for channel in self.channels(&link) {
                paths.push(format!("qr/{}-{channel}.svg", link.name));
                paths.push(format!("qr/{}-{channel}.png", link.name));
            }
        }
        for topic in self.topics() {
            paths.push(format!("topics/{}.html", topic.id));
        }
        paths
    }

    fn channels(&self, link: &Link) -> Vec<&'static str> {
        let mut channels = vec!["web"];
        if link.telegram.is_some() {
            channels.push("telegram");
        }
        channels
    }

    /// The file at `path` in the kit, or `None` if there is no such file.
    pub fn file(&self, path: &str) -> Option<File> {
        let page = |html: String| File {
            bytes: html.into_bytes(),
            media_type: "text/html; charset=utf-8",
        };
        match path {
            "" | "index.html" => return Some(page(self.index())),
            "poster.html" => return Some(page(self.poster())),
            CSS_PATH => {
                return Some(File {
                    bytes: CSS.as_bytes().to_vec(),
                    media_type: "text/css; charset=utf-8",
                });
            }
            _ => {}
        }
        if let Some(id) = path
            .strip_prefix("topics/")
            .and_then(|p| p.strip_suffix(".html"))
        {
            let topic = TopicId::parse(id).and_then(|id| self.content.topic(&id))?;
            return Some(page(self.sheet(topic)));
        }
        let file = path.strip_prefix("qr/")?;
        let (stem, format) = file.rsplit_once('.')?;
        let (name, channel) = stem.rsplit_once('-')?;
        let link = self.links().into_iter().find(|l| l.name == name)?;
        let url = match channel {
            "web" => link.web,
            "telegram" => link.telegram?,
            _ => return None,
        };
        match format {
            "svg" => Some(File {
                bytes: qr::svg(&url).ok()?.into_bytes(),
                media_type: "image/svg+xml",
            }),
            "png" => Some(File {
                bytes: qr::png(&url).ok()?,
                media_type: "image/png",
            }),
            _ => None,
        }
    }

    fn document(&self, title: &str, class: &str, body: &str) -> String {
        let words = self.words();
        format!(
            "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <meta name=\"robots\" content=\"noindex\">\
             <title>{title}</title><link rel=\"stylesheet\" href=\"{css}\"></head>\
             <body class=\"{class}\">{body}</body></html>\n",
            lang = escape(words.lang()),
            title = escape(title),
            css = self.css_href(class),
        )
    }

    /// Pages in `topics/` reach the style one folder up.
    fn css_href(&self, class: &str) -> String {
        if class == "sheet-page" {
            format!("../{CSS_PATH}")
        } else {
            CSS_PATH.to_owned()
        }
    }

    fn inline_qr(&self, url: &str, label: &str) -> String {
        match qr::svg(url) {
            Ok(svg) => format!(
                "<figure class=\"qr\" role=\"img\" aria-label=\"{label}\">{svg}</figure>",
                label = escape(label)
            ),
            Err(_) => String::new(),
        }
    }

    fn helplines_html(&self) -> String {
        let words = self.words();
        let mut html = format!(
            "<section class=\"helplines\"><h2>{}</h2><ul>",
            words.html("kit.help_now")
        );
        for id in &self.content.crisis.helplines {
            if let Some(h) = self.content.helplines.iter().find(|h| &h.id == id) {
                let _ = write!(
                    html,
                    "<li><strong>{}</strong>: {}</li>",
                    escape(&h.name),
                    escape(&h.contact)
                );
            }
        }
        html.push_str("</ul></section>");
        html
    }

    /// The index: every link as text, with its QR codes to download, and the printables.
    pub fn index(&self) -> String {
        let words = self.words();
        let title = words.get("kit.index_title");
        let mut body = format!(
            "<main class=\"index\"><h1>{}</h1>{}",
            escape(&title),
            text_html(&words.get("kit.index_intro"))
        );
        if let Some(code) = &self.campaign {
            body.push_str(&text_html(
                &words.get("kit.campaign").replace("{code}", code),
            ));
        }
        if self.addresses.telegram.is_none() {
            body.push_str(&text_html(&words.get("kit.no_telegram")));
        }
        let _ = write!(
            body,
            "<h2>{}</h2><ul><li><a href=\"poster.html\">{}</a></li></ul><table><thead><tr>\
             <th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            words.html("kit.print"),
            words.html("kit.poster"),
            words.html("kit.opens"),
            words.html("kit.web_chat"),
            words.html("kit.telegram"),
        );
        for link in self.links() {
            let (label, sheet) = match (&link.start.topic, link.start.audience) {
                (Some(t), _) => (
                    self.content
                        .topic(t)
                        .map_or_else(|| t.to_string(), |t| t.title.clone()),
                    Some(format!(
                        " \u{00b7} <a href=\"topics/{t}.html\">{}</a>",
                        words.html("kit.sheet")
                    )),
                ),
                (None, Some(a)) => (
                    format!(
                        "{} ({})",
                        words.get("kit.menu"),
                        words.get(&format!("web.for_{a}"))
                    ),
                    None,
                ),
                (None, None) => (words.get("kit.menu"), None),
            };
            let cell = |url: &str, channel: &str| {
                format!(
                    "<td><a href=\"{url}\">{url}</a><br><a href=\"qr/{name}-{channel}.svg\">SVG</a> \
                     \u{00b7} <a href=\"qr/{name}-{channel}.png\">PNG</a></td>",
                    url = escape(url),
                    name = link.name,
                )
            };
            let _ = write!(
                body,
                "<tr><td>{}{}</td>{}{}</tr>",
                escape(&label),
                sheet.unwrap_or_default(),
                cell(&link.web, "web"),
                link.telegram
                    .as_deref()
                    .map_or_else(|| "<td>\u{2014}</td>".to_owned(), |t| cell(t, "telegram")),
            );
        }
        body.push_str("</tbody></table></main>");
        self.document(&title, "index-page", &body)
    }

    /// The A4 poster: what the bot is and is not, a large QR code to the web chat and one to
    /// Telegram, the crisis helplines, and "not legal advice".
    pub fn poster(&self) -> String {
        let words = self.words();
        let title = words.get("web.site_name");
        let menu = self.link("menu".to_owned(), None, None);
        let mut codes = format!(
            "<div class=\"code web\">{}<p><strong>{}</strong></p><p class=\"address\">{}</p></div>",
            self.inline_qr(&menu.web, &words.get("kit.scan_web")),
            words.html("kit.scan_web"),
            escape(&menu.web),
        );
        if let Some(telegram) = &menu.telegram {
            let _ = write!(
                codes,
                "<div class=\"code telegram\">{}<p><strong>{}</strong></p><p class=\"address\">{}</p></div>",
                self.inline_qr(telegram, &words.get("kit.scan_telegram")),
                words.html("kit.scan_telegram"),
                escape(telegram),
            );
        }
        let body = format!(
            "<main class=\"sheet poster\"><h1>{title}</h1>{is}<div class=\"codes\">{codes}</div>\
             {is_not}{helplines}<p class=\"advice\">{advice}</p></main>",
            title = escape(&title),
            is = text_html(&words.get("kit.poster_is")),
            is_not = text_html(&words.get("kit.poster_is_not")),
            helplines = self.helplines_html(),
            advice = words.html("kit.not_advice"),
        );
        self.document(&title, "poster-page", &body)
    }

    /// One topic on an A4 sheet: the printable topic page, a QR code back to the topic in
    /// the chat, the bot's address and the helplines.
    pub fn sheet(&self, topic: &Topic) -> String {
        let words = self.words();
        let audience =
            if topic.audiences.is_empty() || topic.audiences.contains(&Audience::YoungPerson) {
                Audience::YoungPerson
            } else {
                topic.audiences[0]
            };
        let link = self.link(format!("topic-{}", topic.id), Some(topic.id.clone()), None);
        let body = format!(
            "<main class=\"sheet topic-sheet\"><h1>{title}</h1><div class=\"text\">{short}\
             <h2>{more_title}</h2>{more}<h2>{ask_title}</h2>{ask}</div>\
             <footer><div class=\"back\">{qr}<p><strong>{scan}</strong></p>\
             <p class=\"address\">{address}</p></div>{helplines}\
             <p class=\"advice\">{advice}</p></footer></main>",
            title = escape(&topic.title),
            short = text_html(topic.short.for_audience(audience)),
            more_title = words.html("button.more"),
            more = page_html(
                &words,
                &render_more(self.content, &self.locale, topic, audience)
            ),
            ask_title = words.html("button.ask"),
            ask = text_html(&render_ask(self.content, &self.locale, topic, audience)),
            qr = self.inline_qr(&link.web, &words.get("kit.sheet_back")),
            scan = words.html("kit.sheet_back"),
            address = escape(&link.web),
            helplines = self.helplines_html(),
            advice = words.html("kit.not_advice"),
        );
        self.document(&topic.title, "sheet-page", &body)
    }
}

/// What a start link payload (or a whole link) opens, line by line, and whether it is
/// without problems: the words of `rightsbot links --check`.
pub fn check(content: &Content, link: &str) -> (String, bool) {
    let payload = match link.split_once("start=") {
        Some((_, rest)) => rest.split(['&', '#']).next().unwrap_or_default(),
        None => link,
    };
    let reading = StartLink::read(payload);
    let mut problems = reading.problems.clone();
    let mut out = String::new();
    let start = &reading.link;
    let topic = start.topic.as_ref().and_then(|t| {
        let found = content.topic(t);
        if found.is_none() {
            let nearest = content
                .topics
                .keys()
                .map(|id| (strsim::jaro_winkler(id.as_str(), t.as_str()), id))
                .filter(|(score, _)| *score > 0.85)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, id)| format!("; did you mean \"{id}\"?"))
                .unwrap_or_default();
            problems.push(format!(
                "there is no topic \"{t}\"{nearest} (see /topics for every id)"
            ));
        }
        found
    });
    if let Some(l) = &start.locale
        && !content.locales.contains_key(l)
    {
        problems.push(format!(
            "the bot has no language {:?}; it will use {}",
            l.as_str(),
            content.default_locale
        ));
    }
    let opens = match topic {
        Some(t) => format!("the topic {:?} ({})", t.title, t.id),
        None => "the welcome and the menu".to_owned(),
    };
    let _ = writeln!(out, "opens: {opens}");
    if let Some(a) = start.audience {
        let _ = writeln!(out, "for: {a}");
    }
    if let Some(l) = start
        .locale
        .as_ref()
        .filter(|l| content.locales.contains_key(*l))
    {
        let _ = writeln!(out, "language: {l}");
    }
    if let Some(c) = &start.campaign {
        let _ = writeln!(out, "counted under campaign: {c}");
    }
    for p in &problems {
        let _ = writeln!(out, "problem: {p}");
    }
    if problems.is_empty() {
        let _ = writeln!(out, "the link is fine");
    } else {
        let _ = writeln!(
            out,
            "the rest of the link still works; the parts with a problem are left out"
        );
    }
    (out, problems.is_empty())
}
