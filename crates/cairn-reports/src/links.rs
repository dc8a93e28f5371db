//! Expiring download links a Cairn serves itself: `/reports/<tenant>/<report>.pdf?expires=…
//! &signature=…`, the signature an HMAC (under a key derived from the master key) over the
//! tenant, the report and the expiry. Checked before anything is looked up, so a tampered or
//! expired link says nothing about whether the report exists.

use cairn_domain::MasterKey;
use subtle::ConstantTimeEq;

const PURPOSE: &str = "report-links v1";

fn signature(key: &MasterKey, tenant: &str, report: &str, expires: i64) -> String {
    key.mac(PURPOSE, format!("{tenant}\n{report}\n{expires}").as_bytes())
}

/// The path of a link to `report` of `tenant` valid until `expires` (epoch ms).
pub fn download_path(key: &MasterKey, tenant: &str, report: &str, expires: i64) -> String {
    format!("/reports/{tenant}/{report}.pdf?expires={expires}&signature={}", signature(key, tenant, report, expires))
}

/// What a link presented at `now` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkCheck {
    Valid,
    Expired,
    /// Its signature does not match what it names.
    Tampered,
}

pub fn check_link(key: &MasterKey, tenant: &str, report: &str, expires: i64, presented: &str, now: i64) -> LinkCheck {
    let expected = signature(key, tenant, report, expires);
    if !bool::from(expected.as_bytes().ct_eq(presented.as_bytes())) {
        LinkCheck::Tampered
    } else if now >= expires {
        LinkCheck::Expired
    } else {
        LinkCheck::Valid
    }
}
