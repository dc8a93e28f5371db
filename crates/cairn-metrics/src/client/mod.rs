//! The HTTP side of the collectors. Every request to a source goes through the guarded
//! outbound client of `cairn-outbound` (the address guard, no redirects, timeouts, size
//! caps), and through [`Upstream`], which honours the limits upstreams set, once for every
//! source kind:
//!
//! - `Retry-After` on a `403` or `429` is waited out, then the request is sent again;
//! - a `403`/`429` saying the rate limit is spent (`x-ratelimit-remaining: 0`) waits until
//!   `x-ratelimit-reset`, and so does the next request after any answer that spent the
//!   last of the budget, before it is sent;
//! - a `403`/`429` that names a rate limit without saying how long backs off
//!   exponentially from one minute (GitHub's secondary limits);
//! - `5xx`, timeouts and failed connections back off exponentially with full jitter, up to
//!   [`MAX_ATTEMPTS`] tries; then the run fails with the cause;
//! - `If-None-Match` is sent where the caller has an ETag, and `304` comes back as
//!   [`Answer::NotModified`], so the caller keeps what it stored;
//! - at most [`CONCURRENCY`] requests of one source are in flight.
//!
//! A limit longer than [`Upstream::max_wait`] fails the run instead of holding a worker
//! (the next run resumes from what was stored). Waiting never drops data: the request
//! that was refused is the one sent again.

pub mod github;
pub mod jira;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use cairn_domain::now_ms;
use cairn_outbound::{Method, Outbound, OutboundError, StatusCode, header};
use rand::Rng;
use tokio::sync::Semaphore;

/// Requests of one source in flight at once.
pub const CONCURRENCY: usize = 4;
/// Tries of a request that fails for a reason other than a rate limit.
pub const MAX_ATTEMPTS: u32 = 5;
/// The first pause after a failure; doubled each time, with full jitter.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The first pause after a limit that does not say how long (GitHub asks for at least a minute).
const FIRST_LIMIT_BACKOFF: Duration = Duration::from_secs(60);
/// The longest a single exchange may take: a GraphQL page of a hundred commits with their
/// pull requests is slow on a large repository.
const TIMEOUT: Duration = Duration::from_secs(60);
/// The largest answer read: a page of a hundred full pull requests is a few megabytes.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// How a source is signed in to.
#[derive(Clone)]
pub enum Auth {
    /// `Authorization: Bearer` (GitHub tokens).
    Bearer(String),
    /// Basic authentication with an email and an API token (Jira Cloud).
    Basic { user: String, token: String },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Bearer(_) => f.write_str("Bearer(…)"),
            Auth::Basic { user, .. } => write!(f, "Basic({user}, …)"),
        }
    }
}

/// One request: what to send, and how to read a refusal.
#[derive(Debug)]
pub struct Call<'a> {
    pub method: Method,
    pub url: &'a str,
    pub body: Option<&'a serde_json::Value>,
    /// The ETag of the stored copy; a `304` answers [`Answer::NotModified`].
    pub if_none_match: Option<&'a str>,
}

impl<'a> Call<'a> {
    pub fn get(url: &'a str) -> Self {
        Self { method: Method::GET, url, body: None, if_none_match: None }
    }

    pub fn post(url: &'a str, body: &'a serde_json::Value) -> Self {
        Self { method: Method::POST, url, body: Some(body), if_none_match: None }
    }

    pub fn if_none_match(self, etag: Option<&'a str>) -> Self {
        Self { if_none_match: etag, ..self }
    }
}

/// A successful answer.
#[derive(Debug)]
pub enum Answer {
    Fresh {
        headers: header::HeaderMap,
        body: Vec<u8>,
    },
    /// `304`: what the caller stored under the ETag it sent is current.
    NotModified,
}

impl Answer {
    /// The answer's ETag, to send with the next request for the same URL.
    pub fn etag(&self) -> Option<&str> {
        match self {
            Answer::Fresh { headers, .. } => headers.get(header::ETAG).and_then(|v| v.to_str().ok()),
            Answer::NotModified => None,
        }
    }
}

