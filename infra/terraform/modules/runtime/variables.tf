variable "app_name" {
  description = "Name of the SpinApp and prefix of the objects created with it. SpinKube labels its pods core.spinkube.dev/app-name=<app_name>."
  type        = string
  default     = "patient-portal"

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$", var.app_name))
    error_message = "app_name must be a DNS label of at most 40 characters: lowercase letters, digits and hyphens."
  }
}

variable "namespace" {
  description = "Kubernetes namespace of the app."
  type        = string
  default     = "patient-portal"

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a DNS label: lowercase letters, digits and hyphens."
  }
}

variable "create_namespace" {
  description = "Whether to create the namespace (Pod Security baseline enforced, restricted audited) with a namespace-wide default-deny NetworkPolicy. Set false when the namespace exists, for example when several apps share it."
  type        = bool
  default     = true
}

variable "image" {
  description = "OCI reference of the Spin app, as pushed by `spin registry push`, pinned by digest (REGISTRY/REPOSITORY@sha256:...)."
  type        = string

  validation {
    condition     = can(regex("@sha256:[0-9a-f]{64}$", var.image))
    error_message = "image must be pinned by digest (ending in @sha256:<64 hex digits>), so every replica runs the same reviewed build."
  }
}

variable "executor" {
  description = "SpinAppExecutor that runs the app."
  type        = string
  default     = "containerd-shim-spin"
}

variable "replicas" {
  description = "Number of pods. The portal keeps no state in memory, so any number of replicas share the Redis stores."
  type        = number
  default     = 2

  validation {
    condition     = var.replicas >= 1
    error_message = "replicas must be at least 1."
  }
}

variable "components" {
  description = "spin.toml components this app runs; empty runs them all (the single-app layout). SpinKube passes the list to the shim as SPIN_COMPONENTS_TO_RETAIN."
  type        = list(string)
  default     = []
}

variable "health_check_path" {
  description = "Path of the readiness and liveness probes. It must belong to a component this app runs."
  type        = string
  default     = "/auth/health"

  validation {
    condition     = startswith(var.health_check_path, "/")
    error_message = "health_check_path must start with a slash."
  }
}

variable "resources" {
  description = "CPU and memory requests and limits of each pod. The memory limit bounds every Wasm instance alive in the pod together."
  type = object({
    cpu_request    = string
    memory_request = string
    cpu_limit      = string
    memory_limit   = string
  })
  default = {
    cpu_request    = "250m"
    memory_request = "256Mi"
    cpu_limit      = "2"
    memory_limit   = "1Gi"
  }
}

variable "spin_variables" {
  description = "Non-secret Spin variables set on the SpinApp, such as public_origin, token_verification_keys, s3_endpoint, s3_bucket, s3_region and the *_origin and *_url variables. SpinKube sets them as SPIN_VARIABLE_<NAME> in the pod. Secrets come from Vault and are rejected here."
  type        = map(string)
  default     = {}

  validation {
    condition = length(setintersection(keys(var.spin_variables), [
      "audit_checkpoint_key", "token_signing_key", "bootstrap_secret", "download_link_key",
      "s3_access_key_id", "s3_secret_access_key", "service_token_key", "backup_key",
    ])) == 0 && alltrue([for name in keys(var.spin_variables) : !can(regex("^(kek_.*_v[0-9]+|blind_index_key_.*)$", name))])
    error_message = "spin_variables must not set a secret Spin variable; write secrets to Vault instead."
  }
}

variable "redis_url" {
  description = "URL of an existing Redis server, without a database number: rediss://:<password>@<host>:<port>. Leave null when elasticache creates one."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.redis_url == null || can(regex("^rediss://[^/]+$", var.redis_url))
    error_message = "redis_url must use TLS (rediss://) and end after the port, with no database number."
  }
}

variable "elasticache" {
  description = "Settings of an ElastiCache replication group to create (cluster mode disabled, so each store label gets its own database). Leave null when redis_url names an existing server."
  type = object({
    vpc_id                   = string
    subnet_ids               = list(string)
    client_cidr_blocks       = list(string)
    node_type                = optional(string, "cache.t4g.medium")
    num_cache_clusters       = optional(number, 2)
    engine_version           = optional(string, "7.1")
    parameter_group_name     = optional(string, "default.redis7")
    kms_key_arn              = optional(string)
    snapshot_retention_limit = optional(number, 7)
    snapshot_window          = optional(string, "03:00-04:00")
    maintenance_window       = optional(string, "sun:05:00-sun:06:00")
  })
  default = null

  validation {
    condition     = var.elasticache == null || try(var.elasticache.num_cache_clusters >= 2 && var.elasticache.snapshot_retention_limit >= 1 && length(var.elasticache.subnet_ids) >= 2 && length(var.elasticache.client_cidr_blocks) > 0, false)
    error_message = "elasticache needs two or more subnets (in different availability zones), a client CIDR block, num_cache_clusters of at least 2 for Multi-AZ failover, and snapshot_retention_limit of at least 1."
  }

  validation {
    condition     = var.elasticache == null || try(alltrue([for cidr in var.elasticache.client_cidr_blocks : !contains(["0.0.0.0/0", "::/0"], cidr)]), false)
    error_message = "elasticache.client_cidr_blocks must name the cluster's pod networks, not 0.0.0.0/0."
  }
}

