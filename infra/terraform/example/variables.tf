variable "aws_region" {
  description = "AWS region of the buckets, keys and Redis."
  type        = string
}

variable "environment" {
  description = "Name of the environment, such as prod or staging; it goes into names and tags."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment must be 2 to 16 lowercase letters, digits or hyphens."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource, such as owner and cost centre."
  type        = map(string)
  default     = {}
}

variable "terraform_role_arn" {
  description = "IAM role that runs Terraform. It administers the KMS keys and creates the KMS grant that ElastiCache needs."
  type        = string
}

variable "key_admin_arns" {
  description = "Further IAM principals that administer the KMS keys."
  type        = list(string)
  default     = []
}

variable "app_principal_arns" {
  description = "IAM principals behind the portal's S3 credentials (s3_access_key_id)."
  type        = list(string)
}

variable "vault_server_role_arns" {
  description = "IAM roles of the Vault servers, which use the secrets key for auto-unseal."
  type        = list(string)
}

variable "vault_address" {
  description = "HTTPS address of Vault."
  type        = string
}

variable "create_runtime_config_secret" {
  description = "Whether Terraform writes the runtime config Secret, with vault_app_token in it and so in the state. When false, create the Secret with kubectl (see infra/kubernetes/README.md)."
  type        = bool
  default     = true
}

variable "vault_app_token" {
  description = "Periodic Vault token with the app's read-only policy (see the keys module's vault_policies output). Required when create_runtime_config_secret is true."
  type        = string
  default     = null
  sensitive   = true
}

variable "kubeconfig_path" {
  description = "Path of the kubeconfig of the SpinKube cluster."
  type        = string
  default     = "~/.kube/config"
}

variable "kube_context" {
  description = "kubeconfig context of the SpinKube cluster."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the cluster and of Redis."
  type        = string
}

variable "redis_subnet_ids" {
  description = "Private subnets for the Redis replication group, in at least two availability zones."
  type        = list(string)
}

variable "pod_cidr_blocks" {
  description = "CIDR blocks of the cluster's pods, the only clients Redis accepts."
  type        = list(string)
}

variable "image" {
  description = "OCI reference of the portal, pinned by digest."
  type        = string
}

variable "replicas" {
  description = "Number of pods."
  type        = number
  default     = 2
}

variable "public_origin" {
  description = "Origin clients use, such as https://portal.example.org; DPoP proofs must name it."
  type        = string

  validation {
    condition     = can(regex("^https://[^/]+$", var.public_origin))
    error_message = "public_origin must be an https origin with no path."
  }
}

variable "token_verification_keys" {
  description = "JWK Set with the public keys that verify access tokens. It is public, so it is a plain Spin variable."
  type        = string
}

variable "token_signing_kid" {
  description = "Key ID of the token signing key in Vault."
  type        = string
}

variable "audit_log_origin" {
  description = "Name of the audit log in its checkpoints, such as portal.example.org/audit."
  type        = string
}

variable "notification_webhook_url" {
  description = "URL of the email and SMS gateway; empty turns notices off."
  type        = string
  default     = ""
}

variable "notification_webhook_origin" {
  description = "Origin (scheme, host and port) of notification_webhook_url."
  type        = string
  default     = "https://notifications.invalid"
}

variable "alert_webhook_url" {
  description = "URL that receives audit alerts; empty turns alerts off."
  type        = string
  default     = ""
}

variable "alert_webhook_origin" {
  description = "Origin (scheme, host and port) of alert_webhook_url."
  type        = string
  default     = "https://alerts.invalid"
}

variable "clamav_address" {
  description = "clamd as IP:PORT; empty turns the antivirus scan off."
  type        = string
  default     = ""
}

variable "egress_cidrs" {
  description = "CIDR blocks of the outbound hosts, by destination. s3 is the S3 interface endpoint's subnets; an empty list leaves a destination closed."
  type = object({
    s3                   = list(string)
    vault                = list(string)
    notification_gateway = optional(list(string), [])
    alert_webhook        = optional(list(string), [])
    clamd                = optional(list(string), [])
  })
}

variable "vault_port" {
  description = "TCP port of Vault."
  type        = number
  default     = 8200
}

variable "clamd_port" {
  description = "TCP port of clamd."
  type        = number
  default     = 3310
}
