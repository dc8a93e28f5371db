//! Jira Cloud: what the collector reads of a site, behind [`JiraApi`], and [`JiraHttp`], its
//! implementation over the platform REST API v3 and the Agile REST API 1.0, every request
//! through [`Upstream`] (basic authentication with the account's email and an API token).
//!
//! The bodies are read into structs holding only fields Atlassian's API descriptions name,
//! and only those the collector uses. Times come in two forms, both read by [`parse_time`]:
//! the platform's `2026-01-05T09:30:00.000+0000` and the Agile API's `2026-01-05T09:30:00.000Z`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{Call, Tally, Upstream, UpstreamError};

/// What a [`JiraApi`] call gives: an answer of the site or why there is none.
pub type ApiFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, UpstreamError>> + Send + 'a>>;

/// What the collector needs from a Jira Cloud site.
pub trait JiraApi: Send + Sync {
    /// `GET /rest/api/3/myself`: the token's account; a wrong email or token is
    /// [`UpstreamError::Unauthorized`].
    fn myself(&self) -> ApiFuture<'_, Myself>;
    /// `GET /rest/api/3/field`: every field of the site.
    fn fields(&self) -> ApiFuture<'_, Vec<Field>>;
    /// `GET /rest/api/3/status`: every status of the site's active workflows, with its
    /// category.
    fn statuses(&self) -> ApiFuture<'_, Vec<StatusRef>>;
    /// `GET /rest/agile/1.0/board`: one page of the site's boards from `start_at`.
    fn boards(&self, start_at: u64) -> ApiFuture<'_, AgilePage<Board>>;
    /// `GET /rest/agile/1.0/board/{id}`.
    fn board(&self, id: i64) -> ApiFuture<'_, Board>;
    /// `GET /rest/agile/1.0/board/{id}/sprint?state=active,closed,future`: one page.
    fn sprints(&self, board: i64, start_at: u64) -> ApiFuture<'_, AgilePage<Sprint>>;
    /// `GET /rest/agile/1.0/sprint/{id}/issue` with `fields` and the changelog: one page of
    /// the issues whose Sprint field holds the sprint now.
    fn sprint_issues<'a>(&'a self, sprint: i64, fields: &'a [String], start_at: u64) -> ApiFuture<'a, SprintIssues>;
    /// `GET /rest/api/3/search/jql` with `fields` and the changelog: one page of the issues
    /// `jql` finds; the first without a token, the next with the token the last page gave.
    fn search<'a>(
        &'a self,
        jql: &'a str,
        fields: &'a [String],
        next_page_token: Option<&'a str>,
    ) -> ApiFuture<'a, SearchPage>;
    /// `GET /rest/api/3/issue/{id}/changelog`: one page of the issue's histories, oldest first.
    fn changelog<'a>(&'a self, issue_id: &'a str, start_at: u64) -> ApiFuture<'a, ChangelogPage>;
    /// `GET /rest/api/3/issue/{id}/worklog`: one page of the issue's worklogs.
    fn worklogs<'a>(&'a self, issue_id: &'a str, start_at: u64) -> ApiFuture<'a, WorklogPage>;
    /// `GET /rest/api/3/worklog/updated?since=`: ids of worklogs created or changed after
    /// `since` (epoch ms), oldest first, up to 1000.
    fn worklogs_updated(&self, since: i64) -> ApiFuture<'_, ChangedWorklogs>;
    /// `GET /rest/api/3/worklog/deleted?since=`: ids of worklogs deleted after `since`.
    fn worklogs_deleted(&self, since: i64) -> ApiFuture<'_, ChangedWorklogs>;
    /// `POST /rest/api/3/worklog/list`: the worklogs with these ids (at most 1000) that exist.
    fn worklog_list<'a>(&'a self, ids: &'a [i64]) -> ApiFuture<'a, Vec<Worklog>>;
    /// The requests sent so far and the waits for rate limits.
    fn tally(&self) -> &Tally;
}

