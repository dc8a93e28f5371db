output "public_url" {
  description = "CAIRN_PUBLIC_URL of this environment."
  value       = local.public_url
}

output "alb_dns_name" {
  description = "Point domain_name at this (a CNAME, or an alias record to the zone below)."
  value       = aws_lb.main.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone of the ALB, for a Route 53 alias record."
  value       = aws_lb.main.zone_id
}

output "cluster_name" {
  description = "ECS cluster."
  value       = aws_ecs_cluster.main.name
}

output "service_names" {
  description = "ECS services by role."
  value       = { for role, s in aws_ecs_service.role : role => s.name }
}

output "log_groups" {
  description = "CloudWatch log groups by role."
  value       = { for role, g in aws_cloudwatch_log_group.role : role => g.name }
}

output "db_endpoint" {
  description = "host:port of PostgreSQL (reachable from the tasks and the bastion only)."
  value       = aws_db_instance.main.endpoint
}

output "reports_bucket" {
  description = "S3 bucket for reports."
  value       = aws_s3_bucket.reports.bucket
}

output "kms_key_arn" {
  description = "This environment's KMS key."
  value       = aws_kms_key.main.arn
}

output "ses_dkim_records" {
  description = "CNAME records to publish for SES Easy DKIM: name => value."
  value = {
    for token in aws_sesv2_email_identity.main.dkim_signing_attributes[0].tokens :
    "${token}._domainkey.${var.mail_domain}" => "${token}.dkim.amazonses.com"
  }
}

output "bastion_instance_id" {
  description = "Instance id of the bastion (aws ssm start-session --target ...), or null."
  value       = var.enable_bastion ? aws_instance.bastion[0].id : null
}

output "task_role_arn" {
  description = "The role Cairn runs as: the principal tenants' instances-console roles (named with tenant_role_name_prefix) trust."
  value       = aws_iam_role.task.arn
}
