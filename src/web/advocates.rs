//! The advocates' pages, behind a dashboard link (`/advocates/<token>/`): the anonymous counts
//! of the link's campaign (all campaigns for the operator's) with dates, totals, a bar chart
//! and a CSV download, and the workshop kit to print. A wrong or revoked token is a plain
//! 404, the same as any missing page, so a guess learns nothing.
//!
//! Read-only: these pages change nothing stored. Tokens never reach a log.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, HOST, LOCATION};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::App;
use super::render::escape;
use crate::access::Scope;
use crate::counts::{self, Filter, Measure, Report};

#[derive(Deserialize, Default)]
pub(super) struct CountsQuery {
    from: Option<String>,
    to: Option<String>,
    campaign: Option<String>,
}

impl App {
    async fn scope(&self, token: &str) -> Option<Scope> {
        crate::access::scope_in(&self.store, token).await
    }

    /// The report this link may see, as asked: a campaign link always sees its own campaign.
    async fn report(&self, scope: &Scope, query: &CountsQuery) -> Report {
        let campaign = match scope {
            Scope::Campaign(c) => Some(c.clone()),
            Scope::Everything => query
                .campaign
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
        };
        let filter = Filter {
            from: query.from.as_deref().and_then(counts::day),
            to: query.to.as_deref().and_then(counts::day),
            campaign,
        };
        counts::report(&self.store.all_counts().await, &filter)
    }

    /// The address people use for the web chat: the public URL, else this request's host.
    fn web_address(&self, headers: &HeaderMap) -> String {
        if let Some(origin) = self.public_origin() {
            return origin.to_owned();
        }
        let host = headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
            })
            .unwrap_or("localhost");
        format!("http://{host}")
    }
}

fn query_or_default(query: Result<Query<CountsQuery>, QueryRejection>) -> CountsQuery {
    query.map_or_else(|_| CountsQuery::default(), |Query(q)| q)
}

/// `/advocates/<token>`: on to the page with a slash, so its relative links resolve.
pub(super) async fn to_dashboard(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
) -> Response {
    if app.scope(&token).await.is_none() {
        return super::not_found(State(app)).await;
    }
    (StatusCode::SEE_OTHER, [(LOCATION, format!("{token}/"))]).into_response()
}

pub(super) async fn dashboard(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    query: Result<Query<CountsQuery>, QueryRejection>,
) -> Response {
    let Some(scope) = app.scope(&token).await else {
        return super::not_found(State(app)).await;
    };
    let query = query_or_default(query);
    let report = app.report(&scope, &query).await;
    let title = match &scope {
        Scope::Campaign(c) => format!("Counts for campaign {c}"),
        Scope::Everything => "Counts for every campaign".to_owned(),
    };
    let mut main = format!(
        "<main class=\"index\"><h1>{}</h1><p>{}</p>",
        escape(&title),
        escape(&report.scope())
    );
    let value = |v: &Option<String>| escape(v.as_deref().unwrap_or_default());
    let _ = write!(
        main,
        "<form method=\"get\" action=\"./\"><label>From <input type=\"date\" name=\"from\" \
         value=\"{from}\"></label> <label>To <input type=\"date\" name=\"to\" value=\"{to}\">\
         </label> ",
        from = value(&query.from),
        to = value(&query.to),
    );
    if scope == Scope::Everything {
        let _ = write!(
            main,
            "<label>Campaign (empty for all, - for none) <input name=\"campaign\" \
             value=\"{}\" size=\"16\"></label> ",
            value(&query.campaign)
        );
    }
    main.push_str("<button>Show</button></form>");
    main.push_str("<table><thead><tr><th>Topic</th>");
    for m in Measure::ALL {
        let _ = write!(main, "<th>{}</th>", m.heading());
    }
    main.push_str("</tr></thead><tbody>");
    let content = app.engine.content();
    for (topic, shown) in report
        .rows
        .iter()
        .chain([&("Total".to_owned(), report.total)])
    {
        let name = match topic.as_str() {
            "-" => "No topic (the menu, or a question not understood)".to_owned(),
            "Total" => "Total".to_owned(),
            id => crate::ids::TopicId::parse(id)
                .and_then(|id| content.topic(&id))
                .map_or_else(|| id.to_owned(), |t| t.title.clone()),
        };
        let _ = write!(main, "<tr><td>{}</td>", escape(&name));
        for s in shown {
            let _ = write!(main, "<td>{s}</td>");
        }
        main.push_str("</tr>");
    }
    let csv_query = [
        ("from", &query.from),
        ("to", &query.to),
        ("campaign", &query.campaign),
    ]
    .iter()
    .filter_map(|(k, v)| {
        v.as_deref()
            .filter(|v| !v.is_empty())
            .map(|v| format!("{k}={}", urlencode(v)))
    })
    .collect::<Vec<_>>()
    .join("&amp;");
    let _ = write!(
        main,
        "</tbody></table><p>* means 1 to 7: small numbers are hidden, and the others rounded \
         to the nearest 5, so that nobody can be picked out. Totals add only the counts that \
         are shown.</p><figure>{chart}</figure><p><a href=\"counts.csv?{csv_query}\" download>\
         Download as CSV</a></p><h2>Workshop kit</h2><p><a href=\"kit/index.html\">Links, QR \
         codes, the poster and topic sheets</a>{kit_note}</p></main>",
        chart = report.chart_svg(),
        kit_note = match &scope {
            Scope::Campaign(c) => format!(", counted under campaign {}", escape(c)),
            Scope::Everything => String::new(),
        },
    );
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{}</title>\
         <link rel=\"stylesheet\" href=\"kit/kit.css\"></head><body>{main}</body></html>\n",
        escape(&title)
    );
    super::html(StatusCode::OK, page)
}

fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub(super) async fn counts_csv(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    query: Result<Query<CountsQuery>, QueryRejection>,
) -> Response {
    let Some(scope) = app.scope(&token).await else {
        return super::not_found(State(app)).await;
    };
    let report = app.report(&scope, &query_or_default(query)).await;
    let body = format!("# {}\n{}", report.scope(), report.csv());
    (
        StatusCode::OK,
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (CONTENT_DISPOSITION, "attachment; filename=\"counts.csv\""),
        ],
        body,
    )
        .into_response()
}

pub(super) async fn kit_file(
    State(app): State<Arc<App>>,
    Path((token, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(scope) = app.scope(&token).await else {
        return super::not_found(State(app)).await;
    };
    let campaign = match scope {
        Scope::Campaign(c) => Some(c),
        Scope::Everything => None,
    };
    let addresses = crate::kit::Addresses {
        web: app.web_address(&headers),
        telegram: app.config.bot_username.clone(),
    };
    let kit = crate::kit::Kit::new(app.engine.content(), addresses, campaign);
    match kit.file(&path) {
        Some(file) => ([(CONTENT_TYPE, file.media_type)], file.bytes).into_response(),
        None => super::not_found(State(app)).await,
    }
}
