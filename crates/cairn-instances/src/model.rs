//! The console's vocabulary: cloud accounts and what a caller gives for one (checked
//! here, once), instances as AWS describes them, the list's filters, and metric queries.

use std::collections::BTreeMap;

use cairn_domain::{Id, IdKind, ValidationError};

/// What an [`AccountId`] names.
#[derive(Debug)]
pub enum AccountIdKind {}

impl IdKind for AccountIdKind {
    const WHAT: &'static str = "account";
}

/// A cloud account's id in Cairn.
pub type AccountId = Id<AccountIdKind>;

/// How Cairn signs in to an account, as stored (the secret key never leaves sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountAuth {
    Keys { access_key_id: String },
    Role { role_arn: String, external_id: Option<String> },
}

/// A connected AWS account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    /// Its name in Cairn: lower-case letters, digits and `-`; it names the account in
    /// instance URLs.
    pub name: String,
    pub regions: Vec<String>,
    pub auth: AccountAuth,
    pub endpoint_url: Option<String>,
    /// The AWS account number the credentials belong to, as STS said when they were tried.
    pub aws_account_id: String,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
}

/// Credentials a caller gives: an access key, or a role to assume.
#[derive(Clone, PartialEq, Eq)]
pub enum CredentialsInput {
    Keys { access_key_id: String, secret_access_key: String },
    Role { role_arn: String, external_id: Option<String> },
}

impl std::fmt::Debug for CredentialsInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialsInput::Keys { access_key_id, .. } => {
                f.debug_struct("Keys").field("access_key_id", access_key_id).finish_non_exhaustive()
            }
            CredentialsInput::Role { role_arn, external_id } => {
                f.debug_struct("Role").field("role_arn", role_arn).field("external_id", external_id).finish()
            }
        }
    }
}

/// The credential fields of a request, as given: [`CredentialsInput::check`] turns them into
/// one kind or names what is wrong.
#[derive(Default)]
pub struct CredentialFields {
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
}

impl CredentialFields {
    /// Whether any credential field was given.
    pub fn any(&self) -> bool {
        self.access_key_id.is_some()
            || self.secret_access_key.is_some()
            || self.role_arn.is_some()
            || self.external_id.is_some()
    }
}

impl CredentialsInput {
    /// An access key (`access_key_id` with `secret_access_key`) or a role (`role_arn`, with
    /// an optional `external_id`), not both.
    pub fn check(f: CredentialFields) -> Result<CredentialsInput, ValidationError> {
        match (f.access_key_id, f.secret_access_key, f.role_arn) {
            (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => Err(ValidationError::new(
                "role_arn",
                "give either an access key (access_key_id, secret_access_key) or a role_arn, not both",
            )),
            (None, None, None) => Err(ValidationError::new(
                "access_key_id",
                "give an access key (access_key_id, secret_access_key) or a role_arn",
            )),
            (Some(key), secret, None) => {
                if f.external_id.is_some() {
                    return Err(ValidationError::new("external_id", "goes with a role_arn only"));
                }
                let key = key.trim();
                if !(16..=128).contains(&key.len())
                    || !key.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                {
                    return Err(ValidationError::new(
                        "access_key_id",
                        "must be an AWS access key id: 16–128 upper-case letters and digits (AKIA…)",
                    ));
                }
                let Some(secret) = secret else {
                    return Err(ValidationError::new("secret_access_key", "is required with access_key_id"));
                };
                if secret.is_empty()
                    || secret.len() > 128
                    || secret.chars().any(|c| c.is_whitespace() || c.is_control())
                {
                    return Err(ValidationError::new(
                        "secret_access_key",
                        "must be an AWS secret access key: 1–128 characters without spaces",
                    ));
                }
                Ok(CredentialsInput::Keys { access_key_id: key.to_owned(), secret_access_key: secret })
            }
            (None, Some(_), None) => Err(ValidationError::new("access_key_id", "is required with secret_access_key")),
            (None, None, Some(arn)) => {
                let arn = arn.trim().to_owned();
                if !role_arn_ok(&arn) {
                    return Err(ValidationError::new(
                        "role_arn",
                        "must be an IAM role ARN: arn:aws:iam::<12-digit account>:role/<name>",
                    ));
                }
                let external_id = f.external_id.map(|e| e.trim().to_owned());
                if let Some(e) = &external_id
                    && (!(2..=1224).contains(&e.len())
                        || !e.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c)))
                {
                    return Err(ValidationError::new(
                        "external_id",
                        "must be 2–1224 letters, digits or any of + = , . @ : / - _",
                    ));
                }
                Ok(CredentialsInput::Role { role_arn: arn, external_id })
            }
        }
    }
}

