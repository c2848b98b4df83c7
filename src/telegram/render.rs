//! Turns the engine's plain-text replies into Telegram messages: HTML parse mode with every
//! piece of text escaped (a title in bold, and the headings of a "tell me more" text's
//! sections), lines starting "- " shown as a bulleted list, long replies split under
//! Telegram's 4096-character limit on paragraph boundaries, and buttons as an inline keyboard
//! under the last part.
//!
//! Phone and text numbers stay plain digits, exactly as written, so Telegram's apps offer to
//! call them with a tap: nothing is put inside them, and a split never falls between a
//! number's groups.
//!
//! Pure: no I/O. It must never let unescaped text through, and never produce a button whose
//! callback data Telegram would refuse (that would lose the whole message).

use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use crate::engine::{MAX_ACTION_BYTES, Reply};

/// Telegram's limit on a message's text, in UTF-16 code units after entity parsing.
pub const MAX_MESSAGE_UNITS: usize = 4096;

/// Where replies are split: a margin under the limit, so a bold title always fits too.
const SPLIT_AT_UNITS: usize = 4000;

/// One message to send.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    /// HTML, every dynamic piece escaped.
    pub html: String,
    pub keyboard: Option<InlineKeyboardMarkup>,
}

/// The messages for a turn's replies, in order.
pub fn messages(replies: &[Reply]) -> Vec<Outgoing> {
    messages_with(replies, &[])
}

/// Like `messages`, with each paragraph that opens with one of `sections` (the words of
/// `engine::MORE_SECTION_KEYS` in the person's language) shown under a bold heading.
pub fn messages_with(replies: &[Reply], sections: &[String]) -> Vec<Outgoing> {
    replies
        .iter()
        .flat_map(|reply| reply_messages(reply, sections))
        .collect()
}

fn reply_messages(reply: &Reply, sections: &[String]) -> Vec<Outgoing> {
    let title = reply
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let title_units = title.map_or(0, |t| units(t) + 2);
    let limit = SPLIT_AT_UNITS.saturating_sub(title_units).max(1);
    let text = bullets(reply.text.trim());
    let mut parts: Vec<String> = split(&text, limit, &["\n\n", "\n", " "])
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .collect();
    if parts.is_empty() && title.is_none() {
        if reply.buttons.is_empty() {
            return Vec::new();
        }
        // Telegram refuses an empty text; buttons still need something to hang from.
        parts.push("\u{2026}".to_owned());
    }
    if parts.is_empty() {
        parts.push(String::new());
    }
    let last = parts.len() - 1;
    parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let mut html = String::new();
            if i == 0
                && let Some(t) = title
            {
                html.push_str("<b>");
                html.push_str(&escape(t));
                html.push_str("</b>");
                if !part.is_empty() {
                    html.push_str("\n\n");
                }
            }
            html.push_str(&paragraphs_html(&part, sections));
            Outgoing {
                html,
                keyboard: (i == last).then(|| keyboard(reply)).flatten(),
            }
        })
        .collect()
}

