# An ElastiCache replication group for the key-value stores, created only when var.elasticache
# is set. Cluster mode stays disabled because only then does Redis offer numbered databases,
# which keep the store labels apart (see var.redis_databases).

# ElastiCache accepts 16 to 128 printable characters except @, " and /; letters and digits
# avoid escaping in the URL.
resource "random_password" "redis_auth" {
  count = local.create_redis ? 1 : 0

  length  = 64
  special = false
}

resource "aws_elasticache_subnet_group" "redis" {
  count = local.create_redis ? 1 : 0

  name        = "${var.app_name}-redis"
  description = "Subnets of the ${var.app_name} Redis replication group"
  subnet_ids  = var.elasticache.subnet_ids
  tags        = local.tags
}

resource "aws_security_group" "redis" {
  count = local.create_redis ? 1 : 0

  name        = "${var.app_name}-redis"
  description = "Redis of ${var.app_name}: TLS on 6379 from the cluster's pods only"
  vpc_id      = var.elasticache.vpc_id
  tags        = merge(local.tags, { Name = "${var.app_name}-redis" })
}

resource "aws_vpc_security_group_ingress_rule" "redis" {
  for_each = local.create_redis ? toset(var.elasticache.client_cidr_blocks) : toset([])

  security_group_id = aws_security_group.redis[0].id
  description       = "Redis over TLS from ${each.value}"
  ip_protocol       = "tcp"
  from_port         = 6379
  to_port           = 6379
  cidr_ipv4         = each.value
  tags              = local.tags
}

resource "aws_elasticache_replication_group" "redis" {
  count = local.create_redis ? 1 : 0

  replication_group_id = "${var.app_name}-kv"
  description          = "Key-value stores of ${var.app_name}"
  engine               = "redis"
  engine_version       = var.elasticache.engine_version
  node_type            = var.elasticache.node_type
  num_cache_clusters   = var.elasticache.num_cache_clusters
  parameter_group_name = var.elasticache.parameter_group_name
  port                 = 6379
  subnet_group_name    = aws_elasticache_subnet_group.redis[0].name
  security_group_ids   = [aws_security_group.redis[0].id]

  # A replica in another availability zone takes over when the primary fails.
  automatic_failover_enabled = true
  multi_az_enabled           = true

  at_rest_encryption_enabled = true
  kms_key_id                 = var.elasticache.kms_key_arn
  transit_encryption_enabled = true
  transit_encryption_mode    = "required"
  auth_token                 = random_password.redis_auth[0].result
  auth_token_update_strategy = "ROTATE"

  snapshot_retention_limit   = var.elasticache.snapshot_retention_limit
  snapshot_window            = var.elasticache.snapshot_window
  maintenance_window         = var.elasticache.maintenance_window
  auto_minor_version_upgrade = true
  apply_immediately          = false

  tags = local.tags
}

data "aws_subnet" "redis" {
  for_each = local.create_redis ? toset(var.elasticache.subnet_ids) : toset([])

  id = each.value
}
