variable "name_prefix" {
  description = "Prefix of every key alias and Vault policy name, such as patient-portal-prod."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,40}$", var.name_prefix))
    error_message = "name_prefix must be 3 to 41 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "key_admin_arns" {
  description = "IAM principals that administer the KMS keys (policy, rotation, deletion) but cannot use them to encrypt or decrypt. Include the role that runs Terraform, or AWS rejects the key policy as a lockout."
  type        = list(string)

  validation {
    condition     = length(var.key_admin_arns) > 0 && alltrue([for arn in var.key_admin_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:", arn))])
    error_message = "key_admin_arns must name at least one IAM principal ARN; a wildcard principal is not accepted."
  }
}

variable "storage_key_user_arns" {
  description = "IAM principals that read and write upload objects (the principal behind s3_access_key_id). They may use the storage key only through S3."
  type        = list(string)

  validation {
    condition     = alltrue([for arn in var.storage_key_user_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:", arn))])
    error_message = "storage_key_user_arns must contain IAM principal ARNs only."
  }
}

variable "storage_key_grant_arns" {
  description = "IAM principals that may create KMS grants on the storage key for AWS services, such as the role that creates the ElastiCache replication group encrypted with this key. Empty when Redis uses another key."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.storage_key_grant_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:", arn))])
    error_message = "storage_key_grant_arns must contain IAM principal ARNs only."
  }
}

variable "audit_key_user_arns" {
  description = "IAM principals that write and read audit checkpoints. They may use the audit key only through S3."
  type        = list(string)

  validation {
    condition     = alltrue([for arn in var.audit_key_user_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:", arn))])
    error_message = "audit_key_user_arns must contain IAM principal ARNs only."
  }
}

variable "secrets_key_user_arns" {
  description = "IAM principals of the Vault servers that use the secrets key for auto-unseal (awskms seal)."
  type        = list(string)

  validation {
    condition     = alltrue([for arn in var.secrets_key_user_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:", arn))])
    error_message = "secrets_key_user_arns must contain IAM principal ARNs only."
  }
}

variable "deletion_window_in_days" {
  description = "Days a KMS key waits between scheduled deletion and deletion. The maximum, 30, leaves the longest time to notice a mistake."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}

variable "rotation_period_in_days" {
  description = "Days between automatic rotations of each KMS key's material. 365 matches the yearly rotation of AWS managed keys."
  type        = number
  default     = 365

  validation {
    condition     = var.rotation_period_in_days >= 90 && var.rotation_period_in_days <= 2560
    error_message = "rotation_period_in_days must be between 90 and 2560, the range KMS accepts."
  }
}

variable "vault_mount_path" {
  description = "Path of the KV version 2 secrets engine that holds the portal's secrets. The runtime config's vault provider names it as mount."
  type        = string
  default     = "portal"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]*$", var.vault_mount_path))
    error_message = "vault_mount_path must be one path segment of lowercase letters, digits, hyphens or underscores."
  }
}

variable "vault_secret_prefix" {
  description = "First path segment under the mount. Each deployed app reads the prefix <vault_secret_prefix>/<app>."
  type        = string
  default     = "patient-portal"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]*$", var.vault_secret_prefix))
    error_message = "vault_secret_prefix must be one path segment of lowercase letters, digits, hyphens or underscores."
  }
}

variable "vault_apps" {
  description = "Deployed Spin apps, each with the spin.toml component IDs it runs. Each app gets its own Vault path and a policy that reads only that path. The default is the single-app layout; see the README for the separate-apps layout."
  type        = map(list(string))
  default = {
    "patient-portal" = [
      "auth", "auth-session", "auth-notify", "messaging", "uploads", "uploads-internal",
      "audit", "audit-ingest", "audit-checkpoint", "sanitizer",
    ]
  }

  validation {
    condition     = length(var.vault_apps) > 0 && alltrue([for app in keys(var.vault_apps) : can(regex("^[a-z0-9][a-z0-9-]*$", app))])
    error_message = "vault_apps must name at least one app, each name made of lowercase letters, digits and hyphens."
  }
}

variable "vault_kv_max_versions" {
  description = "Versions Vault keeps of each secret. Older versions let an operator roll back a bad rotation."
  type        = number
  default     = 10

  validation {
    condition     = var.vault_kv_max_versions >= 2
    error_message = "vault_kv_max_versions must be at least 2, so a rotation can be rolled back."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource."
  type        = map(string)
  default     = {}
}
