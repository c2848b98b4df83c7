//! Anonymous counts and how they are shown. The shells record, per day, start-link campaign
//! and topic, how many conversations started, topics were opened, questions were not
//! understood (fallbacks) and crisis replies were shown. Nothing else: no user key, no text,
//! nothing that links one count to another or to a session.
//!
//! The report (for the advocates' dashboard, its CSV and `rightsbot counts`) follows NHS
//! Digital's disclosure control for health statistics below national level: a count of 1 to 7
//! is shown as `*` and every other count is rounded to the nearest 5. Rounding alone does not
//! stop subtraction (cells 1, 8, 8 total 17: published `*`, 10, 10 and 15, and only 1 fits),
//! so a total adds only the counts that are shown and leaves the hidden ones out: a total
//! minus the rest then says nothing about a hidden count.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::engine::Outcome;

/// What one count counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Measure {
    Started,
    Opened,
    Fallback,
    Crisis,
}

impl Measure {
    pub const ALL: [Measure; 4] = [
        Measure::Started,
        Measure::Opened,
        Measure::Fallback,
        Measure::Crisis,
    ];

    /// Its name in the store and in a CSV header.
    pub fn name(self) -> &'static str {
        match self {
            Measure::Started => "started",
            Measure::Opened => "opened",
            Measure::Fallback => "fallbacks",
            Measure::Crisis => "crisis",
        }
    }

    pub fn from_name(name: &str) -> Option<Measure> {
        Measure::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Its heading on the dashboard.
    pub fn heading(self) -> &'static str {
        match self {
            Measure::Started => "Conversations started",
            Measure::Opened => "Topics opened",
            Measure::Fallback => "Questions not understood",
            Measure::Crisis => "Crisis replies shown",
        }
    }
}

/// Where a count goes: the day (since 1970), the start-link campaign (`-` for none) and the
/// topic (`-` for none).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cell {
    pub day: u64,
    pub campaign: String,
    pub topic: String,
    pub measure: Measure,
}

/// What one turn adds to the counts: nothing about who, only what was shown.
pub fn cells(outcome: &Outcome, now: u64) -> Vec<Cell> {
    let day = now / 86_400;
    let campaign = outcome.campaign.clone().unwrap_or_else(|| "-".to_owned());
    let topic = outcome
        .shown_topic
        .as_ref()
        .map_or_else(|| "-".to_owned(), |t| t.to_string());
    let cell = |measure| Cell {
        day,
        campaign: campaign.clone(),
        topic: topic.clone(),
        measure,
    };
    let mut cells = Vec::new();
    if outcome.started {
        cells.push(cell(Measure::Started));
    }
    if outcome.shown_topic.is_some() {
        cells.push(cell(Measure::Opened));
    }
    if outcome.trace.decision == Some("fallback") {
        cells.push(cell(Measure::Fallback));
    }
    if outcome.trace.crisis {
        cells.push(cell(Measure::Crisis));
    }
    cells
}

/// A published figure: suppressed, or rounded to the nearest 5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    Suppressed,
    Rounded(u64),
}

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shown::Suppressed => f.write_str("*"),
            Shown::Rounded(n) => write!(f, "{n}"),
        }
    }
}

/// NHS Digital's rule: 0 stays 0, 1 to 7 is `*`, anything else to the nearest 5.
pub fn disclose(n: u64) -> Shown {
    match n {
        0 => Shown::Rounded(0),
        1..=7 => Shown::Suppressed,
        n => Shown::Rounded((n + 2) / 5 * 5),
    }
}

/// Which counts a report covers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// First and last day (since 1970), both included.
    pub from: Option<u64>,
    pub to: Option<u64>,
    /// One campaign only; `None` is every campaign.
    pub campaign: Option<String>,
}

/// A report: per topic and in total, each measure disclosed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub filter: Filter,
    /// First and last day with any count in the filter.
    pub days: Option<(u64, u64)>,
    pub rows: Vec<(String, [Shown; 4])>,
    pub total: [Shown; 4],
}

/// One column of a table as published: each count disclosed, and the total of the counts
/// that are shown (hidden ones left out), disclosed.
pub fn column(counts: &[u64]) -> (Vec<Shown>, Shown) {
    let shown: Vec<Shown> = counts.iter().map(|&n| disclose(n)).collect();
    let total = counts
        .iter()
        .zip(&shown)
        .filter(|(_, s)| **s != Shown::Suppressed)
        .map(|(n, _)| n)
        .sum();
    (shown, disclose(total))
}

pub fn report(counts: &[(Cell, u64)], filter: &Filter) -> Report {
    let mut per_topic: BTreeMap<String, [u64; 4]> = BTreeMap::new();
    let mut days: Option<(u64, u64)> = None;
    for (cell, n) in counts {
        let inside = filter.from.is_none_or(|from| cell.day >= from)
            && filter.to.is_none_or(|to| cell.day <= to)
            && filter.campaign.as_ref().is_none_or(|c| *c == cell.campaign);
        if !inside || *n == 0 {
            continue;
        }
        let at = Measure::ALL
            .iter()
            .position(|m| *m == cell.measure)
            .expect("every measure is in ALL");
        per_topic.entry(cell.topic.clone()).or_default()[at] += n;
        days = Some(days.map_or((cell.day, cell.day), |(a, b)| {
            (a.min(cell.day), b.max(cell.day))
        }));
    }
    let mut rows: Vec<(String, [Shown; 4])> = per_topic
        .keys()
        .map(|topic| (topic.clone(), [Shown::Rounded(0); 4]))
        .collect();
    let mut total = [Shown::Rounded(0); 4];
    for (at, slot) in total.iter_mut().enumerate() {
        let counts: Vec<u64> = per_topic.values().map(|n| n[at]).collect();
        let (shown, sum) = column(&counts);
        for (row, s) in rows.iter_mut().zip(shown) {
            row.1[at] = s;
        }
        *slot = sum;
    }
    Report {
        filter: filter.clone(),
        days,
        rows,
        total,
    }
}

