//! HTML for the web chat, written by hand: the chat page, the conversation fragment the script
//! inserts, and the static pages (topics, helplines, privacy, about, not found).
//!
//! Every piece of text from content, from the person or from the form's own history goes
//! through `escape` (or `text_html`, which escapes): nothing is ever inserted raw. There are
//! no inline scripts or styles (the Content-Security-Policy forbids them), and no third-party
//! assets.

use std::fmt::Write as _;

use crate::content::{Content, Topic};
use crate::engine::{MORE_SECTION_KEYS, render_ask, render_more};
use crate::ids::{Audience, LocaleId};

use super::history::{Entry, Speaker};

/// Where "Leave this page quickly" ends up: a neutral, everyday page.
pub const EXIT_URL: &str = "https://www.bbc.co.uk/weather";
/// The way out as the page links it: our own `/leave` forgets what the browser holds of the
/// conversation (the page cookie), then sends the browser on to `EXIT_URL`.
pub const LEAVE_PATH: &str = "/leave";

/// Escapes text for use in HTML text and in double- or single-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Reply text as HTML: paragraphs at blank lines, lines starting with "\u{2022}" or "- " as a
/// list, other line breaks kept, and every phone or text number a `tel:` or `sms:` link.
pub fn text_html(text: &str) -> String {
    blocks_html(text, &numbers_html, &[])
}

/// Like `text_html`, with a "tell me more" text's sections (the notes for other nations, the
/// rights, the sources) each folded under its heading, closed until asked for.
pub fn reply_html(words: &Words<'_>, text: &str) -> String {
    blocks_html(text, &numbers_html, &words.sections())
}

/// Like `reply_html`, with web addresses made into links too: for the static pages, where
/// following a link loses nothing (in the chat it would leave the conversation).
pub fn page_html(words: &Words<'_>, text: &str) -> String {
    blocks_html(text, &linkify, &words.sections())
}

fn blocks_html(text: &str, inline: &dyn Fn(&str) -> String, sections: &[String]) -> String {
    let text = text.replace("\r\n", "\n");
    let mut out = String::new();
    for paragraph in text.split("\n\n") {
        let lines: Vec<&str> = paragraph
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty())
            .collect();
        let Some(first) = lines.first().map(|l| l.trim_start()) else {
            continue;
        };
        let section = sections
            .iter()
            .find(|label| !label.is_empty() && first.starts_with(label.as_str()));
        match section {
            Some(label) => {
                let rest = first[label.len()..].trim();
                let body: Vec<&str> = std::iter::once(rest)
                    .filter(|r| !r.is_empty())
                    .chain(lines[1..].iter().copied())
                    .collect();
                let heading = label.trim_end().trim_end_matches(':');
                let _ = write!(
                    out,
                    "<details class=\"section\"><summary><h3>{}</h3></summary>{}</details>",
                    escape(heading),
                    lines_html(&body, inline)
                );
            }
            None => out.push_str(&lines_html(&lines, inline)),
        }
    }
    out
}

/// A list item's text, if `line` is one ("\u{2022} text" or "- text").
fn list_item(line: &str) -> Option<&str> {
    let line = line.trim_start();
    line.strip_prefix('\u{2022}')
        .or_else(|| line.strip_prefix("- "))
        .map(str::trim)
}

/// The lines of one paragraph: runs of list items as a list, other lines as a paragraph.
fn lines_html(lines: &[&str], inline: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        if list_item(lines[i]).is_some() {
            out.push_str("<ul>");
            while let Some(item) = lines.get(i).and_then(|l| list_item(l)) {
                let _ = write!(out, "<li>{}</li>", inline(item));
                i += 1;
            }
            out.push_str("</ul>");
        } else {
            let start = i;
            while i < lines.len() && list_item(lines[i]).is_none() {
                i += 1;
            }
            let joined: Vec<String> = lines[start..i].iter().map(|l| inline(l)).collect();
            let _ = write!(out, "<p>{}</p>", joined.join("<br>"));
        }
    }
    out
}

/// Escapes `text`, making each phone or text number a link that dials it or opens a text.
pub fn numbers_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut at = 0;
    for number in super::numbers::find(text) {
        out.push_str(&escape(&text[at..number.start]));
        let _ = write!(
            out,
            "<a class=\"num\" href=\"{}\">{}</a>",
            escape(&number.href),
            escape(&text[number.start..number.end])
        );
        at = number.end;
    }
    out.push_str(&escape(&text[at..]));
    out
}

