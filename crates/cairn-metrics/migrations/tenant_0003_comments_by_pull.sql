-- A pull request's comments, read when it is written again (to remove those deleted upstream).
CREATE INDEX metrics_comments_pull ON metrics_comments (source_id, repository_id, pr_number);
