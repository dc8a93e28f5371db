//! What a caller gives for a source, checked field by field, and its credentials tried
//! against the upstream before anything is stored: a refused token is a validation error
//! naming `token`, a repository or board the token cannot see names that entry, an address
//! the outbound guard refuses names the URL, and an upstream that does not answer is
//! [`MetricsError::Upstream`]. Nothing is stored unless every check passes.

use cairn_audit::{Action, Actor, AuditService, NewEntry, Outcome, RequestMeta};
use cairn_domain::{MasterKey, ValidationError};
use cairn_outbound::Outbound;
use serde_json::json;

use super::{NewSource, Source, SourceId, SourceKind, store};
use crate::client::github::{GitHub, GitHubApi};
use crate::client::jira::{JiraApi, JiraHttp};
use crate::client::{Auth, Upstream, UpstreamError};
use crate::{Metrics, MetricsError};

/// The REST root of github.com.
pub const GITHUB_API: &str = "https://api.github.com";

/// A source as a caller describes it; [`SourceInput::check`] reads it into a [`NewSource`].
#[derive(Debug, Clone, Default)]
pub struct SourceInput {
    pub kind: String,
    pub name: String,
    pub base_url: Option<String>,
    pub graphql_url: Option<String>,
    pub token: Option<String>,
    pub repositories: Vec<String>,
    pub organization: Option<String>,
    pub email: Option<String>,
    pub boards: Vec<i64>,
    pub story_points_field: Option<String>,
    pub url: Option<String>,
    pub branch: Option<String>,
}

/// Changes to a source; what is `None` stays. A list given replaces the list.
#[derive(Debug, Clone, Default)]
pub struct SourcePatch {
    pub name: Option<String>,
    /// For the optional fields, `Some(None)` clears the stored value.
    pub base_url: Option<Option<String>>,
    pub graphql_url: Option<Option<String>>,
    pub token: Option<String>,
    pub repositories: Option<Vec<String>>,
    pub organization: Option<Option<String>>,
    pub email: Option<String>,
    pub boards: Option<Vec<i64>>,
    pub story_points_field: Option<Option<String>>,
    pub url: Option<String>,
    pub branch: Option<Option<String>>,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> MetricsError {
    MetricsError::Validation(ValidationError::new(field, message))
}

fn text(raw: &str, field: &str, max: usize) -> Result<String, MetricsError> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(invalid(field, "must not be blank"));
    }
    if t.chars().count() > max {
        return Err(invalid(field, format!("at most {max} characters")));
    }
    if t.chars().any(char::is_control) {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(t.to_owned())
}