impl Report {
    /// The report as CSV: a header, one row per topic (`-` for none), then the total.
    pub fn csv(&self) -> String {
        let mut out = String::from("topic");
        for m in Measure::ALL {
            let _ = write!(out, ",{}", m.name());
        }
        out.push('\n');
        for (topic, shown) in self.rows.iter().chain([&("total".to_owned(), self.total)]) {
            out.push_str(topic);
            for s in shown {
                let _ = write!(out, ",{s}");
            }
            out.push('\n');
        }
        out
    }

    /// What the report covers, in words: campaign and dates.
    pub fn scope(&self) -> String {
        let campaign = match self.filter.campaign.as_deref() {
            None => "all campaigns".to_owned(),
            Some("-") => "chats not from a campaign link".to_owned(),
            Some(c) => format!("campaign {c}"),
        };
        let range = |from: Option<u64>, to: Option<u64>| match (from, to) {
            (Some(a), Some(b)) => format!("from {} to {}", date(a), date(b)),
            (Some(a), None) => format!("from {}", date(a)),
            (None, Some(b)) => format!("up to {}", date(b)),
            (None, None) => "all dates".to_owned(),
        };
        let asked = range(self.filter.from, self.filter.to);
        let found = match self.days {
            Some((a, b)) => format!("counts found from {} to {}", date(a), date(b)),
            None => "no counts found".to_owned(),
        };
        format!("{campaign}, {asked} ({found})")
    }

    /// A horizontal bar chart of topics opened (as published, so no bar gives away more
    /// than the table), as a standalone SVG.
    pub fn chart_svg(&self) -> String {
        let opened = |s: &[Shown; 4]| match s[1] {
            Shown::Rounded(n) => n,
            Shown::Suppressed => 0,
        };
        let rows: Vec<(&str, u64)> = self
            .rows
            .iter()
            .filter(|(topic, _)| topic != "-")
            .map(|(topic, s)| (topic.as_str(), opened(s)))
            .filter(|(_, n)| *n > 0)
            .collect();
        let max = rows.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
        let (label_w, bar_w, row_h) = (220u64, 360u64, 22u64);
        let height = row_h * (rows.len() as u64).max(1) + 30;
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {height}\" \
             width=\"{w}\" height=\"{height}\" role=\"img\" aria-label=\"Topics opened\" \
             font-family=\"Arial, sans-serif\" font-size=\"13\">\
             <text x=\"0\" y=\"16\" font-weight=\"bold\">Topics opened (counts of 1 to 7 are not shown)</text>",
            w = label_w + bar_w + 60,
        );
        for (i, (topic, n)) in rows.iter().enumerate() {
            let y = 30 + row_h * i as u64;
            let w = n * bar_w / max;
            let _ = write!(
                svg,
                "<text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{topic}</text>\
                 <rect x=\"{label_w}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"#0b4f8a\"/>\
                 <text x=\"{nx}\" y=\"{ty}\">{n}</text>",
                tx = label_w - 6,
                ty = y + 14,
                h = row_h - 6,
                nx = label_w + w + 6,
                topic = crate::web::render::escape(topic),
            );
        }
        svg.push_str("</svg>");
        svg
    }
}

/// A day since 1970 as `YYYY-MM-DD` (the proleptic Gregorian calendar).
pub fn date(day: u64) -> String {
    let (y, m, d) = civil(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A day since 1970 as (year, month 1-12, day of the month), by the proleptic Gregorian
/// calendar.
pub fn civil(day: u64) -> (i64, i64, i64) {
    // Howard Hinnant's `civil_from_days`.
    let z = day as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `YYYY-MM-DD` as a day since 1970, if it is a real date from 1970 on.
pub fn day(date: &str) -> Option<u64> {
    let mut parts = date.trim().splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Hinnant's `days_from_civil`.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = u64::try_from(era * 146_097 + doe - 719_468).ok()?;
    // 31 February and the like come back as another date: not a real one.
    (self::date(days) == format!("{y:04}-{m:02}-{d:02}")).then_some(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(20_786), "2026-11-29");
        assert_eq!(date(60), "1970-03-02");
        assert_eq!(date(11_016), "2000-02-29");
        for d in [0, 59, 60, 365, 11_016, 20_786, 40_000] {
            assert_eq!(day(&date(d)), Some(d));
        }
        assert_eq!(day("2026-02-31"), None);
        assert_eq!(day("26-11-28"), None);
        assert_eq!(day("yesterday"), None);
    }

    #[test]
    fn small_numbers_are_suppressed_and_others_rounded() {
        assert_eq!(disclose(0), Shown::Rounded(0));
        for n in 1..=7 {
            assert_eq!(disclose(n), Shown::Suppressed);
        }
        assert_eq!(disclose(8), Shown::Rounded(10));
        assert_eq!(disclose(12), Shown::Rounded(10));
        assert_eq!(disclose(13), Shown::Rounded(15));
    }
}
