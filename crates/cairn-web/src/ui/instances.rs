//! The instances console's pages: the instances of every connected account (filters in the
//! URL, refreshed in place), an instance's page (details, tags, status checks, CloudWatch
//! charts for the last hour, day or week) with the admins' reboot, start and stop behind a
//! confirmation naming the instance, and the admins' cloud accounts — through the same
//! `cairn_instances` service and checks as the API.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use cairn_charts::{LineChart, Mode, Series, Unit};
use cairn_domain::{Role, ValidationError, now_ms};
use cairn_instances::{
    Account, AccountAuth, AccountId, AccountInput, AccountPatch, CredentialFields, CredentialsInput, Instance,
    InstanceAction, Instances, InstancesError, ListFilter, MetricName, MetricQuery, Target,
};
use serde::Deserialize;

use super::view::{Invalid, Shown, When};
use super::{Admin, CsrfForm, Nav, Page, PageError, Readonly, Signed};
use crate::AppState;
use crate::html::{self, Chrome};

impl From<InstancesError> for PageError {
    fn from(e: InstancesError) -> Self {
        use cairn_instances::AwsError as A;
        match e {
            InstancesError::NotFound("instance") => {
                PageError::Refused(StatusCode::NOT_FOUND, "Instance not found.".into())
            }
            InstancesError::NotFound(what) => PageError::gone(what),
            InstancesError::Validation(v) => PageError::invalid(&v),
            InstancesError::Conflict(m) => PageError::Refused(StatusCode::CONFLICT, m),
            InstancesError::Aws { account, error } => match error {
                A::NotFound { .. } => PageError::Refused(StatusCode::NOT_FOUND, "Instance not found.".into()),
                A::State { message, .. } => PageError::Refused(StatusCode::CONFLICT, message),
                A::Throttled { .. } => PageError::Refused(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("AWS is throttling account {account}. Try again in a few seconds."),
                ),
                other => PageError::Refused(StatusCode::BAD_GATEWAY, format!("Account {account}: {other}")),
            },
            InstancesError::Database(db) => db.into(),
            InstancesError::Audit(a) => a.into(),
            failed @ InstancesError::Corrupt { .. } => PageError::Internal(failed.to_string()),
        }
    }
}

fn console<'a>(state: &'a AppState, s: &'a Signed, tenant: &'a str) -> Instances<'a> {
    Instances { db: &s.db, tenant, cloud: &state.cloud, key: state.store.master_key() }
}

/// States that change on their own within seconds: the list follows them while any shows.
fn transitional(state: &str) -> bool {
    matches!(state, "pending" | "stopping" | "shutting-down")
}

// ----- the list -----

/// The list's filters, as the URL carries them.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Filters {
    #[serde(default)]
    state: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    region: String,
    /// `1`: read AWS again instead of the answer kept for a few seconds.
    #[serde(default)]
    fresh: String,
}

impl Filters {
    fn checked(&self) -> Result<ListFilter, ValidationError> {
        let tags: Vec<String> = nonempty(&self.tag).into_iter().collect();
        let opt = |s: &str| Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned);
        ListFilter::check(
            opt(&self.state).as_deref(),
            &tags,
            opt(&self.name).as_deref(),
            opt(&self.account).as_deref(),
            opt(&self.region).as_deref(),
        )
    }

    /// The query string of these filters (without `fresh`).
    fn query(&self) -> String {
        let pairs = [
            ("state", &self.state),
            ("tag", &self.tag),
            ("name", &self.name),
            ("account", &self.account),
            ("region", &self.region),
        ];
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs.into_iter().filter(|(_, v)| !v.trim().is_empty()) {
            q.append_pair(k, v.trim());
        }
        q.finish()
    }
}

struct Row {
    id: String,
    account: String,
    region: String,
    name: String,
    state: String,
    live: bool,
    kind: String,
    private_ip: String,
    public_ip: String,
    launched: Option<When>,
    tags: Vec<(String, String)>,
    href: String,
}