/// Escapes `text`, turning each `https://` address into a link and each number into a `tel:`
/// or `sms:` link. An address runs to the next space, less closing punctuation.
fn linkify(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("https://") {
        out.push_str(&numbers_html(&rest[..start]));
        let tail = &rest[start..];
        let end = tail.find(char::is_whitespace).unwrap_or(tail.len());
        let url = tail[..end].trim_end_matches([')', '.', ',', ';', ':']);
        let _ = write!(
            out,
            "<a href=\"{url}\" rel=\"noreferrer\">{url}</a>",
            url = escape(url)
        );
        rest = &tail[url.len()..];
    }
    out.push_str(&numbers_html(rest));
    out
}

/// The words of the page around the conversation, in one locale.
pub struct Words<'a> {
    content: &'a Content,
    locale: &'a LocaleId,
}

impl<'a> Words<'a> {
    pub fn new(content: &'a Content, locale: &'a LocaleId) -> Self {
        Words { content, locale }
    }

    /// An interface string, raw (escape it when writing HTML). A missing key shows the key
    /// itself, which a test catches, rather than failing a young person's request.
    pub fn get(&self, key: &str) -> String {
        self.content.ui(self.locale, key).to_owned()
    }

    /// The page's language, for `<html lang>`.
    pub fn lang(&self) -> &str {
        self.locale.as_str()
    }

    /// An interface string, escaped for HTML.
    pub fn html(&self, key: &str) -> String {
        escape(&self.get(key))
    }

    /// The words that open a section of a "tell me more" text, in this locale.
    pub fn sections(&self) -> Vec<String> {
        MORE_SECTION_KEYS.iter().map(|key| self.get(key)).collect()
    }
}

/// What the layout needs to know about the page it wraps.
pub struct Frame<'a> {
    pub title: &'a str,
    /// The page's own address at the public URL, for a shareable page (`--public-url`).
    pub canonical: Option<&'a str>,
    pub crisis: bool,
    /// The chat page has the data buttons in its footer (they post through its form).
    pub chat_footer: bool,
}

/// The whole document around `main`.
pub fn layout(words: &Words<'_>, frame: &Frame<'_>, main: &str) -> String {
    let site = words.html("web.site_name");
    let body_class = if frame.crisis {
        " class=\"crisis\""
    } else {
        ""
    };
    let mut out = String::with_capacity(main.len() + 3000);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{title} - {site}</title>\n{canonical}\
         <link rel=\"stylesheet\" href=\"/assets/chat.css\">\n\
         <script src=\"/assets/chat.js\" defer></script>\n</head>\n<body{body_class}>\n\
         <a class=\"skip\" href=\"#main\">{skip}</a>\n\
         <header class=\"top\"><a class=\"brand\" href=\"/chat\">{site}</a></header>\n\
         <nav class=\"bar\" id=\"bar\" aria-label=\"{help}\"><div class=\"bar-inner\">\n\
         <a class=\"help\" id=\"help-now\" href=\"/helplines\">{help}</a>\n\
         <a class=\"exit\" href=\"{leave_path}\" rel=\"noreferrer\" data-exit=\"{exit}\">{leave}</a>\n\
         </div>\n\
         <p class=\"crisis-banner\" id=\"crisis-banner\">{banner}</p>\n\
         </nav>\n<main id=\"main\" tabindex=\"-1\">\n{main}</main>\n<footer class=\"foot\">\n",
        lang = escape(words.lang()),
        title = escape(frame.title),
        canonical = frame.canonical.map_or_else(String::new, |url| format!(
            "<link rel=\"canonical\" href=\"{}\">\n",
            escape(url)
        )),
        skip = words.html("web.skip"),
        help = words.html("button.get_help_now"),
        exit = EXIT_URL,
        leave_path = LEAVE_PATH,
        leave = words.html("web.leave"),
        banner = numbers_html(&words.get("web.crisis_banner")),
    );
    if frame.chat_footer {
        let _ = write!(
            out,
            "<div class=\"data-buttons\">\
             <button type=\"submit\" form=\"chat\" name=\"command\" value=\"mydata\" class=\"link\">{mydata}</button> \
             <button type=\"submit\" form=\"chat\" name=\"command\" value=\"forget\" class=\"link\">{forget}</button>\
             </div>",
            mydata = words.html("web.my_data"),
            forget = words.html("web.forget"),
        );
    }
    let _ = write!(
        out,
        "<nav aria-label=\"{site}\"><a href=\"/chat\">{chat}</a> <a href=\"/helplines\">{helplines}</a> \
         <a href=\"/privacy\">{privacy}</a> <a href=\"/about\">{about}</a></nav>\n\
         </footer>\n</body>\n</html>\n",
        chat = words.html("web.back_to_chat"),
        helplines = words.html("web.helplines"),
        privacy = words.html("web.privacy"),
        about = words.html("web.about"),
    );
    out
}

