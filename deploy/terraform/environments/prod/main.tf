# Cairn prod. Apply from this folder (deploy/README.md):
#   terraform init -backend-config="bucket=<state bucket>" -backend-config="region=<region>"
#   terraform apply -var image_tag=<commit>

terraform {
  required_version = ">= 1.11.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }

  backend "s3" {
    key          = "cairn/prod.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region
}

module "cairn" {
  source = "../../modules/cairn"

  environment = "prod"
  name_prefix = ""

  domain_name        = var.domain_name
  certificate_arn    = var.certificate_arn
  mail_domain        = var.mail_domain
  mail_from          = var.mail_from
  bootstrap_email    = var.bootstrap_email
  ecr_repository_url = var.ecr_repository_url
  image_tag          = var.image_tag

  single_nat_gateway = false
  vpc_cidr           = var.vpc_cidr

  api    = { cpu = 1024, memory = 2048, min_count = 2, max_count = 20 }
  worker = { cpu = 512, memory = 1024, min_count = 2, max_count = 8 }

  db_instance_class      = "db.m7g.large"
  db_multi_az            = true
  db_deletion_protection = true

  alb_deletion_protection = true
  log_retention_days      = 365
  reports_force_destroy   = false
  enable_bastion          = false
}