impl Row {
    fn of(i: Instance) -> Row {
        Row {
            href: format!("/app/instances/{}/{}/{}", i.account, i.region, i.id),
            live: transitional(&i.state),
            name: i.name.unwrap_or_default(),
            kind: i.instance_type,
            private_ip: i.private_ip.unwrap_or_default(),
            public_ip: i.public_ip.unwrap_or_default(),
            launched: i.launched_at.map(When::at),
            tags: i.tags.into_iter().filter(|(k, _)| k != "Name").collect(),
            id: i.id,
            account: i.account,
            region: i.region,
            state: i.state,
        }
    }
}

/// The accounts that did not answer, one line per account and reason: `(account, regions,
/// reason)`.
fn unanswered(list: Vec<cairn_instances::Unavailable>) -> Vec<(String, String, String)> {
    let mut lines: Vec<(String, Vec<String>, String)> = Vec::new();
    for u in list {
        let why = u.error.to_string();
        match lines.iter_mut().find(|(a, _, w)| *a == u.account && *w == why) {
            Some(line) => line.1.push(u.region),
            None => lines.push((u.account, vec![u.region], why)),
        }
    }
    lines.into_iter().map(|(a, regions, why)| (a, regions.join(", "), why)).collect()
}

/// The table block, which the page shows and the refresh swaps in place.
#[derive(Template)]
#[template(path = "instances_rows.html")]
struct RowsBlock {
    rows: Vec<Row>,
    unavailable: Vec<(String, String, String)>,
    accounts: usize,
    filtered: bool,
    admin: bool,
    live: bool,
    at: When,
}

#[derive(Template)]
#[template(path = "instances.html")]
struct InstancesPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    f: &'a Filters,
    states: &'static [&'static str],
    account_names: Vec<String>,
    regions: Vec<String>,
    query: String,
    /// The table block, rendered.
    block: String,
}

async fn rows_block(
    state: &AppState,
    s: &Signed,
    filter: &ListFilter,
    fresh: bool,
) -> Result<(RowsBlock, Vec<Account>), PageError> {
    let tenant = s.tenant.id.to_string();
    let console = console(state, s, &tenant);
    let mut listing = console.list(filter, fresh).await?;
    let filtered = *filter != ListFilter::default();
    let rows: Vec<Row> = listing.iter().cloned().map(Row::of).collect();
    let accounts = std::mem::take(&mut listing.accounts);
    let block = RowsBlock {
        live: rows.iter().any(|r| r.live),
        rows,
        unavailable: unanswered(listing.unavailable),
        accounts: accounts.len(),
        filtered,
        admin: s.can(Role::Admin),
        at: When::at(now_ms()),
    };
    Ok((block, accounts))
}

pub(super) async fn page(
    State(state): State<AppState>,
    s: Page<Readonly>,
    Query(f): Query<Filters>,
) -> Result<Response, PageError> {
    let (filter, invalid) = match f.checked() {
        Ok(filter) => (filter, Invalid::none()),
        Err(e) => (ListFilter::default(), Invalid::general(format!("{}: {}", e.field, e.message))),
    };
    let (block, accounts) = rows_block(&state, &s, &filter, f.fresh == "1").await?;
    let mut regions: Vec<String> = accounts.iter().flat_map(|a| a.regions.iter().cloned()).collect();
    regions.sort();
    regions.dedup();
    let (c, nav) = s.shell(&state, "Instances", "instances").await;
    let view = InstancesPage {
        c: &c,
        nav: &nav,
        notice: None,
        error: invalid.banner(),
        f: &f,
        states: &cairn_instances::model::STATES,
        account_names: accounts.into_iter().map(|a| a.name).collect(),
        regions,
        query: f.query(),
        block: block.render().map_err(|e| PageError::Internal(e.to_string()))?,
    };
    let status = if invalid.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok(s.render(&state, status, &c, &view))
}