/// One conversation entry. `live` entries carry their buttons; `latest` marks the first reply
/// of the newest turn, where the page scrolls to and focus can go.
pub fn entry_html(words: &Words<'_>, entry: &Entry, latest: bool) -> String {
    let id = if latest {
        " id=\"latest\" tabindex=\"-1\""
    } else {
        ""
    };
    match entry.speaker {
        Speaker::Person => format!(
            "<div class=\"msg you\"{id}><p><span class=\"visually-hidden\">{who} </span>{text}</p></div>\n",
            who = words.html("web.you_said"),
            text = escape(&entry.text),
        ),
        Speaker::Bot => {
            let mut out = format!("<section class=\"msg bot\"{id}>");
            let _ = write!(
                out,
                "<span class=\"visually-hidden\">{} </span>",
                words.html("web.bot_said")
            );
            if let Some(title) = &entry.title {
                let _ = write!(out, "<h2>{}</h2>", escape(title));
            }
            out.push_str(&reply_html(words, &entry.text));
            if !entry.buttons.is_empty() {
                out.push_str("<div class=\"actions\">");
                for row in &entry.buttons {
                    out.push_str("<div class=\"btn-row\">");
                    for button in row {
                        let _ = write!(
                            out,
                            "<button type=\"submit\" form=\"chat\" name=\"action\" value=\"{value}\">{label}</button>",
                            value = escape(&button.value),
                            label = escape(&button.label),
                        );
                    }
                    out.push_str("</div>");
                }
                out.push_str("</div>");
            }
            out.push_str("</section>\n");
            out
        }
    }
}

/// The entries of the newest turn, with their buttons. The first reply is marked as the
/// latest (the page scrolls there and focus can go there).
pub fn newest_html(words: &Words<'_>, newest: &[Entry]) -> String {
    let latest = newest
        .iter()
        .position(|e| e.speaker == Speaker::Bot)
        .unwrap_or(0);
    newest
        .iter()
        .enumerate()
        .map(|(i, e)| entry_html(words, e, i == latest))
        .collect()
}

/// What the chat page shows.
pub struct ChatPage<'a> {
    /// Earlier turns, already without buttons.
    pub earlier: &'a [Entry],
    /// The newest turn: what the person said (when known) and the replies, with buttons.
    pub newest: &'a [Entry],
    pub csrf: &'a str,
    /// The history to post back with the next message (the only place it lives).
    pub log: &'a str,
    /// The start link's campaign code, or empty.
    pub campaign: &'a str,
    /// A kind note about the last request (cut short, too fast...), shown by the form.
    pub notice: Option<&'a str>,
    pub crisis: bool,
    /// The page shows no conversation of its own (a plain return visit), so the script may
    /// put back the one this tab kept.
    pub restore: bool,
}

