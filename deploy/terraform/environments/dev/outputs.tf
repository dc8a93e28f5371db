output "public_url" {
  description = "Where Cairn answers."
  value       = module.cairn.public_url
}

output "alb_dns_name" {
  description = "Point the domain at this."
  value       = module.cairn.alb_dns_name
}

output "log_groups" {
  description = "CloudWatch log groups by role."
  value       = module.cairn.log_groups
}

output "ses_dkim_records" {
  description = "DKIM CNAMEs to publish."
  value       = module.cairn.ses_dkim_records
}

output "bastion_instance_id" {
  description = "Bastion for SSM port forwarding to PostgreSQL, or null."
  value       = module.cairn.bastion_instance_id
}

output "db_endpoint" {
  description = "PostgreSQL host:port."
  value       = module.cairn.db_endpoint
}

output "task_role_arn" {
  description = "The principal tenants' instances-console roles trust (see docs/instances.md)."
  value       = module.cairn.task_role_arn
}
