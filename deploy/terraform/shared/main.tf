# What dev and prod share: the ECR repository (images tagged by commit, so the image tested in
# dev is the one promoted to prod) and the role the deploy workflow assumes through GitHub's
# OIDC provider. Applied once, before the environments (deploy/README.md).

terraform {
  required_version = ">= 1.11.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }

  # Partial configuration: terraform init -backend-config="bucket=<state bucket>" -backend-config="region=<region>"
  backend "s3" {
    key          = "cairn/shared.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = { Application = "cairn", Environment = "shared", ManagedBy = "terraform" }
  }
}

variable "region" {
  description = "AWS region of the repository."
  type        = string
}

variable "repository_name" {
  description = "ECR repository name."
  type        = string
  default     = "cairn"
}

variable "pull_account_ids" {
  description = "Other AWS accounts whose ECS tasks pull from this repository (prod in its own account, say)."
  type        = list(string)
  default     = []
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose deploy workflow assumes the role."
  type        = string
}

variable "state_bucket" {
  description = "S3 bucket holding the Terraform state (created by hand first, deploy/README.md step 1)."
  type        = string
}

variable "deploy_policy_arns" {
  description = "Managed policies for the deploy role, which runs terraform apply over VPC, ECS, RDS, IAM, S3, SES, SSM, KMS and CloudWatch. Narrow them to your organisation's rules."
  type        = list(string)
  default     = ["arn:aws:iam::aws:policy/PowerUserAccess"]
}

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "ecr_key" {
  #checkov:skip=CKV_AWS_109:A key policy: resource "*" is this key, and the statement is AWS's default one, which delegates to IAM.
  #checkov:skip=CKV_AWS_111:A key policy: resource "*" is this key, and the statement is AWS's default one, which delegates to IAM.
  #checkov:skip=CKV_AWS_356:A key policy: resource "*" is this key alone.
  statement {
    sid       = "Account"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_kms_key" "ecr" {
  description         = "Cairn images"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.ecr_key.json
}

resource "aws_ecr_repository" "cairn" {
  name = var.repository_name
  # A tag is a commit: it never moves.
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.ecr.arn
  }
}

resource "aws_ecr_lifecycle_policy" "cairn" {
  repository = aws_ecr_repository.cairn.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Untagged layers left by failed pushes"
        selection    = { tagStatus = "untagged", countType = "sinceImagePushed", countUnit = "days", countNumber = 7 }
        action       = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the newest 200 commits"
        selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 200 }
        action       = { type = "expire" }
      },
    ]
  })
}

data "aws_iam_policy_document" "pull" {
  count = length(var.pull_account_ids) > 0 ? 1 : 0
  statement {
    sid     = "PullFromOtherAccounts"
    actions = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    principals {
      type        = "AWS"
      identifiers = [for id in var.pull_account_ids : "arn:aws:iam::${id}:root"]
    }
  }
}

resource "aws_ecr_repository_policy" "pull" {
  count      = length(var.pull_account_ids) > 0 ? 1 : 0
  repository = aws_ecr_repository.cairn.name
  policy     = data.aws_iam_policy_document.pull[0].json
}

# --- the deploy workflow's role (GitHub OIDC, no long-lived keys) --------------------------------

resource "aws_iam_openid_connect_provider" "github" {
  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_policy_document" "deploy_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    # Only this repository's jobs that run in its dev or prod environment.
    condition {
      test     = "StringLike"
      variable = "token.actions.githubusercontent.com:sub"
      values = [
        "repo:${var.github_repository}:environment:dev",
        "repo:${var.github_repository}:environment:prod",
      ]
    }
  }
}

resource "aws_iam_role" "deploy" {
  name                 = "cairn-deploy"
  assume_role_policy   = data.aws_iam_policy_document.deploy_assume.json
  max_session_duration = 3600
}

resource "aws_iam_role_policy_attachment" "deploy" {
  for_each   = toset(var.deploy_policy_arns)
  role       = aws_iam_role.deploy.name
  policy_arn = each.value
}

data "aws_iam_policy_document" "deploy" {
  statement {
    sid       = "PushImages"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart", "ecr:BatchGetImage", "ecr:DescribeImages"]
    resources = [aws_ecr_repository.cairn.arn]
  }
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  # PowerUserAccess leaves IAM out: the roles, policies and instance profiles the module
  # creates are all named *cairn*.
  statement {
    sid = "CairnRoles"
    actions = [
      "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:TagRole", "iam:UntagRole",
      "iam:UpdateAssumeRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
      "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy",
      "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PassRole", "iam:ListInstanceProfilesForRole",
      "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:GetInstanceProfile",
      "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:TagInstanceProfile",
    ]
    resources = [
      "arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/*cairn*",
      "arn:aws:iam::${data.aws_caller_identity.current.account_id}:instance-profile/*cairn*",
    ]
  }
  statement {
    sid       = "ServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/aws-service-role/*"]
  }
  statement {
    sid       = "State"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"]
    resources = ["arn:aws:s3:::${var.state_bucket}", "arn:aws:s3:::${var.state_bucket}/*"]
  }
}

resource "aws_iam_role_policy" "deploy" {
  name   = "images-and-state"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.deploy.json
}

output "repository_url" {
  description = "ecr_repository_url of the environments."
  value       = aws_ecr_repository.cairn.repository_url
}

output "deploy_role_arn" {
  description = "AWS_DEPLOY_ROLE_ARN of the GitHub repository's secrets."
  value       = aws_iam_role.deploy.arn
}

output "account_id" {
  description = "Account of the repository."
  value       = data.aws_caller_identity.current.account_id
}
