terraform {
  # 1.11: ephemeral resources and write-only arguments keep the database password out of the
  # state and plan files.
  required_version = ">= 1.11.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}