/// A GitHub owner or repository name: letters, digits, `-`, `_`, `.`.
fn github_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 100 && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl SourceInput {
    /// The fields checked (not yet the credentials).
    pub fn check(self, outbound: &Outbound) -> Result<NewSource, MetricsError> {
        let kind = SourceKind::parse(&self.kind).ok_or_else(|| invalid("kind", "must be github, jira or git"))?;
        let name = text(&self.name, "name", 100)?;
        let url = |field: &str, raw: &str| -> Result<String, MetricsError> {
            Ok(outbound.check_url(field, raw)?.as_str().trim_end_matches('/').to_owned())
        };
        let token = |t: Option<String>| -> Result<String, MetricsError> {
            let t = t.ok_or_else(|| invalid("token", "is required"))?;
            let t = t.trim();
            if t.is_empty() || t.len() > 2000 || t.chars().any(|c| c.is_control() || c == ' ') {
                return Err(invalid("token", "must be the upstream's token, without spaces"));
            }
            Ok(t.to_owned())
        };
        let stray = |field: &str, given: bool| {
            if given { Err(invalid(field, format!("is not a field of {} sources", kind.as_str()))) } else { Ok(()) }
        };
        let mut new = NewSource {
            kind,
            name,
            base_url: None,
            graphql_url: None,
            url: None,
            branch: None,
            organization: None,
            repositories: Vec::new(),
            boards: Vec::new(),
            email: None,
            story_points_field: None,
            token: None,
        };
        match kind {
            SourceKind::Github => {
                stray("email", self.email.is_some())?;
                stray("boards", !self.boards.is_empty())?;
                stray("story_points_field", self.story_points_field.is_some())?;
                stray("url", self.url.is_some())?;
                stray("branch", self.branch.is_some())?;
                new.base_url = Some(url("base_url", self.base_url.as_deref().unwrap_or(GITHUB_API))?);
                new.graphql_url = self.graphql_url.as_deref().map(|u| url("graphql_url", u)).transpose()?;
                new.token = Some(token(self.token)?);
                if self.repositories.len() > 1000 {
                    return Err(invalid("repositories", "at most 1000"));
                }
                for (i, r) in self.repositories.iter().enumerate() {
                    let ok = r.split_once('/').is_some_and(|(o, n)| github_name(o) && github_name(n));
                    if !ok {
                        return Err(invalid(format!("repositories[{i}]"), "must be owner/name"));
                    }
                    if new.repositories.iter().any(|x: &String| x.eq_ignore_ascii_case(r)) {
                        return Err(invalid(format!("repositories[{i}]"), "is named twice"));
                    }
                    new.repositories.push(r.clone());
                }
                if let Some(org) = &self.organization {
                    if !github_name(org) {
                        return Err(invalid("organization", "must be a GitHub organization's login"));
                    }
                    new.organization = Some(org.clone());
                }
                if new.repositories.is_empty() && new.organization.is_none() {
                    return Err(invalid("repositories", "name repositories, or an organization for all of its"));
                }
            }
            SourceKind::Jira => {
                for (field, given) in [
                    ("graphql_url", self.graphql_url.is_some()),
                    ("repositories", !self.repositories.is_empty()),
                    ("organization", self.organization.is_some()),
                    ("url", self.url.is_some()),
                    ("branch", self.branch.is_some()),
                ] {
                    stray(field, given)?;
                }
                let base = self
                    .base_url
                    .ok_or_else(|| invalid("base_url", "is required: the site, https://acme.atlassian.net"))?;
                new.base_url = Some(url("base_url", &base)?);
                let email =
                    self.email.ok_or_else(|| invalid("email", "is required: the account the token belongs to"))?;
                new.email = Some(
                    cairn_identity::Email::parse(email.trim())
                        .map_err(|_| invalid("email", "is not an email address"))?
                        .to_string(),
                );
                new.token = Some(token(self.token)?);
                for (i, b) in self.boards.iter().enumerate() {
                    if *b <= 0 {
                        return Err(invalid(format!("boards[{i}]"), "must be a board id"));
                    }
                    if new.boards.contains(b) {
                        return Err(invalid(format!("boards[{i}]"), "is named twice"));
                    }
                    new.boards.push(*b);
                }
                new.story_points_field =
                    self.story_points_field.as_deref().map(|f| text(f, "story_points_field", 100)).transpose()?;
            }
            SourceKind::Git => {
                for (field, given) in [
                    ("base_url", self.base_url.is_some()),
                    ("graphql_url", self.graphql_url.is_some()),
                    ("token", self.token.is_some()),
                    ("repositories", !self.repositories.is_empty()),
                    ("organization", self.organization.is_some()),
                    ("email", self.email.is_some()),
                    ("boards", !self.boards.is_empty()),
                    ("story_points_field", self.story_points_field.is_some()),
                ] {
                    stray(field, given)?;
                }
                let raw = self.url.ok_or_else(|| invalid("url", "is required: a repository's path or https URL"))?;
                let raw = raw.trim();
                new.url = Some(if raw.starts_with('/') { text(raw, "url", 1000)? } else { url("url", raw)? });
                new.branch = self.branch.as_deref().map(|b| text(b, "branch", 250)).transpose()?;
            }
        }
        Ok(new)
    }
}

/// An upstream refusal as the field it is about; an upstream that cannot answer as
/// [`MetricsError::Upstream`].
fn refusal(kind: SourceKind, e: UpstreamError, not_found: &str) -> MetricsError {
    let upstream = match kind {
        SourceKind::Github => "GitHub",
        SourceKind::Jira => "Jira",
        SourceKind::Git => "the repository",
    };
    match e {
        UpstreamError::Unauthorized(m) => invalid("token", format!("{upstream} refused the credentials: {m}")),
        UpstreamError::Forbidden(m) => invalid("token", format!("the token lacks a permission: {m}")),
        UpstreamError::NotFound(_) => invalid(not_found, "not found, or the token cannot see it"),
        UpstreamError::Refused(why) => invalid("base_url", why),
        other => MetricsError::Upstream(format!("{upstream} did not answer as expected: {other}")),
    }
}