/// `User` as `/myself` describes the token's account.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Myself {
    pub account_id: String,
    pub display_name: Option<String>,
    pub email_address: Option<String>,
    /// The account's time zone (IANA name): JQL reads dates in it.
    pub time_zone: Option<String>,
}

/// `FieldDetails`.
#[derive(Debug, Clone, Deserialize)]
pub struct Field {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub custom: bool,
    pub schema: Option<FieldSchema>,
}

/// `JsonTypeBean`: a field's type; `custom` names a custom field's plugin type
/// (`com.pyxis.greenhopper.jira:gh-sprint` for the Sprint field).
#[derive(Debug, Clone, Deserialize)]
pub struct FieldSchema {
    #[serde(rename = "type")]
    pub kind: String,
    pub custom: Option<String>,
}

/// A page of the Agile API (`startAt`, `maxResults`, `isLast`, `values`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgilePage<T> {
    pub start_at: u64,
    pub max_results: u64,
    pub is_last: bool,
    pub values: Vec<T>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Board {
    pub id: i64,
    pub name: String,
    /// `scrum`, `kanban` or `simple`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The project the board is on; absent for a board over a filter of several projects.
    pub location: Option<BoardLocation>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BoardLocation {
    pub project_key: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sprint {
    pub id: i64,
    pub name: String,
    /// `future`, `active` or `closed`.
    pub state: String,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub complete_date: Option<String>,
    /// The board the sprint was created on (a sprint can show on several boards).
    pub origin_board_id: Option<i64>,
}

/// `SearchAndReconcileResults` of `/search/jql`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    pub issues: Vec<Issue>,
    /// Absent on the last page.
    pub next_page_token: Option<String>,
    pub is_last: Option<bool>,
}

/// A page of the Agile API's issue lists (`startAt`, `maxResults`, `total`, `issues`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SprintIssues {
    pub start_at: u64,
    pub max_results: u64,
    pub total: u64,
    pub issues: Vec<Issue>,
}

/// `IssueBean`, with the fields asked for and the changelog when expanded.
#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    pub id: String,
    pub key: String,
    pub fields: IssueFields,
    /// Newest first, at most 100 histories: `total` says whether some were left out.
    pub changelog: Option<EmbeddedChangelog>,
}

/// The system fields the collector reads, and the custom ones (story points, Sprint) by id.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IssueFields {
    pub project: Option<ProjectRef>,
    pub issuetype: Option<IssueTypeRef>,
    pub status: Option<StatusRef>,
    pub created: Option<String>,
    pub updated: Option<String>,
    pub resolutiondate: Option<String>,
    /// Seconds.
    pub timeoriginalestimate: Option<i64>,
    /// Seconds logged on the issue itself (not its sub-tasks).
    pub timespent: Option<i64>,
    pub assignee: Option<UserRef>,
    pub parent: Option<IssueRef>,
    pub labels: Option<Vec<String>>,
    /// At most 20 worklogs; `total` says how many there are.
    pub worklog: Option<WorklogPage>,
    /// Every other field asked for, by id (`customfield_10016`, …).
    #[serde(flatten)]
    pub custom: HashMap<String, Value>,
}

impl IssueFields {
    /// A number field's value (story points); `None` when absent, null or not a number.
    pub fn number(&self, field: &str) -> Option<f64> {
        self.custom.get(field).and_then(Value::as_f64)
    }

