//! What every HTML response shares: the strict Content-Security-Policy (with a per-page
//! nonce for the one style block that carries the tenant's accent colour), cookies,
//! and CSRF tokens.

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::AppState;

/// Page chrome: title, organization name, the colours drawn from its accent, and the CSP
/// nonce.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub title: String,
    pub org: String,
    pub accent: String,
    pub palette: Palette,
    /// The organization's mark: the first letter of its name.
    pub initial: String,
    pub nonce: String,
    /// The page embeds a PDF of Cairn's own (`object-src 'self'`, which Chromium also checks
    /// against `frame-src`); no other page may.
    pub embeds_pdf: bool,
}

impl Chrome {
    pub fn new(title: impl Into<String>, org: impl Into<String>, accent: impl Into<String>) -> Self {
        let accent = accent.into();
        let palette = Palette::from_accent(&accent);
        let org = org.into();
        let initial = org.chars().find(|c| c.is_alphanumeric()).map_or('·', |c| c).to_uppercase().collect();
        Self { title: title.into(), org, accent, palette, initial, nonce: random_token(16), embeds_pdf: false }
    }

    /// Cairn's own pages, before an organization is known.
    pub fn plain(title: impl Into<String>) -> Self {
        Self::new(title, "Cairn", "#2563eb")
    }
}

pub use cairn_domain::random_token;

/// WCAG 2's least contrast for body text (AA); large text needs 3:1.
pub const AA_TEXT: f64 = 4.5;

/// A colour as `#rrggbb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rrggbb`; anything else is `None`.
    pub fn parse(hex: &str) -> Option<Rgb> {
        let h = hex.strip_prefix('#').filter(|h| h.len() == 6 && h.bytes().all(|b| b.is_ascii_hexdigit()))?;
        let c = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).ok();
        Some(Rgb(c(0)?, c(2)?, c(4)?))
    }

    /// WCAG 2 relative luminance.
    pub fn luminance(self) -> f64 {
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * lin(self.0) + 0.7152 * lin(self.1) + 0.0722 * lin(self.2)
    }

    /// WCAG 2 contrast ratio, 1 to 21.
    pub fn contrast(self, other: Rgb) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }

    /// `self` moved `t` (0–1) of the way to `to`.
    pub fn mix(self, to: Rgb, t: f64) -> Rgb {
        let m = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round().clamp(0.0, 255.0) as u8;
        Rgb(m(self.0, to.0), m(self.1, to.1), m(self.2, to.2))
    }

    /// The colour nearest to `self` on the way to `to` that reads at `ratio` on every one of
    /// `backgrounds` (`to` itself when nothing nearer does).
    fn readable_towards(self, to: Rgb, backgrounds: &[Rgb], ratio: f64) -> Rgb {
        (0..=100)
            .map(|step| self.mix(to, f64::from(step) / 100.0))
            .find(|c| backgrounds.iter().all(|bg| c.contrast(*bg) >= ratio))
            .unwrap_or(to)
    }
}

impl std::fmt::Display for Rgb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

const WHITE: Rgb = Rgb(255, 255, 255);
const INK: Rgb = Rgb(17, 17, 20);
/// The stylesheet's surfaces (`static/cairn.css`): page and card, light and dark.
const LIGHT_SURFACES: [Rgb; 2] = [Rgb(0xf6, 0xf7, 0xf9), Rgb(0xff, 0xff, 0xff)];
const DARK_SURFACES: [Rgb; 2] = [Rgb(0x0b, 0x0b, 0x0e), Rgb(0x16, 0x16, 0x1a)];
const DEFAULT_ACCENT: Rgb = Rgb(0x25, 0x63, 0xeb);

/// The colours a page draws from its organization's accent, each readable where it is used
/// (WCAG AA, 4.5:1) whatever accent the organization chose: the accent itself marks the
/// organization and fills primary buttons (with white or near-black text, whichever reads;
/// darkened when neither does), and links and the current navigation item use a shade of it
/// that reads on the light or dark surfaces and on its own tint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Palette {
    pub accent: Rgb,
    /// A primary button's fill, and its text.
    pub solid: Rgb,
    pub on_solid: Rgb,
    pub link_light: Rgb,
    pub link_dark: Rgb,
    /// The current navigation item's background, light and dark.
    pub tint_light: Rgb,
    pub tint_dark: Rgb,
}