/// Tries a GitHub source's token and every repository or organization it names.
async fn try_github(outbound: &Outbound, new: &NewSource) -> Result<(), MetricsError> {
    let token = new.token.clone().unwrap_or_default();
    let api = GitHub::new(
        Upstream::new(outbound.clone(), Auth::Bearer(token)).trying(),
        new.base_url.as_deref().unwrap_or(GITHUB_API),
        new.graphql_url.as_deref(),
    );
    api.viewer().await.map_err(|e| refusal(SourceKind::Github, e, "base_url"))?;
    for (i, r) in new.repositories.iter().enumerate() {
        api.repository(r).await.map_err(|e| refusal(SourceKind::Github, e, &format!("repositories[{i}]")))?;
    }
    if let Some(org) = &new.organization {
        api.organization_repositories(org, None).await.map_err(|e| refusal(SourceKind::Github, e, "organization"))?;
    }
    Ok(())
}

/// Tries a git source: a path must be a repository with the branch; an https URL must be a
/// git server that answers the smart-HTTP discovery (one request, no pack) and advertises
/// the branch.
async fn try_git(outbound: &Outbound, new: &NewSource) -> Result<(), MetricsError> {
    let url = new.url.clone().unwrap_or_default();
    let branch = new.branch.clone();
    match cairn_git::Location::parse(&url).map_err(git_refusal)? {
        cairn_git::Location::Path(path) => tokio::task::spawn_blocking(move || {
            let repo = cairn_git::Repository::open(&path)?;
            repo.branch(branch.as_deref()).map(|_| ())
        })
        .await
        .map_err(|e| MetricsError::Upstream(format!("reading the repository stopped: {e}")))?
        .map_err(git_refusal),
        cairn_git::Location::Url(u) => {
            let discovery = format!("{}/info/refs?service=git-upload-pack", u.trim_end_matches('/'));
            let refusal = |e: cairn_outbound::OutboundError| match e {
                cairn_outbound::OutboundError::Refused(why) => invalid("url", why),
                other => MetricsError::Upstream(format!("the repository's server did not answer: {other}")),
            };
            let resp = outbound
                .get(&discovery)
                .map_err(refusal)?
                .max_body(16 * 1024 * 1024)
                .header("git-protocol", "version=1")
                .send()
                .await
                .map_err(refusal)?;
            let status = resp.status();
            let kind = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            if status.as_u16() == 404 || status.as_u16() == 401 || status.as_u16() == 403 {
                return Err(invalid("url", format!("no repository the server lets Cairn read (it answered {status})")));
            }
            if !status.is_success() {
                return Err(MetricsError::Upstream(format!("the repository's server answered {status}")));
            }
            if !kind.starts_with("application/x-git-upload-pack-advertisement") {
                return Err(invalid("url", "is not a git repository's URL (the server does not speak git over HTTP)"));
            }
            let body = resp.bytes().await.map_err(refusal)?;
            if let Some(b) = &branch {
                let wanted = format!("refs/heads/{b}");
                let text = String::from_utf8_lossy(&body);
                if !text.split(['\n', '\0', ' ']).any(|w| w == wanted) {
                    return Err(invalid("branch", format!("the repository has no branch {b}")));
                }
            }
            Ok(())
        }
    }
}

fn git_refusal(e: cairn_git::GitError) -> MetricsError {
    match e {
        cairn_git::GitError::Invalid { field, message } => invalid(field, message),
        cairn_git::GitError::Upstream(m) | cairn_git::GitError::Read(m) => MetricsError::Upstream(m),
    }
}

/// Tries a Jira source's email and token, every board it names, and the story-points field
/// it names.
async fn try_jira(outbound: &Outbound, new: &NewSource) -> Result<(), MetricsError> {
    let auth =
        Auth::Basic { user: new.email.clone().unwrap_or_default(), token: new.token.clone().unwrap_or_default() };
    let api =
        JiraHttp::new(Upstream::new(outbound.clone(), auth).trying(), new.base_url.as_deref().unwrap_or_default());
    api.myself().await.map_err(|e| refusal(SourceKind::Jira, e, "base_url"))?;
    for (i, board) in new.boards.iter().enumerate() {
        api.board(*board).await.map_err(|e| refusal(SourceKind::Jira, e, &format!("boards[{i}]")))?;
    }
    if let Some(field) = &new.story_points_field {
        let fields = api.fields().await.map_err(|e| refusal(SourceKind::Jira, e, "base_url"))?;
        if !fields.iter().any(|f| &f.id == field) {
            return Err(invalid("story_points_field", "is not a field of the site (its id, like customfield_10016)"));
        }
    }
    Ok(())
}

