//! Start links that advocates share as URLs and QR codes: `https://t.me/<bot>?start=<payload>`
//! or the web chat's `/?start=<payload>`. A payload is `[A-Za-z0-9_-]{1,64}` made of
//! `-`-separated parts, each a key letter, `_`, and a value, in any order and any subset:
//! `t_visiting-a_parent-l_en-c_ward7` opens the visiting topic for a parent in English and
//! counts it under campaign `ward7`. Anything malformed is simply ignored by the caller:
//! a start link must never turn into an error for a young person.

use crate::ids::{Audience, LocaleId, TopicId};

pub const MAX_PAYLOAD_LEN: usize = 64;
const MAX_CAMPAIGN_LEN: usize = 16;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartLink {
    pub topic: Option<TopicId>,
    pub audience: Option<Audience>,
    pub locale: Option<LocaleId>,
    /// A workshop or poster code, for anonymous counts only.
    pub campaign: Option<String>,
}

impl StartLink {
    /// Reads a payload; `None` if any part is malformed, repeated or unknown.
    pub fn parse(payload: &str) -> Option<StartLink> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        if payload.is_empty() || payload.len() > MAX_PAYLOAD_LEN || !payload.bytes().all(allowed) {
            return None;
        }
        let mut link = StartLink::default();
        for part in payload.split('-') {
            let (key, value) = part.split_once('_')?;
            match key {
                "t" if link.topic.is_none() => link.topic = Some(TopicId::parse(value)?),
                "a" if link.audience.is_none() => {
                    link.audience = Some(Audience::parse(value).or(match value {
                        "yp" => Some(Audience::YoungPerson),
                        "p" => Some(Audience::Parent),
                        "adv" => Some(Audience::Advocate),
                        _ => None,
                    })?)
                }
                // `-` separates parts, so a region's dash travels as `_`: `l_pt_br`.
                "l" if link.locale.is_none() => {
                    link.locale = Some(LocaleId::parse(&value.replace('_', "-"))?)
                }
                "c" if link.campaign.is_none() => {
                    let ok = !value.is_empty()
                        && value.len() <= MAX_CAMPAIGN_LEN
                        && value
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
                    link.campaign = Some(ok.then(|| value.to_owned())?)
                }
                _ => return None,
            }
        }
        Some(link)
    }

    /// The payload for this link, or `None` if it would be longer than Telegram allows.
    pub fn encode(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(t) = &self.topic {
            parts.push(format!("t_{t}"));
        }
        if let Some(a) = self.audience {
            let short = match a {
                Audience::YoungPerson => "yp",
                Audience::Parent => "p",
                Audience::Advocate => "adv",
            };
            parts.push(format!("a_{short}"));
        }
        if let Some(l) = &self.locale {
            parts.push(format!("l_{}", l.as_str().replace('-', "_")));
        }
        if let Some(c) = &self.campaign {
            parts.push(format!("c_{c}"));
        }
        let payload = parts.join("-");
        (!payload.is_empty() && payload.len() <= MAX_PAYLOAD_LEN).then_some(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_any_subset_in_any_order() {
        let link = StartLink::parse("c_ward7-a_parent-t_visiting").unwrap();
        assert_eq!(link.topic.unwrap().as_str(), "visiting");
        assert_eq!(link.audience, Some(Audience::Parent));
        assert_eq!(link.campaign.as_deref(), Some("ward7"));
        assert_eq!(link.locale, None);
        assert_eq!(
            StartLink::parse("a_yp").unwrap().audience,
            Some(Audience::YoungPerson)
        );
        let regional = StartLink::parse("l_pt_br-t_visiting").unwrap();
        assert_eq!(
            regional.locale.as_ref().map(LocaleId::as_str),
            Some("pt-br")
        );
        assert_eq!(regional.encode().as_deref(), Some("t_visiting-l_pt_br"));
    }

    #[test]
    fn refuses_malformed_payloads() {
        for bad in [
            "",
            "hello",
            "t_",
            "t_Visiting",
            "x_1",
            "t_a-t_b",
            "t_a b",
            "t_a%20",
            "c_",
        ] {
            assert_eq!(StartLink::parse(bad), None, "{bad:?}");
        }
        assert_eq!(StartLink::parse(&"t_a".repeat(30)), None);
    }
}