/// `arn:<partition>:iam::<12 digits>:role/<path and name>`.
fn role_arn_ok(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [arn_, partition, service, region, account, resource] = parts.as_slice() else { return false };
    *arn_ == "arn"
        && matches!(
            *partition,
            "aws" | "aws-cn" | "aws-us-gov" | "aws-iso" | "aws-iso-b" | "aws-iso-e" | "aws-iso-f" | "aws-eusc"
        )
        && *service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource.strip_prefix("role/").is_some_and(|name| {
            (1..=512).contains(&name.len())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
                && !name.ends_with('/')
        })
}

/// An account's name: 1–40 of lower-case letters, digits and `-`, starting with a letter or
/// digit (it names the account in URLs).
pub fn check_account_name(name: &str) -> Result<String, ValidationError> {
    let ok = (1..=40).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-');
    if name == "accounts" {
        // `/instances/accounts` lists the accounts themselves.
        return Err(ValidationError::new("name", "is reserved; choose another"));
    }
    if ok {
        Ok(name.to_owned())
    } else {
        Err(ValidationError::new("name", "must be 1–40 lower-case letters, digits or '-', not starting with '-'"))
    }
}

/// An AWS region's code (`eu-central-1`, `us-gov-west-1`, `cn-north-1`).
pub fn check_region(field: &str, region: &str) -> Result<String, ValidationError> {
    let parts: Vec<&str> = region.split('-').collect();
    let ok = region.len() <= 30
        && parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok_and(|n| n > 0);
    if ok {
        Ok(region.to_owned())
    } else {
        Err(ValidationError::new(field, "must be an AWS region code such as eu-central-1"))
    }
}

/// An account's regions: 1–25 region codes, each once.
pub fn check_regions(regions: &[String]) -> Result<Vec<String>, ValidationError> {
    if regions.is_empty() || regions.len() > 25 {
        return Err(ValidationError::new("regions", "must list 1–25 regions"));
    }
    let mut checked: Vec<String> = Vec::with_capacity(regions.len());
    for (i, r) in regions.iter().enumerate() {
        let r = check_region(&format!("regions[{i}]"), r.trim())?;
        if checked.contains(&r) {
            return Err(ValidationError::new(format!("regions[{i}]"), "is listed twice"));
        }
        checked.push(r);
    }
    Ok(checked)
}

/// An account to connect, checked (its credentials are tried before it is stored).
#[derive(Debug, Clone)]
pub struct AccountInput {
    pub name: String,
    pub regions: Vec<String>,
    pub credentials: CredentialsInput,
    pub endpoint_url: Option<String>,
}

/// Changes to an account; what is `None` stays. New credentials replace the old ones whole.
#[derive(Debug, Clone, Default)]
pub struct AccountPatch {
    pub name: Option<String>,
    pub regions: Option<Vec<String>>,
    pub credentials: Option<CredentialsInput>,
    /// `Some(None)` goes back to AWS's own endpoints.
    pub endpoint_url: Option<Option<String>>,
}

/// An instance as AWS describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: String,
    /// The account's name in Cairn.
    pub account: String,
    pub region: String,
    /// The `Name` tag.
    pub name: Option<String>,
    /// `pending`, `running`, `stopping`, `stopped`, `shutting-down` or `terminated`.
    pub state: String,
    pub instance_type: String,
    pub launched_at: Option<i64>,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
    pub availability_zone: Option<String>,
    pub image_id: Option<String>,
    pub architecture: Option<String>,
    pub platform: Option<String>,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub key_name: Option<String>,
    pub security_groups: Vec<String>,
    /// Why the state last changed, as AWS says it.
    pub state_reason: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// An instance's status checks (`ok`, `impaired`, `initializing`, `insufficient-data`,
/// `not-applicable`) and scheduled events.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusChecks {
    pub system: Option<String>,
    pub instance: Option<String>,
    pub events: Vec<String>,
}

/// The states AWS gives an instance.
pub const STATES: [&str; 6] = ["pending", "running", "stopping", "stopped", "shutting-down", "terminated"];

/// Which instances a list shows: all that match every filter given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub state: Option<String>,
    /// `Key:Value` pairs; each must be among the instance's tags.
    pub tags: Vec<(String, String)>,
    /// Part of the `Name` tag or of the id, in any case.
    pub name: Option<String>,
    /// The account's name.
    pub account: Option<String>,
    pub region: Option<String>,
}