variable "redis_databases" {
  description = "Redis database number of each key-value store label in spin.toml. Spin's Redis store does not prefix keys with the label, so labels sharing a database would overwrite each other's keys."
  type        = map(number)
  default = {
    auth      = 0
    messaging = 1
    uploads   = 2
    audit     = 3
  }

  validation {
    condition     = length(distinct(values(var.redis_databases))) == length(var.redis_databases)
    error_message = "redis_databases must give each label a database of its own."
  }
}

variable "vault_address" {
  description = "HTTPS address of Vault, such as https://vault.example.org:8200."
  type        = string

  validation {
    condition     = can(regex("^https://", var.vault_address))
    error_message = "vault_address must use https."
  }
}

variable "vault_mount" {
  description = "KV version 2 mount that holds the app's secrets (the keys module's vault_mount_path)."
  type        = string
}

variable "vault_prefix" {
  description = "Path prefix of this app's secrets under the mount (an entry of the keys module's vault_prefixes)."
  type        = string
}

variable "vault_token" {
  description = "Vault token with this app's read-only policy, written into the runtime config Secret. Spin's vault provider takes a fixed token and does not renew it, so use a periodic token and renew it. It is stored in the Terraform state; to keep it out, set create_runtime_config_secret to false and create the Secret with kubectl."
  type        = string
  default     = null
  sensitive   = true
}

variable "create_runtime_config_secret" {
  description = "Whether Terraform creates the Secret that holds runtime-config.toml. When false, a Secret named runtime_config_secret_name must exist with the key runtime-config.toml."
  type        = bool
  default     = true
}

variable "runtime_config_secret_name" {
  description = "Name of the Secret that holds runtime-config.toml; null means <app_name>-runtime-config."
  type        = string
  default     = null
}

variable "egress_destinations" {
  description = "Outbound destinations the app pods may reach besides DNS, by name: s3, redis, vault, notification_gateway, alert_webhook, clamd, and for the separate-apps layout the other apps' ingress. Each lists CIDR blocks and TCP ports. Redis of a created ElastiCache group is added from its subnets."
  type = map(object({
    cidrs = list(string)
    ports = list(number)
  }))
  default = {}

  # A NetworkPolicy egress rule without a peer allows every destination on its ports.
  validation {
    condition     = alltrue([for destination in values(var.egress_destinations) : length(destination.cidrs) > 0 && length(destination.ports) > 0])
    error_message = "Each egress destination must list at least one CIDR block and one port; leave a destination out instead of leaving it empty."
  }

  validation {
    condition     = alltrue(flatten([for destination in values(var.egress_destinations) : [for cidr in destination.cidrs : !contains(["0.0.0.0/0", "::/0"], cidr)]]))
    error_message = "egress_destinations must not allow 0.0.0.0/0 or ::/0; name the hosts' networks."
  }

  validation {
    condition     = alltrue([for name in keys(var.egress_destinations) : can(regex("^[a-z0-9-]+$", replace(name, "_", "-")))])
    error_message = "egress_destinations keys must be lowercase letters, digits, hyphens or underscores."
  }
}

variable "dns_namespace" {
  description = "Namespace of the cluster DNS pods."
  type        = string
  default     = "kube-system"
}

variable "dns_pod_labels" {
  description = "Labels of the cluster DNS pods."
  type        = map(string)
  default     = { "k8s-app" = "kube-dns" }
}

variable "ingress_namespace_labels" {
  description = "Labels of the namespaces (usually the ingress controller's) whose pods may reach the app on port 80. Empty allows no ingress."
  type        = list(map(string))
  default     = [{ "kubernetes.io/metadata.name" = "ingress-nginx" }]
}

variable "labels" {
  description = "Labels added to every Kubernetes object and to the app's pods."
  type        = map(string)
  default     = {}
}

variable "tags" {
  description = "Tags added to every taggable AWS resource."
  type        = map(string)
  default     = {}
}