    /// The ids of the sprints in the Sprint field `field` (a list of sprint objects, or null).
    pub fn sprint_ids(&self, field: &str) -> Result<Vec<i64>, UpstreamError> {
        match self.custom.get(field) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(v) => {
                let sprints: Vec<SprintRef> = serde_json::from_value(v.clone())
                    .map_err(|e| UpstreamError::Protocol(format!("the Sprint field {field}: {e}")))?;
                Ok(sprints.into_iter().map(|s| s.id).collect())
            }
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SprintRef {
    pub id: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProjectRef {
    pub key: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IssueTypeRef {
    pub name: String,
    #[serde(default)]
    pub subtask: bool,
}

/// `StatusDetails`, as an issue carries it and as `/status` lists it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusRef {
    /// As a changelog's `from` and `to` name the status.
    pub id: Option<String>,
    pub name: String,
    pub status_category: Option<StatusCategoryRef>,
}

/// `StatusCategory`: `key` is `new`, `indeterminate`, `done` (or `undefined`).
#[derive(Debug, Clone, Deserialize)]
pub struct StatusCategoryRef {
    pub key: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRef {
    pub account_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IssueRef {
    pub id: String,
    pub key: String,
}

/// `PageOfChangelogs`: the changelog an issue carries when expanded.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbeddedChangelog {
    pub start_at: u64,
    pub max_results: u64,
    pub total: u64,
    pub histories: Vec<History>,
}

/// `PageBeanChangelog` of `/issue/{id}/changelog`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangelogPage {
    pub start_at: u64,
    pub max_results: u64,
    pub total: u64,
    pub is_last: bool,
    pub values: Vec<History>,
}

/// `Changelog`: one change of an issue, of one or more fields.
#[derive(Debug, Clone, Deserialize)]
pub struct History {
    pub id: String,
    pub created: String,
    pub items: Vec<ChangeItem>,
}

/// `ChangeDetails`. `from`/`to` are ids (the Sprint field: `"1, 2"`), `fromString`/`toString`
/// the values as shown (story points: `"3"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeItem {
    pub field: String,
    pub field_id: Option<String>,
    pub from: Option<String>,
    pub from_string: Option<String>,
    pub to: Option<String>,
    pub to_string: Option<String>,
}

/// `PageOfWorklogs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorklogPage {
    pub start_at: u64,
    pub max_results: u64,
    pub total: u64,
    pub worklogs: Vec<Worklog>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Worklog {
    pub id: String,
    pub issue_id: String,
    pub author: Option<UserRef>,
    pub started: String,
    pub time_spent_seconds: i64,
    pub updated: String,
}

/// `ChangedWorklogs`: a page of `/worklog/updated` or `/worklog/deleted`; the next page
/// starts after `until`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangedWorklogs {
    pub values: Vec<ChangedWorklog>,
    pub since: i64,
    pub until: i64,
    pub last_page: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangedWorklog {
    pub worklog_id: i64,
    pub updated_time: i64,
}

/// How many items each kind of page asks for. The defaults are the most each endpoint gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSizes {
    pub boards: u32,
    pub sprints: u32,
    /// Issues of a search page with their changelogs (Jira gives at most 100 so).
    pub issues: u32,
    pub sprint_issues: u32,
    pub changelog: u32,
    pub worklogs: u32,
}

impl Default for PageSizes {
    fn default() -> Self {
        PageSizes { boards: 50, sprints: 50, issues: 100, sprint_issues: 50, changelog: 100, worklogs: 5000 }
    }
}

/// A Jira Cloud site over HTTP.
#[derive(Debug, Clone)]
pub struct JiraHttp {
    upstream: Upstream,
    /// The site root, without a trailing slash.
    base: String,
    pages: PageSizes,
}

impl JiraHttp {
    /// The site at `base_url` (`https://acme.atlassian.net`), read through `upstream`, whose
    /// credentials are [`super::Auth::Basic`] with the account's email and an API token.
    pub fn new(upstream: Upstream, base_url: &str) -> JiraHttp {
        JiraHttp { upstream, base: base_url.trim_end_matches('/').to_owned(), pages: PageSizes::default() }
    }

