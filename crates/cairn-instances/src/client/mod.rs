//! Cairn's client of a tenant's AWS account: EC2 (instances, their status checks, reboot,
//! start, stop), CloudWatch (`GetMetricData`) and STS (`GetCallerIdentity`, `AssumeRole`),
//! over the official AWS SDK for Rust. Every request goes through the guarded outbound
//! client ([`http`]); each call is bounded in time and retried by the SDK's standard
//! strategy (throttling included); every failure comes back as an [`AwsError`] that says
//! whose it is.

mod error;
mod http;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider, future};
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use aws_sdk_ec2::config::{BehaviorVersion, Region};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::DateTime;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use cairn_outbound::Outbound;

pub use error::AwsError;

use crate::model::{CredentialsInput, Instance, MetricName, MetricPoint, MetricQuery, StatusChecks};

/// How long one call (all its attempts) may take: a request that reads several accounts
/// concurrently still answers within Cairn's 10-second bound.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(8);
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(4);
/// Attempts per call (the first and two retries, with the SDK's jittered backoff).
const ATTEMPTS: u32 = 3;
/// How long an assumed role's credentials are asked for (STS's minimum is 15 minutes).
const ROLE_SESSION: Duration = Duration::from_secs(3600);
/// The most pages one listing reads (`DescribeInstances` pages of 1,000, `GetMetricData`
/// pages): an endpoint that never stops giving a next token cannot fill the memory.
const MAX_PAGES: usize = 100;

/// The token of the page after `page`: `None` at the end. A token seen before, or one past
/// [`MAX_PAGES`], is an answer no AWS API gives.
fn next_page(seen: &mut Vec<String>, token: Option<&str>) -> Result<Option<String>, AwsError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else { return Ok(None) };
    if seen.iter().any(|t| t == token) || seen.len() + 1 >= MAX_PAGES {
        return Err(AwsError::Unreachable(format!(
            "the endpoint kept answering with more pages (a repeated token, or more than {MAX_PAGES} pages)"
        )));
    }
    seen.push(token.to_owned());
    Ok(Some(token.to_owned()))
}

/// What every account's clients share: the guarded HTTP client and the platform's own
/// credentials (for accounts reached by assuming a role).
#[derive(Clone, Debug)]
pub struct Platform {
    http: SharedHttpClient,
    credentials: Option<SharedCredentialsProvider>,
}

impl Platform {
    /// Requests through `outbound`; `credentials`: the platform's own, which roles are
    /// assumed with.
    pub fn new(outbound: Outbound, credentials: Option<SharedCredentialsProvider>) -> Self {
        Self { http: http::client(outbound), credentials }
    }

    /// The platform's credentials from the standard AWS chain: the `AWS_*` environment
    /// variables, the shared profile files, web identity, the ECS container's or the EC2
    /// instance's role. Those requests go to the platform's own endpoints (the container
    /// and instance metadata addresses among them) through `own`, a client the operator's
    /// network may reach, never the tenants' guarded one.
    ///
    /// The chain is built when a role is first assumed, not before: outside AWS its lookups
    /// (of the instance metadata address, say) would hold up whatever built it.
    pub fn default_credentials(own: Outbound) -> SharedCredentialsProvider {
        SharedCredentialsProvider::new(LazyChain { own, chain: tokio::sync::OnceCell::new() })
    }
}

/// The standard AWS credential chain, built on first use.
#[derive(Debug)]
struct LazyChain {
    own: Outbound,
    chain: tokio::sync::OnceCell<aws_config::default_provider::credentials::DefaultCredentialsChain>,
}

impl LazyChain {
    async fn credentials(&self) -> provider::Result {
        let chain = self
            .chain
            .get_or_init(|| async {
                let config = aws_config::provider_config::ProviderConfig::default()
                    .with_http_client(http::client(self.own.clone()));
                aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
                    .configure(config)
                    .build()
                    .await
            })
            .await;
        chain.provide_credentials().await
    }
}

impl ProvideCredentials for LazyChain {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.credentials())
    }
}

/// An account's clients: one connection per account, clients per region made on use.
#[derive(Clone, Debug)]
pub struct Connection {
    platform: Platform,
    endpoint_url: Option<String>,
    credentials: SharedCredentialsProvider,
    /// The region STS is called in for a role (the account's first).
    home_region: String,
}

impl Connection {
    pub fn new(platform: &Platform, access: &CredentialsInput, endpoint_url: Option<&str>, home_region: &str) -> Self {
        let credentials = match access {
            CredentialsInput::Keys { access_key_id, secret_access_key } => SharedCredentialsProvider::new(
                Credentials::new(access_key_id, secret_access_key, None, None, "cairn-account"),
            ),
            CredentialsInput::Role { role_arn, external_id } => SharedCredentialsProvider::new(AssumedRole {
                sts: sts_client(platform, platform.credentials.clone(), endpoint_url, home_region),
                role_arn: role_arn.clone(),
                external_id: external_id.clone(),
                kept: tokio::sync::Mutex::new(None),
            }),
        };
        Self {
            platform: platform.clone(),
            endpoint_url: endpoint_url.map(str::to_owned),
            credentials,
            home_region: home_region.to_owned(),
        }
    }

    fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        let mut config = aws_sdk_ec2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .credentials_provider(self.credentials.clone())
            .http_client(self.platform.http.clone())
            .timeout_config(timeouts())
            .retry_config(RetryConfig::standard().with_max_attempts(ATTEMPTS));
        if let Some(url) = &self.endpoint_url {
            config = config.endpoint_url(url);
        }
        aws_sdk_ec2::Client::from_conf(config.build())
    }

    fn cloudwatch(&self, region: &str) -> aws_sdk_cloudwatch::Client {
        let mut config = aws_sdk_cloudwatch::Config::builder()
            .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
            .region(aws_sdk_cloudwatch::config::Region::new(region.to_owned()))
            .credentials_provider(self.credentials.clone())
            .http_client(self.platform.http.clone())
            .timeout_config(timeouts())
            .retry_config(RetryConfig::standard().with_max_attempts(ATTEMPTS));
        if let Some(url) = &self.endpoint_url {
            config = config.endpoint_url(url);
        }
        aws_sdk_cloudwatch::Client::from_conf(config.build())
    }

    /// The AWS account number the credentials belong to (`sts:GetCallerIdentity`).
    pub async fn caller_account(&self) -> Result<String, AwsError> {
        let sts =
            sts_client(&self.platform, Some(self.credentials.clone()), self.endpoint_url.as_deref(), &self.home_region);
        let answer = sts.get_caller_identity().send().await.map_err(AwsError::from_sdk)?;
        Ok(answer.account().unwrap_or_default().to_owned())
    }

    /// Every instance in `region` (`ec2:DescribeInstances`, page after page); `account`
    /// names the account in each.
    pub async fn instances(&self, account: &str, region: &str) -> Result<Vec<Instance>, AwsError> {
        let ec2 = self.ec2(region);
        let mut found = Vec::new();
        let (mut token, mut seen) = (None, Vec::new());
        loop {
            let page = ec2
                .describe_instances()
                .max_results(1000)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            for reservation in page.reservations() {
                for i in reservation.instances() {
                    found.push(instance(account, region, i));
                }
            }
            match next_page(&mut seen, page.next_token())? {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        Ok(found)
    }

    /// One small `DescribeInstances` in `region`: whether the credentials may list there.
    pub async fn probe(&self, region: &str) -> Result<(), AwsError> {
        self.ec2(region).describe_instances().max_results(5).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    /// One instance's status checks (`ec2:DescribeInstanceStatus`, stopped instances too).
    pub async fn status_checks(&self, region: &str, id: &str) -> Result<Option<StatusChecks>, AwsError> {
        let answer = self
            .ec2(region)
            .describe_instance_status()
            .instance_ids(id)
            .include_all_instances(true)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(answer.instance_statuses().first().map(|s| StatusChecks {
            system: s.system_status().and_then(|x| x.status()).map(|x| x.as_str().to_owned()),
            instance: s.instance_status().and_then(|x| x.status()).map(|x| x.as_str().to_owned()),
            events: s
                .events()
                .iter()
                .map(|e| {
                    let code = e.code().map(|c| c.as_str()).unwrap_or("event");
                    match e.description() {
                        Some(d) => format!("{code}: {d}"),
                        None => code.to_owned(),
                    }
                })
                .collect(),
        }))
    }

    pub async fn reboot(&self, region: &str, id: &str) -> Result<(), AwsError> {
        self.ec2(region).reboot_instances().instance_ids(id).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    pub async fn start(&self, region: &str, id: &str) -> Result<(), AwsError> {
        self.ec2(region).start_instances().instance_ids(id).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    pub async fn stop(&self, region: &str, id: &str) -> Result<(), AwsError> {
        self.ec2(region).stop_instances().instance_ids(id).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    /// An instance's metric over the query's range (`cloudwatch:GetMetricData`), oldest
    /// point first.
    pub async fn metric(&self, region: &str, id: &str, q: &MetricQuery) -> Result<Vec<MetricPoint>, AwsError> {
        let query = MetricDataQuery::builder()
            .id("m0")
            .return_data(true)
            .metric_stat(
                MetricStat::builder()
                    .metric(
                        Metric::builder()
                            .namespace("AWS/EC2")
                            .metric_name(q.metric.as_str())
                            .dimensions(Dimension::builder().name("InstanceId").value(id).build())
                            .build(),
                    )
                    .period(q.period)
                    .stat(q.stat.as_str())
                    .build(),
            )
            .build();
        let cloudwatch = self.cloudwatch(region);
        let mut points = Vec::new();
        let (mut token, mut seen) = (None, Vec::new());
        loop {
            let page = cloudwatch
                .get_metric_data()
                .metric_data_queries(query.clone())
                .start_time(DateTime::from_millis(q.from))
                .end_time(DateTime::from_millis(q.to))
                .scan_by(ScanBy::TimestampAscending)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            for result in page.metric_data_results() {
                for (time, value) in result.timestamps().iter().zip(result.values()) {
                    if let Ok(time) = time.to_millis() {
                        points.push(MetricPoint { time, value: *value });
                    }
                }
            }
            match next_page(&mut seen, page.next_token())? {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        points.sort_by_key(|p| p.time);
        points.dedup_by_key(|p| p.time);
        Ok(points)
    }
}

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder().operation_timeout(OPERATION_TIMEOUT).operation_attempt_timeout(ATTEMPT_TIMEOUT).build()
}

fn sts_client(
    platform: &Platform,
    credentials: Option<SharedCredentialsProvider>,
    endpoint_url: Option<&str>,
    region: &str,
) -> aws_sdk_sts::Client {
    let mut config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new(region.to_owned()))
        .http_client(platform.http.clone())
        .timeout_config(timeouts())
        .retry_config(RetryConfig::standard().with_max_attempts(ATTEMPTS));
    if let Some(credentials) = credentials {
        config = config.credentials_provider(credentials);
    }
    if let Some(url) = endpoint_url {
        config = config.endpoint_url(url);
    }
    aws_sdk_sts::Client::from_conf(config.build())
}

/// Credentials of a role, assumed through STS with the platform's credentials and kept
/// until five minutes before they expire.
#[derive(Debug)]
struct AssumedRole {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    external_id: Option<String>,
    kept: tokio::sync::Mutex<Option<Credentials>>,
}

impl AssumedRole {
    async fn credentials(&self) -> provider::Result {
        let mut kept = self.kept.lock().await;
        let fresh =
            |c: &Credentials| c.expiry().is_none_or(|at| at > std::time::SystemTime::now() + Duration::from_secs(300));
        if let Some(c) = kept.as_ref().filter(|c| fresh(c)) {
            return Ok(c.clone());
        }
        let assumed = self.assume().await?;
        *kept = Some(assumed.clone());
        Ok(assumed)
    }

    async fn assume(&self) -> provider::Result {
        let answer = self
            .sts
            .assume_role()
            .role_arn(&self.role_arn)
            .set_external_id(self.external_id.clone())
            .role_session_name("cairn")
            .duration_seconds(ROLE_SESSION.as_secs() as i32)
            .send()
            .await
            .map_err(|e| provider::error::CredentialsError::provider_error(platform_error(e)))?;
        let c = answer.credentials().ok_or_else(|| {
            provider::error::CredentialsError::unhandled("STS answered AssumeRole without credentials")
        })?;
        let expires = std::time::SystemTime::try_from(*c.expiration()).ok();
        Ok(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            expires,
            "cairn-role",
        ))
    }
}

/// An `AssumeRole` failure: the platform's own credentials missing or refused are the
/// operator's to fix, not the tenant's; anything else is as AWS said.
fn platform_error<E>(
    e: aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> AwsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if error::cause::<provider::error::CredentialsError>(&e).is_some() {
        return AwsError::Platform(
            "Cairn has no AWS credentials of its own to assume roles with (aws_access_key_id, or the standard AWS chain)"
                .into(),
        );
    }
    match AwsError::from_sdk(e) {
        AwsError::Credentials { code, message } => AwsError::Platform(format!(
            "AWS refused Cairn's own credentials, with which roles are assumed ({code}): {message}"
        )),
        other => other,
    }
}

impl ProvideCredentials for AssumedRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.credentials())
    }
}

fn instance(account: &str, region: &str, i: &aws_sdk_ec2::types::Instance) -> Instance {
    let tags: BTreeMap<String, String> =
        i.tags().iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))).collect();
    Instance {
        id: i.instance_id().unwrap_or_default().to_owned(),
        account: account.to_owned(),
        region: region.to_owned(),
        name: tags.get("Name").cloned(),
        state: i.state().and_then(|s| s.name()).map(|s| s.as_str().to_owned()).unwrap_or_else(|| "unknown".into()),
        instance_type: i.instance_type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
        launched_at: i.launch_time().and_then(|t| t.to_millis().ok()),
        private_ip: i.private_ip_address().map(str::to_owned),
        public_ip: i.public_ip_address().map(str::to_owned),
        availability_zone: i.placement().and_then(|p| p.availability_zone()).map(str::to_owned),
        image_id: i.image_id().map(str::to_owned),
        architecture: i.architecture().map(|a| a.as_str().to_owned()),
        platform: i.platform_details().map(str::to_owned),
        vpc_id: i.vpc_id().map(str::to_owned),
        subnet_id: i.subnet_id().map(str::to_owned),
        key_name: i.key_name().map(str::to_owned),
        security_groups: i.security_groups().iter().filter_map(|g| g.group_id().map(str::to_owned)).collect(),
        state_reason: i.state_transition_reason().filter(|r| !r.is_empty()).map(str::to_owned),
        tags,
    }
}

/// A metric's name as CloudWatch spells it.
impl MetricName {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricName::CpuUtilization => "CPUUtilization",
            MetricName::NetworkIn => "NetworkIn",
            MetricName::NetworkOut => "NetworkOut",
            MetricName::DiskReadOps => "DiskReadOps",
            MetricName::DiskWriteOps => "DiskWriteOps",
            MetricName::StatusCheckFailed => "StatusCheckFailed",
        }
    }
}
