output "uploads_bucket_id" {
  description = "Name of the uploads bucket; set it as the s3_bucket Spin variable."
  value       = aws_s3_bucket.uploads.id
}

output "uploads_bucket_arn" {
  description = "ARN of the uploads bucket."
  value       = aws_s3_bucket.uploads.arn
}

output "audit_bucket_id" {
  description = "Name of the Object Lock bucket for audit checkpoints."
  value       = aws_s3_bucket.audit.id
}

output "audit_bucket_arn" {
  description = "ARN of the audit checkpoint bucket."
  value       = aws_s3_bucket.audit.arn
}

output "log_bucket_id" {
  description = "Name of the bucket that receives server access logs."
  value       = aws_s3_bucket.logs.id
}

output "audit_retention_years" {
  description = "Default COMPLIANCE retention of audit checkpoints, in years."
  value       = var.audit_retention_years
}

output "app_access_policy_arn" {
  description = "ARN of the IAM policy with the portal's object access, or null when create_app_access_policy is false."
  value       = try(aws_iam_policy.app_access[0].arn, null)
}

output "app_access_policy_json" {
  description = "The portal's object access as an IAM policy document, for platforms that attach policies elsewhere."
  value       = data.aws_iam_policy_document.app_access.json
}
