-- A pull request's comments, read when it is written again (to remove those deleted upstream).
CREATE INDEX metrics_comments_pull ON metrics_comments (source_id, repository_id, pr_number);
-- A repository's deployments after an instant: when a merged pull request reached production.
CREATE INDEX metrics_deployments_repository ON metrics_deployments (source_id, repository_id, created_at);
