//! The one HTTP client for requests Cairn makes on a tenant's behalf: webhook deliveries,
//! SSO discovery, keys, token and userinfo calls, and every future client of a URL a
//! tenant gives. No other crate builds a client for such URLs.
//!
//! What it guarantees, for every request:
//! - the URL is http(s) with a host and no credentials, and https unless the operator
//!   allows plain http;
//! - every address a connection goes to is checked by [`guard`] — at DNS resolution, for
//!   every name, each time, so a public name that points inside the network (or is
//!   rebound to it) is refused too — and a literal address in the URL is checked before
//!   the request is sent;
//! - no redirects are followed, no proxy from the environment is used;
//! - the connection and the whole exchange are bounded in time, and an answer's body is
//!   read only up to a size cap.

pub mod guard;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_domain::ValidationError;
use serde::de::DeserializeOwned;

pub use guard::Class;
pub use reqwest::{Method, StatusCode, header};

/// How long a connection may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole request may take, unless the caller sets its own bound.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer body read, unless the caller sets its own cap.
pub const MAX_BODY: usize = 1024 * 1024;
/// How long the host's interface addresses are remembered before they are read again.
const OWN_ADDRESSES_TTL: Duration = Duration::from_secs(60);

/// What the operator allows beyond public https servers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Private, loopback, link-local and this host's own addresses may be reached
    /// (`outbound_allow_private`): receivers and providers inside the operator's network.
    pub allow_private: bool,
    /// Plain `http://` URLs may be used (`outbound_allow_http`).
    pub allow_http: bool,
}

/// Why a request did not get an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The URL or an address it resolves to is one the guard refuses.
    #[error("{0}")]
    Refused(String),
    #[error("timed out")]
    Timeout,
    /// The connection, TLS or HTTP exchange failed; the text names the causes but never
    /// the URL (whose query may carry a token).
    #[error("request failed: {0}")]
    Failed(String),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the answer is not what was expected: {0}")]
    Decode(String),
}

/// The guard's refusal at DNS resolution, found again in the connection error's causes.
#[derive(Debug)]
struct Refusal(String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

/// This host's interface addresses, read at most every [`OWN_ADDRESSES_TTL`].
#[derive(Debug, Default)]
struct OwnAddresses {
    cached: Mutex<Option<(Instant, Arc<Vec<IpAddr>>)>>,
}

impl OwnAddresses {
    fn get(&self) -> Arc<Vec<IpAddr>> {
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, list)) = cached.as_ref()
            && at.elapsed() < OWN_ADDRESSES_TTL
        {
            return list.clone();
        }
        let list = match if_addrs::get_if_addrs() {
            Ok(ifs) => ifs.into_iter().map(|i| i.ip()).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read this host's interface addresses");
                Vec::new()
            }
        };
        let list = Arc::new(list);
        *cached = Some((Instant::now(), list.clone()));
        list
    }
}

#[derive(Debug)]
struct Shared {
    policy: Policy,
    own: OwnAddresses,
}

impl Shared {
    /// `Err` with the reason when the guard refuses `ip`.
    fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        match guard::classify(ip, &self.own.get()) {
            Class::Public => Ok(()),
            Class::Internal(_) if self.policy.allow_private => Ok(()),
            Class::Internal(what) => Err(format!(
                "{ip} is a {what} address; the operator must allow private addresses (outbound_allow_private)"
            )),
            Class::Never(what) => Err(format!("{ip} is a {what} address, which no server has")),
        }
    }
}