pub fn chat_page(words: &Words<'_>, page: &ChatPage<'_>) -> String {
    let mut main = String::new();
    let _ = write!(
        main,
        "<h1 class=\"chat-title\">{}</h1>\n\
         <div id=\"log\" class=\"log\" role=\"log\" aria-live=\"polite\" aria-relevant=\"additions\" aria-label=\"{}\"{}>\n",
        words.html("web.chat_heading"),
        words.html("web.chat_heading"),
        if page.restore {
            " data-restore=\"1\""
        } else {
            ""
        },
    );
    main.insert_str(
        0,
        &format!(
            // The form's default button, first in the document: pressing Enter in the message
            // box must send the message, not press the first reply button.
            "<button type=\"submit\" form=\"chat\" name=\"send\" value=\"1\" class=\"visually-hidden\" \
             tabindex=\"-1\" aria-hidden=\"true\">{}</button>\n",
            words.html("web.send")
        ),
    );
    for entry in page.earlier {
        main.push_str(&entry_html(words, entry, false));
    }
    main.push_str(&newest_html(words, page.newest));
    main.push_str("</div>\n");
    let notice = page.notice.map(escape).unwrap_or_default();
    let _ = write!(
        main,
        "<form id=\"chat\" class=\"ask\" method=\"post\" action=\"/chat\" data-problem=\"{problem}\">\n\
         <p id=\"notice\" class=\"notice\" role=\"status\">{notice}</p>\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
         <input type=\"hidden\" name=\"log\" value=\"{log}\">\n\
         <input type=\"hidden\" name=\"campaign\" value=\"{campaign}\">\n\
         <label for=\"message\">{label}</label>\n\
         <div class=\"send-row\">\
         <input id=\"message\" name=\"message\" type=\"text\" autocomplete=\"off\" \
         enterkeyhint=\"send\" aria-describedby=\"hint\">\
         <button type=\"submit\" name=\"send\" value=\"1\">{send}</button></div>\n\
         <p id=\"hint\" class=\"hint\">{hint}</p>\n</form>\n",
        problem = words.html("web.problem"),
        csrf = escape(page.csrf),
        log = escape(page.log),
        campaign = escape(page.campaign),
        label = words.html("web.message_label"),
        send = words.html("web.send"),
        hint = words.html("web.hint"),
    );
    let title = words.get("web.chat_heading");
    let frame = Frame {
        title: &title,
        canonical: None,
        crisis: page.crisis,
        chat_footer: true,
    };
    layout(words, &frame, &main)
}

/// A page of fixed text (privacy, about, not found).
pub fn text_page(words: &Words<'_>, title: &str, text: &str) -> String {
    let main = format!(
        "<article class=\"page\"><h1>{}</h1>{}<p><a href=\"/chat\">{}</a></p></article>\n",
        escape(title),
        page_html(words, text),
        words.html("web.back_to_chat"),
    );
    plain_page(words, title, &main)
}

/// Every topic by title, with its id and a link to its page.
pub fn topics_page(words: &Words<'_>, content: &Content) -> String {
    let title = words.get("web.topics_title");
    let mut main = format!(
        "<article class=\"page\"><h1>{}</h1>{}<ul class=\"topics\">",
        escape(&title),
        text_html(&words.get("web.topics_intro")),
    );
    let mut topics: Vec<&Topic> = content.topics.values().collect();
    topics.sort_by_key(|t| t.title.to_lowercase());
    for topic in topics {
        let _ = write!(
            main,
            "<li><a href=\"/topics/{id}\">{title}</a> \u{00b7} {label} <code>{id}</code></li>",
            id = topic.id,
            title = escape(&topic.title),
            label = words.html("web.topic_id"),
        );
    }
    let _ = writeln!(
        main,
        "</ul><p><a href=\"/chat\">{}</a></p></article>",
        words.html("web.back_to_chat")
    );
    plain_page(words, &title, &main)
}

/// Every helpline, with its contact, who it is for, when it was checked and its website.
pub fn helplines_page(words: &Words<'_>, content: &Content) -> String {
    let title = words.get("helplines.title");
    let mut main = format!(
        "<article class=\"page\"><h1>{}</h1>{}<ul class=\"helplines\">",
        escape(&title),
        text_html(&words.get("helplines.intro")),
    );
    for h in &content.helplines {
        let _ = write!(
            main,
            "<li><h2>{name}</h2><p class=\"contact\">{contact}</p><p>{for_whom}</p>\
             <p class=\"small\">{checked} \u{00b7} <a href=\"{source}\" rel=\"noreferrer\">{website}<span class=\"visually-hidden\">: {name}</span></a></p></li>",
            name = escape(&h.name),
            contact = numbers_html(&h.contact),
            for_whom = escape(&h.for_whom),
            checked = escape(&words.get("web.checked").replace("{date}", &h.checked)),
            source = escape(&h.source),
            website = words.html("web.website"),
        );
    }
    let _ = writeln!(
        main,
        "</ul><p><a href=\"/chat\">{}</a></p></article>",
        words.html("web.back_to_chat")
    );
    plain_page(words, &title, &main)
}

