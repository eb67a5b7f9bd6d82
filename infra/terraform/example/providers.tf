provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}

# The token comes from VAULT_TOKEN in the environment of whoever runs Terraform; it needs to
# manage mounts and policies, so it is not the app's token.
provider "vault" {
  address = var.vault_address
}

provider "kubernetes" {
  config_path    = var.kubeconfig_path
  config_context = var.kube_context
}
