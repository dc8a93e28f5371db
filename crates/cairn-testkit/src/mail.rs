//! What a test reads in a mail: a value after its label, a reset code. Mails come from the
//! file transport ([`crate::TestApp::mail_to`]) or an SMTP server ([`crate::smtp`]), raw,
//! quoted-printable soft line breaks and all.

/// The label before an invitation's or an admin reset's temporary password.
pub const TEMPORARY_PASSWORD: &str = "Your temporary password is:";

/// The mail's text with quoted-printable soft line breaks joined.
fn unfolded(mail: &str) -> String {
    mail.replace("=\r\n", "").replace("=\n", "")
}

/// The rest of the first line (trimmed) that starts with `label`; panics naming the label
/// when no line does.
pub fn value_after(mail: &str, label: &str) -> String {
    unfolded(mail)
        .lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .unwrap_or_else(|| panic!("{label:?} in {mail}"))
        .trim()
        .to_owned()
}

/// The password reset code in a reset mail: eight symbols of Crockford's base 32, grouped
/// `ABCD-EFGH`.
pub fn reset_code(mail: &str) -> Option<String> {
    unfolded(mail)
        .lines()
        .map(str::trim)
        .find(|l| {
            l.len() == 9
                && l.as_bytes()[4] == b'-'
                && l.bytes().all(|b| b == b'-' || b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&b))
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_codes_are_read_across_soft_line_breaks() {
        let mail = "To: ann@acme.test\r\n\r\nYour temporary password is: velvet-or=\r\nbit\r\n\r\n  K7QM-2XPD  \r\n";
        assert_eq!(value_after(mail, TEMPORARY_PASSWORD), "velvet-orbit");
        assert_eq!(reset_code(mail).as_deref(), Some("K7QM-2XPD"));
        assert_eq!(reset_code("no code here\r\nABCD-EFGI\r\n"), None, "I is not a symbol of the code");
    }
}
