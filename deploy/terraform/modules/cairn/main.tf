data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only the first two zones are used (slice below), or those var.availability_zones names; a zone AWS adds later does not change them.
  state = "available"
}

locals {
  name       = "${var.name_prefix}cairn"
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region
  partition  = data.aws_partition.current.partition
  azs        = length(var.availability_zones) == 2 ? var.availability_zones : slice(data.aws_availability_zones.available.names, 0, 2)

  public_url = "https://${var.domain_name}"

  tags = merge(var.tags, {
    Application = "cairn"
    Environment = var.environment
    ManagedBy   = "terraform"
  })

  # Secrets the operator puts in SSM before the first apply (deploy/README.md, step 3).
  master_key_parameter  = coalesce(var.master_key_parameter_name, "/cairn/${var.environment}/master-key")
  db_password_parameter = coalesce(var.db_password_parameter_name, "/cairn/${var.environment}/db-password")
  mail_url_parameter    = coalesce(var.mail_url_parameter_name, "/cairn/${var.environment}/mail-url")
  # ARNs built from the names: a data source would copy the secret values into the state.
  parameter_arn_prefix = "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter"
  master_key_arn       = "${local.parameter_arn_prefix}${local.master_key_parameter}"
  db_password_arn      = "${local.parameter_arn_prefix}${local.db_password_parameter}"
  mail_url_arn         = "${local.parameter_arn_prefix}${local.mail_url_parameter}"

  # <account>.dkr.ecr.<region>.amazonaws.com/<name>: the shared repository may be in another
  # account or region than this environment.
  ecr_host           = split("/", var.ecr_repository_url)[0]
  ecr_repository_arn = "arn:${local.partition}:ecr:${split(".", local.ecr_host)[3]}:${split(".", local.ecr_host)[0]}:repository/${join("/", slice(split("/", var.ecr_repository_url), 1, length(split("/", var.ecr_repository_url))))}"
  image              = "${var.ecr_repository_url}:${var.image_tag}"
}
