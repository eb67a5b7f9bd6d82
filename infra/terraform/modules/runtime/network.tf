# NetworkPolicies: the app's pods accept connections only from the ingress namespaces on port
# 80 and open connections only to DNS and the listed destinations. Service chaining between
# components of one app runs inside the process and needs no rule.
#
# Kubernetes enforces these only with a CNI plugin that implements NetworkPolicy (Calico,
# Cilium, the VPC CNI with network policies turned on). Most plugins let the node's kubelet
# reach its pods for probes whatever the policies say.

locals {
  redis_subnet_cidrs = [for subnet in data.aws_subnet.redis : subnet.cidr_block]

  created_redis_destination = {
    for name, destination in { redis = { cidrs = local.redis_subnet_cidrs, ports = [6379] } } :
    name => destination if local.create_redis
  }

  egress_destinations = merge(var.egress_destinations, local.created_redis_destination)
}

resource "kubernetes_network_policy_v1" "namespace_default_deny" {
  count = var.create_namespace ? 1 : 0

  metadata {
    name      = "default-deny-all"
    namespace = var.namespace
    labels    = local.labels
  }

  spec {
    pod_selector {}
    policy_types = ["Ingress", "Egress"]
  }

  depends_on = [kubernetes_namespace_v1.portal]
}

# Isolates the app's pods even in a namespace this module did not create.
resource "kubernetes_network_policy_v1" "app_default_deny" {
  metadata {
    name      = "${var.app_name}-default-deny"
    namespace = var.namespace
    labels    = local.labels
  }

  spec {
    pod_selector {
      match_labels = local.pod_selector
    }
    policy_types = ["Ingress", "Egress"]
  }

  depends_on = [kubernetes_namespace_v1.portal]
}

resource "kubernetes_network_policy_v1" "dns" {
  metadata {
    name      = "${var.app_name}-egress-dns"
    namespace = var.namespace
    labels    = local.labels
  }

  spec {
    pod_selector {
      match_labels = local.pod_selector
    }
    policy_types = ["Egress"]

    egress {
      to {
        namespace_selector {
          match_labels = { "kubernetes.io/metadata.name" = var.dns_namespace }
        }
        pod_selector {
          match_labels = var.dns_pod_labels
        }
      }
      ports {
        protocol = "UDP"
        port     = "53"
      }
      ports {
        protocol = "TCP"
        port     = "53"
      }
    }
  }

  depends_on = [kubernetes_namespace_v1.portal]
}

resource "kubernetes_network_policy_v1" "egress" {
  for_each = local.egress_destinations

  metadata {
    name      = "${var.app_name}-egress-${replace(each.key, "_", "-")}"
    namespace = var.namespace
    labels    = local.labels
  }

  spec {
    pod_selector {
      match_labels = local.pod_selector
    }
    policy_types = ["Egress"]

    egress {
      dynamic "to" {
        for_each = each.value.cidrs
        content {
          ip_block {
            cidr = to.value
          }
        }
      }
      dynamic "ports" {
        for_each = each.value.ports
        content {
          protocol = "TCP"
          port     = tostring(ports.value)
        }
      }
    }
  }

  depends_on = [kubernetes_namespace_v1.portal]
}

resource "kubernetes_network_policy_v1" "ingress" {
  count = length(var.ingress_namespace_labels) > 0 ? 1 : 0

  metadata {
    name      = "${var.app_name}-ingress-http"
    namespace = var.namespace
    labels    = local.labels
  }

  spec {
    pod_selector {
      match_labels = local.pod_selector
    }
    policy_types = ["Ingress"]

    ingress {
      dynamic "from" {
        for_each = var.ingress_namespace_labels
        content {
          namespace_selector {
            match_labels = from.value
          }
        }
      }
      ports {
        protocol = "TCP"
        port     = "80"
      }
    }
  }

  depends_on = [kubernetes_namespace_v1.portal]
}
