-- Engineering metrics: settings, teams and people, sources, what the collectors gather from
-- each source, daily rollups per person, and collector runs.
--
-- One text for both backends: BIGINT and DOUBLE PRECISION are SQLite's INTEGER and REAL.
--
-- Times are UTC epoch milliseconds. Days (`day`, `from_day`, `to_day`) are local dates in
-- the tenant's metrics time zone, written as days since 1970-01-01. Flags are 0 or 1.
-- Collected rows are keyed by their source and the upstream id; they carry no foreign key
-- to their source, whose rows are removed in batches when it is deleted.

-- One row: the defaults below until an admin changes them.
CREATE TABLE metrics_settings (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    time_zone TEXT NOT NULL,
    reload_days BIGINT NOT NULL,
    backfill_days BIGINT NOT NULL,
    schedule TEXT NOT NULL,
    -- JSON array of lower-case logins (besides `…[bot]`, which are always bots).
    bots TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
INSERT INTO metrics_settings (id, time_zone, reload_days, backfill_days, schedule, bots, updated_at, updated_by)
VALUES (1, 'Europe/Bratislava', 28, 90, '0 2 * * *', '["renovate"]', 0, 'cairn');

CREATE TABLE metrics_teams (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    -- The name in lower case: names are unique regardless of case.
    name_key TEXT NOT NULL UNIQUE,
    -- The Jira board the team owns (its sprints are the team's).
    board_id BIGINT UNIQUE,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);

-- A person, known by their (primary) email; identities in lower case.
CREATE TABLE metrics_people (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    github_login TEXT UNIQUE,
    jira_account_id TEXT UNIQUE
);

-- Every email of a person, the primary one included: how a commit without a GitHub author
-- finds its person.
CREATE TABLE metrics_person_emails (
    email TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES metrics_people (id) ON DELETE CASCADE
);
CREATE INDEX metrics_person_emails_person ON metrics_person_emails (person_id);

-- A person in a team over the local dates [from_day, to_day); to_day NULL: still a member.
-- A person's intervals never overlap, across all teams.
CREATE TABLE metrics_memberships (
    team_id TEXT NOT NULL REFERENCES metrics_teams (id) ON DELETE CASCADE,
    person_id TEXT NOT NULL REFERENCES metrics_people (id),
    from_day BIGINT NOT NULL,
    to_day BIGINT,
    -- The order the team's members were given in.
    position BIGINT NOT NULL,
    PRIMARY KEY (team_id, person_id, from_day)
);
CREATE INDEX metrics_memberships_person ON metrics_memberships (person_id, from_day);

CREATE TABLE metrics_sources (
    id TEXT PRIMARY KEY,
    -- github | jira | git
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    -- GitHub: the REST root; Jira: the site.
    base_url TEXT,
    graphql_url TEXT,
    -- git: a repository path or URL, and its branch.
    url TEXT,
    branch TEXT,
    -- GitHub: every repository of `organization`, or those of `repositories` (JSON array).
    organization TEXT,
    repositories TEXT,
    -- Jira: board ids (JSON array), the account's email, the story-points field.
    boards TEXT,
    email TEXT,
    story_points_field TEXT,
    -- `MasterKey::seal` of the token, bound to the source's id.
    token_sealed TEXT,
    -- active | deleting (its rows are being removed)
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);

-- What a collector remembers of a source between runs (watermarks, ETags), by name.
CREATE TABLE metrics_source_cursors (
    source_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (source_id, name)
);

-- GitHub --------------------------------------------------------------------------------

CREATE TABLE metrics_repositories (
    source_id TEXT NOT NULL,
    repository_id TEXT NOT NULL,
    full_name TEXT NOT NULL,
    default_branch TEXT,
    archived BIGINT NOT NULL,
    PRIMARY KEY (source_id, repository_id)
);

CREATE TABLE metrics_commits (
    source_id TEXT NOT NULL,
    repository_id TEXT NOT NULL,
    sha TEXT NOT NULL,
    author_login TEXT,
    author_email TEXT,
    authored_at BIGINT NOT NULL,
    additions BIGINT NOT NULL,
    deletions BIGINT NOT NULL,
    changed_files BIGINT NOT NULL,
    parent_count BIGINT NOT NULL,
    on_default_branch BIGINT NOT NULL,
    PRIMARY KEY (source_id, repository_id, sha)
);
CREATE INDEX metrics_commits_authored ON metrics_commits (authored_at);
CREATE INDEX metrics_commits_repository ON metrics_commits (repository_id, authored_at);

CREATE TABLE metrics_commit_pull_requests (
    source_id TEXT NOT NULL,
    repository_id TEXT NOT NULL,
    sha TEXT NOT NULL,
    pr_number BIGINT NOT NULL,
    PRIMARY KEY (source_id, repository_id, sha, pr_number)
);
CREATE INDEX metrics_commit_pull_requests_pr ON metrics_commit_pull_requests (source_id, repository_id, pr_number);

CREATE TABLE metrics_pull_requests (
    source_id TEXT NOT NULL,
    repository_id TEXT NOT NULL,
    number BIGINT NOT NULL,
    author_login TEXT,
    -- open | closed | merged
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    merged_at BIGINT,
    closed_at BIGINT,
    first_review_at BIGINT,
    additions BIGINT NOT NULL,
    deletions BIGINT NOT NULL,
    merge_commit_sha TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (source_id, repository_id, number)
);
CREATE INDEX metrics_pull_requests_created ON metrics_pull_requests (created_at);
CREATE INDEX metrics_pull_requests_open ON metrics_pull_requests (source_id, repository_id) WHERE state = 'open';

CREATE TABLE metrics_reviews (
    source_id TEXT NOT NULL,
    review_id TEXT NOT NULL,
    repository_id TEXT NOT NULL,
    pr_number BIGINT NOT NULL,
    author_login TEXT,
    state TEXT NOT NULL,
    submitted_at BIGINT NOT NULL,
    PRIMARY KEY (source_id, review_id)
);
CREATE INDEX metrics_reviews_pr ON metrics_reviews (source_id, repository_id, pr_number);

CREATE TABLE metrics_comments (
    source_id TEXT NOT NULL,
    -- review | conversation: GitHub numbers each kind on its own.
    kind TEXT NOT NULL,
    comment_id TEXT NOT NULL,
    repository_id TEXT NOT NULL,
    pr_number BIGINT NOT NULL,
    author_login TEXT,
    pr_author_login TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (source_id, kind, comment_id)
);
CREATE INDEX metrics_comments_created ON metrics_comments (created_at);

CREATE TABLE metrics_deployments (
    source_id TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    repository_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    sha TEXT NOT NULL,
    git_ref TEXT,
    created_at BIGINT NOT NULL,
    -- The latest status (success, failure, error, inactive, …) and when it was set.
    status TEXT,
    status_at BIGINT,
    PRIMARY KEY (source_id, deployment_id)
);
CREATE INDEX metrics_deployments_created ON metrics_deployments (created_at);

CREATE TABLE metrics_releases (
    source_id TEXT NOT NULL,
    release_id TEXT NOT NULL,
    repository_id TEXT NOT NULL,
    tag_name TEXT NOT NULL,
    name TEXT,
    created_at BIGINT NOT NULL,
    published_at BIGINT,
    draft BIGINT NOT NULL,
    prerelease BIGINT NOT NULL,
    PRIMARY KEY (source_id, release_id)
);

-- Jira ----------------------------------------------------------------------------------

CREATE TABLE metrics_boards (
    source_id TEXT NOT NULL,
    board_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    -- scrum | kanban | simple
    kind TEXT NOT NULL,
    project_key TEXT,
    PRIMARY KEY (source_id, board_id)
);

CREATE TABLE metrics_sprints (
    source_id TEXT NOT NULL,
    sprint_id BIGINT NOT NULL,
    board_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    -- future | active | closed
    state TEXT NOT NULL,
    start_at BIGINT,
    end_at BIGINT,
    complete_at BIGINT,
    PRIMARY KEY (source_id, sprint_id)
);
CREATE INDEX metrics_sprints_board ON metrics_sprints (source_id, board_id);

-- A sprint's commitment: the issues in it at its start and their points then. Taken once
-- (the marker row says when) and never rebuilt.
CREATE TABLE metrics_sprint_snapshots (
    source_id TEXT NOT NULL,
    sprint_id BIGINT NOT NULL,
    taken_at BIGINT NOT NULL,
    PRIMARY KEY (source_id, sprint_id)
);
CREATE TABLE metrics_sprint_commitments (
    source_id TEXT NOT NULL,
    sprint_id BIGINT NOT NULL,
    issue_id TEXT NOT NULL,
    points DOUBLE PRECISION,
    PRIMARY KEY (source_id, sprint_id, issue_id)
);

-- An issue in a sprint over [added_at, removed_at); removed_at NULL: still in it.
CREATE TABLE metrics_sprint_issues (
    source_id TEXT NOT NULL,
    sprint_id BIGINT NOT NULL,
    issue_id TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    removed_at BIGINT,
    PRIMARY KEY (source_id, sprint_id, issue_id, added_at)
);
CREATE INDEX metrics_sprint_issues_issue ON metrics_sprint_issues (source_id, issue_id);

CREATE TABLE metrics_issues (
    source_id TEXT NOT NULL,
    issue_id TEXT NOT NULL,
    issue_key TEXT NOT NULL,
    project_key TEXT NOT NULL,
    issue_type TEXT NOT NULL,
    is_subtask BIGINT NOT NULL,
    status TEXT NOT NULL,
    -- new | indeterminate | done
    status_category TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    resolved_at BIGINT,
    points DOUBLE PRECISION,
    original_estimate_seconds BIGINT,
    time_spent_seconds BIGINT,
    assignee_account_id TEXT,
    parent_id TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (source_id, issue_id)
);
CREATE INDEX metrics_issues_resolved ON metrics_issues (resolved_at);
CREATE INDEX metrics_issues_key ON metrics_issues (source_id, issue_key);

CREATE TABLE metrics_worklogs (
    source_id TEXT NOT NULL,
    worklog_id TEXT NOT NULL,
    issue_id TEXT NOT NULL,
    author_account_id TEXT,
    started_at BIGINT NOT NULL,
    seconds BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (source_id, worklog_id)
);
CREATE INDEX metrics_worklogs_started ON metrics_worklogs (started_at);
CREATE INDEX metrics_worklogs_issue ON metrics_worklogs (source_id, issue_id);

-- Rollups -------------------------------------------------------------------------------

-- One row per source, person and local day, kept by the upserts of the rows it sums in
-- their transaction. person_key: `gh:<login>` or `email:<address>` (a commit without a
-- GitHub author), `jira:<account id>`; lower case. Bots keep their rows: readers leave
-- them out by the tenant's settings. commits, additions and deletions count commits on the
-- default branch with one parent; active = commits > 0.
CREATE TABLE metrics_person_days (
    source_id TEXT NOT NULL,
    person_key TEXT NOT NULL,
    day BIGINT NOT NULL,
    commits BIGINT NOT NULL,
    additions BIGINT NOT NULL,
    deletions BIGINT NOT NULL,
    active BIGINT NOT NULL,
    comments_on_own BIGINT NOT NULL,
    comments_on_others BIGINT NOT NULL,
    prs_opened BIGINT NOT NULL,
    prs_merged BIGINT NOT NULL,
    reviews BIGINT NOT NULL,
    worklog_seconds BIGINT NOT NULL,
    PRIMARY KEY (source_id, person_key, day)
);
CREATE INDEX metrics_person_days_day ON metrics_person_days (day);

-- Runs ----------------------------------------------------------------------------------

-- A collector run. Claimed like the event bus's deliveries: a claim sets lease_id and
-- lease_owner and moves next_at to the lease's expiry; a run whose lease expired is
-- claimable again and resumes from `progress`.
CREATE TABLE metrics_runs (
    id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL,
    -- manual:<run id> | schedule:<fire time ms> | …: one run per key and source.
    trigger_key TEXT NOT NULL,
    -- queued | running | succeeded | failed
    status TEXT NOT NULL,
    -- The start of the window the run reads; NULL: the source's default.
    since BIGINT,
    requested_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    -- JSON: {"<table>": {"new": n, "changed": n, "removed": n}}
    counts TEXT NOT NULL,
    requests BIGINT NOT NULL,
    rate_limit_waits BIGINT NOT NULL,
    error TEXT,
    -- JSON: {"<step>": "<cursor>"}, where each step resumes.
    progress TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_at BIGINT NOT NULL,
    lease_id TEXT,
    lease_owner TEXT,
    updated_at BIGINT NOT NULL,
    UNIQUE (source_id, trigger_key)
);
CREATE INDEX metrics_runs_due ON metrics_runs (next_at) WHERE status IN ('queued', 'running');
CREATE INDEX metrics_runs_source ON metrics_runs (source_id, id);
