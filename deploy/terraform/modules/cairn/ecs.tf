resource "aws_ecs_cluster" "main" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = local.tags
}

resource "aws_ecs_cluster_capacity_providers" "main" {
  cluster_name       = aws_ecs_cluster.main.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

locals {
  roles = {
    api       = { cpu = var.api.cpu, memory = var.api.memory }
    worker    = { cpu = var.worker.cpu, memory = var.worker.memory }
    scheduler = { cpu = var.scheduler.cpu, memory = var.scheduler.memory }
  }

  # Settings shared by every role (docs/configuration.md). Secrets come from SSM below.
  environment = concat(
    [
      { name = "CAIRN_PUBLIC_URL", value = local.public_url },
      { name = "CAIRN_LISTEN", value = "0.0.0.0:8080" },
      { name = "CAIRN_LOG", value = var.log_level },
      { name = "CAIRN_LOG_FORMAT", value = "json" },
      { name = "CAIRN_TRUST_PROXY_HEADERS", value = "true" },
      { name = "CAIRN_SHUTDOWN_GRACE", value = var.shutdown_grace },
      { name = "CAIRN_BOOTSTRAP_EMAIL", value = var.bootstrap_email },
      # Reports in the bucket (s3.tf), with the task role's credentials.
      { name = "CAIRN_OBJECT_STORE_URL", value = "s3://${aws_s3_bucket.reports.bucket}" },
      { name = "CAIRN_OBJECT_STORE_REGION", value = local.region },
    ],
    var.mail_from == null ? [] : [{ name = "CAIRN_MAIL_FROM", value = var.mail_from }],
  )

  secrets = [
    { name = "CAIRN_MASTER_KEY", valueFrom = local.master_key_arn },
    { name = "CAIRN_DATABASE_URL", valueFrom = aws_ssm_parameter.database_url.arn },
    { name = "CAIRN_MAIL_URL", valueFrom = local.mail_url_arn },
  ]
}

resource "aws_ecs_task_definition" "role" {
  for_each                 = local.roles
  family                   = "${local.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  # The data dir: the root file system is read-only, and with PostgreSQL, the master key and
  # SMTP set, Cairn keeps nothing of value here.
  volume {
    name = "data"
  }

  container_definitions = jsonencode([{
    name                   = "cairn"
    image                  = local.image
    essential              = true
    command                = ["serve", "--role", each.key]
    readonlyRootFilesystem = true
    user                   = "10001:10001"
    portMappings           = [{ containerPort = 8080, protocol = "tcp" }]
    environment            = local.environment
    secrets                = local.secrets
    mountPoints            = [{ sourceVolume = "data", containerPath = "/var/lib/cairn", readOnly = false }]
    # SIGTERM, then up to this long: shutdown_grace + shutdown_timeout (30 s) fit inside.
    stopTimeout = 60
    healthCheck = {
      command     = ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/readyz"]
      interval    = 10
      timeout     = 5
      retries     = 3
      startPeriod = 60
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.role[each.key].name
        awslogs-region        = local.region
        awslogs-stream-prefix = each.key
      }
    }
  }])

  tags = local.tags
}

locals {
  desired = {
    api       = var.api.min_count
    worker    = var.worker.min_count
    scheduler = var.scheduler.count
  }
}

resource "aws_ecs_service" "role" {
  for_each                           = local.roles
  name                               = each.key
  cluster                            = aws_ecs_cluster.main.id
  task_definition                    = aws_ecs_task_definition.role[each.key].arn
  desired_count                      = local.desired[each.key]
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  propagate_tags                     = "SERVICE"
  enable_execute_command             = false
  wait_for_steady_state              = true
  health_check_grace_period_seconds  = each.key == "api" ? 60 : null

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.tasks[each.key].id]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = each.key == "api" ? [1] : []
    content {
      target_group_arn = aws_lb_target_group.api.arn
      container_name   = "cairn"
      container_port   = 8080
    }
  }

  lifecycle {
    # Autoscaling owns the count once the service runs.
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.https]
  tags       = local.tags
}

# --- autoscaling: api and worker track CPU and memory ------------------------------------------

locals {
  scaled = {
    api    = var.api
    worker = var.worker
  }
  scaling_policies = {
    for pair in setproduct(keys(local.scaled), ["cpu", "memory"]) : "${pair[0]}-${pair[1]}" => {
      role   = pair[0]
      metric = pair[1] == "cpu" ? "ECSServiceAverageCPUUtilization" : "ECSServiceAverageMemoryUtilization"
      target = pair[1] == "cpu" ? var.cpu_target_percent : var.memory_target_percent
    }
  }
}

resource "aws_appautoscaling_target" "role" {
  for_each           = local.scaled
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.role[each.key].name}"
  min_capacity       = each.value.min_count
  max_capacity       = each.value.max_count
}

resource "aws_appautoscaling_policy" "role" {
  for_each           = local.scaling_policies
  name               = "${local.name}-${each.key}"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.role[each.value.role].service_namespace
  scalable_dimension = aws_appautoscaling_target.role[each.value.role].scalable_dimension
  resource_id        = aws_appautoscaling_target.role[each.value.role].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = each.value.metric
    }
  }
}