/// The table block alone, for the page to swap in (refresh, and while instances change state).
pub(super) async fn rows(
    State(state): State<AppState>,
    s: Page<Readonly>,
    Query(f): Query<Filters>,
) -> Result<Response, PageError> {
    let filter = f.checked().map_err(|e| PageError::invalid(&e))?;
    let (block, _) = rows_block(&state, &s, &filter, f.fresh == "1").await?;
    Ok(s.render(&state, StatusCode::OK, &Chrome::plain("Instances"), &block))
}

// ----- one instance -----

/// A chart range: the last hour, day or week, with the period that keeps it readable.
#[derive(Debug, Clone, Copy)]
struct Range {
    key: &'static str,
    label: &'static str,
    span_ms: i64,
    period: i64,
}

const RANGES: [Range; 3] = [
    Range { key: "1h", label: "1 hour", span_ms: 3_600_000, period: 60 },
    Range { key: "24h", label: "24 hours", span_ms: 86_400_000, period: 300 },
    Range { key: "7d", label: "7 days", span_ms: 7 * 86_400_000, period: 3600 },
];

/// A chart in two sizes: the wide one for screens, the narrow one for phones.
struct Chart {
    title: &'static str,
    wide: String,
    narrow: String,
}

#[derive(Template)]
#[template(path = "instance.html")]
struct InstancePage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    row: Row,
    details: Vec<(&'static str, String)>,
    tags: Vec<(String, String)>,
    system: String,
    instance_check: String,
    events: Vec<String>,
    range: &'static str,
    ranges: &'static [Range],
    charts: Vec<Chart>,
    /// Actions the admin may take in this state: `(action, label)`.
    actions: Vec<(&'static str, &'static str)>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ShowQuery {
    range: Option<String>,
    done: Option<String>,
}

/// What a chart draws: one or two metrics (`Sum` of network bytes in and out, say).
struct ChartSpec {
    title: &'static str,
    unit: Unit,
    metrics: &'static [(MetricName, &'static str)],
}

const CHARTS: [ChartSpec; 4] = [
    ChartSpec { title: "CPU utilisation", unit: Unit::Percent, metrics: &[(MetricName::CpuUtilization, "CPU")] },
    ChartSpec {
        title: "Network",
        unit: Unit::Bytes,
        metrics: &[(MetricName::NetworkIn, "In"), (MetricName::NetworkOut, "Out")],
    },
    ChartSpec {
        title: "Disk operations",
        unit: Unit::Count,
        metrics: &[(MetricName::DiskReadOps, "Read"), (MetricName::DiskWriteOps, "Write")],
    },
    ChartSpec {
        title: "Status check failed",
        unit: Unit::Count,
        metrics: &[(MetricName::StatusCheckFailed, "Failed")],
    },
];

/// Which actions an instance in `state` takes.
fn actions_in(state: &str) -> Vec<(&'static str, &'static str)> {
    match state {
        "running" => vec![("reboot", "Reboot"), ("stop", "Stop")],
        "stopped" => vec![("start", "Start")],
        _ => Vec::new(),
    }
}

fn target(account: String, region: String, id: String) -> Target {
    Target { account, region, id }
}

async fn no_instance(state: &AppState, s: &Signed) -> Response {
    s.not_found(state, "Instance not found", ("/app/instances", "Instances")).await
}