/// Why a source could not be read. None of these texts carries a URL's query or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// `401`: the token (or email and token) is not accepted.
    #[error("the credentials are not accepted ({0})")]
    Unauthorized(String),
    /// `403` that is not a rate limit: the token lacks a permission.
    #[error("the credentials lack a permission ({0})")]
    Forbidden(String),
    #[error("not found upstream: {0}")]
    NotFound(String),
    /// The address guard refused the URL or what its name resolves to.
    #[error("{0}")]
    Refused(String),
    /// No answer after every try (connection refused, DNS, TLS, timeouts).
    #[error("the source does not answer: {0}")]
    Unreachable(String),
    /// An answer that is neither a success nor one of the above, after every try for `5xx`.
    #[error("the source answered {status}: {message}")]
    Status { status: u16, message: String },
    /// A rate limit that lifts later than Cairn waits within one run.
    #[error("rate limited until {reset_at_ms} (epoch ms), longer than a run waits")]
    LimitTooLong { reset_at_ms: i64 },
    /// A body that does not have the shape the source documents.
    #[error("the source's answer is not what its API describes: {0}")]
    Protocol(String),
}

/// What a run reports of its requests.
#[derive(Debug, Default)]
pub struct Tally {
    requests: AtomicU64,
    rate_limit_waits: AtomicU64,
    not_modified: AtomicU64,
}

impl Tally {
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn rate_limit_waits(&self) -> u64 {
        self.rate_limit_waits.load(Ordering::Relaxed)
    }

    pub fn not_modified(&self) -> u64 {
        self.not_modified.load(Ordering::Relaxed)
    }
}

/// One source's requests: its credentials, its concurrency bound, the budget its last
/// answer reported, and the tally of the run.
#[derive(Debug, Clone)]
pub struct Upstream {
    outbound: Outbound,
    auth: Auth,
    slots: Arc<Semaphore>,
    /// When the spent budget comes back (epoch ms), or 0 while budget remains.
    blocked_until: Arc<AtomicI64>,
    tally: Arc<Tally>,
    /// The longest wait for a limit within one run.
    pub max_wait: Duration,
    /// Tries of a request that fails for a reason other than a rate limit.
    attempts: u32,
}

impl Upstream {
    pub fn new(outbound: Outbound, auth: Auth) -> Self {
        Self {
            outbound,
            auth,
            slots: Arc::new(Semaphore::new(CONCURRENCY)),
            blocked_until: Arc::new(AtomicI64::new(0)),
            tally: Arc::new(Tally::default()),
            max_wait: Duration::from_secs(3600 + 60),
            attempts: MAX_ATTEMPTS,
        }
    }

    /// For trying credentials while a caller waits: one retry, and limits waited out only
    /// when they lift within seconds.
    pub fn trying(self) -> Self {
        Self { max_wait: Duration::from_secs(5), attempts: 2, ..self }
    }

    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    pub fn outbound(&self) -> &Outbound {
        &self.outbound
    }

    /// Sends `call`, waiting out limits and retrying failures as the module says.
    pub async fn send(&self, call: &Call<'_>) -> Result<Answer, UpstreamError> {
        let mut failures = 0u32;
        let mut limits = 0u32;
        loop {
            self.wait_for_budget().await?;
            let outcome = {
                let _slot = self.slots.acquire().await.map_err(|_| UpstreamError::Unreachable("shut down".into()))?;
                self.tally.requests.fetch_add(1, Ordering::Relaxed);
                self.exchange(call).await
            };
            let pause = match outcome {
                Exchange::Done(answer) => return Ok(answer),
                Exchange::Fatal(e) => return Err(e),
                Exchange::Limited(wait) => {
                    let wait = wait.unwrap_or_else(|| backoff(FIRST_LIMIT_BACKOFF, limits));
                    limits += 1;
                    self.note_limit(wait)?;
                    wait
                }
                Exchange::Failed(e) => {
                    failures += 1;
                    if failures >= self.attempts {
                        return Err(e);
                    }
                    backoff(FIRST_BACKOFF, failures - 1)
                }
            };
            tokio::time::sleep(pause).await;
        }
    }

