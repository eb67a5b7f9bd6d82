# The portal in the single-app layout: one SpinApp runs every component, and components call
# each other through service chaining inside the process. Keys come first, because the buckets
# and Redis are encrypted with them.

locals {
  name_prefix = "patient-portal-${var.environment}"

  tags = merge(var.tags, {
    Application = "patient-portal"
    Environment = var.environment
    DataClass   = "phi"
  })

  app_name = "patient-portal"

  # Destinations with no CIDR block stay closed: an egress rule without a peer would allow
  # every address.
  optional_egress = {
    for name, destination in {
      notification_gateway = { cidrs = var.egress_cidrs.notification_gateway, ports = [443] }
      alert_webhook        = { cidrs = var.egress_cidrs.alert_webhook, ports = [443] }
      clamd                = { cidrs = var.egress_cidrs.clamd, ports = [var.clamd_port] }
    } : name => destination if length(destination.cidrs) > 0
  }
}

module "keys" {
  source = "../modules/keys"

  name_prefix            = local.name_prefix
  key_admin_arns         = distinct(concat([var.terraform_role_arn], var.key_admin_arns))
  storage_key_user_arns  = var.app_principal_arns
  storage_key_grant_arns = [var.terraform_role_arn]
  audit_key_user_arns    = var.app_principal_arns
  secrets_key_user_arns  = var.vault_server_role_arns
  vault_secret_prefix    = "patient-portal-${var.environment}"
  tags                   = local.tags
}

module "storage" {
  source = "../modules/storage"

  uploads_bucket_name = "${local.name_prefix}-uploads"
  audit_bucket_name   = "${local.name_prefix}-audit-checkpoints"
  log_bucket_name     = "${local.name_prefix}-access-logs"
  storage_kms_key_arn = module.keys.storage_key_arn
  audit_kms_key_arn   = module.keys.audit_key_arn
  tags                = local.tags
}

module "runtime" {
  source = "../modules/runtime"

  app_name  = local.app_name
  namespace = "patient-portal"
  image     = var.image
  replicas  = var.replicas

  vault_address                = var.vault_address
  vault_mount                  = module.keys.vault_mount_path
  vault_prefix                 = module.keys.vault_prefixes[local.app_name]
  vault_token                  = var.vault_app_token
  create_runtime_config_secret = var.create_runtime_config_secret

  elasticache = {
    vpc_id             = var.vpc_id
    subnet_ids         = var.redis_subnet_ids
    client_cidr_blocks = var.pod_cidr_blocks
    kms_key_arn        = module.keys.storage_key_arn
  }

  spin_variables = {
    public_origin               = var.public_origin
    portal_public_url           = var.public_origin
    token_verification_keys     = var.token_verification_keys
    token_signing_kid           = var.token_signing_kid
    audit_log_origin            = var.audit_log_origin
    s3_endpoint                 = "https://s3.${var.aws_region}.amazonaws.com"
    s3_bucket                   = module.storage.uploads_bucket_id
    audit_checkpoint_bucket     = module.storage.audit_bucket_id
    s3_region                   = var.aws_region
    notification_webhook_url    = var.notification_webhook_url
    notification_webhook_origin = var.notification_webhook_origin
    alert_webhook_url           = var.alert_webhook_url
    alert_webhook_origin        = var.alert_webhook_origin
    clamav_address              = var.clamav_address
    clamav_origin               = var.clamav_address == "" ? "tcp://clamav.invalid:3310" : "tcp://${var.clamav_address}"
  }

  egress_destinations = merge({
    s3    = { cidrs = var.egress_cidrs.s3, ports = [443] }
    vault = { cidrs = var.egress_cidrs.vault, ports = [var.vault_port] }
  }, local.optional_egress)

  labels = { "app.kubernetes.io/instance" = "${local.app_name}-${var.environment}" }
  tags   = local.tags
}