pub(super) async fn show(
    State(state): State<AppState>,
    s: Page<Readonly>,
    Path((account, region, id)): Path<(String, String, String)>,
    Query(q): Query<ShowQuery>,
) -> Result<Response, PageError> {
    let tenant = s.tenant.id.to_string();
    let console = console(&state, &s, &tenant);
    let at = target(account, region, id);
    let (instance, checks) = match console.details(&at).await {
        Ok(found) => found,
        Err(InstancesError::NotFound(_)) => return Ok(no_instance(&state, &s).await),
        Err(e) => return Err(e.into()),
    };
    let range = RANGES.iter().find(|r| Some(r.key) == q.range.as_deref()).copied().unwrap_or(RANGES[0]);
    let zone = cairn_metrics::Metrics { db: &s.db }
        .settings()
        .await
        .map(|settings| settings.time_zone.zone().time_zone().clone())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let now = now_ms();
    let (from, to) = (now - range.span_ms, now);
    // Every metric of every chart, of the instance found once, read concurrently.
    let queries = CHARTS
        .iter()
        .flat_map(|chart| chart.metrics.iter())
        .map(|(metric, _)| MetricQuery::check(*metric, metric.default_stat(), from, to, range.period, now))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PageError::Internal(format!("a chart's query does not hold: {e}")))?;
    let mut read = match console.metrics(&at, &queries).await {
        Ok(read) => read.into_iter(),
        Err(e) => {
            // The instance was found a moment ago; its metrics failing leaves the charts empty.
            let why = match &e {
                InstancesError::Aws { error, .. } => error.clone(),
                other => cairn_instances::AwsError::Unreachable(other.to_string()),
            };
            vec![Err(why); queries.len()].into_iter()
        }
    };
    // Each chart's series, and why it is empty when CloudWatch did not answer (a missing
    // permission, a throttled account): that chart says so, the rest of the page shows.
    let mut drawn: Vec<(&ChartSpec, Vec<Series>, Option<String>)> = Vec::new();
    for spec in &CHARTS {
        let mut series = Vec::new();
        let mut failed = None;
        for (_, label) in spec.metrics {
            let points = match read.next() {
                Some(Ok(points)) => points,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, chart = spec.title, "an instance metric could not be read");
                    failed = Some(format!("CloudWatch did not answer: {e}"));
                    Vec::new()
                }
                None => Vec::new(),
            };
            series.push(Series::new(*label, points.into_iter().map(|p| (p.time, Some(p.value)))));
        }
        drawn.push((spec, series, failed));
    }
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "–".into());
    let details = vec![
        ("Type", instance.instance_type.clone()),
        ("Availability zone", opt(&instance.availability_zone)),
        ("Private IP", opt(&instance.private_ip)),
        ("Public IP", opt(&instance.public_ip)),
        ("Image", opt(&instance.image_id)),
        ("Architecture", opt(&instance.architecture)),
        ("Platform", opt(&instance.platform)),
        ("VPC", opt(&instance.vpc_id)),
        ("Subnet", opt(&instance.subnet_id)),
        ("Key pair", opt(&instance.key_name)),
        (
            "Security groups",
            if instance.security_groups.is_empty() { "–".into() } else { instance.security_groups.join(", ") },
        ),
        ("State reason", opt(&instance.state_reason)),
    ];
    let tags: Vec<(String, String)> =
        instance.tags.clone().into_iter().collect::<BTreeMap<_, _>>().into_iter().collect();
    let checks = checks.unwrap_or_default();
    let row = Row::of(instance);
    let actions = if s.can(Role::Admin) { actions_in(&row.state) } else { Vec::new() };
    let notice = match q.done.as_deref() {
        Some("reboot") => Some("Reboot requested. The instance restarts in a moment."),
        Some("start") => Some("Start requested. The instance is starting."),
        Some("stop") => Some("Stop requested. The instance is stopping."),
        _ => None,
    };
    let title = if row.name.is_empty() { row.id.clone() } else { row.name.clone() };
    let (c, nav) = s.shell(&state, &title, "instances").await;
    let charts = drawn
        .into_iter()
        .map(|(spec, series, failed)| {
            let draw = |w: u32, h: u32| {
                let mut chart = LineChart::new(spec.title)
                    .size(w, h)
                    .y_unit(spec.unit.clone())
                    .period(from, to)
                    .time_zone(zone.clone())
                    .show_title(false);
                if let Some(why) = &failed {
                    chart = chart.empty_message(why.clone());
                }
                for s in &series {
                    chart = chart.series(s.clone());
                }
                super::view::nonced(chart.render(Mode::Adaptive), &c.nonce)
            };
            Chart { title: spec.title, wide: draw(760, 220), narrow: draw(340, 200) }
        })
        .collect();
    let view = InstancePage {
        c: &c,
        nav: &nav,
        notice,
        error: None,
        details,
        tags,
        system: checks.system.unwrap_or_else(|| "–".into()),
        instance_check: checks.instance.unwrap_or_else(|| "–".into()),
        events: checks.events,
        range: range.key,
        ranges: &RANGES,
        charts,
        actions,
        row,
    };
    Ok(s.render(&state, StatusCode::OK, &c, &view))
}

