//! gix's HTTP transport over Cairn's guarded outbound client: every request of a fetch
//! (`info/refs`, then each `git-upload-pack` exchange) is one [`Outbound`] request, so the
//! address guard, the refusal of redirects and proxies, the timeouts and the size cap apply
//! to git as to every other request made for a tenant.
//!
//! gix drives the transport synchronously and reads answers as `BufRead`; `Outbound` is
//! async and reads a body whole up to its cap. Each exchange is therefore sent on the
//! caller's tokio runtime (`Handle::block_on`, from the blocking thread the caller runs the
//! fetch on) when gix first reads its answer, after it has written the whole request body.

use std::io::{self, BufRead, Cursor, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use cairn_outbound::{Method, Outbound, OutboundError, header};
use gix::bstr::BString;
use gix::protocol::transport::client::AuthenticationRequired;
use gix::protocol::transport::client::blocking_io::http::{GetResponse, Http, PostBodyDataKind, PostResponse};

use crate::mirror::FetchLimits;

/// Why an exchange got no usable answer: kept for the caller, whose error says it in Cairn's
/// words rather than through gix's chain of causes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The guard refused the URL or every address its name resolves to.
    Refused(String),
    /// The server answered with this status.
    Status(u16),
    /// The server answered, but not as a git server: no smart-HTTP content type.
    NotGit(String),
    /// The connection failed, timed out, or the answer was too large.
    Transport(String),
}

/// The gix [`Http`] implementation. One per fetch; `failure` holds the first failure.
pub(crate) struct OutboundHttp {
    outbound: Outbound,
    runtime: tokio::runtime::Handle,
    limits: FetchLimits,
    pub(crate) failure: Arc<Mutex<Option<Failure>>>,
}

impl OutboundHttp {
    pub(crate) fn new(outbound: Outbound, runtime: tokio::runtime::Handle, limits: FetchLimits) -> Self {
        Self { outbound, runtime, limits, failure: Arc::default() }
    }

    fn exchange(
        &self,
        method: Method,
        url: &str,
        headers: impl IntoIterator<Item = impl AsRef<str>>,
        with_body: bool,
    ) -> Arc<Mutex<Exchange>> {
        let headers = headers
            .into_iter()
            .filter_map(|line| {
                let (name, value) = line.as_ref().split_once(':')?;
                Some((name.trim().to_owned(), value.trim().to_owned()))
            })
            .collect();
        Arc::new(Mutex::new(Exchange::Pending(Pending {
            method,
            url: url.to_owned(),
            headers,
            body: with_body.then(Vec::new),
            outbound: self.outbound.clone(),
            runtime: self.runtime.clone(),
            limits: self.limits,
            failure: self.failure.clone(),
        })))
    }
}

impl Http for OutboundHttp {
    type Headers = Reply;
    type ResponseBody = Reply;
    type PostBody = RequestBody;

    fn get(
        &mut self,
        url: &str,
        _base_url: &str,
        headers: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> gix::Result<GetResponse<Reply, Reply>> {
        let exchange = self.exchange(Method::GET, url, headers, false);
        Ok(GetResponse { headers: Reply::new(&exchange, Part::Headers), body: Reply::new(&exchange, Part::Body) })
    }

    fn post(
        &mut self,
        url: &str,
        _base_url: &str,
        headers: impl IntoIterator<Item = impl AsRef<str>>,
        _body: PostBodyDataKind,
    ) -> gix::Result<PostResponse<Reply, Reply, RequestBody>> {
        let exchange = self.exchange(Method::POST, url, headers, true);
        Ok(PostResponse {
            post_body: RequestBody(exchange.clone()),
            headers: Reply::new(&exchange, Part::Headers),
            body: Reply::new(&exchange, Part::Body),
        })
    }

    /// git's `http.*` configuration (proxies, TLS settings, extra headers) is not used:
    /// the outbound client's policy is the only one.
    fn configure(&mut self, _config: &dyn std::any::Any) -> gix::Result {
        Ok(())
    }
}

/// A request not sent yet.
struct Pending {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    /// `Some` for a POST: what gix writes before it reads the answer.
    body: Option<Vec<u8>>,
    outbound: Outbound,
    runtime: tokio::runtime::Handle,
    limits: FetchLimits,
    failure: Arc<Mutex<Option<Failure>>>,
}

/// The answer's header lines (`Name: value`) and body.
struct Answer {
    headers: Option<Vec<u8>>,
    body: Option<Vec<u8>>,
}

enum Exchange {
    Pending(Pending),
    Answered(Result<Answer, (Failure, Vec<BString>)>),
    Taken,
}

fn lock(exchange: &Mutex<Exchange>) -> MutexGuard<'_, Exchange> {
    exchange.lock().unwrap_or_else(|p| p.into_inner())
}

