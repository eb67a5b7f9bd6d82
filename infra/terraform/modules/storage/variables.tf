variable "uploads_bucket_name" {
  description = "Name of the bucket that holds uploaded files (the s3_bucket Spin variable)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.uploads_bucket_name))
    error_message = "uploads_bucket_name must be a valid S3 bucket name: 3 to 63 lowercase letters, digits, dots or hyphens."
  }
}

variable "audit_bucket_name" {
  description = "Name of the write-once bucket for signed audit checkpoints."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.audit_bucket_name))
    error_message = "audit_bucket_name must be a valid S3 bucket name: 3 to 63 lowercase letters, digits, dots or hyphens."
  }
}

variable "log_bucket_name" {
  description = "Name of the bucket that receives S3 server access logs of the other two buckets."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.log_bucket_name))
    error_message = "log_bucket_name must be a valid S3 bucket name: 3 to 63 lowercase letters, digits, dots or hyphens."
  }
}

variable "storage_kms_key_arn" {
  description = "ARN of the KMS key that encrypts upload objects (the keys module's storage_key_arn)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.storage_kms_key_arn))
    error_message = "storage_kms_key_arn must be a KMS key ARN."
  }
}

variable "audit_kms_key_arn" {
  description = "ARN of the KMS key that encrypts audit checkpoints (the keys module's audit_key_arn)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.audit_kms_key_arn))
    error_message = "audit_kms_key_arn must be a KMS key ARN."
  }
}

variable "audit_retention_years" {
  description = "Default Object Lock retention of each audit checkpoint, in COMPLIANCE mode, which nobody (the root user included) can shorten or lift. HIPAA (45 CFR 164.316(b)(2)) keeps documentation six years."
  type        = number
  default     = 6

  validation {
    condition     = var.audit_retention_years >= 6 && var.audit_retention_years <= 100
    error_message = "audit_retention_years must be at least 6, the HIPAA retention period, and at most 100."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days S3 keeps an upload version after it was deleted or replaced. It is the window in which an operator can restore a file deleted by mistake; after it the bytes are gone."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "transition_days" {
  description = "Age in days after which an upload moves to transition_storage_class. Standard-IA bills at least 30 days and 128 KiB per object, so 90 days suits files that are read mostly in their first weeks."
  type        = number
  default     = 90

  validation {
    condition     = var.transition_days >= 30
    error_message = "transition_days must be at least 30, the minimum S3 accepts for STANDARD_IA and ONEZONE_IA."
  }
}

variable "transition_storage_class" {
  description = "Cheaper storage class for old uploads. Classes that need a restore before a read (GLACIER, DEEP_ARCHIVE) are not accepted, because the portal serves downloads directly."
  type        = string
  default     = "STANDARD_IA"

  validation {
    condition     = contains(["STANDARD_IA", "INTELLIGENT_TIERING", "GLACIER_IR"], var.transition_storage_class)
    error_message = "transition_storage_class must be STANDARD_IA, INTELLIGENT_TIERING or GLACIER_IR."
  }
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which S3 deletes the parts of a multipart upload that was never completed."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_incomplete_multipart_days >= 1
    error_message = "abort_incomplete_multipart_days must be at least 1."
  }
}

variable "access_log_retention_days" {
  description = "Days S3 keeps server access logs. They record who read or wrote PHI objects, so the default is six years (2192 days, leap days included), like the audit log."
  type        = number
  default     = 2192

  validation {
    condition     = var.access_log_retention_days >= 2192
    error_message = "access_log_retention_days must be at least 2192 (six years), the HIPAA retention period."
  }
}

variable "access_log_archive_days" {
  description = "Age in days after which access logs move to S3 Glacier Flexible Retrieval."
  type        = number
  default     = 90

  validation {
    condition     = var.access_log_archive_days >= 1
    error_message = "access_log_archive_days must be at least 1."
  }
}

variable "eventbridge_notifications" {
  description = "Whether S3 sends object events of the three buckets to the account's default EventBridge bus, where security tooling can alert on them (for example on deletes). S3 sends them at no charge; rules that match them are billed."
  type        = bool
  default     = true
}

variable "create_app_access_policy" {
  description = "Whether to create an IAM policy with the object access the portal needs. Attach it to the identity behind s3_access_key_id."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every taggable resource."
  type        = map(string)
  default     = {}
}