/// A topic as a printable, shareable page: the short answer, "tell me more" (with rights,
/// sources and the review date) and "what can I ask?", worded for one audience.
pub fn topic_page(
    words: &Words<'_>,
    content: &Content,
    locale: &LocaleId,
    topic: &Topic,
    audience: Audience,
    public_url: Option<&str>,
) -> String {
    let mut main = format!(
        "<article class=\"page topic\"><h1>{}</h1>",
        escape(&topic.title)
    );
    if topic.audiences.len() > 1 {
        let _ = write!(main, "<p class=\"small\">{} ", words.html("web.read_for"));
        let links: Vec<String> = topic
            .audiences
            .iter()
            .map(|a| {
                let label = words.html(&format!("web.for_{a}"));
                if *a == audience {
                    format!("<strong aria-current=\"page\">{label}</strong>")
                } else {
                    format!("<a href=\"/topics/{}?audience={a}\">{label}</a>", topic.id)
                }
            })
            .collect();
        main.push_str(&links.join(" \u{00b7} "));
        main.push_str("</p>");
    }
    main.push_str(&text_html(topic.short.for_audience(audience)));
    if topic.crisis_signpost {
        let _ = write!(
            main,
            "<p><a href=\"/helplines\">{}</a></p>",
            words.html("button.get_help_now")
        );
    }
    let _ = write!(
        main,
        "<h2>{}</h2>{}<h2>{}</h2>{}",
        words.html("button.more"),
        page_html(words, &render_more(content, locale, topic, audience)),
        words.html("button.ask"),
        text_html(&render_ask(content, locale, topic, audience)),
    );
    let short_audience = match audience {
        Audience::YoungPerson => "yp",
        Audience::Parent => "p",
        Audience::Advocate => "adv",
    };
    let _ = write!(
        main,
        "<p class=\"no-print\"><a href=\"/?start=t_{id}-a_{short_audience}\">{ask}</a></p>",
        id = topic.id,
        ask = words.html("web.ask_in_chat"),
    );
    // Behind a proxy only the operator knows the address people use: written out in full,
    // the link can be copied onto a poster or into a message.
    let canonical =
        public_url.map(|base| format!("{base}/topics/{}?audience={audience}", topic.id));
    if let Some(url) = &canonical {
        let _ = write!(
            main,
            "<p class=\"small\">{} <a href=\"{url}\">{url}</a></p>",
            words.html("web.share_link"),
            url = escape(url),
        );
    }
    main.push_str("</article>\n");
    let frame = Frame {
        title: &topic.title,
        canonical: canonical.as_deref(),
        crisis: false,
        chat_footer: false,
    };
    layout(words, &frame, &main)
}

