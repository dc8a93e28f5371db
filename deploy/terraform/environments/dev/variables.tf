variable "region" {
  description = "AWS region."
  type        = string
}

variable "domain_name" {
  description = "Public host name; CAIRN_PUBLIC_URL is https://<domain_name>."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for domain_name in var.region."
  type        = string
}

variable "mail_domain" {
  description = "Domain verified in SES for sending."
  type        = string
}

variable "mail_from" {
  description = "CAIRN_MAIL_FROM; null: no-reply@<domain_name>."
  type        = string
  default     = null
}

variable "bootstrap_email" {
  description = "The first admin's email (used only when the database is new)."
  type        = string
}

variable "ecr_repository_url" {
  description = "The shared repository (output repository_url of deploy/terraform/shared)."
  type        = string
}

variable "image_tag" {
  description = "The git commit to run; the deploy workflow passes it."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of this environment's VPC."
  type        = string
}