    pub fn with_page_sizes(self, pages: PageSizes) -> JiraHttp {
        JiraHttp { pages, ..self }
    }

    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> String {
        if query.is_empty() {
            return format!("{}{path}", self.base);
        }
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in query {
            q.append_pair(k, v);
        }
        format!("{}{path}?{}", self.base, q.finish())
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T, UpstreamError> {
        let url = self.url(path, query);
        let (value, _) = self.upstream.json(&Call::get(&url)).await?.ok_or_else(not_modified)?;
        Ok(value)
    }

    fn issue_query(&self, fields: &[String], max: u32) -> Vec<(&'static str, String)> {
        vec![("fields", fields.join(",")), ("expand", "changelog".to_owned()), ("maxResults", max.to_string())]
    }
}

/// No request of the Jira client sends an ETag, so a `304` is not an answer it can take.
fn not_modified() -> UpstreamError {
    UpstreamError::Protocol("304 Not Modified to a request without an ETag".into())
}

/// An issue id or key as a path segment: Jira's are digits, or letters, digits and `-`.
fn segment(id: &str) -> Result<&str, UpstreamError> {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        Ok(id)
    } else {
        Err(UpstreamError::Protocol(format!("an issue id {id:?} that is not one")))
    }
}

impl JiraApi for JiraHttp {
    fn myself(&self) -> ApiFuture<'_, Myself> {
        Box::pin(self.get("/rest/api/3/myself", &[]))
    }

    fn fields(&self) -> ApiFuture<'_, Vec<Field>> {
        Box::pin(self.get("/rest/api/3/field", &[]))
    }

    fn statuses(&self) -> ApiFuture<'_, Vec<StatusRef>> {
        Box::pin(self.get("/rest/api/3/status", &[]))
    }

    fn boards(&self, start_at: u64) -> ApiFuture<'_, AgilePage<Board>> {
        Box::pin(async move {
            let query = [("startAt", start_at.to_string()), ("maxResults", self.pages.boards.to_string())];
            self.get("/rest/agile/1.0/board", &query).await
        })
    }

    fn board(&self, id: i64) -> ApiFuture<'_, Board> {
        Box::pin(async move { self.get(&format!("/rest/agile/1.0/board/{id}"), &[]).await })
    }

    fn sprints(&self, board: i64, start_at: u64) -> ApiFuture<'_, AgilePage<Sprint>> {
        Box::pin(async move {
            let query = [
                ("state", "active,closed,future".to_owned()),
                ("startAt", start_at.to_string()),
                ("maxResults", self.pages.sprints.to_string()),
            ];
            self.get(&format!("/rest/agile/1.0/board/{board}/sprint"), &query).await
        })
    }

    fn sprint_issues<'a>(&'a self, sprint: i64, fields: &'a [String], start_at: u64) -> ApiFuture<'a, SprintIssues> {
        Box::pin(async move {
            let mut query = self.issue_query(fields, self.pages.sprint_issues);
            query.push(("startAt", start_at.to_string()));
            self.get(&format!("/rest/agile/1.0/sprint/{sprint}/issue"), &query).await
        })
    }

    fn search<'a>(
        &'a self,
        jql: &'a str,
        fields: &'a [String],
        next_page_token: Option<&'a str>,
    ) -> ApiFuture<'a, SearchPage> {
        Box::pin(async move {
            let mut query = self.issue_query(fields, self.pages.issues);
            query.insert(0, ("jql", jql.to_owned()));
            if let Some(token) = next_page_token {
                query.push(("nextPageToken", token.to_owned()));
            }
            self.get("/rest/api/3/search/jql", &query).await
        })
    }

    fn changelog<'a>(&'a self, issue_id: &'a str, start_at: u64) -> ApiFuture<'a, ChangelogPage> {
        Box::pin(async move {
            let query = [("startAt", start_at.to_string()), ("maxResults", self.pages.changelog.to_string())];
            self.get(&format!("/rest/api/3/issue/{}/changelog", segment(issue_id)?), &query).await
        })
    }

    fn worklogs<'a>(&'a self, issue_id: &'a str, start_at: u64) -> ApiFuture<'a, WorklogPage> {
        Box::pin(async move {
            let query = [("startAt", start_at.to_string()), ("maxResults", self.pages.worklogs.to_string())];
            self.get(&format!("/rest/api/3/issue/{}/worklog", segment(issue_id)?), &query).await
        })
    }

    fn worklogs_updated(&self, since: i64) -> ApiFuture<'_, ChangedWorklogs> {
        Box::pin(async move { self.get("/rest/api/3/worklog/updated", &[("since", since.to_string())]).await })
    }

    fn worklogs_deleted(&self, since: i64) -> ApiFuture<'_, ChangedWorklogs> {
        Box::pin(async move { self.get("/rest/api/3/worklog/deleted", &[("since", since.to_string())]).await })
    }

    fn worklog_list<'a>(&'a self, ids: &'a [i64]) -> ApiFuture<'a, Vec<Worklog>> {
        Box::pin(async move {
            let url = self.url("/rest/api/3/worklog/list", &[]);
            let body = json!({ "ids": ids });
            let (list, _) = self.upstream.json(&Call::post(&url, &body)).await?.ok_or_else(not_modified)?;
            Ok(list)
        })
    }

    fn tally(&self) -> &Tally {
        self.upstream.tally()
    }
}

