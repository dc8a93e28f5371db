//! Passwords: argon2id hashing with OWASP's parameters (19 MiB, 2 passes, 1 lane), the
//! policy (≥ 12 characters, not among the 10,000 most common, not containing the email's
//! local part), and temporary passwords for invitations.

use std::collections::HashSet;
use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use cairn_domain::ValidationError;

use crate::model::Email;

pub const MIN_LENGTH: usize = 12;
const MAX_LENGTH: usize = 256;

static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("../data/common-passwords.txt").lines().filter(|l| !l.is_empty()).collect());

fn argon() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon().hash_password(password.as_bytes(), &salt).expect("argon2id hashing cannot fail on valid params").to_string()
}

/// A hash no password matches, verified in place of a missing account's so that unknown
/// and known emails take the same time.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash("cairn dummy password that never matches"));

/// Whether `password` matches `stored`. With no stored hash (unknown account, or no
/// password set) the same work is done against a dummy hash and the answer is false.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let (phc, real) = match stored {
        Some(s) => (s, true),
        None => (DUMMY_HASH.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    // argon2's verifier compares the computed and stored outputs in constant time.
    argon().verify_password(password.as_bytes(), &parsed).is_ok() && real
}

/// Warms the dummy hash so the first unknown-account sign-in is not faster than the rest.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

/// Checks a new password against the policy; `field` names the form field in errors.
pub fn check_policy(field: &str, password: &str, email: &Email) -> Result<(), ValidationError> {
    let bad = |m: &str| Err(ValidationError::new(field, m));
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        return bad("must be at least 12 characters");
    }
    if chars > MAX_LENGTH {
        return bad("must be at most 256 characters");
    }
    let lower = password.to_lowercase();
    if COMMON.contains(lower.as_str()) {
        return bad("is one of the most common passwords; choose another");
    }
    let local = email.local_part().to_lowercase();
    if local.chars().count() >= 3 && lower.contains(&local) {
        return bad("must not contain the email address's name");
    }
    Ok(())
}

/// A temporary password: 20 characters from an alphabet without look-alikes (about 110
/// bits), grouped for reading aloud; it satisfies the policy.
pub fn temporary() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..4)
        .map(|_| (0..5).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// A six-digit code for password reset, uniformly random.
pub fn numeric_code() -> String {
    use rand::Rng;
    format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let h = hash("correct horse battery staple");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery staple", Some(&h)));
        assert!(!verify("correct horse battery stapl", Some(&h)));
        assert!(!verify("correct horse battery staple", None));
        assert!(!verify("x", Some("not a phc string")));
    }

    #[test]
    fn policy() {
        let email = Email::parse("ann.lee@example.com").unwrap();
        assert!(check_policy("p", "short", &email).is_err());
        assert!(check_policy("p", "x".repeat(257).as_str(), &email).is_err());
        // Common passwords of policy length, in any case.
        assert!(COMMON.len() == 10_000);
        let common = COMMON.iter().find(|p| p.chars().count() >= 12).unwrap();
        assert!(check_policy("p", &common.to_uppercase(), &email).is_err(), "{common}");
        assert!(check_policy("p", "my-Ann.Lee-password", &email).is_err());
        assert!(check_policy("p", "velvet orbit canyon", &email).is_ok());
        let t = temporary();
        assert_eq!(t.len(), 23);
        assert!(check_policy("p", &t, &email).is_ok());
        assert_eq!(numeric_code().len(), 6);
    }
}