/// Asks before an action, naming the instance.
pub(super) async fn confirm(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path((account, region, id, action)): Path<(String, String, String, String)>,
) -> Result<Response, PageError> {
    let Some(action) = InstanceAction::parse(&action) else { return Ok(no_instance(&state, &s).await) };
    let tenant = s.tenant.id.to_string();
    let at = target(account, region, id);
    let (_, instance) = match console(&state, &s, &tenant).find(&at).await {
        Ok(found) => found,
        Err(InstancesError::NotFound(_)) => return Ok(no_instance(&state, &s).await),
        Err(e) => return Err(e.into()),
    };
    let named = match &instance.name {
        Some(n) => format!("{n} ({})", instance.id),
        None => instance.id.clone(),
    };
    let (heading, question, button) = match action {
        InstanceAction::Reboot => (
            "Reboot instance",
            format!(
                "Reboot {named} in {} / {}? It restarts at once; what runs on it is interrupted.",
                at.account, at.region
            ),
            "Reboot",
        ),
        InstanceAction::Start => (
            "Start instance",
            format!("Start {named} in {} / {}? A running instance is billed.", at.account, at.region),
            "Start",
        ),
        InstanceAction::Stop => (
            "Stop instance",
            format!(
                "Stop {named} in {} / {}? What runs on it stops, and data on instance-store volumes is lost.",
                at.account, at.region
            ),
            "Stop",
        ),
    };
    let page = format!("/app/instances/{}/{}/{}", at.account, at.region, at.id);
    Ok(super::confirm(&state, &s, heading, &question, &format!("{page}/{}", action.as_str()), button, &page).await)
}

#[derive(Debug, Deserialize)]
pub(super) struct EmptyForm {}

/// Runs a confirmed action, then shows the instance's page (post/redirect/get).
pub(super) async fn act(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path((account, region, id, action)): Path<(String, String, String, String)>,
    CsrfForm(EmptyForm {}): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let Some(action) = InstanceAction::parse(&action) else { return Ok(no_instance(&state, &s).await) };
    let tenant = s.tenant.id.to_string();
    let at = target(account, region, id);
    match console(&state, &s, &tenant).act(action, &at, &s.actor(), &s.meta).await {
        Ok(()) => {
            let to = format!("/app/instances/{}/{}/{}?done={}", at.account, at.region, at.id, action.as_str());
            Ok(s.finish(&state, html::see_other(&to)))
        }
        Err(InstancesError::NotFound(_)) => Ok(no_instance(&state, &s).await),
        Err(e) => Err(e.into()),
    }
}

// ----- accounts (admins) -----

const FIELDS: [&str; 8] =
    ["name", "regions", "auth", "access_key_id", "secret_access_key", "role_arn", "external_id", "endpoint_url"];

