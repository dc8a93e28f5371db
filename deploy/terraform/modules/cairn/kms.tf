# One customer-managed key for this environment's data at rest: the database-url parameter,
# CloudWatch logs, the reports bucket and RDS Performance Insights. (The parameters the operator
# creates may use it too, or the AWS-managed aws/ssm key.)

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:A key policy: resource "*" is this key, and the account statement is AWS's default one, which delegates to IAM.
  #checkov:skip=CKV_AWS_111:A key policy: resource "*" is this key, and the account statement is AWS's default one, which delegates to IAM.
  #checkov:skip=CKV_AWS_356:A key policy: resource "*" is this key alone.
  statement {
    sid       = "Account"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "CloudWatchLogs"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }
}

resource "aws_kms_key" "main" {
  description             = "Cairn ${var.environment}: data at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = local.tags
}

resource "aws_kms_alias" "main" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.main.key_id
}