/// Lines starting "- " as "\u{2022} " lines: Telegram has no lists, and a bullet reads as one.
fn bullets(text: &str) -> String {
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            match trimmed.strip_prefix("- ") {
                Some(item) => format!("\u{2022} {item}"),
                None => line.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Escapes a part of a reply, with a paragraph that opens with a section's words under a bold
/// heading ("If you are in Wales:" becomes a bold line above the note).
fn paragraphs_html(part: &str, sections: &[String]) -> String {
    part.split("\n\n")
        .map(|paragraph| {
            let label = sections
                .iter()
                .find(|label| !label.is_empty() && paragraph.starts_with(label.as_str()));
            match label {
                Some(label) => {
                    let heading = label.trim_end();
                    let rest = paragraph[label.len()..].trim_start_matches(' ');
                    let rest = rest.strip_prefix('\n').unwrap_or(rest);
                    format!("<b>{}</b>\n{}", escape(heading), escape(rest))
                }
                None => escape(paragraph),
            }
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Escapes text for Telegram's HTML parse mode.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn keyboard(reply: &Reply) -> Option<InlineKeyboardMarkup> {
    let rows: Vec<Vec<InlineKeyboardButton>> = reply
        .buttons
        .iter()
        .map(|row| {
            row.iter()
                .filter_map(|b| {
                    let data = b.action.encode();
                    if data.len() > MAX_ACTION_BYTES || b.label.trim().is_empty() {
                        // Telegram would refuse the whole message: lose one button, not the reply.
                        tracing::error!(bytes = data.len(), "a button cannot be sent; left out");
                        return None;
                    }
                    Some(InlineKeyboardButton::callback(b.label.clone(), data))
                })
                .collect::<Vec<_>>()
        })
        .filter(|row| !row.is_empty())
        .collect();
    (!rows.is_empty()).then(|| InlineKeyboardMarkup::new(rows))
}

/// Length as Telegram counts it.
pub fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Splits `text` into parts of at most `limit` units, preferring the first separator (a
/// blank line), then the next, and cutting inside a word only as a last resort.
fn split(text: &str, limit: usize, separators: &[&str]) -> Vec<String> {
    if units(text) <= limit {
        return vec![text.to_owned()];
    }
    let Some((sep, finer)) = separators.split_first() else {
        return cut(text, limit);
    };
    let mut out = Vec::new();
    let mut current = String::new();
    for piece in pieces_of(text, sep) {
        let pieces = if units(piece) > limit {
            split(piece, limit, finer)
        } else {
            vec![piece.to_owned()]
        };
        for piece in pieces {
            if current.is_empty() {
                current = piece;
            } else if units(&current) + units(sep) + units(&piece) <= limit {
                current.push_str(sep);
                current.push_str(&piece);
            } else {
                out.push(std::mem::replace(&mut current, piece));
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// `text` split at `sep`, except that a space between two digits is not a place to split: a
/// phone number ("0800 528 0731") stays in one piece, and so in one message.
fn pieces_of<'a>(text: &'a str, sep: &str) -> Vec<&'a str> {
    if sep != " " {
        return text.split(sep).collect();
    }
    let bytes = text.as_bytes();
    let mut pieces = Vec::new();
    let mut start = 0;
    for (at, _) in text.match_indices(' ') {
        let inside_number = at > 0
            && bytes[at - 1].is_ascii_digit()
            && bytes.get(at + 1).is_some_and(u8::is_ascii_digit);
        if !inside_number {
            pieces.push(&text[start..at]);
            start = at + 1;
        }
    }
    pieces.push(&text[start..]);
    pieces
}

fn cut(text: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut current_units = 0;
    for c in text.chars() {
        if current_units + c.len_utf16() > limit {
            out.push(std::mem::take(&mut current));
            current_units = 0;
        }
        current.push(c);
        current_units += c.len_utf16();
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Action, Button};

    fn reply(title: Option<&str>, text: &str) -> Reply {
        Reply {
            title: title.map(str::to_owned),
            text: text.to_owned(),
            buttons: vec![vec![Button {
                label: "Menu".into(),
                action: Action::Menu,
            }]],
        }
    }

    #[test]
    fn escapes_every_piece_and_bolds_the_title() {
        let out = messages(&[reply(Some("A <b> & \"c\""), "x < y & <script>")]);
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].html,
            "<b>A &lt;b&gt; &amp; &quot;c&quot;</b>\n\nx &lt; y &amp; &lt;script&gt;"
        );
        assert!(out[0].keyboard.is_some());
    }

    #[test]
    fn splits_long_replies_on_paragraphs_with_buttons_on_the_last_part() {
        let para = "word ".repeat(300);
        let text = [para.trim(); 10].join("\n\n");
        let out = messages(&[reply(Some("Title"), &text)]);
        assert!(out.len() > 1);
        for (i, m) in out.iter().enumerate() {
            assert!(units(&m.html) <= MAX_MESSAGE_UNITS);
            assert_eq!(m.keyboard.is_some(), i == out.len() - 1);
            assert!(!m.html.starts_with(' ') && !m.html.ends_with(' '));
        }
        assert!(out[0].html.starts_with("<b>Title</b>"));
    }

    #[test]
    fn lists_are_bulleted_and_sections_have_headings() {
        let sections = ["If you are in Wales:".to_owned(), "Sources:".to_owned()];
        let text = "You can:\n- ask <staff>\n- write it down\n\nIf you are in Wales: it differs.\n\nSources:\n\u{2022} a";
        let out = messages_with(&[reply(Some("T"), text)], &sections);
        assert_eq!(
            out[0].html,
            "<b>T</b>\n\nYou can:\n\u{2022} ask &lt;staff&gt;\n\u{2022} write it down\n\n\
             <b>If you are in Wales:</b>\nit differs.\n\n<b>Sources:</b>\n\u{2022} a"
        );
    }

    #[test]
    fn a_number_is_never_split_between_messages() {
        let text = "call 0800 528 0731 now ".repeat(400);
        let out = messages(&[reply(None, &text)]);
        assert!(out.len() > 1);
        let whole: usize = out
            .iter()
            .map(|m| m.html.matches("0800 528 0731").count())
            .sum();
        assert_eq!(whole, 400, "every number whole, in one message");
    }

    #[test]
    fn every_helpline_number_reaches_telegram_as_written() {
        let content = crate::content::load_embedded().expect("the built-in content loads");
        let engine = crate::engine::Engine::new(content);
        let session = engine.fresh_session(0);
        let input = crate::engine::Input::Text("i want to kill myself and staff hit me".into());
        let outcome = engine.handle(session, input, 0);
        let html: String = messages(&outcome.replies)
            .iter()
            .map(|m| m.html.clone())
            .collect();
        for helpline in &engine.content().helplines {
            let shown = html.contains(&escape(&helpline.contact));
            let listed = outcome
                .replies
                .iter()
                .any(|r| r.text.contains(&helpline.contact));
            assert_eq!(shown, listed, "{}", helpline.contact);
        }
        for number in ["999", "0800 1111", "116 123", "85258", "0800 528 0731"] {
            assert!(html.contains(number), "{number} in {html}");
        }
    }

    #[test]
    fn cuts_a_giant_word_rather_than_losing_it() {
        let word = "\u{1f600}".repeat(5000);
        let out = messages(&[reply(None, &word)]);
        let total: usize = out.iter().map(|m| m.html.chars().count()).sum();
        assert_eq!(total, 5000);
        assert!(out.iter().all(|m| units(&m.html) <= MAX_MESSAGE_UNITS));
    }
}