/// A page outside the chat (a topic, the topic list, the helplines): no crisis banner, no
/// chat footer, no canonical address.
fn plain_page(words: &Words<'_>, title: &str, main: &str) -> String {
    let frame = Frame {
        title,
        canonical: None,
        crisis: false,
        chat_footer: false,
    };
    layout(words, &frame, main)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_could_open_markup() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn addresses_become_links_on_static_pages_only() {
        let text = "See (https://example.org/a?b=1&c=<2>). Or https://x.y";
        assert_eq!(
            linkify(text),
            "See (<a href=\"https://example.org/a?b=1&amp;c=&lt;2&gt;\" rel=\"noreferrer\">\
             https://example.org/a?b=1&amp;c=&lt;2&gt;</a>). Or \
             <a href=\"https://x.y\" rel=\"noreferrer\">https://x.y</a>"
        );
        assert!(!text_html(text).contains("<a "));
        let sneaky = "https://\"onmouseover=\"x";
        assert!(!linkify(sneaky).contains("\"onmouseover"));
    }

    #[test]
    fn numbers_can_be_tapped_in_replies_and_pages() {
        assert_eq!(
            text_html("Call 0800 1111 (free) or text <b> 84001"),
            "<p>Call <a class=\"num\" href=\"tel:08001111\">0800 1111</a> (free) or text \
             &lt;b&gt; <a class=\"num\" href=\"sms:84001\">84001</a></p>"
        );
        assert_eq!(
            linkify("see https://x.y/0800111122 or call 999"),
            "see <a href=\"https://x.y/0800111122\" rel=\"noreferrer\">https://x.y/0800111122</a> \
             or call <a class=\"num\" href=\"tel:999\">999</a>"
        );
    }

    #[test]
    fn paragraphs_and_both_kinds_of_list() {
        let html = text_html("Hello\nthere\n\nYou could ask:\n\u{2022} one <b>\n\u{2022} two");
        assert_eq!(
            html,
            "<p>Hello<br>there</p><p>You could ask:</p><ul><li>one &lt;b&gt;</li><li>two</li></ul>"
        );
        let html = text_html("Steps:\n- first\n- second, 3 - 2\nafter");
        assert_eq!(
            html,
            "<p>Steps:</p><ul><li>first</li><li>second, 3 - 2</li></ul><p>after</p>"
        );
    }

    /// Every helpline number as written in the helplines' contact lines.
    fn helpline_numbers(content: &Content) -> Vec<String> {
        let mut numbers = Vec::new();
        for helpline in &content.helplines {
            for part in helpline
                .contact
                .split(|c: char| !(c.is_ascii_digit() || c == ' '))
            {
                let part = part.trim();
                if part.chars().filter(char::is_ascii_digit).count() >= 3 {
                    numbers.push(part.to_owned());
                }
            }
        }
        numbers
    }

    #[test]
    fn every_number_in_the_content_is_found() {
        let content = crate::content::load_embedded().expect("the built-in content loads");
        let numbers = helpline_numbers(&content);
        let locale = &content.default_locale;
        let mut texts: Vec<(String, String)> = Vec::new();
        for audience in Audience::ALL {
            for topic in content.topics.values() {
                let id = &topic.id;
                texts.push((
                    format!("{id} short"),
                    topic.short.for_audience(audience).clone(),
                ));
                texts.push((
                    format!("{id} more"),
                    render_more(&content, locale, topic, audience),
                ));
                texts.push((
                    format!("{id} ask"),
                    render_ask(&content, locale, topic, audience),
                ));
            }
            for (flow_id, flow) in &content.flows {
                for (step_id, step) in &flow.steps {
                    let text = step.text.for_audience(audience).clone();
                    texts.push((format!("{flow_id}.{step_id}"), text));
                }
            }
            for (id, page) in &content.pages {
                texts.push((
                    format!("page {id}"),
                    page.text.for_audience(audience).clone(),
                ));
            }
            texts.push((
                "crisis".into(),
                content.crisis.reply.for_audience(audience).clone(),
            ));
        }
        for helpline in &content.helplines {
            texts.push((helpline.name.clone(), helpline.contact.clone()));
        }
        for (key, text) in &content.locales[locale].strings {
            texts.push((key.clone(), text.clone()));
        }
        let mut missed = Vec::new();
        for (name, text) in &texts {
            let found = crate::web::numbers::find(text);
            for number in &numbers {
                for (at, _) in text.match_indices(number.as_str()) {
                    let end = at + number.len();
                    let bounded = !text[..at].ends_with(|c: char| c.is_ascii_digit())
                        && !text[end..].starts_with(|c: char| c.is_ascii_digit());
                    let linked = found.iter().any(|n| n.start <= at && n.end >= end);
                    if bounded && !linked {
                        missed.push(format!("{name}: {number}"));
                    }
                }
            }
            // And nothing else: every link is to a helpline number.
            for n in &found {
                let digits: String = text[n.start..n.end]
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect();
                let known = numbers
                    .iter()
                    .any(|k| k.chars().filter(char::is_ascii_digit).collect::<String>() == digits);
                if !known {
                    missed.push(format!(
                        "{name}: {:?} is not a helpline number",
                        &text[n.start..n.end]
                    ));
                }
            }
        }
        assert!(missed.is_empty(), "{}", missed.join("\n"));
    }

    #[test]
    fn sections_fold_under_their_headings() {
        let sections = ["If you are in Wales:".to_owned(), "Sources:".to_owned()];
        let html = blocks_html(
            "Main text.\n\nIf you are in Wales: it differs.\n\nSources:\n\u{2022} a\n\u{2022} b",
            &numbers_html,
            &sections,
        );
        assert_eq!(
            html,
            "<p>Main text.</p>\
             <details class=\"section\"><summary><h3>If you are in Wales</h3></summary><p>it differs.</p></details>\
             <details class=\"section\"><summary><h3>Sources</h3></summary><ul><li>a</li><li>b</li></ul></details>"
        );
    }
}