/// What the account forms hold, kept when shown again with a mistake (never the secret).
#[derive(Default, Deserialize)]
pub(super) struct AccountDraft {
    #[serde(default)]
    name: String,
    /// Region codes separated by spaces or commas.
    #[serde(default)]
    regions: String,
    /// `keys` or `role`.
    #[serde(default)]
    auth: String,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    secret_access_key: String,
    #[serde(default)]
    role_arn: String,
    #[serde(default)]
    external_id: String,
    #[serde(default)]
    endpoint_url: String,
}

impl std::fmt::Debug for AccountDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountDraft").field("name", &self.name).field("auth", &self.auth).finish_non_exhaustive()
    }
}

fn nonempty(s: &str) -> Option<String> {
    Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned)
}

impl AccountDraft {
    fn of(a: &Account) -> Self {
        let (auth, key, role, external) = match &a.auth {
            AccountAuth::Keys { access_key_id } => ("keys", access_key_id.clone(), String::new(), String::new()),
            AccountAuth::Role { role_arn, external_id } => {
                ("role", String::new(), role_arn.clone(), external_id.clone().unwrap_or_default())
            }
        };
        AccountDraft {
            name: a.name.clone(),
            regions: a.regions.join(" "),
            auth: auth.into(),
            access_key_id: key,
            secret_access_key: String::new(),
            role_arn: role,
            external_id: external,
            endpoint_url: a.endpoint_url.clone().unwrap_or_default(),
        }
    }

    fn regions(&self) -> Vec<String> {
        self.regions
            .split([',', ' ', '\n', '\t'])
            .filter(|r| !r.trim().is_empty())
            .map(|r| r.trim().to_owned())
            .collect()
    }

    fn credentials(&self) -> Result<CredentialsInput, ValidationError> {
        let role = self.auth == "role";
        CredentialsInput::check(CredentialFields {
            access_key_id: if role { None } else { nonempty(&self.access_key_id) },
            secret_access_key: if role { None } else { Some(self.secret_access_key.clone()).filter(|s| !s.is_empty()) },
            role_arn: if role { nonempty(&self.role_arn) } else { None },
            external_id: if role { nonempty(&self.external_id) } else { None },
        })
    }

    /// What changed against `current`, as a patch. Credentials change when the kind, key,
    /// role or external id differ, or a new secret is typed.
    fn patch(&self, current: &Account) -> Result<AccountPatch, ValidationError> {
        let before = AccountDraft::of(current);
        let credentials_changed = self.auth != before.auth
            || (self.auth == "role"
                && (self.role_arn.trim() != before.role_arn || self.external_id.trim() != before.external_id))
            || (self.auth != "role"
                && (self.access_key_id.trim() != before.access_key_id || !self.secret_access_key.is_empty()));
        Ok(AccountPatch {
            name: Some(self.name.trim().to_owned()).filter(|n| *n != current.name),
            regions: Some(self.regions()).filter(|r| *r != current.regions),
            credentials: credentials_changed.then(|| self.credentials()).transpose()?,
            endpoint_url: Some(nonempty(&self.endpoint_url)).filter(|e| *e != current.endpoint_url),
        })
    }
}

struct AccountRow {
    id: String,
    name: String,
    regions: String,
    auth: String,
    aws_account_id: String,
    endpoint_url: String,
    updated_at: When,
}

#[derive(Template)]
#[template(path = "instance_accounts.html")]
struct AccountsPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    d: &'a AccountDraft,
    invalid: &'a Invalid,
    open_form: bool,
    accounts: Vec<AccountRow>,
}

#[derive(Template)]
#[template(path = "instance_account.html")]
struct AccountPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    id: String,
    title: String,
    aws_account_id: String,
    d: &'a AccountDraft,
    invalid: &'a Invalid,
}