/// An instant as Jira writes one, as epoch milliseconds: `2026-01-05T09:30:00.000+0000`
/// (platform REST), `2026-01-05T09:30:00.000Z` (Agile REST), or with a `+02:00` offset.
pub fn parse_time(s: &str) -> Result<i64, UpstreamError> {
    let bad = || UpstreamError::Protocol(format!("a time {s:?} not in Jira's format"));
    let bytes = s.as_bytes();
    // `±hhmm` at the end: the ISO 8601 basic offset, which RFC 3339 writes `±hh:mm`.
    let text = match bytes.len().checked_sub(5) {
        Some(i) if matches!(bytes[i], b'+' | b'-') && bytes[i + 1..].iter().all(u8::is_ascii_digit) => {
            format!("{}:{}", &s[..i + 3], &s[i + 3..])
        }
        _ => s.to_owned(),
    };
    let at: jiff::Timestamp = text.parse().map_err(|_| bad())?;
    Ok(at.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_both_of_jiras_forms() {
        // 2026-01-05T09:30:00.123Z
        assert_eq!(parse_time("2026-01-05T09:30:00.123+0000").unwrap(), 1_767_605_400_123);
        assert_eq!(parse_time("2026-01-05T09:30:00.123Z").unwrap(), 1_767_605_400_123);
        assert_eq!(parse_time("2026-01-05T11:30:00.123+0200").unwrap(), 1_767_605_400_123);
        assert_eq!(parse_time("2026-01-05T04:30:00.123-0500").unwrap(), 1_767_605_400_123);
        assert_eq!(parse_time("2026-01-05T11:30:00.123+02:00").unwrap(), 1_767_605_400_123);
        assert_eq!(parse_time("2026-01-05T09:30:00Z").unwrap(), 1_767_605_400_000);
        for bad in ["", "2026-01-05", "2026-01-05T09:30:00", "yesterday", "2026-01-05T09:30:00.000+0"] {
            assert!(matches!(parse_time(bad), Err(UpstreamError::Protocol(_))), "{bad}");
        }
    }

    #[test]
    fn an_issue_reads_its_custom_fields_by_id() {
        let issue: Issue = serde_json::from_value(json!({
            "id": "10001", "key": "PLAT-1",
            "fields": {
                "issuetype": {"name": "Sub-task", "subtask": true},
                "customfield_10016": 5.5,
                "customfield_10020": [{"id": 3, "name": "S3", "state": "closed", "boardId": 1}, {"id": 4, "name": "S4", "state": "active", "boardId": 1}],
                "customfield_10099": null
            }
        }))
        .unwrap();
        assert_eq!(issue.fields.number("customfield_10016"), Some(5.5));
        assert_eq!(issue.fields.number("customfield_10099"), None);
        assert_eq!(issue.fields.sprint_ids("customfield_10020").unwrap(), [3, 4]);
        assert!(issue.fields.sprint_ids("customfield_10099").unwrap().is_empty());
        assert!(issue.fields.issuetype.unwrap().subtask);
        assert!(segment("10001").is_ok() && segment("PLAT-1").is_ok());
        assert!(segment("../x").is_err() && segment("").is_err());
    }
}