/// Why a demo source is not changed: it has no upstream to point elsewhere.
const DEMO_UNCHANGED: &str = "a demo source has no upstream to change; delete it to remove the demo data";

impl Metrics<'_> {
    /// Checks `input`, tries its credentials, and stores the source.
    pub async fn create_source(
        &self,
        key: &MasterKey,
        outbound: &Outbound,
        input: SourceInput,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<Source, MetricsError> {
        let new = input.check(outbound)?;
        self.try_credentials(outbound, &new).await?;
        self.add_source(key, new, actor, meta).await
    }

    /// Changes a source: the result is checked and tried as a new one is.
    pub async fn update_source(
        &self,
        key: &MasterKey,
        outbound: &Outbound,
        id: &SourceId,
        patch: SourcePatch,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<Source, MetricsError> {
        let current = self.source(id).await?;
        if current.deleting {
            return Err(MetricsError::NotFound("source"));
        }
        if current.demo {
            return Err(MetricsError::Conflict(DEMO_UNCHANGED.into()));
        }
        let token = match patch.token.clone() {
            Some(t) => Some(t),
            None => self.source_token(key, id).await?,
        };
        let input = SourceInput {
            kind: current.kind.as_str().to_owned(),
            name: patch.name.clone().unwrap_or(current.name.clone()),
            base_url: patch.base_url.clone().unwrap_or(current.base_url.clone()),
            graphql_url: patch.graphql_url.clone().unwrap_or(current.graphql_url.clone()),
            token,
            repositories: patch.repositories.clone().unwrap_or(current.repositories.clone()),
            organization: patch.organization.clone().unwrap_or(current.organization.clone()),
            email: patch.email.clone().or(current.email.clone()),
            boards: patch.boards.clone().unwrap_or(current.boards.clone()),
            story_points_field: patch.story_points_field.clone().unwrap_or(current.story_points_field.clone()),
            url: patch.url.clone().or(current.url.clone()),
            branch: patch.branch.clone().unwrap_or(current.branch.clone()),
        };
        let new = input.check(outbound)?;
        let reach_changed = new.base_url != current.base_url
            || new.graphql_url != current.graphql_url
            || new.repositories != current.repositories
            || new.organization != current.organization
            || new.email != current.email
            || new.boards != current.boards
            || new.url != current.url
            || new.branch != current.branch;
        if patch.token.is_some() || reach_changed {
            self.try_credentials(outbound, &new).await?;
        }
        let sealed = patch.token.as_deref().map(|t| key.seal(t.as_bytes(), &super::token_aad(&current.id)));
        let mut tx = self.db.begin().await?;
        if new.name != current.name && store::named(&mut tx, &new.name).await? {
            return Err(MetricsError::Conflict(format!("a source named {} exists", new.name)));
        }
        let stored =
            store::update(&mut tx, &current.id, &new, sealed.as_deref(), &actor.id, cairn_domain::now_ms()).await?;
        let mut changed: Vec<&str> = Vec::new();
        for (field, differs) in [
            ("name", new.name != current.name),
            ("base_url", new.base_url != current.base_url),
            ("graphql_url", new.graphql_url != current.graphql_url),
            ("repositories", new.repositories != current.repositories),
            ("organization", new.organization != current.organization),
            ("email", new.email != current.email),
            ("boards", new.boards != current.boards),
            ("story_points_field", new.story_points_field != current.story_points_field),
            ("url", new.url != current.url),
            ("branch", new.branch != current.branch),
            ("token", patch.token.is_some()),
        ] {
            if differs {
                changed.push(field);
            }
        }
        let entry =
            NewEntry::new(actor.clone(), Action::fixed("metrics.source_updated"), Outcome::Success, meta.clone())
                .resource("metrics_source", &current.id)
                .details(json!({ "changed": changed }));
        AuditService::record(self.db, &mut tx, entry).await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn try_credentials(&self, outbound: &Outbound, new: &NewSource) -> Result<(), MetricsError> {
        match new.kind {
            SourceKind::Github => try_github(outbound, new).await,
            SourceKind::Jira => try_jira(outbound, new).await,
            SourceKind::Git => try_git(outbound, new).await,
        }
    }
}