    /// Sends `call` and reads its JSON body; `None` for `304`.
    pub async fn json<T: serde::de::DeserializeOwned>(
        &self,
        call: &Call<'_>,
    ) -> Result<Option<(T, header::HeaderMap)>, UpstreamError> {
        match self.send(call).await? {
            Answer::NotModified => Ok(None),
            Answer::Fresh { headers, body } => {
                let value = serde_json::from_slice(&body).map_err(|e| UpstreamError::Protocol(e.to_string()))?;
                Ok(Some((value, headers)))
            }
        }
    }

    /// A limit an answer's body reports (GraphQL's `RATE_LIMITED`, answered with `200`):
    /// waits until the spent budget comes back, or backs off when no answer said when.
    pub(crate) async fn limited(&self, attempt: u32) -> Result<(), UpstreamError> {
        let until = self.blocked_until.load(Ordering::Acquire);
        let now = now_ms();
        let wait = if until > now {
            Duration::from_millis((until - now) as u64)
        } else {
            backoff(FIRST_LIMIT_BACKOFF, attempt)
        };
        self.note_limit(wait)?;
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// Before a request: when the last answer spent the budget, wait until it comes back.
    async fn wait_for_budget(&self) -> Result<(), UpstreamError> {
        let until = self.blocked_until.load(Ordering::Acquire);
        let now = now_ms();
        if until > now {
            let wait = Duration::from_millis((until - now) as u64);
            self.note_limit(wait)?;
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    fn note_limit(&self, wait: Duration) -> Result<(), UpstreamError> {
        if wait > self.max_wait {
            return Err(UpstreamError::LimitTooLong { reset_at_ms: now_ms() + wait.as_millis() as i64 });
        }
        self.tally.rate_limit_waits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn exchange(&self, call: &Call<'_>) -> Exchange {
        let request = match self.outbound.request(call.method.clone(), call.url) {
            Ok(r) => r,
            Err(e) => return Exchange::Fatal(from_outbound(e)),
        };
        let mut request = request.timeout(TIMEOUT).max_body(MAX_BODY).header("accept", "application/json");
        request = match &self.auth {
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Basic { user, token } => request.basic_auth(user, Some(token)),
        };
        if let Some(etag) = call.if_none_match {
            request = request.header("if-none-match", etag);
        }
        if let Some(body) = call.body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(OutboundError::Refused(why)) => return Exchange::Fatal(UpstreamError::Refused(why)),
            Err(e) => return Exchange::Failed(from_outbound(e)),
        };
        let status = response.status();
        let headers = response.headers().clone();
        self.remember_budget(&headers);
        if status == StatusCode::NOT_MODIFIED {
            self.tally.not_modified.fetch_add(1, Ordering::Relaxed);
            return Exchange::Done(Answer::NotModified);
        }
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(OutboundError::TooLarge(n)) => {
                return Exchange::Fatal(UpstreamError::Protocol(format!("an answer larger than {n} bytes")));
            }
            Err(e) => return Exchange::Failed(from_outbound(e)),
        };
        if status.is_success() {
            return Exchange::Done(Answer::Fresh { headers, body });
        }
        let message = error_message(&body);
        match status.as_u16() {
            403 | 429 => {
                if let Some(wait) = limit_wait(&headers, now_ms()) {
                    return Exchange::Limited(Some(wait));
                }
                if status == StatusCode::TOO_MANY_REQUESTS || message.to_ascii_lowercase().contains("rate limit") {
                    return Exchange::Limited(None);
                }
                Exchange::Fatal(UpstreamError::Forbidden(message))
            }
            401 => Exchange::Fatal(UpstreamError::Unauthorized(message)),
            404 | 410 => Exchange::Fatal(UpstreamError::NotFound(message)),
            s if s >= 500 => Exchange::Failed(UpstreamError::Status { status: s, message }),
            s => Exchange::Fatal(UpstreamError::Status { status: s, message }),
        }
    }

    /// Keeps when a spent budget comes back, from any answer that says so.
    fn remember_budget(&self, headers: &header::HeaderMap) {
        let spent = header_i64(headers, "x-ratelimit-remaining") == Some(0);
        let until = match (spent, header_i64(headers, "x-ratelimit-reset")) {
            (true, Some(reset_secs)) => reset_secs * 1000 + 1000,
            _ => 0,
        };
        self.blocked_until.store(until, Ordering::Release);
    }
}

enum Exchange {
    Done(Answer),
    /// A rate limit: wait as long as said (or back off when not said), then send again.
    Limited(Option<Duration>),
    /// Worth another try after a pause.
    Failed(UpstreamError),
    Fatal(UpstreamError),
}

fn from_outbound(e: OutboundError) -> UpstreamError {
    match e {
        OutboundError::Refused(why) => UpstreamError::Refused(why),
        OutboundError::Timeout => UpstreamError::Unreachable("timed out".into()),
        OutboundError::Failed(why) => UpstreamError::Unreachable(why),
        OutboundError::TooLarge(n) => UpstreamError::Protocol(format!("an answer larger than {n} bytes")),
        OutboundError::Decode(why) => UpstreamError::Protocol(why),
    }
}

fn header_i64(headers: &header::HeaderMap, name: &str) -> Option<i64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// How long a refusal asks to wait: `Retry-After` (seconds, or an HTTP date), or the reset
/// of a spent budget.
fn limit_wait(headers: &header::HeaderMap, now: i64) -> Option<Duration> {
    if let Some(value) = headers.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()) {
        let value = value.trim();
        if let Ok(secs) = value.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(at) = httpdate::parse_http_date(value) {
            let at_ms = at.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
            return Some(Duration::from_millis((at_ms - now).max(0) as u64));
        }
    }
    if header_i64(headers, "x-ratelimit-remaining") == Some(0) {
        let reset = header_i64(headers, "x-ratelimit-reset")?;
        // A second past the reset: the reset is rounded down to the second.
        return Some(Duration::from_millis((reset * 1000 + 1000 - now).max(0) as u64));
    }
    None
}

/// `first × 2^n`, capped at an hour, with full jitter (a random pause up to that bound, at
/// least half of it), so retries of several sources do not arrive together.
fn backoff(first: Duration, n: u32) -> Duration {
    let bound = first.saturating_mul(1u32 << n.min(12)).min(Duration::from_secs(3600));
    let ms = bound.as_millis() as u64;
    Duration::from_millis(rand::thread_rng().gen_range(ms / 2..=ms.max(1)))
}

/// The message of an error body: GitHub's `message`, Jira's `errorMessages`, or the text.
fn error_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(m) = v["message"].as_str() {
            return m.to_owned();
        }
        if let Some(list) = v["errorMessages"].as_array() {
            let joined: Vec<&str> = list.iter().filter_map(|m| m.as_str()).collect();
            if !joined.is_empty() {
                return joined.join("; ");
            }
        }
    }
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> header::HeaderMap {
        let mut h = header::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = 1_700_000_000_000;
        assert_eq!(limit_wait(&headers(&[("retry-after", "7")]), now), Some(Duration::from_secs(7)));
        let at = httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_millis(now as u64 + 30_000));
        assert_eq!(limit_wait(&headers(&[("retry-after", &at)]), now), Some(Duration::from_secs(30)));
    }

    #[test]
    fn a_spent_budget_waits_until_a_second_past_its_reset() {
        let now = 1_700_000_000_000;
        let h = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1700000010")]);
        assert_eq!(limit_wait(&h, now), Some(Duration::from_secs(11)));
        let h = headers(&[("x-ratelimit-remaining", "12"), ("x-ratelimit-reset", "1700000010")]);
        assert_eq!(limit_wait(&h, now), None, "budget left: not a limit by itself");
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for n in 0..20 {
            let bound = Duration::from_millis(500).saturating_mul(1 << n.min(12)).min(Duration::from_secs(3600));
            let d = backoff(Duration::from_millis(500), n);
            assert!(d <= bound && d >= bound / 2, "attempt {n}: {d:?} against {bound:?}");
        }
    }

    #[test]
    fn error_messages_of_github_and_jira() {
        assert_eq!(error_message(br#"{"message":"Bad credentials","documentation_url":"x"}"#), "Bad credentials");
        assert_eq!(error_message(br#"{"errorMessages":["a","b"],"errors":{}}"#), "a; b");
        assert_eq!(error_message(b"Client must be authenticated"), "Client must be authenticated");
    }
}
