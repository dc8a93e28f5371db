# Who may talk to whom: internet -> ALB -> api tasks; api, worker, scheduler (and the optional
# bastion) -> PostgreSQL; tasks -> the internet on egress_tcp_ports only.

resource "aws_security_group" "alb" {
  name        = "${local.name}-alb"
  description = "Cairn load balancer: HTTP (redirected) and HTTPS from anywhere"
  vpc_id      = aws_vpc.main.id
  tags        = merge(local.tags, { Name = "${local.name}-alb" })
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  #checkov:skip=CKV_AWS_260:Port 80 only answers with a redirect to HTTPS.
  security_group_id = aws_security_group.alb.id
  description       = "HTTP, redirected to HTTPS"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "alb_to_api" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the api tasks"
  referenced_security_group_id = aws_security_group.tasks["api"].id
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
}

# One group per role, so that the database rule names each of them.
resource "aws_security_group" "tasks" {
  #checkov:skip=CKV2_AWS_5:Attached to the ECS service of the same role (ecs.tf, network_configuration), through for_each.
  for_each    = toset(["api", "worker", "scheduler"])
  name        = "${local.name}-${each.key}"
  description = "Cairn ${each.key} tasks"
  vpc_id      = aws_vpc.main.id
  tags        = merge(local.tags, { Name = "${local.name}-${each.key}" })
}

resource "aws_vpc_security_group_ingress_rule" "api_from_alb" {
  security_group_id            = aws_security_group.tasks["api"].id
  description                  = "From the load balancer"
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
}

locals {
  task_egress = { for pair in setproduct(["api", "worker", "scheduler"], var.egress_tcp_ports) : "${pair[0]}-${pair[1]}" => { role = pair[0], port = pair[1] } }
}

resource "aws_vpc_security_group_egress_rule" "tasks_internet" {
  for_each          = local.task_egress
  security_group_id = aws_security_group.tasks[each.value.role].id
  description       = "Internet on ${each.value.port} (AWS APIs, webhooks, SSO, SMTP)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
}

resource "aws_vpc_security_group_egress_rule" "tasks_db" {
  for_each                     = aws_security_group.tasks
  security_group_id            = each.value.id
  description                  = "PostgreSQL"
  referenced_security_group_id = aws_security_group.db.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_security_group" "db" {
  name        = "${local.name}-db"
  description = "Cairn PostgreSQL: only the Cairn tasks and the bastion"
  vpc_id      = aws_vpc.main.id
  tags        = merge(local.tags, { Name = "${local.name}-db" })
}

locals {
  db_clients = merge(
    { for role, sg in aws_security_group.tasks : role => sg.id },
    { for sg in aws_security_group.bastion : "bastion" => sg.id },
    { for i, id in var.db_extra_ingress_security_group_ids : "extra-${i}" => id },
  )
}

resource "aws_vpc_security_group_ingress_rule" "db" {
  for_each                     = local.db_clients
  security_group_id            = aws_security_group.db.id
  description                  = "PostgreSQL from ${each.key}"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}
