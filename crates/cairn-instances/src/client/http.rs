//! The AWS SDK's HTTP client, implemented over [`Outbound`]: every request the SDK makes
//! for a tenant's account (EC2, CloudWatch, STS, at AWS or at the account's `endpoint_url`)
//! goes through Cairn's one guarded client — its address checks at every connection, no
//! redirects, no proxy, bounded time and body —, with TLS through rustls on ring.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use cairn_outbound::{Method, Outbound, OutboundError};

/// The largest answer read from AWS: a `DescribeInstances` page of 1,000 instances is a few
/// megabytes of XML.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// The SDK's HTTP client over `outbound`.
pub(crate) fn client(outbound: Outbound) -> SharedHttpClient {
    SharedHttpClient::new(GuardedClient(outbound))
}

#[derive(Debug, Clone)]
struct GuardedClient(Outbound);

impl HttpClient for GuardedClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        // The SDK's read timeout (when one is set) bounds each attempt; the guarded
        // client's own bound applies otherwise.
        SharedHttpConnector::new(GuardedConnector { outbound: self.0.clone(), timeout: settings.read_timeout() })
    }
}

#[derive(Debug, Clone)]
struct GuardedConnector {
    outbound: Outbound,
    timeout: Option<std::time::Duration>,
}

impl HttpConnector for GuardedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let outbound = self.outbound.clone();
        let timeout = self.timeout;
        HttpConnectorFuture::new(async move { send(&outbound, request, timeout).await })
    }
}

async fn send(
    outbound: &Outbound,
    request: HttpRequest,
    timeout: Option<std::time::Duration>,
) -> Result<HttpResponse, ConnectorError> {
    let method = Method::from_bytes(request.method().as_bytes()).map_err(|e| ConnectorError::user(Box::new(e)))?;
    // EC2, CloudWatch (Query protocol) and STS send bodies held in memory; a streaming body
    // has no bytes to give, which no call of this crate makes.
    let body = request
        .body()
        .bytes()
        .ok_or_else(|| ConnectorError::user("a streaming request body cannot be sent".into()))?
        .to_vec();
    let mut outgoing = outbound.request(method, request.uri()).map_err(connector_error)?.max_body(MAX_BODY);
    for (name, value) in request.headers().iter() {
        outgoing = outgoing.header(name, value);
    }
    if let Some(timeout) = timeout {
        outgoing = outgoing.timeout(timeout);
    }
    let answer = outgoing.body(body).send().await.map_err(connector_error)?;
    let status =
        StatusCode::try_from(answer.status().as_u16()).map_err(|e| ConnectorError::other(Box::new(e), None))?;
    let headers: Vec<(String, String)> = answer
        .headers()
        .iter()
        .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str().to_owned(), v.to_owned())))
        .collect();
    let bytes = answer.bytes().await.map_err(connector_error)?;
    let mut response = HttpResponse::new(status, SdkBody::from(bytes));
    for (name, value) in headers {
        response.headers_mut().append(name, value);
    }
    Ok(response)
}

/// A guarded-client failure as the SDK classifies it: a refused address is the caller's
/// (never retried), a timeout is a timeout, a broken exchange is IO (retried). The
/// [`OutboundError`] stays the source, so callers can tell a refusal apart.
fn connector_error(e: OutboundError) -> ConnectorError {
    match e {
        OutboundError::Refused(_) => ConnectorError::user(Box::new(e)),
        OutboundError::Timeout => ConnectorError::timeout(Box::new(e)),
        OutboundError::Failed(_) => ConnectorError::io(Box::new(e)),
        OutboundError::TooLarge(_) | OutboundError::Decode(_) => ConnectorError::other(Box::new(e), None),
    }
}
