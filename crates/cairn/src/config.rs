//! Configuration: defaults < `cairn.toml` < `CAIRN_*` environment < command-line flags.
//!
//! One table, [`KEYS`], names every key with its environment variable, default and
//! description; loading, `cairn config show` and `docs/configuration.md` all follow it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_identity::Email;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Directive;
use url::Url;

pub struct Key {
    /// The name in `cairn.toml`.
    pub name: &'static str,
    pub env: &'static str,
    /// `None`: unset unless given.
    pub default: Option<&'static str>,
    pub secret: bool,
    pub doc: &'static str,
}

/// Former names still read, each as (old name, old variable, the key it now sets). The
/// current name wins where both are given.
const ALIASES: &[(&str, &str, &str)] =
    &[("webhooks_allow_private", "CAIRN_WEBHOOKS_ALLOW_PRIVATE", "outbound_allow_private")];

pub const KEYS: &[Key] = &[
    Key {
        name: "data_dir",
        env: "CAIRN_DATA_DIR",
        default: Some("./data"),
        secret: false,
        doc: "Folder for SQLite files, the master key file and local objects (flag `--data-dir`).",
    },
    Key {
        name: "database_url",
        env: "CAIRN_DATABASE_URL",
        default: None,
        secret: true,
        doc: "Unset: SQLite under the data dir. `postgres://user:pass@host:port/db`: PostgreSQL; that database is the control database (created if missing) and tenant databases `cairn_t_<id>` are created beside it (flag `--database-url`).",
    },
    Key {
        name: "listen",
        env: "CAIRN_LISTEN",
        default: Some("127.0.0.1:8080"),
        secret: false,
        doc: "Address the HTTP server binds (flag `serve --listen`). Port 0 picks a free port.",
    },
    Key {
        name: "public_url",
        env: "CAIRN_PUBLIC_URL",
        default: None,
        secret: false,
        doc: "The URL clients use to reach Cairn; the `iss` of every token. Default: `http://<listen>`.",
    },
    Key {
        name: "master_key",
        env: "CAIRN_MASTER_KEY",
        default: None,
        secret: true,
        doc: "32-byte key (64 hex characters or base64) that seals secrets at rest. Unset: `<data_dir>/master.key`, created on first start with mode 0600. Replicas must share one key.",
    },
    Key {
        name: "log",
        env: "CAIRN_LOG",
        default: Some("info"),
        secret: false,
        doc: "Log filter, e.g. `info`, `cairn_web=debug,info`.",
    },
    Key {
        name: "log_format",
        env: "CAIRN_LOG_FORMAT",
        default: Some("json"),
        secret: false,
        doc: "`json` (one object a line) or `pretty`.",
    },
    Key {
        name: "db_max_connections",
        env: "CAIRN_DB_MAX_CONNECTIONS",
        default: Some("10"),
        secret: false,
        doc: "Connections to the control database (SQLite: readers; there is one writer).",
    },
    Key {
        name: "tenant_db_max_connections",
        env: "CAIRN_TENANT_DB_MAX_CONNECTIONS",
        default: Some("4"),
        secret: false,
        doc: "Connections per open tenant database.",
    },
    Key {
        name: "max_open_tenant_pools",
        env: "CAIRN_MAX_OPEN_TENANT_POOLS",
        default: Some("256"),
        secret: false,
        doc: "Tenant database pools kept open; the least recently used closes first.",
    },
    Key {
        name: "db_acquire_timeout",
        env: "CAIRN_DB_ACQUIRE_TIMEOUT",
        default: Some("10s"),
        secret: false,
        doc: "How long a request waits for a database connection.",
    },
    Key {
        name: "body_limit",
        env: "CAIRN_BODY_LIMIT",
        default: Some("1MiB"),
        secret: false,
        doc: "Largest request body: bytes, or with a `KiB`/`MiB` suffix.",
    },
    Key {
        name: "request_timeout",
        env: "CAIRN_REQUEST_TIMEOUT",
        default: Some("30s"),
        secret: false,
        doc: "A request still running after this is answered 503.",
    },
    Key {
        name: "shutdown_grace",
        env: "CAIRN_SHUTDOWN_GRACE",
        default: Some("0s"),
        secret: false,
        doc: "After SIGTERM, how long `/readyz` answers 503 while requests are still accepted, so a load balancer can stop routing here.",
    },
    Key {
        name: "shutdown_timeout",
        env: "CAIRN_SHUTDOWN_TIMEOUT",
        default: Some("30s"),
        secret: false,
        doc: "How long in-flight requests may run after shutdown begins.",
    },
    Key {
        name: "trust_proxy_headers",
        env: "CAIRN_TRUST_PROXY_HEADERS",
        default: Some("false"),
        secret: false,
        doc: "`true` behind a load balancer: the client address recorded in the audit trail is the one the nearest proxy appended to `X-Forwarded-For`, not the socket peer.",
    },
    Key {
        name: "metrics_listen",
        env: "CAIRN_METRICS_LISTEN",
        default: None,
        secret: false,
        doc: "Address of a second listener that serves only `/metrics`, e.g. `127.0.0.1:9464` or a private interface Prometheus scrapes. Unset: no second listener.",
    },
    Key {
        name: "metrics_token",
        env: "CAIRN_METRICS_TOKEN",
        default: None,
        secret: true,
        doc: "Bearer token (at least 16 characters) that `/metrics` requires, on `listen` and on `metrics_listen` alike; Prometheus sends it with `authorization.credentials`. Unset: `/metrics` is served only on `metrics_listen`, and `listen` answers it 404.",
    },
    Key {
        name: "audit_checkpoint_interval",
        env: "CAIRN_AUDIT_CHECKPOINT_INTERVAL",
        default: Some("1h"),
        secret: false,
        doc: "How often each audit chain's head is recorded as a signed checkpoint (worker role).",
    },
    Key {
        name: "audit_sweep_interval",
        env: "CAIRN_AUDIT_SWEEP_INTERVAL",
        default: Some("10m"),
        secret: false,
        doc: "How often audit entries past their trail's retention are deleted (worker role).",
    },
    Key {
        name: "bootstrap_tenant",
        env: "CAIRN_BOOTSTRAP_TENANT",
        default: Some("default"),
        secret: false,
        doc: "Slug of the tenant created when the control database is new.",
    },
    Key {
        name: "bootstrap_email",
        env: "CAIRN_BOOTSTRAP_EMAIL",
        default: Some("admin@localhost"),
        secret: false,
        doc: "Email of the first tenant's first admin, created when the control database is new; their temporary password is printed once.",
    },
    Key {
        name: "mail_url",
        env: "CAIRN_MAIL_URL",
        default: Some("file://"),
        secret: true,
        doc: "Where mail goes. `file://` writes `.eml` files under `<data_dir>/mail` (`cairn mail list` shows them; `file:///path` picks the folder); `smtp://user:pass@host:587?tls=required` (STARTTLS; `?tls=opportunistic` uses it when offered; no `tls`: plain text, for a relay on loopback); `smtps://user:pass@host:465` (implicit TLS). Amazon SES: its SMTP endpoint and SMTP credentials.",
    },
    Key {
        name: "mail_from",
        env: "CAIRN_MAIL_FROM",
        default: None,
        secret: false,
        doc: "Sender of every mail. Default: `Cairn <no-reply@<public host>>`.",
    },
    Key {
        name: "events_max_attempts",
        env: "CAIRN_EVENTS_MAX_ATTEMPTS",
        default: Some("8"),
        secret: false,
        doc: "Attempts at delivering an event to one consumer (a webhook, a notification mail) before it moves to dead letters.",
    },
    Key {
        name: "events_retry_base",
        env: "CAIRN_EVENTS_RETRY_BASE",
        default: Some("5s"),
        secret: false,
        doc: "The wait before the first retry of a failed delivery; each further retry waits about twice as long (with jitter), up to `events_retry_max`.",
    },
    Key {
        name: "events_retry_max",
        env: "CAIRN_EVENTS_RETRY_MAX",
        default: Some("1h"),
        secret: false,
        doc: "The longest wait between two attempts of a delivery.",
    },
    Key {
        name: "events_lease",
        env: "CAIRN_EVENTS_LEASE",
        default: Some("60s"),
        secret: false,
        doc: "How long a worker holds a delivery it claimed. A worker that dies loses its deliveries to another worker when the lease ends; a consumer gets half of it to finish.",
    },
    Key {
        name: "events_poll_interval",
        env: "CAIRN_EVENTS_POLL_INTERVAL",
        default: Some("5s"),
        secret: false,
        doc: "How often a worker reads which tenants have due deliveries (marked in the control database by every commit and every delivery round) without being woken; wake-ups come in process, and through NOTIFY on PostgreSQL. Every 60 polls it also checks every tenant.",
    },
    Key {
        name: "events_retention",
        env: "CAIRN_EVENTS_RETENTION",
        default: Some("7d"),
        secret: false,
        doc: "How long events whose deliveries all ended, and webhook delivery logs, are kept (swept every `audit_sweep_interval`). Events with a pending delivery or a dead letter stay.",
    },
    Key {
        name: "instances_cache_ttl",
        env: "CAIRN_INSTANCES_CACHE_TTL",
        default: Some("15s"),
        secret: false,
        doc: "How long the instances console keeps an account's `DescribeInstances` answer, so many viewers do not throttle the account; an action on an instance of the account, or a change of the account, drops it. `0s` keeps nothing.",
    },
    Key {
        name: "aws_access_key_id",
        env: "CAIRN_AWS_ACCESS_KEY_ID",
        default: None,
        secret: false,
        doc: "The platform's own AWS access key, with which tenants' roles (`role_arn` accounts) are assumed. Unset: the standard AWS chain (the `AWS_*` variables, profile files, web identity, the ECS task's or EC2 instance's role).",
    },
    Key {
        name: "aws_secret_access_key",
        env: "CAIRN_AWS_SECRET_ACCESS_KEY",
        default: None,
        secret: true,
        doc: "The secret of `aws_access_key_id`.",
    },
    Key {
        name: "object_store_url",
        env: "CAIRN_OBJECT_STORE_URL",
        default: None,
        secret: false,
        doc: "Where rendered reports are kept. Unset: the folder `<data_dir>/objects`. A folder path (or `file:///path`), or `s3://bucket/prefix` for an S3 bucket (or an S3-compatible store, with `object_store_endpoint`); replicas must share it. On S3 each report is tagged `cairn-expires=<date>` for a lifecycle rule, and download links are presigned URLs.",
    },
    Key {
        name: "object_store_endpoint",
        env: "CAIRN_OBJECT_STORE_ENDPOINT",
        default: None,
        secret: false,
        doc: "An S3-compatible endpoint such as `http://minio:9000` (path-style requests). Unset: AWS (or `AWS_ENDPOINT_URL`).",
    },
    Key {
        name: "object_store_region",
        env: "CAIRN_OBJECT_STORE_REGION",
        default: None,
        secret: false,
        doc: "The bucket's region. Unset: `AWS_REGION`, else `us-east-1`.",
    },
    Key {
        name: "object_store_access_key_id",
        env: "CAIRN_OBJECT_STORE_ACCESS_KEY_ID",
        default: None,
        secret: false,
        doc: "An access key for the bucket. Unset: `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`), else the ECS task's or EC2 instance's role.",
    },
    Key {
        name: "object_store_secret_access_key",
        env: "CAIRN_OBJECT_STORE_SECRET_ACCESS_KEY",
        default: None,
        secret: true,
        doc: "The secret of `object_store_access_key_id`.",
    },
    Key {
        name: "outbound_allow_private",
        env: "CAIRN_OUTBOUND_ALLOW_PRIVATE",
        default: Some("false"),
        secret: false,
        doc: "`true` lets requests made on a tenant's behalf (webhook deliveries, SSO providers, metrics sources, cloud accounts' endpoints) reach private, loopback, link-local and this host's own addresses: receivers and providers inside your network. Off by default, so tenants cannot probe the network Cairn runs in. The former name `webhooks_allow_private` (`CAIRN_WEBHOOKS_ALLOW_PRIVATE`) is still read.",
    },
    Key {
        name: "outbound_allow_http",
        env: "CAIRN_OUTBOUND_ALLOW_HTTP",
        default: Some("false"),
        secret: false,
        doc: "`true` lets requests made on a tenant's behalf use plain `http://` URLs (a receiver or provider on your own network without TLS). Off by default: webhook receivers, SSO issuers, metrics sources and cloud accounts' endpoints must be https.",
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// The log filter (`log`): its directives, each checked when the configuration loads.
#[derive(Debug, Clone)]
pub struct LogFilter(Vec<Directive>);

impl LogFilter {
    /// Comma-separated directives as `RUST_LOG` takes them: `info`, `cairn_web=debug,info`.
    pub fn parse(text: &str) -> Result<LogFilter, String> {
        text.split(',')
            .filter(|d| !d.trim().is_empty())
            .map(|d| d.trim().parse::<Directive>().map_err(|e| format!("{d:?} is not a log directive ({e})")))
            .collect::<Result<_, _>>()
            .map(LogFilter)
    }

    pub fn env_filter(&self) -> EnvFilter {
        self.0.iter().cloned().fold(EnvFilter::default(), EnvFilter::add_directive)
    }
}

impl std::fmt::Display for LogFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// The configuration, every value parsed and checked once, when it loads: the rest of
/// Cairn takes these types and never parses the text again.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    /// A `postgres://` URL naming a database, or `None` for SQLite under `data_dir`.
    pub database_url: Option<Url>,
    pub listen: SocketAddr,
    /// An `http(s)://` URL with a host and no query or fragment.
    pub public_url: Option<Url>,
    pub master_key: Option<cairn_domain::MasterKey>,
    pub log: LogFilter,
    pub log_format: LogFormat,
    pub db_max_connections: u32,
    pub tenant_db_max_connections: u32,
    pub max_open_tenant_pools: usize,
    pub db_acquire_timeout: Duration,
    pub body_limit: usize,
    pub request_timeout: Duration,
    pub shutdown_grace: Duration,
    pub shutdown_timeout: Duration,
    pub trust_proxy_headers: bool,
    /// A second listener that serves only `/metrics`.
    pub metrics_listen: Option<SocketAddr>,
    /// The bearer token `/metrics` requires, when set.
    pub metrics_token: Option<String>,
    pub audit_checkpoint_interval: Duration,
    pub audit_sweep_interval: Duration,
    pub bootstrap_tenant: cairn_domain::TenantSlug,
    pub bootstrap_email: Email,
    /// A `file://`, `smtp://` or `smtps://` URL the mail transport accepts.
    pub mail_url: Url,
    pub mail_from: Option<cairn_mail::Mailbox>,
    pub events: cairn_events::DeliverySettings,
    pub events_retention: Duration,
    /// What requests made on a tenant's behalf may reach beyond public https servers.
    pub outbound: cairn_outbound::Policy,
    /// How long an account's `DescribeInstances` answer is kept.
    pub instances_cache_ttl: Duration,
    /// The platform's own AWS credentials: configured keys, or the standard chain.
    pub aws_platform: cairn_instances::PlatformCredentials,
    /// Where rendered reports are kept.
    pub object_store: cairn_reports::objects::Location,
}

/// A configuration problem: the key (as the user named it) and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

fn err(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError { key: key.into(), problem: problem.into() }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Default,
    File,
    Env,
    Flag,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::File => "file",
            Source::Env => "env",
            Source::Flag => "flag",
        }
    }
}

