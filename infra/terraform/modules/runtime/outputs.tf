output "namespace" {
  description = "Namespace of the app."
  value       = var.namespace
}

output "spinapp_name" {
  description = "Name of the SpinApp. The spin-operator gives its Deployment and its Service (port 80) the same name."
  value       = kubernetes_manifest.spinapp.manifest.metadata.name
}

output "service_address" {
  description = "In-cluster HTTP address of the app, for the ingress or load balancer that terminates TLS in front of it."
  value       = "http://${var.app_name}.${var.namespace}.svc.cluster.local:80"
}

output "runtime_config_secret_name" {
  description = "Name of the Secret that holds runtime-config.toml."
  value       = local.secret_name
}

output "redis_primary_endpoint" {
  description = "Primary endpoint of the created ElastiCache group, or null when redis_url names an existing server."
  value       = try(aws_elasticache_replication_group.redis[0].primary_endpoint_address, null)
}

output "redis_url" {
  description = "Redis URL without a database number, for other apps of the separate-apps layout."
  value       = local.redis_url
  sensitive   = true
}

output "network_policies" {
  description = "Names of the NetworkPolicies that apply to the app's pods."
  value = concat(
    [kubernetes_network_policy_v1.app_default_deny.metadata[0].name, kubernetes_network_policy_v1.dns.metadata[0].name],
    [for policy in kubernetes_network_policy_v1.egress : policy.metadata[0].name],
    [for policy in kubernetes_network_policy_v1.ingress : policy.metadata[0].name],
  )
}
