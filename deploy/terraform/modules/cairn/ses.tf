# SES domain identity with Easy DKIM. Cairn sends through SES's SMTP endpoint
# (email-smtp.<region>.amazonaws.com:587, STARTTLS) with SMTP credentials kept in the mail-url
# parameter. Publish the DKIM CNAMEs (output ses_dkim_records) in the domain's DNS; while the
# account is in the SES sandbox, recipients must be verified too.

resource "aws_sesv2_email_identity" "main" {
  email_identity = var.mail_domain
  dkim_signing_attributes {
    next_signing_key_length = "RSA_2048_BIT"
  }
  tags = local.tags
}