impl Palette {
    pub fn from_accent(accent: &str) -> Palette {
        let accent = Rgb::parse(accent).unwrap_or(DEFAULT_ACCENT);
        let (solid, on_solid) = if accent.contrast(WHITE) >= AA_TEXT {
            (accent, WHITE)
        } else if accent.contrast(INK) >= AA_TEXT {
            (accent, INK)
        } else {
            (accent.readable_towards(INK, &[WHITE], AA_TEXT), WHITE)
        };
        let tint_light = LIGHT_SURFACES[1].mix(accent, 0.1);
        let tint_dark = DARK_SURFACES[1].mix(accent, 0.2);
        let on_light = [LIGHT_SURFACES[0], LIGHT_SURFACES[1], tint_light];
        let on_dark = [DARK_SURFACES[0], DARK_SURFACES[1], tint_dark];
        Palette {
            accent,
            solid,
            on_solid,
            link_light: accent.readable_towards(INK, &on_light, AA_TEXT),
            link_dark: accent.readable_towards(WHITE, &on_dark, AA_TEXT),
            tint_light,
            tint_dark,
        }
    }
}

/// Whether cookies carry `Secure`: always, unless the public URL is plain http (loopback
/// development).
pub fn secure(state: &AppState) -> bool {
    state.config.public_url.starts_with("https://")
}

/// `value` as JSON, sealed with the master key for browser state that must come back
/// unaltered (forms, cookies); `aad` names what it is, so one kind cannot pass as another.
pub fn seal_json(state: &AppState, value: &impl serde::Serialize, aad: &str) -> String {
    state.store.master_key().seal(&serde_json::to_vec(value).expect("browser state serialises"), aad)
}

/// Opens what [`seal_json`] sealed; `None` when forged, damaged or of another kind.
pub fn open_json<T: serde::de::DeserializeOwned>(state: &AppState, sealed: &str, aad: &str) -> Option<T> {
    serde_json::from_slice(&state.store.master_key().open(sealed, aad).ok()?).ok()
}

/// The page for a fault of Cairn's: generic; the cause is logged once here.
pub fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "internal error");
    let heading = "Something went wrong";
    message(StatusCode::INTERNAL_SERVER_ERROR, &Chrome::plain(heading), heading, "Please try again in a moment.", None)
}

/// The page for a dependency that does not answer now (a database, a token's revocation
/// check): `503` with `Retry-After`; the cause is logged once here.
pub fn unavailable(e: impl std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "unavailable");
    let heading = "Cairn cannot answer right now";
    let mut resp = message(
        StatusCode::SERVICE_UNAVAILABLE,
        &Chrome::plain(heading),
        heading,
        "Please try again in a few seconds.",
        None,
    );
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    resp
}

