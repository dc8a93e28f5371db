//! The attack suite: each finding of the outside security test, replayed against a running
//! Cairn on both backends, so none of them can come back (docs/security.md lists the
//! defences).

mod hardening;
mod sessions;
mod signin;
mod ssrf;