/// A refusal the account forms show beside their fields (or above them, with 502 when AWS did
/// not answer), with its status; anything else is the error page.
fn form_refusal(e: InstancesError) -> Result<(Invalid, StatusCode), PageError> {
    match e {
        InstancesError::Validation(v) => Ok((Invalid::of(&v, &FIELDS), StatusCode::BAD_REQUEST)),
        InstancesError::Conflict(m) => Ok((Invalid::at("name", m, &FIELDS), StatusCode::CONFLICT)),
        InstancesError::Aws { error: error @ cairn_instances::AwsError::Throttled { .. }, .. } => {
            Ok((Invalid::general(format!("{error}; try again in a few seconds")), StatusCode::SERVICE_UNAVAILABLE))
        }
        InstancesError::Aws { error, .. } => {
            Ok((Invalid::general(format!("AWS did not answer as expected: {error}")), StatusCode::BAD_GATEWAY))
        }
        other => Err(other.into()),
    }
}

async fn accounts_page(
    state: &AppState,
    s: &Signed,
    d: &AccountDraft,
    notice: Option<&str>,
    (invalid, status): (&Invalid, StatusCode),
) -> Result<Response, PageError> {
    let tenant = s.tenant.id.to_string();
    let accounts = console(state, s, &tenant).accounts().await?;
    let (c, nav) = s.shell(state, "Cloud accounts", "instance_accounts").await;
    let view = AccountsPage {
        c: &c,
        nav: &nav,
        notice,
        error: invalid.banner(),
        d,
        invalid,
        open_form: invalid.is_some() || accounts.is_empty(),
        accounts: accounts
            .into_iter()
            .map(|a| AccountRow {
                auth: match &a.auth {
                    AccountAuth::Keys { access_key_id } => format!("Access key {access_key_id}"),
                    AccountAuth::Role { role_arn, .. } => format!("Role {role_arn}"),
                },
                id: a.id,
                name: a.name,
                regions: a.regions.join(", "),
                aws_account_id: a.aws_account_id,
                endpoint_url: a.endpoint_url.unwrap_or_default(),
                updated_at: When::at(a.updated_at),
            })
            .collect(),
    };
    Ok(s.render(state, status, &c, &view))
}

#[derive(Debug, Deserialize)]
pub(super) struct Done {
    done: Option<String>,
}

pub(super) async fn accounts(
    State(state): State<AppState>,
    s: Page<Admin>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    let notice = match q.done.as_deref() {
        Some("added") => Some("Account connected. Its instances are listed under Instances."),
        Some("deleted") => Some("Account disconnected."),
        _ => None,
    };
    let d = AccountDraft { auth: "keys".into(), ..AccountDraft::default() };
    accounts_page(&state, &s, &d, notice, (&Invalid::none(), StatusCode::OK)).await
}

pub(super) async fn create_account(
    State(state): State<AppState>,
    s: Page<Admin>,
    CsrfForm(d): CsrfForm<AccountDraft>,
) -> Result<Response, PageError> {
    let refuse = |(invalid, status): (Invalid, StatusCode), d: AccountDraft| {
        let (state, s) = (&state, &s);
        async move {
            let d = AccountDraft { secret_access_key: String::new(), ..d };
            accounts_page(state, s, &d, None, (&invalid, status)).await
        }
    };
    let credentials = match d.credentials() {
        Ok(c) => c,
        Err(v) => return refuse((Invalid::of(&v, &FIELDS), StatusCode::BAD_REQUEST), d).await,
    };
    let input = AccountInput {
        name: d.name.trim().to_owned(),
        regions: d.regions(),
        credentials,
        endpoint_url: nonempty(&d.endpoint_url),
    };
    let tenant = s.tenant.id.to_string();
    match console(&state, &s, &tenant).add_account(input, &s.actor(), &s.meta).await {
        Ok(_) => Ok(s.finish(&state, html::see_other("/app/instances/accounts?done=added"))),
        Err(e) => refuse(form_refusal(e)?, d).await,
    }
}

