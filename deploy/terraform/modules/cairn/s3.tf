# Reports bucket: Cairn keeps rendered reports here (CAIRN_OBJECT_STORE_URL, ecs.tf) under
# reports/<tenant>/<report>.pdf, each tagged cairn-expires=<YYYY-MM-DD>.
#
# Expiry. S3 lifecycle filters match a tag's exact key and value, never a date inside a value,
# so the cairn-expires tag cannot expire an object by itself; it tells a reader or an audit
# when Cairn will. Instead:
#   1. Cairn's workers delete each report, row and object, once its expiry (a tenant setting,
#      1-365 days) has passed;
#   2. the rule "reports-backstop" deletes everything under reports/ after reports_max_age_days,
#      whatever its tags, in case that cleanup stops running.
# Versioning is on, so a deleted or overwritten report stays recoverable for 7 days
# (noncurrent-versions), then goes for good.

resource "aws_s3_bucket" "reports" {
  #checkov:skip=CKV_AWS_18:Report downloads go through Cairn, which records them in its audit trail; set alb_access_logs_bucket-style server access logging here if your policy requires it.
  #checkov:skip=CKV_AWS_144:Reports are regenerable from the database; cross-region replication is not worth its cost here.
  #checkov:skip=CKV2_AWS_62:Nothing consumes bucket events.
  bucket        = "${local.name}-reports-${local.account_id}"
  force_destroy = var.reports_force_destroy
  tags          = local.tags
}

resource "aws_s3_bucket_public_access_block" "reports" {
  bucket                  = aws_s3_bucket.reports.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "reports" {
  bucket = aws_s3_bucket.reports.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "reports" {
  bucket = aws_s3_bucket.reports.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.main.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "reports" {
  bucket = aws_s3_bucket.reports.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "reports" {
  bucket     = aws_s3_bucket.reports.id
  depends_on = [aws_s3_bucket_versioning.reports]

  rule {
    id     = "reports-backstop"
    status = "Enabled"
    filter {
      prefix = "reports/"
    }
    expiration {
      days = var.reports_max_age_days
    }
  }

  rule {
    id     = "noncurrent-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "reports" {
  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.reports.arn, "${aws_s3_bucket.reports.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "reports" {
  bucket     = aws_s3_bucket.reports.id
  policy     = data.aws_iam_policy_document.reports.json
  depends_on = [aws_s3_bucket_public_access_block.reports]
}