/// The raw layered values, before parsing: key → (value, where it came from).
#[derive(Debug, Clone, Default)]
pub struct Layers {
    values: BTreeMap<&'static str, (String, Source)>,
}

impl Layers {
    /// Defaults, then the file (if any), then the environment.
    pub fn load(file: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<Layers, ConfigError> {
        let mut layers = Layers::default();
        for k in KEYS {
            if let Some(d) = k.default {
                layers.values.insert(k.name, (d.to_owned(), Source::Default));
            }
        }
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| err("CAIRN_CONFIG", format!("cannot read {}: {e}", path.display())))?;
            let table: toml::Table =
                text.parse().map_err(|e: toml::de::Error| err(path.display().to_string(), e.message().to_owned()))?;
            let current = |name: &str| table.contains_key(name);
            for (name, value) in &table {
                let name = match ALIASES.iter().find(|(old, _, _)| *old == name.as_str()) {
                    Some((_, _, new)) if current(new) => continue,
                    Some((_, _, new)) => *new,
                    None => name.as_str(),
                };
                let key = KEYS
                    .iter()
                    .find(|k| k.name == name)
                    .ok_or_else(|| err(format!("{}: {name}", path.display()), "unknown key"))?;
                let text = match value.clone() {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(i) => i.to_string(),
                    other => {
                        return Err(err(key.name, format!("must be a string or integer, not {}", other.type_str())));
                    }
                };
                layers.values.insert(key.name, (text, Source::File));
            }
        }
        for (_, old_env, new) in ALIASES {
            if let Some(v) = env(old_env)
                && let Some(k) = KEYS.iter().find(|k| k.name == *new)
                && env(k.env).is_none()
            {
                layers.values.insert(k.name, (v, Source::Env));
            }
        }
        for k in KEYS {
            if let Some(v) = env(k.env) {
                layers.values.insert(k.name, (v, Source::Env));
            }
        }
        Ok(layers)
    }

    /// A command-line flag for `name` (highest precedence).
    pub fn set_flag(&mut self, name: &'static str, value: impl Into<String>) {
        debug_assert!(KEYS.iter().any(|k| k.name == name));
        self.values.insert(name, (value.into(), Source::Flag));
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|(v, _)| v.as_str())
    }

    /// Every key with its effective value (secrets redacted) and source.
    pub fn show(&self) -> Vec<(&'static str, &'static str, String, Option<Source>)> {
        KEYS.iter()
            .map(|k| match self.values.get(k.name) {
                Some((v, src)) => {
                    let shown = if k.secret { redact(k.name, v) } else { v.clone() };
                    (k.name, k.env, shown, Some(*src))
                }
                None => (k.name, k.env, "(unset)".into(), None),
            })
            .collect()
    }

    /// `object_store_url` and its settings.
    fn object_store(&self, data_dir: &Path) -> Result<cairn_reports::objects::Location, ConfigError> {
        use cairn_reports::objects::Location;
        let nonempty = |name: &str| self.get(name).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let url = nonempty("object_store_url").unwrap_or_default();
        let location = Location::parse(&url, data_dir.join("objects")).map_err(|p| err("CAIRN_OBJECT_STORE_URL", p))?;
        let s3_only = ["object_store_endpoint", "object_store_region", "object_store_access_key_id"];
        let Location::S3(mut s3) = location else {
            if let Some(name) = s3_only.iter().find(|n| nonempty(n).is_some()) {
                let env = KEYS.iter().find(|k| k.name == *name).map_or("?", |k| k.env);
                return Err(err(env, "is only for an s3:// object_store_url"));
            }
            return Ok(location);
        };
        s3.endpoint = nonempty("object_store_endpoint")
            .map(|e| {
                Url::parse(&e).ok().filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some()).ok_or_else(
                    || err("CAIRN_OBJECT_STORE_ENDPOINT", format!("{e:?} is not an http:// or https:// URL")),
                )
            })
            .transpose()?;
        s3.region = nonempty("object_store_region");
        s3.keys = match (nonempty("object_store_access_key_id"), nonempty("object_store_secret_access_key")) {
            (Some(id), Some(secret)) => Some((id, secret)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(err("CAIRN_OBJECT_STORE_SECRET_ACCESS_KEY", "is required with object_store_access_key_id"));
            }
            (None, Some(_)) => {
                return Err(err("CAIRN_OBJECT_STORE_ACCESS_KEY_ID", "is required with object_store_secret_access_key"));
            }
        };
        Ok(Location::S3(s3))
    }

    pub fn parse(&self) -> Result<Config, ConfigError> {
        // Errors name the key as the user most likely set it: the environment variable.
        let env_of = |name: &str| KEYS.iter().find(|k| k.name == name).map(|k| k.env).unwrap_or("?");
        let req = |name: &str| self.get(name).ok_or_else(|| err(env_of(name), "is required"));
        let nonempty = |name: &str| self.get(name).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let duration = |name: &str| -> Result<Duration, ConfigError> {
            parse_duration(req(name)?).map_err(|p| err(env_of(name), p))
        };
        let count = |name: &str, min: u64, max: u64| -> Result<u64, ConfigError> {
            let v = req(name)?;
            v.trim()
                .parse::<u64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| err(env_of(name), format!("must be a whole number from {min} to {max}, not {v:?}")))
        };

        let data_dir = PathBuf::from(req("data_dir")?);
        let database_url = nonempty("database_url")
            .map(|u| Url::parse(&u).map_err(|e| err("CAIRN_DATABASE_URL", format!("not a URL ({e})"))))
            .transpose()?;
        if let Some(parsed) = &database_url {
            if !matches!(parsed.scheme(), "postgres" | "postgresql") {
                return Err(err(
                    "CAIRN_DATABASE_URL",
                    "must be a postgres:// URL; leave it unset for SQLite under CAIRN_DATA_DIR",
                ));
            }
            if parsed.path().trim_start_matches('/').is_empty() {
                return Err(err("CAIRN_DATABASE_URL", "must name a database (postgres://…/cairn)"));
            }
        }
        let listen_text = req("listen")?;
        let listen: SocketAddr = listen_text
            .parse()
            .map_err(|_| err("CAIRN_LISTEN", format!("{listen_text:?} is not an address like 127.0.0.1:8080")))?;
        let public_url = match nonempty("public_url") {
            None => None,
            Some(u) => {
                let parsed = Url::parse(&u).map_err(|e| err("CAIRN_PUBLIC_URL", format!("not a URL ({e})")))?;
                if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                    return Err(err("CAIRN_PUBLIC_URL", "must be an http:// or https:// URL"));
                }
                if parsed.query().is_some() || parsed.fragment().is_some() {
                    return Err(err("CAIRN_PUBLIC_URL", "must not have a query or fragment"));
                }
                if !parsed.username().is_empty() || parsed.password().is_some() {
                    return Err(err("CAIRN_PUBLIC_URL", "must not carry a user name or password"));
                }
                Some(parsed)
            }
        };
        let master_key = nonempty("master_key")
            .map(|k| cairn_domain::MasterKey::parse(&k).map_err(|e| err("CAIRN_MASTER_KEY", e.to_string())))
            .transpose()?;
        let log = LogFilter::parse(req("log")?).map_err(|p| err("CAIRN_LOG", p))?;
        let log_format = match req("log_format")? {
            "json" => LogFormat::Json,
            "pretty" => LogFormat::Pretty,
            other => return Err(err("CAIRN_LOG_FORMAT", format!("must be json or pretty, not {other:?}"))),
        };
        let body_limit = parse_size(req("body_limit")?).map_err(|p| err("CAIRN_BODY_LIMIT", p))?;
        let flag = |name: &str| -> Result<bool, ConfigError> {
            match req(name)? {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                other => Err(err(env_of(name), format!("must be true or false, not {other:?}"))),
            }
        };
        let trust_proxy_headers = flag("trust_proxy_headers")?;
        let metrics_listen = nonempty("metrics_listen")
            .map(|text| {
                text.parse::<SocketAddr>()
                    .map_err(|_| err("CAIRN_METRICS_LISTEN", format!("{text:?} is not an address like 127.0.0.1:9464")))
            })
            .transpose()?;
        let metrics_token = nonempty("metrics_token");
        if metrics_token.as_ref().is_some_and(|t| t.len() < 16 || !t.bytes().all(|b| b.is_ascii_graphic())) {
            return Err(err("CAIRN_METRICS_TOKEN", "must be at least 16 visible ASCII characters"));
        }
        let positive = |name: &str| -> Result<Duration, ConfigError> {
            let d = duration(name)?;
            if d.is_zero() { Err(err(env_of(name), "must be longer than zero")) } else { Ok(d) }
        };
        let bootstrap_tenant = cairn_domain::TenantSlug::parse(req("bootstrap_tenant")?)
            .map_err(|e| err("CAIRN_BOOTSTRAP_TENANT", e.message))?;
        let bootstrap_email =
            Email::parse(req("bootstrap_email")?).map_err(|e| err("CAIRN_BOOTSTRAP_EMAIL", e.message))?;
        let mail_url = Url::parse(req("mail_url")?)
            .ok()
            .filter(|u| matches!(u.scheme(), "file" | "smtp" | "smtps"))
            .ok_or_else(|| err("CAIRN_MAIL_URL", "must be a file://, smtp:// or smtps:// URL"))?;
        cairn_mail::check_url(&mail_url).map_err(|e| match e {
            // The transport's own words, which never repeat the credentials.
            cairn_mail::MailError::Config(problem) => err("CAIRN_MAIL_URL", problem),
            other => err("CAIRN_MAIL_URL", other.to_string()),
        })?;
        let mail_from = nonempty("mail_from")
            .map(|from| {
                from.parse::<cairn_mail::Mailbox>().map_err(|_| {
                    err("CAIRN_MAIL_FROM", format!("{from:?} is not an address like 'Cairn <no-reply@example.com>'"))
                })
            })
            .transpose()?;
        let events = cairn_events::DeliverySettings {
            max_attempts: count("events_max_attempts", 1, 100)? as i64,
            retry_base: positive("events_retry_base")?,
            retry_max: positive("events_retry_max")?,
            lease: positive("events_lease")?,
            poll_interval: positive("events_poll_interval")?,
            ..cairn_events::DeliverySettings::default()
        };
        if events.lease < Duration::from_secs(1) {
            return Err(err("CAIRN_EVENTS_LEASE", "must be at least 1s"));
        }
        let aws_platform = match (nonempty("aws_access_key_id"), nonempty("aws_secret_access_key")) {
            (Some(access_key_id), Some(secret_access_key)) => {
                cairn_instances::PlatformCredentials::Keys { access_key_id, secret_access_key }
            }
            (None, None) => cairn_instances::PlatformCredentials::Chain,
            (Some(_), None) => return Err(err("CAIRN_AWS_SECRET_ACCESS_KEY", "is required with aws_access_key_id")),
            (None, Some(_)) => return Err(err("CAIRN_AWS_ACCESS_KEY_ID", "is required with aws_secret_access_key")),
        };
        let object_store = self.object_store(&data_dir)?;
        Ok(Config {
            object_store,
            instances_cache_ttl: duration("instances_cache_ttl")?,
            aws_platform,
            events,
            events_retention: positive("events_retention")?,
            outbound: cairn_outbound::Policy {
                allow_private: flag("outbound_allow_private")?,
                allow_http: flag("outbound_allow_http")?,
            },
            data_dir,
            database_url,
            listen,
            public_url,
            master_key,
            log,
            log_format,
            db_max_connections: count("db_max_connections", 1, 1000)? as u32,
            tenant_db_max_connections: count("tenant_db_max_connections", 1, 100)? as u32,
            max_open_tenant_pools: count("max_open_tenant_pools", 1, 100_000)? as usize,
            db_acquire_timeout: duration("db_acquire_timeout")?,
            body_limit,
            request_timeout: duration("request_timeout")?,
            shutdown_grace: duration("shutdown_grace")?,
            shutdown_timeout: duration("shutdown_timeout")?,
            trust_proxy_headers,
            metrics_listen,
            metrics_token,
            audit_checkpoint_interval: positive("audit_checkpoint_interval")?,
            audit_sweep_interval: positive("audit_sweep_interval")?,
            bootstrap_tenant,
            bootstrap_email,
            mail_url,
            mail_from,
        })
    }
}