/// Renders `page` with `status` and the security headers. `form_targets` are origins a
/// form on the page may end up at (a sign-in form redirects to the client).
pub fn render(status: StatusCode, chrome: &Chrome, page: &impl Template, form_targets: &[String]) -> Response {
    let body = match page.render() {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    let mut form_action = String::from("'self'");
    for t in form_targets {
        form_action.push(' ');
        form_action.push_str(t);
    }
    let object_src = if chrome.embeds_pdf { "object-src 'self'; frame-src 'self'; " } else { "" };
    let csp = format!(
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self' 'nonce-{}'; img-src 'self' data:; {object_src}form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'",
        chrome.nonce
    );
    let mut resp = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Every 429 page says when to come back; a handler that knows better overrides it.
    if status == StatusCode::TOO_MANY_REQUESTS {
        h.insert(header::RETRY_AFTER, HeaderValue::from(BUSY_RETRY_AFTER_SECS));
    }
    resp
}

/// When a page refused for load (passwords being hashed) asks to be retried.
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// The origin of a URL (`scheme://host[:port]`), for CSP source lists.
pub fn origin(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let o = u.origin();
    o.is_tuple().then(|| o.ascii_serialization())
}

/// A 303 to `location` (after a form post, or into a flow).
pub fn see_other(location: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The name a browser cookie goes by: `__Host-<base>` when Cairn is served over https.
/// The prefix makes the browser refuse the cookie unless it is `Secure`, `Path=/` and has
/// no `Domain`, so neither a sibling subdomain nor a plain-http response can plant or
/// overwrite it (a planted session or CSRF cookie is how login CSRF and session fixation
/// start). Every Cairn cookie is `Path=/` (the web UI's tenant travels inside the sealed
/// value, not in the cookie's path), so every one can carry the prefix; `__Secure-`, which
/// allows narrower paths and domains, is not needed. Plain http (loopback development)
/// cannot carry the prefix, so the base name is used there.
pub fn cookie_name(state: &AppState, base: &str) -> String {
    if secure(state) { format!("__Host-{base}") } else { base.to_owned() }
}

/// The value of Cairn's cookie `base` in the request (by its prefixed name over https: an
/// unprefixed cookie of the same name is ignored).
pub fn cookie(state: &AppState, headers: &HeaderMap, base: &str) -> Option<String> {
    raw_cookie(headers, &cookie_name(state, base))
}

/// The value of the cookie named exactly `name` (the first one sent).
fn raw_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    cookie_values(headers, name).next()
}

/// Every value sent under the cookie name `name`, in the order the browser sent them.
fn cookie_values<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = String> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value for Cairn's cookie `base`: `HttpOnly`, `SameSite=Lax`, `Path=/`, no
/// `Domain`; over https `Secure` and the `__Host-` prefix ([`cookie_name`]). `max_age` of 0
/// deletes it.
pub fn set_cookie(state: &AppState, base: &str, value: &str, max_age_secs: Option<i64>) -> HeaderValue {
    cookie_header(&cookie_name(state, base), value, "/", max_age_secs, secure(state))
}

/// The name of a cookie scoped to a path below `/` (an organization's device cookie):
/// `__Host-` requires `Path=/`, so over https it carries `__Secure-`, which browsers also
/// accept only from a secure response.
pub fn path_cookie_name(state: &AppState, base: &str) -> String {
    if secure(state) { format!("__Secure-{base}") } else { base.to_owned() }
}

/// Every value sent under the path-scoped cookie `base`'s name: a sibling host may plant a
/// more specific cookie of the same name, which browsers send first.
pub fn path_cookies(state: &AppState, headers: &HeaderMap, base: &str) -> Vec<String> {
    cookie_values(headers, &path_cookie_name(state, base)).collect()
}

/// As [`set_cookie`], for `path` and below only ([`path_cookie_name`]).
pub fn set_cookie_at(state: &AppState, base: &str, value: &str, path: &str, max_age_secs: Option<i64>) -> HeaderValue {
    cookie_header(&path_cookie_name(state, base), value, path, max_age_secs, secure(state))
}

fn cookie_header(name: &str, value: &str, path: &str, max_age_secs: Option<i64>, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax");
    if secure {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age_secs {
        c.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&c).expect("cookie values are URL-safe text")
}

/// Compares a submitted CSRF token with the expected one in constant time.
pub fn csrf_ok(expected: Option<&str>, given: Option<&str>) -> bool {
    match (expected, given) {
        (Some(e), Some(g)) => secret_eq(e, g),
        _ => false,
    }
}

/// Whether `given` is the non-empty secret `expected`, compared in constant time (only
/// the length can differ early).
pub fn secret_eq(expected: &str, given: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// The hosted pages' CSRF cookie (sign-in, password change, forgot and reset, logout
/// confirmation: pages shown before there is a session to bind a token to).
pub const CSRF_COOKIE: &str = "cairn_csrf";
const CSRF_MAC: &str = "hosted-page-csrf";

/// The CSRF token of a hosted page's form, and the cookie to set with it when the browser
/// had none.
///
/// The cookie holds a random browser id; the form carries an HMAC of that id under a key
/// derived from the master key, and a post is accepted only when its token is the HMAC of
/// the id in the cookie it arrives with. The form's token is never the cookie's value, so a
/// cookie planted with a value of the attacker's choosing (double-submit's weakness) does
/// not come with a token that matches it; over https the `__Host-` prefix keeps such a
/// cookie from being planted at all.
#[derive(Debug)]
pub struct CsrfToken {
    pub token: String,
    set: Option<HeaderValue>,
}

impl CsrfToken {
    /// Sets the CSRF cookie on `resp` when it is new.
    pub fn attach(&self, mut resp: Response) -> Response {
        if let Some(c) = &self.set {
            resp.headers_mut().append(header::SET_COOKIE, c.clone());
        }
        resp
    }
}

fn csrf_for(state: &AppState, browser: &str) -> String {
    state.store.master_key().mac(CSRF_MAC, browser.as_bytes())
}

/// The CSRF token for this browser's hosted-page forms, minting its cookie if needed.
pub fn csrf_token(state: &AppState, headers: &HeaderMap) -> CsrfToken {
    match cookie(state, headers, CSRF_COOKIE).filter(|v| v.len() >= 22) {
        Some(browser) => CsrfToken { token: csrf_for(state, &browser), set: None },
        None => {
            let browser = random_token(24);
            CsrfToken { token: csrf_for(state, &browser), set: Some(set_cookie(state, CSRF_COOKIE, &browser, None)) }
        }
    }
}

/// Whether a hosted-page form's token belongs to the CSRF cookie it came with.
pub fn csrf_form_ok(state: &AppState, headers: &HeaderMap, given: Option<&str>) -> bool {
    let expected = cookie(state, headers, CSRF_COOKIE).filter(|v| v.len() >= 22).map(|b| csrf_for(state, &b));
    csrf_ok(expected.as_deref(), given)
}

/// Error page content.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub c: &'a Chrome,
    pub heading: &'a str,
    pub text: &'a str,
    pub link: Option<(&'a str, &'a str)>,
}

/// A full-page message (errors the user can read, "signed out", "check your mail").
pub fn message(status: StatusCode, chrome: &Chrome, heading: &str, text: &str, link: Option<(&str, &str)>) -> Response {
    render(status, chrome, &MessagePage { c: chrome, heading, text, link }, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrast_follows_wcag() {
        assert!((WHITE.contrast(Rgb(0, 0, 0)) - 21.0).abs() < 1e-9);
        assert!((Rgb(0x77, 0x77, 0x77).contrast(WHITE) - 4.48).abs() < 0.01);
        assert_eq!(Rgb::parse("#2563eb"), Some(Rgb(0x25, 0x63, 0xeb)));
        assert_eq!(Rgb::parse("red; }</style>"), None);
        assert_eq!(Rgb(0x25, 0x63, 0xeb).to_string(), "#2563eb");
    }

    #[test]
    fn every_accent_gives_readable_links_and_buttons_in_both_schemes() {
        for accent in
            ["#2563eb", "#facc15", "#ffffff", "#000000", "#16a34a", "#e11d48", "#7c3aed", "#0ea5e9", "#808080", "bad"]
        {
            let p = Palette::from_accent(accent);
            assert!(p.solid.contrast(p.on_solid) >= AA_TEXT, "{accent}: button {p:?}");
            for bg in [LIGHT_SURFACES[0], LIGHT_SURFACES[1], p.tint_light] {
                assert!(p.link_light.contrast(bg) >= AA_TEXT, "{accent}: light link on {bg}: {p:?}");
            }
            for bg in [DARK_SURFACES[0], DARK_SURFACES[1], p.tint_dark] {
                assert!(p.link_dark.contrast(bg) >= AA_TEXT, "{accent}: dark link on {bg}: {p:?}");
            }
        }
        // An accent that already reads is kept as it is.
        let blue = Palette::from_accent("#1d4ed8");
        assert_eq!((blue.solid, blue.link_light), (Rgb(0x1d, 0x4e, 0xd8), Rgb(0x1d, 0x4e, 0xd8)));
        // A yellow keeps its colour on buttons, with dark text.
        let yellow = Palette::from_accent("#facc15");
        assert_eq!((yellow.solid, yellow.on_solid), (Rgb(0xfa, 0xcc, 0x15), INK));
    }
}
