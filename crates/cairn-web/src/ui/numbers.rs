//! The numbers page: statistics, the latest numbers, and a form to add one.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cairn_domain::Role;
use cairn_numbers::{NumberValue, NumbersService, PageLimit};
use serde::Deserialize;

use super::view::{Invalid, People, Person, When};
use super::{CsrfForm, Member, Nav, Page, PageError, Readonly, Signed};
use crate::AppState;
use crate::html::{self, Chrome};

fn fmt_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}

struct StatsView {
    count: i64,
    sum: String,
    mean: String,
    min: String,
    max: String,
}

struct Row {
    value: String,
    created_at: When,
    by: Person,
}

#[derive(Template)]
#[template(path = "numbers.html")]
struct NumbersPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    can_write: bool,
    stats: StatsView,
    rows: Vec<Row>,
    /// The value as typed, kept when it is refused.
    value: &'a str,
    invalid: Invalid,
}

async fn render(state: &AppState, s: &Signed, value: &str, invalid: Invalid) -> Result<Response, PageError> {
    let limit = PageLimit::parse(None).expect("the default page size is valid");
    let page = NumbersService::list(&s.db, limit, None).await?;
    let stats = NumbersService::stats(&s.db).await?;
    let people =
        People::of(state, &s.db, &page.items.iter().map(|n| n.created_by.as_str()).collect::<Vec<_>>()).await?;
    let dash = |v: Option<f64>| v.map(fmt_number).unwrap_or_else(|| "–".into());
    let (c, nav) = s.shell(state, "Numbers", "numbers").await;
    let view = NumbersPage {
        c: &c,
        nav: &nav,
        notice: None,
        error: invalid.banner(),
        can_write: s.can(Role::Member),
        stats: StatsView {
            count: stats.count,
            sum: fmt_number(stats.sum),
            mean: dash(stats.mean),
            min: dash(stats.min),
            max: dash(stats.max),
        },
        rows: page
            .items
            .into_iter()
            .map(|n| Row {
                value: fmt_number(n.value),
                created_at: When::at(n.created_at),
                by: people.get(&n.created_by),
            })
            .collect(),
        value,
        invalid: invalid.clone(),
    };
    let status = if invalid.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok(s.render(state, status, &c, &view))
}

pub(super) async fn page(State(state): State<AppState>, s: Page<Readonly>) -> Result<Response, PageError> {
    render(&state, &s, "", Invalid::none()).await
}

#[derive(Debug, Deserialize)]
pub(super) struct AddForm {
    #[serde(default)]
    value: String,
}

pub(super) async fn add(
    State(state): State<AppState>,
    s: Page<Member>,
    CsrfForm(form): CsrfForm<AddForm>,
) -> Result<Response, PageError> {
    let value = form.value.trim().parse::<f64>().ok().and_then(|v| NumberValue::parse(v).ok());
    let Some(value) = value else {
        let invalid = Invalid::at("value", "enter a finite number within ±1e15", &["value"]);
        return render(&state, &s, &form.value, invalid).await;
    };
    NumbersService::create(&s.db, value, &s.actor(), &s.meta).await?;
    Ok(s.finish(&state, html::see_other("/app/numbers")))
}
