output "uploads_bucket" {
  description = "Name of the uploads bucket (the s3_bucket Spin variable)."
  value       = module.storage.uploads_bucket_id
}

output "audit_checkpoint_bucket" {
  description = "Name of the Object Lock bucket for audit checkpoints."
  value       = module.storage.audit_bucket_id
}

output "app_access_policy_arn" {
  description = "IAM policy to attach to the identity behind s3_access_key_id."
  value       = module.storage.app_access_policy_arn
}

output "kms_keys" {
  description = "ARNs of the storage, audit and secrets keys."
  value = {
    storage = module.keys.storage_key_arn
    audit   = module.keys.audit_key_arn
    secrets = module.keys.secrets_key_arn
  }
}

output "vault_app_policy" {
  description = "Vault policy to give the app's token."
  value       = module.keys.vault_policies[local.app_name]
}

output "vault_secret_paths" {
  description = "KV paths under the mount where each secret Spin variable must be written, as the field \"value\"."
  value       = module.keys.secret_paths[local.app_name]
}

output "service_address" {
  description = "In-cluster address to point the TLS-terminating ingress at."
  value       = module.runtime.service_address
}
