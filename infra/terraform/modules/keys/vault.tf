# Vault KV version 2 paths that Spin's vault variables provider reads.
#
# Spin (crates/variables-vault in the Spin repository) resolves the application variable NAME
# by reading the KV v2 secret <mount>/<prefix>/NAME and returning its field "value". A 404 passes
# the lookup on to the next provider, but any other error, such as 403, fails the lookup. So
# every deployed app gets a prefix of its own, <vault_secret_prefix>/<app>, holding one secret per
# Spin variable, and a policy that reads that prefix and nothing else. Paths the app does not
# hold answer 404, and Spin falls back to the environment or the manifest default.
#
# Terraform creates the mount and the policies but never the secret values, so no key material
# reaches the Terraform state. Operators write each value with
#   vault kv put -mount=<mount> <prefix>/<app>/<variable> value=<secret>
# and the secret_paths output lists every path to write.

locals {
  # Every spin.toml variable marked `secret = true`, by the components that read it. KEKs and
  # blind-index keys are the default tenant's version 1; a new KEK version or tenant adds a
  # variable to spin.toml and a line here.
  component_secret_variables = {
    "auth" = [
      "token_signing_key",
      "kek_default_auth_v1",
      "blind_index_key_default_auth",
      "kek_default_access_v1",
      "blind_index_key_default_access",
      "bootstrap_secret",
      "service_token_key",
    ]
    "auth-session" = [
      "kek_default_access_v1",
      "blind_index_key_default_access",
    ]
    "auth-session-remote" = [
      "kek_default_access_v1",
      "blind_index_key_default_access",
    ]
    "auth-notify" = [
      "kek_default_auth_v1",
      "blind_index_key_default_auth",
    ]
    "auth-notify-remote" = [
      "kek_default_auth_v1",
      "blind_index_key_default_auth",
    ]
    "messaging" = [
      "kek_default_messaging_v1",
      "blind_index_key_default_messaging",
      "service_token_key",
    ]
    "uploads" = [
      "s3_access_key_id",
      "s3_secret_access_key",
      "kek_default_uploads_v1",
      "blind_index_key_default_uploads",
      "download_link_key",
      "service_token_key",
    ]
    "uploads-internal" = [
      "s3_access_key_id",
      "s3_secret_access_key",
      "kek_default_uploads_v1",
      "blind_index_key_default_uploads",
      "download_link_key",
      "service_token_key",
    ]
    "uploads-internal-remote" = [
      "s3_access_key_id",
      "s3_secret_access_key",
      "kek_default_uploads_v1",
      "blind_index_key_default_uploads",
      "download_link_key",
      "service_token_key",
    ]
    "audit" = [
      "audit_checkpoint_key",
      "s3_access_key_id",
      "s3_secret_access_key",
      "service_token_key",
    ]
    "audit-ingest"        = []
    "audit-ingest-remote" = []
    "audit-checkpoint"    = ["audit_checkpoint_key", "s3_access_key_id", "s3_secret_access_key"]
    "sanitizer"           = []
  }

  known_components = keys(local.component_secret_variables)

  unknown_components = setsubtract(flatten(values(var.vault_apps)), local.known_components)

  app_secret_variables = {
    for app, components in var.vault_apps :
    app => sort(distinct(flatten([
      for component in components : lookup(local.component_secret_variables, component, [])
    ])))
  }

  app_prefixes = {
    for app in keys(var.vault_apps) : app => "${var.vault_secret_prefix}/${app}"
  }
}

resource "vault_mount" "portal" {
  path        = var.vault_mount_path
  type        = "kv"
  options     = { version = "2" }
  description = "${var.name_prefix}: secrets read by the portal's Spin apps"
}

resource "vault_kv_secret_backend_v2" "portal" {
  mount        = vault_mount.portal.path
  max_versions = var.vault_kv_max_versions
}

# One read-only policy per app. Spin reads a secret with GET <mount>/data/<path>, which needs
# the read capability and nothing more; list and metadata stay closed.
resource "vault_policy" "app" {
  for_each = var.vault_apps

  name   = "${var.name_prefix}-${each.key}"
  policy = <<-EOT
    # Read the ${each.key} app's secrets and nothing else.
    path "${vault_mount.portal.path}/data/${local.app_prefixes[each.key]}/*" {
      capabilities = ["read"]
    }
  EOT

  lifecycle {
    precondition {
      condition     = length(local.unknown_components) == 0
      error_message = "vault_apps names components that spin.toml does not define: ${join(", ", local.unknown_components)}."
    }
  }
}

# Operators who write and rotate the secrets. The apps never get this policy.
resource "vault_policy" "secret_writer" {
  name   = "${var.name_prefix}-secret-writer"
  policy = <<-EOT
    # Write, read and roll back the portal's secrets.
    path "${vault_mount.portal.path}/data/${var.vault_secret_prefix}/*" {
      capabilities = ["create", "update", "read"]
    }
    path "${vault_mount.portal.path}/metadata/${var.vault_secret_prefix}/*" {
      capabilities = ["read", "list"]
    }
    path "${vault_mount.portal.path}/undelete/${var.vault_secret_prefix}/*" {
      capabilities = ["update"]
    }
  EOT
}
