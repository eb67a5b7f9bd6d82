output "storage_key_arn" {
  description = "ARN of the KMS key for the uploads bucket and Redis at rest."
  value       = aws_kms_key.storage.arn
}

output "audit_key_arn" {
  description = "ARN of the KMS key for the audit checkpoint bucket."
  value       = aws_kms_key.audit.arn
}

output "secrets_key_arn" {
  description = "ARN of the KMS key for Vault auto-unseal; set it as kms_key_id in Vault's awskms seal stanza."
  value       = aws_kms_key.secrets.arn
}

output "key_aliases" {
  description = "Alias of each key, by purpose."
  value = {
    storage = aws_kms_alias.storage.name
    audit   = aws_kms_alias.audit.name
    secrets = aws_kms_alias.secrets.name
  }
}

output "vault_mount_path" {
  description = "Mount of the KV version 2 engine; the runtime config's vault provider sets it as mount."
  value       = vault_mount.portal.path
}

output "vault_prefixes" {
  description = "Vault prefix of each app; its runtime config's vault provider sets it as prefix."
  value       = local.app_prefixes
}

output "vault_policies" {
  description = "Name of the read-only Vault policy of each app. Attach it to the token or auth role of that app alone."
  value       = { for app, policy in vault_policy.app : app => policy.name }
}

output "vault_secret_writer_policy" {
  description = "Name of the Vault policy for operators who write and rotate the secrets."
  value       = vault_policy.secret_writer.name
}

output "component_secret_variables" {
  description = "Secret Spin variables that each spin.toml component reads."
  value       = local.component_secret_variables
}

output "secret_paths" {
  description = "For each app, every secret Spin variable it needs and the KV path (under the mount) where its value must be written as the field \"value\"."
  value = {
    for app, variables in local.app_secret_variables :
    app => { for variable in variables : variable => "${local.app_prefixes[app]}/${variable}" }
  }
}
