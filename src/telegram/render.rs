//! Turns the engine's plain-text replies into Telegram messages: HTML parse mode with every
//! piece of text escaped (a title in bold), long replies split under Telegram's 4096-character
//! limit on paragraph boundaries, and buttons as an inline keyboard under the last part.
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
    replies.iter().flat_map(reply_messages).collect()
}

fn reply_messages(reply: &Reply) -> Vec<Outgoing> {
    let title = reply
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let title_units = title.map_or(0, |t| units(t) + 2);
    let limit = SPLIT_AT_UNITS.saturating_sub(title_units).max(1);
    let mut parts: Vec<String> = split(reply.text.trim(), limit, &["\n\n", "\n", " "])
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
            html.push_str(&escape(&part));
            Outgoing {
                html,
                keyboard: (i == last).then(|| keyboard(reply)).flatten(),
            }
        })
        .collect()
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
    for piece in text.split(sep) {
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
    fn cuts_a_giant_word_rather_than_losing_it() {
        let word = "\u{1f600}".repeat(5000);
        let out = messages(&[reply(None, &word)]);
        let total: usize = out.iter().map(|m| m.html.chars().count()).sum();
        assert_eq!(total, 5000);
        assert!(out.iter().all(|m| units(&m.html) <= MAX_MESSAGE_UNITS));
    }
}
