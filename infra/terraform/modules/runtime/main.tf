# The portal on SpinKube: a namespace, a service account without an API token, the Secret with
# runtime-config.toml, and the SpinApp that the spin-operator turns into a Deployment and a
# Service on port 80. SpinKube (its CRDs, the spin-operator and the containerd-shim-spin
# executor) must be installed first, because kubernetes_manifest reads the SpinApp schema from
# the cluster while planning.

locals {
  labels = merge(var.labels, {
    "app.kubernetes.io/name"       = var.app_name
    "app.kubernetes.io/part-of"    = "patient-portal"
    "app.kubernetes.io/managed-by" = "terraform"
  })

  tags = merge(var.tags, { Module = "runtime", App = var.app_name })

  # The label the spin-operator puts on the app's pods (spin-operator pkg/spinapp).
  pod_selector = { "core.spinkube.dev/app-name" = var.app_name }

  secret_name = coalesce(var.runtime_config_secret_name, "${var.app_name}-runtime-config")

  create_redis = var.elasticache != null

  redis_url = local.create_redis ? format(
    "rediss://:%s@%s:%d",
    urlencode(random_password.redis_auth[0].result),
    aws_elasticache_replication_group.redis[0].primary_endpoint_address,
    aws_elasticache_replication_group.redis[0].port,
  ) : var.redis_url

  # Omitted from the SpinApp when empty: an absent list runs every component.
  components = { for key, value in { components = var.components } : key => value if length(value) > 0 }
}

resource "kubernetes_namespace_v1" "portal" {
  count = var.create_namespace ? 1 : 0

  # Pod Security admission enforces baseline and reports restricted violations: the
  # spin-operator sets no securityContext on its pods and the SpinApp has no field for one, so
  # enforcing restricted would reject them.
  metadata {
    name = var.namespace
    labels = merge(local.labels, {
      "pod-security.kubernetes.io/enforce" = "baseline"
      "pod-security.kubernetes.io/audit"   = "restricted"
      "pod-security.kubernetes.io/warn"    = "restricted"
    })
  }
}

resource "kubernetes_service_account_v1" "app" {
  metadata {
    name      = var.app_name
    namespace = var.namespace
    labels    = local.labels
  }

  # The app never calls the Kubernetes API.
  automount_service_account_token = false

  depends_on = [kubernetes_namespace_v1.portal]
}

resource "kubernetes_secret_v1" "runtime_config" {
  count = var.create_runtime_config_secret ? 1 : 0

  metadata {
    name      = local.secret_name
    namespace = var.namespace
    labels    = local.labels
  }

  type = "Opaque"

  # The spin-operator mounts this key at /runtime-config.toml, where the shim reads it.
  data = {
    "runtime-config.toml" = templatefile("${path.module}/runtime-config.toml.tftpl", {
      app_name        = var.app_name
      redis_databases = var.redis_databases
      # Empty instead of null keeps the template valid until the preconditions below report
      # the missing input.
      redis_url     = local.redis_url == null ? "" : local.redis_url
      vault_address = var.vault_address
      vault_token   = var.vault_token == null ? "" : var.vault_token
      vault_mount   = var.vault_mount
      vault_prefix  = var.vault_prefix
    })
  }

  lifecycle {
    precondition {
      condition     = (var.redis_url == null) != (var.elasticache == null)
      error_message = "Set exactly one of redis_url (an existing Redis) and elasticache (a new replication group)."
    }

    precondition {
      condition     = var.vault_token != null
      error_message = "vault_token is required when create_runtime_config_secret is true."
    }
  }

  depends_on = [kubernetes_namespace_v1.portal]
}

resource "kubernetes_manifest" "spinapp" {
  manifest = {
    apiVersion = "core.spinkube.dev/v1alpha1"
    kind       = "SpinApp"
    metadata = {
      name      = var.app_name
      namespace = var.namespace
      labels    = local.labels
    }
    spec = merge({
      image              = var.image
      executor           = var.executor
      replicas           = var.replicas
      serviceAccountName = kubernetes_service_account_v1.app.metadata[0].name
      podLabels          = local.labels
      runtimeConfig = {
        loadFromSecret = local.secret_name
      }
      variables = [
        for name in sort(keys(var.spin_variables)) : { name = name, value = var.spin_variables[name] }
      ]
      resources = {
        requests = { cpu = var.resources.cpu_request, memory = var.resources.memory_request }
        limits   = { cpu = var.resources.cpu_limit, memory = var.resources.memory_limit }
      }
      checks = {
        readiness = { httpGet = { path = var.health_check_path } }
        liveness  = { httpGet = { path = var.health_check_path } }
      }
    }, local.components)
  }

  # The operator's admission webhook fills in probe timings and other defaults.
  computed_fields = ["metadata.labels", "metadata.annotations", "spec.checks"]

  wait {
    condition {
      type   = "Available"
      status = "True"
    }
  }

  timeouts {
    create = "10m"
    update = "10m"
  }

  depends_on = [kubernetes_secret_v1.runtime_config]
}
