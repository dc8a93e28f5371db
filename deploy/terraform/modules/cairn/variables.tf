# --- naming and placement ------------------------------------------------------------------------

variable "environment" {
  description = "Environment name (dev, prod): tags, SSM paths (/cairn/<environment>/...)."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every resource name: \"dev-\" for dev, \"\" for prod."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "vpc_cidr" {
  description = "CIDR of the VPC; split into two public and two private /20 subnets."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "The two zones to use, e.g. [\"eu-west-1a\", \"eu-west-1b\"]; empty: the region's first two."
  type        = list(string)
  default     = []
}

variable "single_nat_gateway" {
  description = "One NAT gateway for both zones (cheaper, for dev) instead of one per zone."
  type        = bool
  default     = false
}

# --- the service --------------------------------------------------------------------------------

variable "domain_name" {
  description = "Public host name of Cairn (e.g. cairn.example.com): CAIRN_PUBLIC_URL is https://<domain_name>. Point it at the ALB."
  type        = string
}

variable "certificate_arn" {
  description = "ARN of the ACM certificate for domain_name, in the same region (the HTTPS listener)."
  type        = string
}

variable "ecr_repository_url" {
  description = "URL of the shared ECR repository (deploy/terraform/shared output repository_url)."
  type        = string
}

variable "image_tag" {
  description = "Image tag to run: the full git commit the image was built from."
  type        = string
}

variable "log_level" {
  description = "CAIRN_LOG for every task."
  type        = string
  default     = "info"
}

variable "bootstrap_email" {
  description = "CAIRN_BOOTSTRAP_EMAIL: the first admin, created when the database is new."
  type        = string
  default     = "admin@localhost"
}

variable "mail_from" {
  description = "CAIRN_MAIL_FROM, e.g. \"Cairn <no-reply@mail.example.com>\"; null: no-reply@<domain_name>."
  type        = string
  default     = null
}

variable "mail_domain" {
  description = "Domain verified in SES for sending (DKIM records are an output). Usually domain_name or a mail subdomain."
  type        = string
}

variable "egress_tcp_ports" {
  description = "TCP ports the tasks may reach on the internet: 443 (AWS APIs, webhooks, SSO providers), 587 (SES SMTP)."
  type        = list(number)
  default     = [443, 587]
}

# --- secrets (created before the first apply; see deploy/README.md) ------------------------------

variable "master_key_parameter_name" {
  description = "SSM SecureString holding CAIRN_MASTER_KEY (64 hex characters). Default: /cairn/<environment>/master-key."
  type        = string
  default     = null
}

variable "db_password_parameter_name" {
  description = "SSM SecureString holding the database password (URL-safe, e.g. openssl rand -hex 32). Default: /cairn/<environment>/db-password."
  type        = string
  default     = null
}

variable "db_password_version" {
  description = "Increase after changing the db-password parameter: RDS and the database-url parameter are then rewritten."
  type        = number
  default     = 1
}

variable "mail_url_parameter_name" {
  description = "SSM SecureString holding CAIRN_MAIL_URL (SES SMTP endpoint with SMTP credentials). Default: /cairn/<environment>/mail-url."
  type        = string
  default     = null
}

# --- tasks and scaling ---------------------------------------------------------------------------

variable "api" {
  description = "api service: Fargate CPU units and memory (MiB), task count bounds for autoscaling."
  type = object({
    cpu       = number
    memory    = number
    min_count = number
    max_count = number
  })
  default = { cpu = 512, memory = 1024, min_count = 2, max_count = 10 }
}

variable "worker" {
  description = "worker service: Fargate CPU units and memory (MiB), task count bounds for autoscaling."
  type = object({
    cpu       = number
    memory    = number
    min_count = number
    max_count = number
  })
  default = { cpu = 512, memory = 1024, min_count = 1, max_count = 4 }
}

variable "scheduler" {
  description = "scheduler service: Fargate CPU units, memory (MiB) and a fixed task count (no jobs are defined yet)."
  type = object({
    cpu    = number
    memory = number
    count  = number
  })
  default = { cpu = 256, memory = 512, count = 1 }
}

variable "cpu_target_percent" {
  description = "Target average CPU utilisation of the api and worker services."
  type        = number
  default     = 60
}

variable "memory_target_percent" {
  description = "Target average memory utilisation of the api and worker services."
  type        = number
  default     = 75
}

variable "shutdown_grace" {
  description = "CAIRN_SHUTDOWN_GRACE: after SIGTERM, /readyz answers 503 this long while requests are still served."
  type        = string
  default     = "10s"
}

# --- database ------------------------------------------------------------------------------------

variable "db_engine_version" {
  description = "RDS PostgreSQL major version."
  type        = string
  default     = "17"
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "db_allocated_storage" {
  description = "Initial storage (GiB)."
  type        = number
  default     = 20
}

variable "db_max_allocated_storage" {
  description = "Storage autoscaling ceiling (GiB)."
  type        = number
  default     = 200
}

variable "db_multi_az" {
  description = "A standby in the second zone."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Automated backup retention (days)."
  type        = number
  default     = 14
}

variable "db_deletion_protection" {
  description = "Refuse to delete the database (and take a final snapshot when it is deleted)."
  type        = bool
  default     = true
}

variable "db_username" {
  description = "Master user name; Cairn connects as it and creates the tenant databases cairn_t_<id>."
  type        = string
  default     = "cairn"
}

variable "db_extra_ingress_security_group_ids" {
  description = "More security groups admitted to PostgreSQL on 5432 (an existing bastion, say)."
  type        = list(string)
  default     = []
}

# --- bastion -------------------------------------------------------------------------------------

variable "enable_bastion" {
  description = "A small EC2 instance in a private subnet, reached through SSM Session Manager only (no SSH, no public address), admitted to PostgreSQL."
  type        = bool
  default     = false
}

variable "bastion_instance_type" {
  description = "Instance type of the bastion (arm64)."
  type        = string
  default     = "t4g.nano"
}

# --- logs, load balancer, objects ----------------------------------------------------------------

variable "log_retention_days" {
  description = "CloudWatch retention of the task logs and VPC flow logs (days)."
  type        = number
  default     = 365
}

variable "alb_deletion_protection" {
  description = "Refuse to delete the load balancer."
  type        = bool
  default     = true
}

variable "alb_access_logs_bucket" {
  description = "Existing S3 bucket for ALB access logs (with the ELB log delivery policy); null: none."
  type        = string
  default     = null
}

variable "reports_max_age_days" {
  description = "Backstop: objects under reports/ are deleted this many days after creation, whatever their tags."
  type        = number
  default     = 400
}

variable "reports_force_destroy" {
  description = "Let terraform destroy delete a non-empty reports bucket (dev)."
  type        = bool
  default     = false
}

variable "tenant_role_name_prefix" {
  description = "The instances console assumes tenants' IAM roles whose names start with this (in any account); tenants name their role so (e.g. cairn-console)."
  type        = string
  default     = "cairn-"
}
