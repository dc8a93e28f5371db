//! The numbers page: statistics, the latest numbers, and a form to add one.

use askama::Template;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::Response;
use cairn_domain::Role;
use cairn_numbers::{NumberValue, NumbersService, PageLimit};
use serde::Deserialize;

use super::{Nav, Signed, internal};
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
    created_at: String,
    created_by: String,
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
}

async fn render(state: &AppState, s: &Signed, error: Option<(StatusCode, &str)>) -> Response {
    if !s.is(Role::Readonly) {
        return s.forbidden(state, "Your role cannot see numbers.").await;
    }
    let limit = PageLimit::parse(None).expect("the default page size is valid");
    let page = match NumbersService::list(&s.db, limit, None).await {
        Ok(p) => p,
        Err(e) => return internal(e),
    };
    let stats = match NumbersService::stats(&s.db).await {
        Ok(st) => st,
        Err(e) => return internal(e),
    };
    let dash = |v: Option<f64>| v.map(fmt_number).unwrap_or_else(|| "–".into());
    let (c, nav) = s.shell(state, "Numbers", "numbers").await;
    let view = NumbersPage {
        c: &c,
        nav: &nav,
        notice: None,
        error: error.map(|e| e.1),
        can_write: s.is(Role::Member),
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
                created_at: cairn_domain::rfc3339(n.created_at),
                created_by: n.created_by,
            })
            .collect(),
    };
    s.render(state, error.map(|e| e.0).unwrap_or(StatusCode::OK), &c, &view)
}

pub(super) async fn page(State(state): State<AppState>, s: Signed) -> Response {
    render(&state, &s, None).await
}

#[derive(Debug, Deserialize)]
pub(super) struct AddForm {
    csrf: Option<String>,
    value: String,
}

pub(super) async fn add(State(state): State<AppState>, s: Signed, Form(form): Form<AddForm>) -> Response {
    if !s.csrf_ok(form.csrf.as_deref()) {
        return render(&state, &s, Some((StatusCode::FORBIDDEN, "The form expired; try again."))).await;
    }
    if !s.is(Role::Member) {
        return render(&state, &s, Some((StatusCode::FORBIDDEN, "Your role cannot add numbers."))).await;
    }
    let value = form.value.trim().parse::<f64>().ok().and_then(|v| NumberValue::parse(v).ok());
    let Some(value) = value else {
        return render(&state, &s, Some((StatusCode::BAD_REQUEST, "Enter a finite number within ±1e15."))).await;
    };
    match NumbersService::create(&s.db, value, &s.actor(), &s.meta).await {
        Ok(_) => s.finish(&state, html::see_other("/app/numbers")),
        Err(e) => internal(e),
    }
}