impl ListFilter {
    /// The filters of a list request, checked.
    pub fn check(
        state: Option<&str>,
        tags: &[String],
        name: Option<&str>,
        account: Option<&str>,
        region: Option<&str>,
    ) -> Result<ListFilter, ValidationError> {
        let state = match state.filter(|s| !s.is_empty()) {
            Some(s) if STATES.contains(&s) => Some(s.to_owned()),
            Some(_) => return Err(ValidationError::new("state", format!("must be one of {}", STATES.join(", ")))),
            None => None,
        };
        let tags = tags
            .iter()
            .map(|t| match t.split_once(':') {
                Some((k, v)) if !k.is_empty() && k.len() <= 128 && v.len() <= 256 => Ok((k.to_owned(), v.to_owned())),
                _ => Err(ValidationError::new("tag", "must be Key:Value (a key of 1–128 characters)")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if tags.len() > 10 {
            return Err(ValidationError::new("tag", "at most 10 tag filters"));
        }
        let name = name.map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
        if name.as_ref().is_some_and(|n| n.len() > 256) {
            return Err(ValidationError::new("name", "at most 256 characters"));
        }
        let account = account.filter(|a| !a.is_empty()).map(check_account_name).transpose().map_err(|_| {
            ValidationError::new("account", "must be an account's name: lower-case letters, digits or '-'")
        })?;
        let region = region.filter(|r| !r.is_empty()).map(|r| check_region("region", r)).transpose()?;
        Ok(ListFilter { state, tags, name, account, region })
    }

    pub fn matches(&self, i: &Instance) -> bool {
        self.state.as_ref().is_none_or(|s| *s == i.state)
            && self.account.as_ref().is_none_or(|a| *a == i.account)
            && self.region.as_ref().is_none_or(|r| *r == i.region)
            && self.tags.iter().all(|(k, v)| i.tags.get(k) == Some(v))
            && self.name.as_ref().is_none_or(|n| {
                let n = n.to_lowercase();
                i.id.to_lowercase().contains(&n) || i.name.as_ref().is_some_and(|name| name.to_lowercase().contains(&n))
            })
    }
}

/// The instance metrics Cairn charts (CloudWatch's `AWS/EC2` namespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricName {
    CpuUtilization,
    NetworkIn,
    NetworkOut,
    DiskReadOps,
    DiskWriteOps,
    StatusCheckFailed,
}

impl MetricName {
    pub const ALL: [MetricName; 6] = [
        MetricName::CpuUtilization,
        MetricName::NetworkIn,
        MetricName::NetworkOut,
        MetricName::DiskReadOps,
        MetricName::DiskWriteOps,
        MetricName::StatusCheckFailed,
    ];

    pub fn parse(s: &str) -> Result<MetricName, ValidationError> {
        MetricName::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = MetricName::ALL.iter().map(|m| m.as_str()).collect();
            ValidationError::new("metric", format!("must be one of {}", names.join(", ")))
        })
    }

    /// CloudWatch's unit of the metric.
    pub fn unit(self) -> &'static str {
        match self {
            MetricName::CpuUtilization => "Percent",
            MetricName::NetworkIn | MetricName::NetworkOut => "Bytes",
            MetricName::DiskReadOps | MetricName::DiskWriteOps | MetricName::StatusCheckFailed => "Count",
        }
    }

    /// The statistic shown unless another is asked for: the average for rates and
    /// utilisation, the maximum for the status check (any failure in a period shows).
    pub fn default_stat(self) -> Stat {
        match self {
            MetricName::StatusCheckFailed => Stat::Maximum,
            MetricName::NetworkIn | MetricName::NetworkOut => Stat::Sum,
            _ => Stat::Average,
        }
    }
}

/// A CloudWatch statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    Average,
    Sum,
    Minimum,
    Maximum,
    SampleCount,
}

impl Stat {
    pub fn as_str(self) -> &'static str {
        match self {
            Stat::Average => "Average",
            Stat::Sum => "Sum",
            Stat::Minimum => "Minimum",
            Stat::Maximum => "Maximum",
            Stat::SampleCount => "SampleCount",
        }
    }

    pub fn parse(s: &str) -> Result<Stat, ValidationError> {
        [Stat::Average, Stat::Sum, Stat::Minimum, Stat::Maximum, Stat::SampleCount]
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| ValidationError::new("stat", "must be Average, Sum, Minimum, Maximum or SampleCount"))
    }
}