async fn account_of(state: &AppState, s: &Signed, id: &str) -> Result<Result<Account, Response>, PageError> {
    let not_found =
        || async { s.not_found(state, "No such account", ("/app/instances/accounts", "Cloud accounts")).await };
    let Ok(id) = AccountId::parse(id, "id") else { return Ok(Err(not_found().await)) };
    let tenant = s.tenant.id.to_string();
    match console(state, s, &tenant).account(&id).await {
        Ok(a) => Ok(Ok(a)),
        Err(InstancesError::NotFound(_)) => Ok(Err(not_found().await)),
        Err(e) => Err(e.into()),
    }
}

async fn account_page(
    state: &AppState,
    s: &Signed,
    id: &str,
    shown: Shown<'_, AccountDraft>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let account = match account_of(state, s, id).await? {
        Ok(a) => a,
        Err(page) => return Ok(page),
    };
    let d = shown.typed.unwrap_or_else(|| AccountDraft::of(&account));
    let (c, nav) = s.shell(state, &account.name, "instance_accounts").await;
    let view = AccountPage {
        c: &c,
        nav: &nav,
        notice: shown.notice,
        error: shown.invalid.banner(),
        id: account.id.clone(),
        title: account.name.clone(),
        aws_account_id: account.aws_account_id.clone(),
        d: &d,
        invalid: &shown.invalid,
    };
    Ok(s.render(state, status, &c, &view))
}

pub(super) async fn show_account(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    let notice = (q.done.as_deref() == Some("saved")).then_some("Account saved.");
    account_page(&state, &s, &id, Shown::notice(notice), StatusCode::OK).await
}

pub(super) async fn save_account(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
    CsrfForm(d): CsrfForm<AccountDraft>,
) -> Result<Response, PageError> {
    let account = match account_of(&state, &s, &id).await? {
        Ok(a) => a,
        Err(page) => return Ok(page),
    };
    let refuse = |(invalid, status): (Invalid, StatusCode), d: AccountDraft| {
        let (state, s, id) = (&state, &s, &id);
        async move {
            let d = AccountDraft { secret_access_key: String::new(), ..d };
            account_page(state, s, id, Shown::refused(d, invalid), status).await
        }
    };
    let patch = match d.patch(&account) {
        Ok(p) => p,
        Err(v) => return refuse((Invalid::of(&v, &FIELDS), StatusCode::BAD_REQUEST), d).await,
    };
    let tenant = s.tenant.id.to_string();
    let account_id = AccountId::parse(&account.id, "id").map_err(|e| PageError::invalid(&e))?;
    match console(&state, &s, &tenant).update_account(&account_id, patch, &s.actor(), &s.meta).await {
        Ok(a) => Ok(s.finish(&state, html::see_other(&format!("/app/instances/accounts/{}?done=saved", a.id)))),
        Err(e) => refuse(form_refusal(e)?, d).await,
    }
}

pub(super) async fn confirm_delete_account(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let account = match account_of(&state, &s, &id).await? {
        Ok(a) => a,
        Err(page) => return Ok(page),
    };
    let question = format!(
        "Disconnect the account {} (AWS {})? Its instances leave the console; nothing changes in AWS.",
        account.name, account.aws_account_id
    );
    let (action, cancel) =
        (format!("/app/instances/accounts/{}/delete", account.id), format!("/app/instances/accounts/{}", account.id));
    Ok(super::confirm(&state, &s, "Disconnect account", &question, &action, "Disconnect", &cancel).await)
}

pub(super) async fn delete_account(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
    CsrfForm(EmptyForm {}): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let tenant = s.tenant.id.to_string();
    let deleted = match AccountId::parse(&id, "id") {
        Ok(id) => console(&state, &s, &tenant).delete_account(&id, &s.actor(), &s.meta).await,
        Err(_) => Err(InstancesError::NotFound("account")),
    };
    match deleted {
        Ok(()) | Err(InstancesError::NotFound(_)) => {
            Ok(s.finish(&state, html::see_other("/app/instances/accounts?done=deleted")))
        }
        Err(e) => Err(e.into()),
    }
}
