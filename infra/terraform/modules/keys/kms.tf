# Three customer managed keys, each with a key policy that alone decides who may use it: no
# statement grants the account root or "*", so IAM policies cannot widen access. Administrators
# manage the keys but cannot encrypt or decrypt; users can encrypt and decrypt but not manage.

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

locals {
  key_admin_actions = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
  ]

  # S3 with SSE-KMS and a bucket key needs GenerateDataKey and Decrypt; DescribeKey lets a
  # client check the key before use.
  key_use_actions = [
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
  ]

  s3_service      = "s3.${data.aws_region.current.region}.amazonaws.com"
  elasticache_svc = "elasticache.${data.aws_region.current.region}.amazonaws.com"

  admin_statement = {
    Sid       = "KeyAdministration"
    Effect    = "Allow"
    Principal = { AWS = var.key_admin_arns }
    Action    = local.key_admin_actions
    Resource  = "*"
  }

  storage_key_statements = concat(
    [local.admin_statement],
    length(var.storage_key_user_arns) == 0 ? [] : [{
      Sid       = "UseThroughS3"
      Effect    = "Allow"
      Principal = { AWS = var.storage_key_user_arns }
      Action    = local.key_use_actions
      Resource  = "*"
      Condition = {
        StringEquals = {
          "kms:ViaService"    = local.s3_service
          "kms:CallerAccount" = data.aws_caller_identity.current.account_id
        }
      }
    }],
    length(var.storage_key_grant_arns) == 0 ? [] : [{
      Sid       = "GrantToElastiCache"
      Effect    = "Allow"
      Principal = { AWS = var.storage_key_grant_arns }
      Action    = ["kms:CreateGrant", "kms:DescribeKey", "kms:ListGrants", "kms:RevokeGrant"]
      Resource  = "*"
      Condition = {
        Bool         = { "kms:GrantIsForAWSResource" = "true" }
        StringEquals = { "kms:ViaService" = local.elasticache_svc }
      }
    }],
  )

  audit_key_statements = concat(
    [local.admin_statement],
    length(var.audit_key_user_arns) == 0 ? [] : [{
      Sid       = "UseThroughS3"
      Effect    = "Allow"
      Principal = { AWS = var.audit_key_user_arns }
      Action    = local.key_use_actions
      Resource  = "*"
      Condition = {
        StringEquals = {
          "kms:ViaService"    = local.s3_service
          "kms:CallerAccount" = data.aws_caller_identity.current.account_id
        }
      }
    }],
  )

  # Vault's awskms seal calls Encrypt, Decrypt and DescribeKey directly, not through a service.
  secrets_key_statements = concat(
    [local.admin_statement],
    length(var.secrets_key_user_arns) == 0 ? [] : [{
      Sid       = "VaultAutoUnseal"
      Effect    = "Allow"
      Principal = { AWS = var.secrets_key_user_arns }
      Action    = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt"]
      Resource  = "*"
    }],
  )
}

resource "aws_kms_key" "storage" {
  description             = "${var.name_prefix}: uploads bucket objects and Redis at rest"
  key_usage               = "ENCRYPT_DECRYPT"
  enable_key_rotation     = true
  rotation_period_in_days = var.rotation_period_in_days
  deletion_window_in_days = var.deletion_window_in_days
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = local.storage_key_statements
  })
  tags = merge(var.tags, { Name = "${var.name_prefix}-storage", Purpose = "storage" })
}

resource "aws_kms_alias" "storage" {
  name          = "alias/${var.name_prefix}-storage"
  target_key_id = aws_kms_key.storage.key_id
}

resource "aws_kms_key" "audit" {
  description             = "${var.name_prefix}: audit checkpoint bucket"
  key_usage               = "ENCRYPT_DECRYPT"
  enable_key_rotation     = true
  rotation_period_in_days = var.rotation_period_in_days
  deletion_window_in_days = var.deletion_window_in_days
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = local.audit_key_statements
  })
  tags = merge(var.tags, { Name = "${var.name_prefix}-audit", Purpose = "audit" })
}

resource "aws_kms_alias" "audit" {
  name          = "alias/${var.name_prefix}-audit"
  target_key_id = aws_kms_key.audit.key_id
}

resource "aws_kms_key" "secrets" {
  description             = "${var.name_prefix}: Vault auto-unseal"
  key_usage               = "ENCRYPT_DECRYPT"
  enable_key_rotation     = true
  rotation_period_in_days = var.rotation_period_in_days
  deletion_window_in_days = var.deletion_window_in_days
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = local.secrets_key_statements
  })
  tags = merge(var.tags, { Name = "${var.name_prefix}-secrets", Purpose = "secrets" })
}

resource "aws_kms_alias" "secrets" {
  name          = "alias/${var.name_prefix}-secrets"
  target_key_id = aws_kms_key.secrets.key_id
}