impl Pending {
    /// Sends the request and reads the whole answer (up to the cap).
    fn send(self) -> Result<Answer, (Failure, Vec<BString>)> {
        let Pending { method, url, headers, body, outbound, runtime, limits, failure } = self;
        let result = runtime.block_on(async move {
            let mut request = outbound.request(method, &url).map_err(|e| (failed(e), Vec::new()))?;
            for (name, value) in &headers {
                request = request.header(name, value);
            }
            if let Some(body) = body {
                request = request.body(body);
            }
            let response = request
                .timeout(limits.timeout)
                .max_body(limits.max_response_bytes)
                .send()
                .await
                .map_err(|e| (failed(e), Vec::new()))?;
            let status = response.status();
            if !status.is_success() {
                let challenges = response
                    .headers()
                    .get_all(header::WWW_AUTHENTICATE)
                    .iter()
                    .map(|v| BString::from(v.as_bytes()))
                    .collect();
                return Err((Failure::Status(status.as_u16()), challenges));
            }
            let content_type =
                response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            if !content_type.starts_with("application/x-git-") {
                return Err((
                    Failure::NotGit(format!(
                        "the server answered with {content_type:?}, not git's smart HTTP protocol"
                    )),
                    Vec::new(),
                ));
            }
            let mut head = String::new();
            for (name, value) in response.headers() {
                if let Ok(value) = value.to_str() {
                    head.push_str(&format!("{name}: {value}\n"));
                }
            }
            let body = response.bytes().await.map_err(|e| (failed(e), Vec::new()))?;
            Ok(Answer { headers: Some(head.into_bytes()), body: Some(body) })
        });
        if let Err((why, _)) = &result {
            failure.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(|| why.clone());
        }
        result
    }
}

fn failed(e: OutboundError) -> Failure {
    match e {
        OutboundError::Refused(why) => Failure::Refused(why),
        other => Failure::Transport(other.to_string()),
    }
}

/// The io error gix expects for a failure: `PermissionDenied` carrying the challenges for a
/// 401, so gix asks for credentials (which Cairn does not give).
fn io_error(failure: &Failure, challenges: &[BString]) -> io::Error {
    match failure {
        Failure::Status(401) => io::Error::new(
            io::ErrorKind::PermissionDenied,
            AuthenticationRequired { www_authenticate: challenges.to_vec() },
        ),
        Failure::Status(status) => io::Error::other(format!("the server answered {status}")),
        Failure::Refused(why) | Failure::NotGit(why) | Failure::Transport(why) => io::Error::other(why.clone()),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Headers,
    Body,
}

/// One part of an answer, read once the request is sent.
pub(crate) struct Reply {
    exchange: Arc<Mutex<Exchange>>,
    part: Part,
    read: Option<Cursor<Vec<u8>>>,
}

impl Reply {
    fn new(exchange: &Arc<Mutex<Exchange>>, part: Part) -> Self {
        Self { exchange: exchange.clone(), part, read: None }
    }

    /// The part's bytes, sending the request first if no part was read yet.
    fn ready(&mut self) -> io::Result<&mut Cursor<Vec<u8>>> {
        if self.read.is_none() {
            // (The guard is a temporary of this statement: released before the match.)
            let state = std::mem::replace(&mut *lock(&self.exchange), Exchange::Taken);
            let pending = match state {
                Exchange::Pending(pending) => Some(pending),
                other => {
                    *lock(&self.exchange) = other;
                    None
                }
            };
            if let Some(pending) = pending {
                // Not holding the lock while the request is out.
                let answered = pending.send();
                *lock(&self.exchange) = Exchange::Answered(answered);
            }
            let bytes = match &mut *lock(&self.exchange) {
                Exchange::Answered(Ok(answer)) => match self.part {
                    Part::Headers => answer.headers.take(),
                    Part::Body => answer.body.take(),
                }
                .unwrap_or_default(),
                Exchange::Answered(Err((failure, challenges))) => return Err(io_error(failure, challenges)),
                Exchange::Pending(_) | Exchange::Taken => {
                    return Err(io::Error::other("the answer to an HTTP request was read twice"));
                }
            };
            self.read = Some(Cursor::new(bytes));
        }
        Ok(self.read.as_mut().expect("the part was just read"))
    }
}

impl Read for Reply {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.ready()?.read(buf)
    }
}

impl BufRead for Reply {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.ready()?.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if let Some(read) = self.read.as_mut() {
            read.consume(amt);
        }
    }
}

/// What gix writes as a POST's body, sent when it reads the answer.
pub(crate) struct RequestBody(Arc<Mutex<Exchange>>);

impl Write for RequestBody {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut *lock(&self.0) {
            Exchange::Pending(Pending { body: Some(body), .. }) => {
                body.extend_from_slice(buf);
                Ok(buf.len())
            }
            _ => Err(io::Error::other("the request was already sent")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