/// `database_url` without its password; other secrets entirely.
fn redact(name: &str, value: &str) -> String {
    if matches!(name, "database_url" | "mail_url") { cairn_domain::redact_url(value) } else { "(redacted)".into() }
}

/// The machine's name as the environment gives it (`HOSTNAME`; containers and ECS set it),
/// else `localhost`: it names this process in event leases.
pub fn host_name() -> String {
    std::env::var("HOSTNAME").ok().filter(|h| !h.trim().is_empty()).unwrap_or_else(|| "localhost".into())
}

/// `500ms`, `30s`, `5m`, `1h`, `1d`, or combinations like `1h30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration like 500ms, 30s, 5m, 1h or 1d");
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let per = match &rest[..unit] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            "d" => Duration::from_secs(86_400),
            _ => return Err(bad()),
        };
        rest = &rest[unit..];
        total =
            per.checked_mul(u32::try_from(n).map_err(|_| bad())?).and_then(|d| total.checked_add(d)).ok_or_else(bad)?;
    }
    Ok(total)
}

fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let (num, mult) = if let Some(n) = t.strip_suffix("MiB") {
        (n, 1024 * 1024)
    } else if let Some(n) = t.strip_suffix("KiB") {
        (n, 1024)
    } else {
        (t, 1)
    };
    num.trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{text:?} is not a size like 1048576, 512KiB or 1MiB"))
}