/// The most points one metrics call returns.
pub const MAX_POINTS: i64 = 1440;
/// How far back CloudWatch keeps data (15 months).
const RETENTION_MS: i64 = 455 * 24 * 3600 * 1000;

/// A metric over `[from, to)` (epoch ms) in periods of `period` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricQuery {
    pub metric: MetricName,
    pub stat: Stat,
    pub from: i64,
    pub to: i64,
    pub period: i32,
}

impl MetricQuery {
    /// Checks a query at `now`: `from` before `to`, neither more than 15 months back nor in
    /// the future (beyond a minute's clock skew), a period of 60 seconds or a multiple of
    /// 60 up to a day, and at most [`MAX_POINTS`] periods.
    pub fn check(
        metric: MetricName,
        stat: Stat,
        from: i64,
        to: i64,
        period: i64,
        now: i64,
    ) -> Result<MetricQuery, ValidationError> {
        if !(60..=86_400).contains(&period) || period % 60 != 0 {
            return Err(ValidationError::new("period", "must be seconds: 60 or a multiple of 60, at most 86400"));
        }
        if from >= to {
            return Err(ValidationError::new("from", "must be before to"));
        }
        if to > now + 60_000 {
            return Err(ValidationError::new("to", "must not be in the future"));
        }
        if from < now - RETENTION_MS {
            return Err(ValidationError::new("from", "must be within the last 455 days (CloudWatch keeps no more)"));
        }
        let points = (to - from + period * 1000 - 1) / (period * 1000);
        if points > MAX_POINTS {
            return Err(ValidationError::new(
                "period",
                format!("gives {points} points over this range; at most {MAX_POINTS}: choose a longer period"),
            ));
        }
        Ok(MetricQuery { metric, stat, from, to, period: period as i32 })
    }
}