/// Resolves names as the system does, then keeps only the addresses the guard allows.
struct GuardedResolver(Arc<Shared>);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let shared = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let usable: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match shared.check_ip(a.ip()) {
                    Ok(()) => true,
                    Err(why) => {
                        refused.get_or_insert(why);
                        false
                    }
                })
                .collect();
            if usable.is_empty() {
                let why = refused.unwrap_or_else(|| "no address".into());
                return Err(Box::new(Refusal(format!("{host} resolves to no allowed address ({why})")))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(usable.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The guarded client. Cheap to clone; every clone shares one connection pool.
#[derive(Debug, Clone)]
pub struct Outbound {
    client: reqwest::Client,
    shared: Arc<Shared>,
}

impl Outbound {
    /// A client following `policy`; `user_agent` names the Cairn feature making requests.
    pub fn new(policy: Policy) -> Self {
        // TLS is rustls on ring, as everywhere in Cairn (idempotent).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let shared = Arc::new(Shared { policy, own: OwnAddresses::default() });
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver(shared.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TIMEOUT)
            .user_agent(concat!("Cairn/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the outbound HTTP client builds");
        Self { client, shared }
    }

    pub fn policy(&self) -> Policy {
        self.shared.policy
    }

    /// Checks a URL a tenant gives (a webhook receiver, an SSO issuer, an API base) before
    /// it is stored: the error names `field`. Names are checked again whenever they resolve.
    pub fn check_url(&self, field: &str, raw: &str) -> Result<url::Url, ValidationError> {
        self.url(raw).map_err(|why| ValidationError::new(field, why))
    }

    fn url(&self, raw: &str) -> Result<url::Url, String> {
        if raw.len() > 2048 {
            return Err("at most 2048 characters".into());
        }
        let url = url::Url::parse(raw.trim()).map_err(|e| format!("not a URL: {e}"))?;
        match url.scheme() {
            "https" => {}
            "http" if self.shared.policy.allow_http => {}
            "http" => return Err("must be https; the operator must allow plain http (outbound_allow_http)".into()),
            _ if self.shared.policy.allow_http => return Err("must be http or https".into()),
            _ => return Err("must be an https URL".into()),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not contain credentials".into());
        }
        let ip = match url.host() {
            None => return Err("must name a host".into()),
            Some(url::Host::Ipv4(a)) => IpAddr::V4(a),
            Some(url::Host::Ipv6(a)) => IpAddr::V6(a),
            // Resolved (and guarded) at connection time; `localhost` is refused here already
            // so the mistake shows when the URL is saved.
            Some(url::Host::Domain(d)) => {
                let d = d.trim_end_matches('.');
                if d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost") {
                    IpAddr::from([127, 0, 0, 1])
                } else {
                    return Ok(url);
                }
            }
        };
        self.shared.check_ip(ip)?;
        Ok(url)
    }

    /// A request to `url`, checked first; nothing is sent for a refused URL.
    pub fn request(&self, method: Method, url: &str) -> Result<Request, OutboundError> {
        let url = self.url(url).map_err(OutboundError::Refused)?;
        Ok(Request { inner: self.client.request(method, url), limit: MAX_BODY })
    }

    pub fn get(&self, url: &str) -> Result<Request, OutboundError> {
        self.request(Method::GET, url)
    }

    pub fn post(&self, url: &str) -> Result<Request, OutboundError> {
        self.request(Method::POST, url)
    }
}

/// A request being built; [`Request::send`] sends it.
#[derive(Debug)]
pub struct Request {
    inner: reqwest::RequestBuilder,
    limit: usize,
}

impl Request {
    pub fn header(self, name: &str, value: impl AsRef<str>) -> Self {
        Self { inner: self.inner.header(name, value.as_ref()), ..self }
    }

    pub fn bearer_auth(self, token: &str) -> Self {
        Self { inner: self.inner.bearer_auth(token), ..self }
    }

    pub fn basic_auth(self, user: &str, password: Option<&str>) -> Self {
        Self { inner: self.inner.basic_auth(user, password), ..self }
    }

    /// An `application/x-www-form-urlencoded` body.
    pub fn form<T: serde::Serialize + ?Sized>(self, form: &T) -> Self {
        Self { inner: self.inner.form(form), ..self }
    }

    /// A JSON body.
    pub fn json<T: serde::Serialize + ?Sized>(self, body: &T) -> Self {
        Self { inner: self.inner.json(body), ..self }
    }

    pub fn body(self, body: Vec<u8>) -> Self {
        Self { inner: self.inner.body(body), ..self }
    }

    /// A shorter (or longer) bound than [`TIMEOUT`] on the whole exchange.
    pub fn timeout(self, timeout: Duration) -> Self {
        Self { inner: self.inner.timeout(timeout), ..self }
    }

    /// Another cap than [`MAX_BODY`] on the answer's body.
    pub fn max_body(self, limit: usize) -> Self {
        Self { limit, ..self }
    }

    pub async fn send(self) -> Result<Response, OutboundError> {
        let inner = self.inner.send().await.map_err(failure)?;
        Ok(Response { inner, limit: self.limit })
    }
}

/// An answer whose body is read only up to its cap.
#[derive(Debug)]
pub struct Response {
    inner: reqwest::Response,
    limit: usize,
}

impl Response {
    pub fn status(&self) -> StatusCode {
        self.inner.status()
    }

    pub fn headers(&self) -> &header::HeaderMap {
        self.inner.headers()
    }

    /// The body, or [`OutboundError::TooLarge`] past the cap.
    pub async fn bytes(mut self) -> Result<Vec<u8>, OutboundError> {
        if self.inner.content_length().is_some_and(|n| n > self.limit as u64) {
            return Err(OutboundError::TooLarge(self.limit));
        }
        let mut body = Vec::new();
        while let Some(chunk) = self.inner.chunk().await.map_err(failure)? {
            if body.len() + chunk.len() > self.limit {
                return Err(OutboundError::TooLarge(self.limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// The body as JSON of type `T`.
    pub async fn json<T: DeserializeOwned>(self) -> Result<T, OutboundError> {
        let body = self.bytes().await?;
        serde_json::from_slice(&body).map_err(|e| OutboundError::Decode(e.to_string()))
    }

    /// The body as JSON, after checking the status is a success.
    pub async fn success_json<T: DeserializeOwned>(self) -> Result<T, OutboundError> {
        let status = self.status();
        if !status.is_success() {
            return Err(OutboundError::Failed(format!("the server answered {status}")));
        }
        self.json().await
    }
}

/// A request error without its URL, with its causes; the guard's refusal keeps its kind.
fn failure(e: reqwest::Error) -> OutboundError {
    use std::error::Error;
    if e.is_timeout() {
        return OutboundError::Timeout;
    }
    let mut text = String::new();
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(refusal) = s.downcast_ref::<Refusal>() {
            return OutboundError::Refused(refusal.0.clone());
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&s.to_string());
        source = s.source();
    }
    if text.is_empty() {
        text = e.without_url().to_string();
    }
    OutboundError::Failed(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> Outbound {
        Outbound::new(Policy::default())
    }

    #[test]
    fn urls_are_checked_before_anything_is_sent() {
        let out = strict();
        assert!(out.check_url("url", "https://example.com/hook").is_ok());
        for (raw, says) in [
            ("http://example.com/", "must be https"),
            ("ftp://example.com/", "https URL"),
            ("https://user:pw@example.com/", "credentials"),
            ("https://127.0.0.1/", "loopback"),
            ("https://2130706433/", "loopback"),
            ("https://0x7f.1/", "loopback"),
            ("https://169.254.169.254/latest/meta-data/", "link-local"),
            ("https://10.0.0.1/", "private"),
            ("https://[fd00::1]/", "unique local"),
            ("https://[::7f00:1]/", "IPv4-compatible"),
            ("https://[::ffff:0:7f00:1]/", "IPv4-translated"),
            ("https://[::ffff:127.0.0.1]/", "IPv4-mapped"),
            ("https://[64:ff9b::a00:1]/", "NAT64"),
            ("https://[2002:a00:1::]/", "6to4"),
            ("https://[fec0::1]/", "site-local"),
            ("https://198.18.0.1/", "benchmarking"),
            ("https://240.0.0.1/", "reserved"),
            ("https://192.0.0.1/", "IETF"),
            ("https://192.0.2.1/", "documentation"),
            ("https://localhost:8443/", "loopback"),
            ("https://api.localhost./", "loopback"),
            ("https://0.0.0.0/", "no server"),
        ] {
            let e = out.check_url("issuer", raw).expect_err(raw);
            assert_eq!(e.field, "issuer");
            assert!(e.message.contains(says), "{raw}: {}", e.message);
        }
    }

    #[test]
    fn the_operator_can_allow_private_addresses_and_http() {
        let out = Outbound::new(Policy { allow_private: true, allow_http: true });
        assert!(out.check_url("url", "http://127.0.0.1:8080/").is_ok());
        assert!(out.check_url("url", "https://[fd00::1]/").is_ok());
        assert!(out.check_url("url", "https://0.0.0.0/").is_err());
    }

    #[tokio::test]
    async fn a_name_that_resolves_inside_is_refused_at_connection_time() {
        use reqwest::dns::Resolve;
        // The resolver sees every name a connection goes to, whatever the URL check said.
        let strict = GuardedResolver(Arc::new(Shared { policy: Policy::default(), own: OwnAddresses::default() }));
        let e = match strict.resolve("localhost".parse().unwrap()).await {
            Ok(_) => panic!("localhost resolved to an allowed address"),
            Err(e) => e,
        };
        assert!(e.to_string().contains("resolves to no allowed address"), "{e}");
        let lenient = GuardedResolver(Arc::new(Shared {
            policy: Policy { allow_private: true, allow_http: true },
            own: OwnAddresses::default(),
        }));
        let found: Vec<SocketAddr> = lenient.resolve("localhost".parse().unwrap()).await.unwrap().collect();
        assert!(found.iter().all(|a| a.ip().is_loopback()) && !found.is_empty(), "{found:?}");
    }

    #[test]
    fn this_hosts_interface_addresses_are_known() {
        let own = OwnAddresses::default().get();
        assert!(own.iter().any(|a| a.is_loopback()), "{own:?}");
    }

    #[tokio::test]
    async fn no_redirect_is_followed_and_bodies_are_capped() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for answer in [
                "HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/\r\nContent-Length: 0\r\n\r\n".to_owned(),
                format!("HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n{}", "x".repeat(4096)),
                format!(
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n{}\r\n0\r\n\r\n",
                    "y".repeat(4096)
                ),
            ] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                s.write_all(answer.as_bytes()).await.unwrap();
                let _ = s.shutdown().await;
            }
        });
        let out = Outbound::new(Policy { allow_private: true, allow_http: true });
        let url = format!("http://{addr}/");
        let r = out.get(&url).unwrap().send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FOUND);
        let e = out.get(&url).unwrap().max_body(1024).send().await.unwrap().bytes().await.unwrap_err();
        assert_eq!(e, OutboundError::TooLarge(1024));
        let e = out.get(&url).unwrap().max_body(1024).send().await.unwrap().bytes().await.unwrap_err();
        assert_eq!(e, OutboundError::TooLarge(1024));
    }
}
