# The master key, the database password and the mail URL are put in SSM by the operator before
# the first apply (deploy/README.md); Terraform never reads the master key or the mail URL, and
# reads the database password only ephemerally: none of them reaches the state or plan files.
#
# Cairn takes its database as one URL (CAIRN_DATABASE_URL), so this module writes that URL, with
# the password in it, to a SecureString of its own. Both writes are write-only arguments: they
# happen when the parameter is created and whenever db_password_version changes.

ephemeral "aws_ssm_parameter" "db_password" {
  arn             = local.db_password_arn
  with_decryption = true
}

resource "aws_ssm_parameter" "database_url" {
  name             = "/cairn/${var.environment}/database-url"
  description      = "CAIRN_DATABASE_URL of Cairn ${var.environment} (written by Terraform from db-password)"
  type             = "SecureString"
  key_id           = aws_kms_key.main.arn
  value_wo         = "postgres://${var.db_username}:${ephemeral.aws_ssm_parameter.db_password.value}@${aws_db_instance.main.endpoint}/cairn"
  value_wo_version = var.db_password_version
  tags             = local.tags
}