impl Config {
    /// The URL clients reach Cairn at: `public_url`, else `http://<bound>`.
    pub fn public_url(&self, bound: SocketAddr) -> Url {
        match &self.public_url {
            Some(url) => url.clone(),
            // An address and port always make a valid authority.
            None => Url::parse(&format!("http://{bound}")).expect("an http URL of a socket address"),
        }
    }

    /// [`Config::public_url`] as the token issuer (see [`issuer`]).
    pub fn issuer(&self, bound: SocketAddr) -> String {
        issuer(&self.public_url(bound))
    }
}

/// A public URL as the token issuer and the base every link is built on: without its
/// trailing slash (`https://id.example.com`, `https://example.com/cairn`).
pub fn issuer(public_url: &Url) -> String {
    public_url.as_str().trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(env: &[(&str, &str)]) -> Layers {
        let env: Vec<(String, String)> = env.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        Layers::load(None, &|k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).unwrap()
    }

    #[test]
    fn defaults_parse() {
        let c = layers(&[]).parse().unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.body_limit, 1024 * 1024);
        assert_eq!(c.max_open_tenant_pools, 256);
        assert!(c.database_url.is_none());
    }

    #[test]
    fn precedence_default_file_env_flag() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cairn.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:1\"\nlog = \"debug\"\ndb_max_connections = 3\n").unwrap();
        let env = |k: &str| (k == "CAIRN_LOG").then(|| "warn".to_string());
        let mut l = Layers::load(Some(&file), &env).unwrap();
        let c = l.parse().unwrap();
        assert_eq!(c.listen.port(), 1);
        assert_eq!(c.log.to_string(), "warn");
        assert_eq!(c.db_max_connections, 3);
        l.set_flag("listen", "127.0.0.1:2");
        assert_eq!(l.parse().unwrap().listen.port(), 2);
    }

    #[test]
    fn bad_values_name_the_key() {
        for (k, v) in [
            ("CAIRN_LISTEN", "nope"),
            ("CAIRN_DATABASE_URL", "mysql://x/y"),
            ("CAIRN_LOG_FORMAT", "xml"),
            ("CAIRN_BODY_LIMIT", "0"),
            ("CAIRN_REQUEST_TIMEOUT", "soon"),
            ("CAIRN_MASTER_KEY", "short"),
            ("CAIRN_PUBLIC_URL", "ftp://x"),
            ("CAIRN_MAX_OPEN_TENANT_POOLS", "0"),
            ("CAIRN_TRUST_PROXY_HEADERS", "maybe"),
            ("CAIRN_METRICS_LISTEN", "9464"),
            ("CAIRN_METRICS_TOKEN", "short"),
            ("CAIRN_AUDIT_SWEEP_INTERVAL", "0s"),
            ("CAIRN_DATABASE_URL", "postgres://db.internal:5432"),
            ("CAIRN_DATABASE_URL", "not a url"),
            ("CAIRN_PUBLIC_URL", "localhost:8080"),
            ("CAIRN_PUBLIC_URL", "https://id.example.com/?x=1"),
            ("CAIRN_PUBLIC_URL", "https://admin:pw@id.example.com"),
            ("CAIRN_LOG", "cairn_web=loud"),
            ("CAIRN_LOG", "info,[{"),
            ("CAIRN_BOOTSTRAP_EMAIL", "admin"),
            ("CAIRN_BOOTSTRAP_TENANT", "Bad Slug"),
            ("CAIRN_MAIL_URL", "ftp://mail.example.com"),
            ("CAIRN_MAIL_URL", "smtp://mail.example.com?tls=sometimes"),
            ("CAIRN_MAIL_URL", "smtp:relay"),
            ("CAIRN_MAIL_FROM", "Cairn <no-reply>"),
            ("CAIRN_EVENTS_LEASE", "500ms"),
            ("CAIRN_EVENTS_MAX_ATTEMPTS", "0"),
        ] {
            let e = layers(&[(k, v)]).parse().unwrap_err();
            assert_eq!(e.key, k, "{v}");
            assert!(!e.problem.contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn values_are_kept_parsed() {
        let c = layers(&[
            ("CAIRN_DATABASE_URL", "postgres://cairn:s%40cret@db.internal:5432/cairn"),
            ("CAIRN_PUBLIC_URL", "https://Example.com/cairn/"),
            ("CAIRN_LOG", "cairn_web=debug, info"),
            ("CAIRN_BOOTSTRAP_EMAIL", " Ann@Example.com "),
            ("CAIRN_MAIL_URL", "smtp://u:p@mail.example.com:587?tls=required"),
            ("CAIRN_MAIL_FROM", "Acme <no-reply@acme.example>"),
        ])
        .parse()
        .unwrap();
        let db = c.database_url.as_ref().unwrap();
        assert_eq!((db.host_str(), db.port(), db.path()), (Some("db.internal"), Some(5432), "/cairn"));
        assert_eq!(db.password(), Some("s%40cret"), "kept as written, percent-encoded");
        assert_eq!(c.issuer(c.listen), "https://example.com/cairn", "no trailing slash; the host in lower case");
        assert_eq!(c.log.to_string(), "cairn_web=debug,info");
        assert_eq!(c.bootstrap_email.as_str(), "Ann@Example.com");
        assert_eq!((c.mail_url.scheme(), c.mail_url.port()), ("smtp", Some(587)));
        assert_eq!(c.mail_from.unwrap().email.to_string(), "no-reply@acme.example");

        let defaults = layers(&[]).parse().unwrap();
        assert_eq!(defaults.issuer("127.0.0.1:41234".parse().unwrap()), "http://127.0.0.1:41234");
        assert_eq!(defaults.issuer("[::1]:8080".parse().unwrap()), "http://[::1]:8080");
        assert_eq!(defaults.mail_url.scheme(), "file");
        assert_eq!(defaults.log.to_string(), "info");
    }

    #[test]
    fn unknown_file_key_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cairn.toml");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let e = Layers::load(Some(&file), &|_| None).unwrap_err();
        assert!(e.to_string().contains("lisen"), "{e}");
    }

    #[test]
    fn the_former_name_of_outbound_allow_private_is_still_read() {
        let c = layers(&[("CAIRN_WEBHOOKS_ALLOW_PRIVATE", "true")]).parse().unwrap();
        assert!(c.outbound.allow_private && !c.outbound.allow_http);
        let c = layers(&[("CAIRN_WEBHOOKS_ALLOW_PRIVATE", "true"), ("CAIRN_OUTBOUND_ALLOW_PRIVATE", "false")])
            .parse()
            .unwrap();
        assert!(!c.outbound.allow_private, "the current name wins");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cairn.toml");
        std::fs::write(&file, "webhooks_allow_private = \"true\"\n").unwrap();
        let c = Layers::load(Some(&file), &|_| None).unwrap().parse().unwrap();
        assert!(c.outbound.allow_private);
        assert!(!layers(&[]).parse().unwrap().outbound.allow_private, "off by default");
    }

    #[test]
    fn secrets_are_redacted() {
        let l = layers(&[
            ("CAIRN_DATABASE_URL", "postgres://u:hunter2@h/db"),
            ("CAIRN_MASTER_KEY", &"ab".repeat(32)),
            ("CAIRN_METRICS_TOKEN", "scrape-me-secretly-42"),
        ]);
        let shown = format!("{:?}", l.show());
        assert!(!shown.contains("hunter2") && !shown.contains(&"ab".repeat(32)), "{shown}");
        assert!(!shown.contains("scrape-me-secretly-42"), "{shown}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        for bad in ["", "s", "10", "1y", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_object_store_is_a_folder_or_a_bucket_with_its_settings() {
        use cairn_reports::objects::Location;
        let defaults = layers(&[]).parse().unwrap();
        assert_eq!(defaults.object_store, Location::Folder(PathBuf::from("./data/objects")));
        let c = layers(&[
            ("CAIRN_OBJECT_STORE_URL", "s3://acme-reports/cairn"),
            ("CAIRN_OBJECT_STORE_ENDPOINT", "http://127.0.0.1:9000"),
            ("CAIRN_OBJECT_STORE_REGION", "eu-central-1"),
            ("CAIRN_OBJECT_STORE_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("CAIRN_OBJECT_STORE_SECRET_ACCESS_KEY", "s3cret"),
        ])
        .parse()
        .unwrap();
        let Location::S3(s3) = &c.object_store else { panic!("a bucket") };
        assert_eq!(
            (s3.bucket.as_str(), s3.prefix.as_str(), s3.region.as_deref()),
            ("acme-reports", "cairn", Some("eu-central-1"))
        );
        assert_eq!(s3.endpoint.as_ref().map(Url::as_str), Some("http://127.0.0.1:9000/"));
        assert!(!format!("{c:?}").contains("s3cret"), "the secret is not in the configuration's debug form");
        let refused = |env: &[(&str, &str)]| layers(env).parse().unwrap_err().key;
        assert_eq!(refused(&[("CAIRN_OBJECT_STORE_URL", "gs://bucket")]), "CAIRN_OBJECT_STORE_URL");
        assert_eq!(refused(&[("CAIRN_OBJECT_STORE_ENDPOINT", "http://x:9000")]), "CAIRN_OBJECT_STORE_ENDPOINT");
        let bucket = ("CAIRN_OBJECT_STORE_URL", "s3://acme-reports");
        assert_eq!(refused(&[bucket, ("CAIRN_OBJECT_STORE_ENDPOINT", "ftp://x")]), "CAIRN_OBJECT_STORE_ENDPOINT");
        assert_eq!(
            refused(&[bucket, ("CAIRN_OBJECT_STORE_ACCESS_KEY_ID", "AKIA")]),
            "CAIRN_OBJECT_STORE_SECRET_ACCESS_KEY"
        );
    }

    /// docs/configuration.md lists exactly the keys in `KEYS`, with their variables and defaults.
    #[test]
    fn documentation_matches_keys() {
        let doc = include_str!("../../../docs/configuration.md");
        let rows: Vec<Vec<String>> = doc
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| l.split('|').map(|c| c.trim().trim_matches('`').to_owned()).collect())
            .collect();
        let documented: Vec<&str> = rows.iter().map(|r| r[2].as_str()).collect();
        let expected: Vec<&str> = KEYS.iter().map(|k| k.env).collect();
        assert_eq!(documented, expected, "docs/configuration.md rows must list KEYS in order");
        for (row, key) in rows.iter().zip(KEYS) {
            assert_eq!(row[1], key.name);
            assert_eq!(row[3], key.default.unwrap_or("(unset)"), "default of {}", key.env);
        }
    }
}
