//! Start links that advocates share as URLs and QR codes: `https://t.me/<bot>?start=<payload>`
//! or the web chat's `/?start=<payload>`. A payload is `[A-Za-z0-9_-]{1,64}` made of
//! `-`-separated parts, each a key letter, `_`, and a value, in any order and any subset:
//! `t_visiting-a_parent-l_en-c_ward7` opens the visiting topic for a parent in English and
//! counts it under campaign `ward7`. A malformed part is skipped and the good parts still apply
//! (`StartLink::read`): a start link must never turn into an error for a young person.

use crate::ids::{Audience, LocaleId, TopicId};

pub const MAX_PAYLOAD_LEN: usize = 64;
const MAX_CAMPAIGN_LEN: usize = 16;

/// A payload read part by part: what it opens, and what is wrong with it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reading {
    pub link: StartLink,
    pub problems: Vec<String>,
}

/// A campaign code as written on a poster, if it is one: `[A-Za-z0-9_]{1,16}`.
pub fn campaign_code(value: &str) -> Option<String> {
    let ok = !value.is_empty()
        && value.len() <= MAX_CAMPAIGN_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then(|| value.to_owned())
}

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
        let reading = StartLink::read(payload);
        reading.problems.is_empty().then_some(reading.link)
    }

    /// Reads a payload part by part: every good part is applied, and each bad one is named
    /// with what is wrong with it, so `c_Ward-7-t_visiting` still opens the visiting topic.
    pub fn read(payload: &str) -> Reading {
        let mut reading = Reading::default();
        if payload.is_empty() {
            reading
                .problems
                .push("the link has nothing after start=".to_owned());
            return reading;
        }
        if payload.len() > MAX_PAYLOAD_LEN {
            reading.problems.push(format!(
                "the part after start= is {} characters long; Telegram allows {MAX_PAYLOAD_LEN}",
                payload.len()
            ));
            return reading;
        }
        if let Some(c) = payload
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
        {
            reading.problems.push(format!(
                "{c:?} cannot be in a start link: use only letters, digits, _ and -"
            ));
            return reading;
        }
        for part in payload.split('-') {
            if let Err(problem) = reading.link.apply(part) {
                reading.problems.push(format!("part {part:?}: {problem}"));
            }
        }
        reading
    }

    /// Applies one `key_value` part, or says why it cannot.
    fn apply(&mut self, part: &str) -> Result<(), String> {
        let Some((key, value)) = part.split_once('_') else {
            return Err(
                "a part is a letter, _ and a value, like t_visiting (a - starts a new part: \
                 was it meant to belong to the part before?)"
                    .to_owned(),
            );
        };
        let repeated = || Err(format!("{key}_ comes twice; the first one counts"));
        match key {
            "t" if self.topic.is_some() => repeated(),
            "t" => {
                self.topic = Some(TopicId::parse(value).ok_or(
                    "a topic id is lower-case letters, digits and _ (see /topics)".to_owned(),
                )?);
                Ok(())
            }
            "a" if self.audience.is_some() => repeated(),
            "a" => {
                let audience = Audience::parse(value).or(match value {
                    "yp" => Some(Audience::YoungPerson),
                    "p" => Some(Audience::Parent),
                    "adv" => Some(Audience::Advocate),
                    _ => None,
                });
                self.audience = Some(
                    audience.ok_or(
                        "the audience is yp (young person), p (parent or carer) or adv (advocate)"
                            .to_owned(),
                    )?,
                );
                Ok(())
            }
            "l" if self.locale.is_some() => repeated(),
            // `-` separates parts, so a region's dash travels as `_`: `l_pt_br`.
            "l" => {
                self.locale = Some(
                    LocaleId::parse(&value.replace('_', "-"))
                        .ok_or("a language is a code such as en or cy".to_owned())?,
                );
                Ok(())
            }
            "c" if self.campaign.is_some() => repeated(),
            "c" => {
                self.campaign = Some(campaign_code(value).ok_or(format!(
                    "a campaign code is 1 to {MAX_CAMPAIGN_LEN} letters, digits or _ \
                     (a - ends the part)"
                ))?);
                Ok(())
            }
            _ => Err(format!(
                "{key}_ is not a kind of part: use t_ (topic), a_ (audience), l_ (language) \
                 or c_ (campaign)"
            )),
        }
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

    #[test]
    fn one_bad_part_leaves_the_good_parts() {
        let reading = StartLink::read("c_Ward-7-t_visiting-a_p");
        assert_eq!(reading.link.topic.unwrap().as_str(), "visiting");
        assert_eq!(reading.link.audience, Some(Audience::Parent));
        assert_eq!(reading.link.campaign.as_deref(), Some("Ward"));
        assert_eq!(reading.problems.len(), 1, "{:?}", reading.problems);
        assert!(
            reading.problems[0].contains("\"7\""),
            "{:?}",
            reading.problems
        );
    }
}
