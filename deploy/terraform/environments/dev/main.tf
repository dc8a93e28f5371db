# Cairn dev. Apply from this folder (deploy/README.md):
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
    key          = "cairn/dev.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region
}

module "cairn" {
  source = "../../modules/cairn"

  environment = "dev"
  name_prefix = "dev-"

  domain_name        = var.domain_name
  certificate_arn    = var.certificate_arn
  mail_domain        = var.mail_domain
  mail_from          = var.mail_from
  bootstrap_email    = var.bootstrap_email
  ecr_repository_url = var.ecr_repository_url
  image_tag          = var.image_tag

  single_nat_gateway = true
  vpc_cidr           = var.vpc_cidr

  api    = { cpu = 256, memory = 512, min_count = 1, max_count = 3 }
  worker = { cpu = 256, memory = 512, min_count = 1, max_count = 2 }

  db_instance_class      = "db.t4g.micro"
  db_multi_az            = false
  db_deletion_protection = false

  alb_deletion_protection = false
  log_retention_days      = 30
  reports_force_destroy   = true
  enable_bastion          = true
}