/// One period's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricPoint {
    pub time: i64,
    pub value: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(key: Option<&str>, secret: Option<&str>, arn: Option<&str>, ext: Option<&str>) -> CredentialFields {
        CredentialFields {
            access_key_id: key.map(str::to_owned),
            secret_access_key: secret.map(str::to_owned),
            role_arn: arn.map(str::to_owned),
            external_id: ext.map(str::to_owned),
        }
    }

    fn field_of(r: Result<CredentialsInput, ValidationError>) -> String {
        r.unwrap_err().field
    }

    #[test]
    fn credentials_are_one_kind() {
        let keys =
            CredentialsInput::check(fields(Some("AKIAIOSFODNN7EXAMPLE"), Some("wJalr/K7MDENG+bPxRfiCY"), None, None));
        assert!(matches!(keys, Ok(CredentialsInput::Keys { .. })));
        let role = CredentialsInput::check(fields(
            None,
            None,
            Some("arn:aws:iam::123456789012:role/cairn-read"),
            Some("ext-1"),
        ));
        assert!(matches!(role, Ok(CredentialsInput::Role { external_id: Some(_), .. })));
        assert_eq!(field_of(CredentialsInput::check(fields(None, None, None, None))), "access_key_id");
        assert_eq!(
            field_of(CredentialsInput::check(fields(Some("AKIAIOSFODNN7EXAMPLE"), None, None, None))),
            "secret_access_key"
        );
        assert_eq!(field_of(CredentialsInput::check(fields(None, Some("s"), None, None))), "access_key_id");
        assert_eq!(
            field_of(CredentialsInput::check(fields(Some("akia-lower"), Some("s"), None, None))),
            "access_key_id"
        );
        assert_eq!(
            field_of(CredentialsInput::check(fields(Some("AKIAIOSFODNN7EXAMPLE"), Some("has space"), None, None))),
            "secret_access_key"
        );
        assert_eq!(
            field_of(CredentialsInput::check(fields(
                Some("AKIAIOSFODNN7EXAMPLE"),
                Some("s"),
                Some("arn:aws:iam::123456789012:role/x"),
                None
            ))),
            "role_arn"
        );
        assert_eq!(
            field_of(CredentialsInput::check(fields(Some("AKIAIOSFODNN7EXAMPLE"), Some("s"), None, Some("e1")))),
            "external_id"
        );
        for bad in [
            "arn:aws:iam::12345:role/x",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:iam::123456789012:role/",
        ] {
            assert_eq!(field_of(CredentialsInput::check(fields(None, None, Some(bad), None))), "role_arn", "{bad}");
        }
        assert!(role_arn_ok("arn:aws-us-gov:iam::123456789012:role/path/to/name"));
        // The secret never shows in debug output.
        let debug = format!("{:?}", keys.unwrap());
        assert!(!debug.contains("wJalr"), "{debug}");
    }

    #[test]
    fn names_and_regions() {
        assert!(check_account_name("prod-eu").is_ok());
        for bad in ["", "Prod", "-x", "a b", &"a".repeat(41), "a/b", "accounts"] {
            assert!(check_account_name(bad).is_err(), "{bad}");
        }
        for ok in ["eu-central-1", "us-gov-west-1", "cn-north-1", "ap-southeast-4"] {
            assert!(check_region("r", ok).is_ok(), "{ok}");
        }
        for bad in ["eu-central", "EU-central-1", "eu--1", "eu-central-0", "xyz-a-1", "eu-central-1a"] {
            assert!(check_region("r", bad).is_err(), "{bad}");
        }
        assert_eq!(check_regions(&["eu-west-1".into(), "eu-west-1".into()]).unwrap_err().field, "regions[1]");
        assert_eq!(check_regions(&[]).unwrap_err().field, "regions");
    }

    fn instance() -> Instance {
        Instance {
            id: "i-0abc".into(),
            account: "prod".into(),
            region: "eu-west-1".into(),
            name: Some("Web 1".into()),
            state: "running".into(),
            instance_type: "t3.micro".into(),
            launched_at: None,
            private_ip: None,
            public_ip: None,
            availability_zone: None,
            image_id: None,
            architecture: None,
            platform: None,
            vpc_id: None,
            subnet_id: None,
            key_name: None,
            security_groups: vec![],
            state_reason: None,
            tags: [("Name".to_owned(), "Web 1".to_owned()), ("env".to_owned(), "prod".to_owned())].into(),
        }
    }

    #[test]
    fn filters() {
        let i = instance();
        let check = |state, tags: &[&str], name, account, region| {
            let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
            ListFilter::check(state, &tags, name, account, region).unwrap().matches(&i)
        };
        assert!(check(None, &[], None, None, None));
        assert!(check(Some("running"), &["env:prod"], Some("web"), Some("prod"), Some("eu-west-1")));
        assert!(check(None, &[], Some("0AB"), None, None));
        assert!(!check(Some("stopped"), &[], None, None, None));
        assert!(!check(None, &["env:dev"], None, None, None));
        assert!(!check(None, &[], Some("db"), None, None));
        assert!(!check(None, &[], None, Some("dev"), None));
        assert!(!check(None, &[], None, None, Some("us-east-1")));
        assert!(!check(None, &["env:"], None, None, None), "an empty value is a value");
        assert_eq!(ListFilter::check(Some("on"), &[], None, None, None).unwrap_err().field, "state");
        assert_eq!(ListFilter::check(None, &["novalue".into()], None, None, None).unwrap_err().field, "tag");
        assert_eq!(ListFilter::check(None, &[], None, Some("Bad Name"), None).unwrap_err().field, "account");
        assert_eq!(ListFilter::check(None, &[], None, None, Some("mars-1")).unwrap_err().field, "region");
    }

    #[test]
    fn metric_queries() {
        let now = 1_800_000_000_000;
        let hour = 3_600_000;
        let q = |from, to, period| MetricQuery::check(MetricName::CpuUtilization, Stat::Average, from, to, period, now);
        assert!(q(now - hour, now, 300).is_ok());
        assert!(q(now - 24 * hour, now, 60).is_ok(), "1,440 points exactly");
        assert_eq!(q(now - 24 * hour - 60_000, now, 60).unwrap_err().field, "period");
        assert_eq!(q(now, now - hour, 300).unwrap_err().field, "from");
        assert_eq!(q(now - hour, now + hour, 300).unwrap_err().field, "to");
        assert_eq!(q(now - 500 * 24 * hour, now - 499 * 24 * hour, 3600).unwrap_err().field, "from");
        for bad in [0, 30, 90, 86_460] {
            assert_eq!(q(now - hour, now, bad).unwrap_err().field, "period", "{bad}");
        }
        assert_eq!(MetricName::parse("CPUUtilization").unwrap(), MetricName::CpuUtilization);
        assert_eq!(MetricName::parse("cpu").unwrap_err().field, "metric");
        assert_eq!(Stat::parse("p99").unwrap_err().field, "stat");
    }
}
