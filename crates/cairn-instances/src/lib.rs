//! The cloud-instances console: each tenant connects its own AWS accounts (an access key or
//! a role to assume), and its people list the accounts' EC2 instances, open one, read its
//! CloudWatch metrics, and — admins — reboot, start or stop it.
//!
//! [`Cloud`] is what the process shares: the AWS client over the guarded outbound client
//! ([`client`]), the platform's credentials, the short `DescribeInstances` cache
//! ([`cache`]) and the accounts' connections. [`Instances`] is one tenant's console, over
//! its database (`store`: the accounts' rows, secrets sealed) and the shared [`Cloud`]; each
//! account change and each action is audited in the tenant's trail.

mod cache;
pub mod client;
pub mod model;
mod store;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_credential_types::provider::SharedCredentialsProvider;
use cairn_audit::{Action, Actor, AuditError, AuditService, NewEntry, Outcome, RequestMeta};
use cairn_domain::{MasterKey, ValidationError, now_ms};
use cairn_outbound::Outbound;
use cairn_store::{Db, Migration, sqlx};
use futures_util::future::join_all;
use serde_json::json;

pub use client::AwsError;
use client::{Connection, Platform};
pub use model::{
    Account, AccountAuth, AccountId, AccountInput, AccountPatch, CredentialFields, CredentialsInput, Instance,
    ListFilter, MetricName, MetricPoint, MetricQuery, Stat, StatusChecks,
};

/// How long a `DescribeInstances` answer is kept unless configured otherwise.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum InstancesError {
    /// `account` or `instance`.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error("{0}")]
    Conflict(String),
    /// AWS (or the account's endpoint) refused or failed a call for `account`.
    #[error("account {account}: {error}")]
    Aws { account: String, error: AwsError },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("audit: {0}")]
    Audit(#[from] AuditError),
    #[error("corrupt row in {table}: {reason}")]
    Corrupt { table: &'static str, reason: String },
}

pub fn tenant_migrations() -> Vec<Migration> {
    // The dialects agree on every statement.
    const ACCOUNTS: &str = include_str!("../migrations/tenant_0001_accounts.sql");
    vec![Migration { component: "instances", version: 1, name: "accounts", sqlite: ACCOUNTS, postgres: ACCOUNTS }]
}

/// What every tenant's console shares in a process.
#[derive(Debug)]
pub struct Cloud {
    platform: Platform,
    outbound: Outbound,
    cache: cache::Cache,
    connections: Mutex<lru::LruCache<(String, String, i64), Connection>>,
}

/// The platform's own AWS credentials, which roles are assumed with.
#[derive(Clone)]
pub enum PlatformCredentials {
    /// An access key from Cairn's configuration.
    Keys { access_key_id: String, secret_access_key: String },
    /// The standard AWS chain: the `AWS_*` environment variables, the shared profile files,
    /// web identity, the ECS container's or the EC2 instance's role.
    Chain,
}

impl std::fmt::Debug for PlatformCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlatformCredentials::Keys { access_key_id, .. } => {
                f.debug_struct("Keys").field("access_key_id", access_key_id).finish_non_exhaustive()
            }
            PlatformCredentials::Chain => f.write_str("Chain"),
        }
    }
}

impl Cloud {
    /// Requests for tenants' accounts through `outbound`; roles assumed with `platform`'s
    /// credentials (the chain's requests — to the container or instance metadata addresses —
    /// go through a client of their own: they are the operator's, not a tenant's);
    /// `DescribeInstances` answers kept `cache_ttl`.
    pub fn new(outbound: Outbound, platform: PlatformCredentials, cache_ttl: Duration) -> Self {
        let credentials = match platform {
            PlatformCredentials::Keys { access_key_id, secret_access_key } => SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new(access_key_id, secret_access_key, None, None, "cairn-platform"),
            ),
            PlatformCredentials::Chain => {
                let own = Outbound::new(cairn_outbound::Policy { allow_private: true, allow_http: true });
                Platform::default_credentials(own)
            }
        };
        Self {
            platform: Platform::new(outbound.clone(), Some(credentials)),
            outbound,
            cache: cache::Cache::new(cache_ttl),
            connections: Mutex::new(lru::LruCache::new(std::num::NonZeroUsize::new(1000).expect("non-zero"))),
        }
    }
}

/// A reboot, start or stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceAction {
    Reboot,
    Start,
    Stop,
}

impl InstanceAction {
    /// `reboot`, `start` or `stop`.
    pub fn parse(name: &str) -> Option<InstanceAction> {
        match name {
            "reboot" => Some(InstanceAction::Reboot),
            "start" => Some(InstanceAction::Start),
            "stop" => Some(InstanceAction::Stop),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InstanceAction::Reboot => "reboot",
            InstanceAction::Start => "start",
            InstanceAction::Stop => "stop",
        }
    }

    /// The audit action (and permission) name: `instance.reboot`…
    pub fn permission(self) -> &'static str {
        match self {
            InstanceAction::Reboot => "instance.reboot",
            InstanceAction::Start => "instance.start",
            InstanceAction::Stop => "instance.stop",
        }
    }
}

/// Where an instance is: an account's name, a region, its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub account: String,
    pub region: String,
    pub id: String,
}

/// An account and region whose instances could not be listed, and why.
#[derive(Debug, Clone)]
pub struct Unavailable {
    pub account: String,
    pub region: String,
    pub error: AwsError,
}

/// A list of instances: those of every account and region that answered (shared with the
/// cache, never copied whole), and those that did not.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Each answering account's and region's instances, in the order of account name and
    /// region, each sorted by id.
    parts: Vec<Arc<Vec<Instance>>>,
    filter: ListFilter,
    pub unavailable: Vec<Unavailable>,
    /// How many account-region lists were asked for.
    pub reads: usize,
    /// Every account of the tenant, by name (those the filter left out too).
    pub accounts: Vec<Account>,
}

impl Listing {
    /// The instances the filter keeps, in the order of account, region and id.
    pub fn iter(&self) -> impl Iterator<Item = &Instance> {
        self.parts.iter().flat_map(|p| p.iter()).filter(|i| self.filter.matches(i))
    }

    /// Whether every list asked for failed (and at least one was asked for).
    pub fn none_answered(&self) -> bool {
        self.reads > 0 && self.unavailable.len() == self.reads
    }
}

/// One tenant's console.
#[derive(Debug, Clone, Copy)]
pub struct Instances<'a> {
    pub db: &'a Db,
    /// The tenant's id: keys its cached lists and connections.
    pub tenant: &'a str,
    pub cloud: &'a Cloud,
    pub key: &'a MasterKey,
}

/// What a sealed secret key is bound to: its account.
fn secret_aad(id: &str) -> String {
    format!("instances-account:{id}")
}

impl Instances<'_> {
    // ----- accounts -----

    /// Connects an account after trying its credentials: `sts:GetCallerIdentity`, then one
    /// `DescribeInstances` per region. A refusal names the field at fault, and nothing is
    /// stored.
    pub async fn add_account(
        &self,
        input: AccountInput,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<Account, InstancesError> {
        let name = model::check_account_name(&input.name)?;
        let regions = model::check_regions(&input.regions)?;
        let endpoint_url = self.endpoint(input.endpoint_url.as_deref())?;
        if self.account_named(&name).await?.is_some() {
            return Err(InstancesError::Conflict(format!("an account named {name} exists")));
        }
        let aws_account_id = self.try_access(&name, endpoint_url.as_deref(), &regions, &input.credentials).await?;
        let id = AccountId::new().to_string();
        let auth = auth_of(&input.credentials);
        let sealed = self.sealed(&input.credentials, &id);
        let row = store::AccountRow {
            id: &id,
            name: &name,
            regions: &regions,
            auth: &auth,
            secret_sealed: sealed.as_deref(),
            endpoint_url: endpoint_url.as_deref(),
            aws_account_id: &aws_account_id,
            by: &actor.id,
            now: now_ms(),
        };
        let details = account_details(&name, &regions, &auth, endpoint_url.as_deref(), &aws_account_id);
        self.write_account(
            &row,
            None,
            NewEntry::new(actor.clone(), Action::fixed("instances.account_created"), Outcome::Success, meta.clone())
                .details(details),
        )
        .await
    }

    /// Changes an account. New credentials, regions or endpoint are tried as on creation
    /// first (with the stored secret when only the regions or endpoint change).
    pub async fn update_account(
        &self,
        id: &AccountId,
        patch: AccountPatch,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<Account, InstancesError> {
        let current = self.account(id).await?;
        let name = patch.name.as_deref().map(model::check_account_name).transpose()?.unwrap_or(current.name.clone());
        let regions =
            patch.regions.as_deref().map(model::check_regions).transpose()?.unwrap_or(current.regions.clone());
        let endpoint_url = match &patch.endpoint_url {
            Some(url) => self.endpoint(url.as_deref())?,
            None => current.endpoint_url.clone(),
        };
        if name != current.name && self.account_named(&name).await?.is_some() {
            return Err(InstancesError::Conflict(format!("an account named {name} exists")));
        }
        let reach_changed =
            patch.credentials.is_some() || regions != current.regions || endpoint_url != current.endpoint_url;
        if !reach_changed && name == current.name {
            // Nothing to change: nothing written, nothing audited, the cache kept.
            return Ok(current);
        }
        let (auth, sealed, aws_account_id) = match &patch.credentials {
            Some(credentials) => {
                let aws = self.try_access(&name, endpoint_url.as_deref(), &regions, credentials).await?;
                (auth_of(credentials), self.sealed(credentials, &current.id), aws)
            }
            None if reach_changed => {
                let stored = self.stored_credentials(&current).await?;
                let aws = self.try_access(&name, endpoint_url.as_deref(), &regions, &stored).await?;
                (current.auth.clone(), None, aws)
            }
            None => (current.auth.clone(), None, current.aws_account_id.clone()),
        };
        let mut changed = Vec::new();
        if name != current.name {
            changed.push("name");
        }
        if regions != current.regions {
            changed.push("regions");
        }
        if patch.credentials.is_some() {
            changed.push("credentials");
        }
        if endpoint_url != current.endpoint_url {
            changed.push("endpoint_url");
        }
        let row = store::AccountRow {
            id: &current.id,
            name: &name,
            regions: &regions,
            auth: &auth,
            secret_sealed: sealed.as_deref(),
            endpoint_url: endpoint_url.as_deref(),
            aws_account_id: &aws_account_id,
            by: &actor.id,
            now: now_ms().max(current.updated_at + 1),
        };
        let mut details = account_details(&name, &regions, &auth, endpoint_url.as_deref(), &aws_account_id);
        details["changed"] = json!(changed);
        let entry =
            NewEntry::new(actor.clone(), Action::fixed("instances.account_updated"), Outcome::Success, meta.clone());
        let account = self.write_account(&row, Some(current.updated_at), entry.details(details)).await?;
        self.cloud.cache.forget(self.tenant, &current.id);
        Ok(account)
    }

    /// The secret key of `credentials`, sealed for the account `id` (a role has none).
    fn sealed(&self, credentials: &CredentialsInput, id: &str) -> Option<String> {
        match credentials {
            CredentialsInput::Keys { secret_access_key, .. } => {
                Some(self.key.seal(secret_access_key.as_bytes(), &secret_aad(id)))
            }
            CredentialsInput::Role { .. } => None,
        }
    }

    /// Inserts an account's row (`read_at: None`) or replaces the one read at `updated_at` =
    /// `read_at`, with its audit entry, in one transaction. A name another account holds is a
    /// conflict, and so is a row changed since it was read (two admins changing it at once:
    /// the second would pair the first's new key with the old secret).
    async fn write_account(
        &self,
        row: &store::AccountRow<'_>,
        read_at: Option<i64>,
        entry: NewEntry,
    ) -> Result<Account, InstancesError> {
        let mut tx = self.db.begin().await?;
        let written = match read_at {
            None => store::insert(&mut tx, row).await.map(|()| true),
            Some(version) => store::update(&mut tx, row, version).await,
        };
        match written {
            Err(e) if cairn_store::is_unique_violation(&e) => {
                return Err(InstancesError::Conflict(format!("an account named {} exists", row.name)));
            }
            Ok(false) => {
                return Err(InstancesError::Conflict("the account changed meanwhile; read it again and retry".into()));
            }
            other => {
                other?;
            }
        }
        AuditService::record(self.db, &mut tx, entry.resource("cloud_account", row.id)).await?;
        let account = store::get(&mut tx, row.id).await?.ok_or(InstancesError::NotFound("account"))?;
        tx.commit().await?;
        Ok(account)
    }

    pub async fn delete_account(
        &self,
        id: &AccountId,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<(), InstancesError> {
        let current = self.account(id).await?;
        let mut tx = self.db.begin().await?;
        if !store::delete(&mut tx, &current.id).await? {
            return Err(InstancesError::NotFound("account"));
        }
        let entry =
            NewEntry::new(actor.clone(), Action::fixed("instances.account_deleted"), Outcome::Success, meta.clone())
                .resource("cloud_account", &current.id)
                .details(json!({ "name": current.name, "aws_account_id": current.aws_account_id }));
        AuditService::record(self.db, &mut tx, entry).await?;
        tx.commit().await?;
        self.cloud.cache.forget(self.tenant, &current.id);
        Ok(())
    }

    pub async fn account(&self, id: &AccountId) -> Result<Account, InstancesError> {
        let mut conn = self.db.reader().acquire().await?;
        store::get(&mut conn, &id.to_string()).await?.ok_or(InstancesError::NotFound("account"))
    }

    pub async fn account_named(&self, name: &str) -> Result<Option<Account>, InstancesError> {
        let mut conn = self.db.reader().acquire().await?;
        Ok(store::named(&mut conn, name).await?)
    }

    /// Every account, by name.
    pub async fn accounts(&self) -> Result<Vec<Account>, InstancesError> {
        let mut conn = self.db.reader().acquire().await?;
        Ok(store::list(&mut conn).await?)
    }

    fn endpoint(&self, url: Option<&str>) -> Result<Option<String>, ValidationError> {
        url.map(|u| {
            self.cloud.outbound.check_url("endpoint_url", u).map(|u| u.to_string().trim_end_matches('/').to_owned())
        })
        .transpose()
    }

    /// Tries credentials: the account they belong to, then one `DescribeInstances` in each
    /// region (concurrently). A refusal is an error naming the field at fault; an AWS that
    /// does not answer is the account's upstream failure.
    async fn try_access(
        &self,
        name: &str,
        endpoint_url: Option<&str>,
        regions: &[String],
        credentials: &CredentialsInput,
    ) -> Result<String, InstancesError> {
        let home = regions.first().map(String::as_str).unwrap_or("us-east-1");
        let connection = Connection::new(&self.cloud.platform, credentials, endpoint_url, home);
        let credential_field = match credentials {
            CredentialsInput::Keys { .. } => "access_key_id",
            CredentialsInput::Role { .. } => "role_arn",
        };
        // What the caller gave and AWS refused names its field; an AWS (or endpoint) that
        // does not answer is the account's upstream failure.
        let refusal = |field: String, error: AwsError| -> InstancesError {
            match error {
                AwsError::Credentials { code, message } => {
                    ValidationError::new(credential_field, format!("AWS refused these credentials ({code}): {message}"))
                        .into()
                }
                AwsError::Forbidden { code, message } => {
                    ValidationError::new(field, format!("AWS denied the request ({code}): {message}")).into()
                }
                AwsError::Refused(why) => ValidationError::new("endpoint_url", why).into(),
                error => InstancesError::Aws { account: name.to_owned(), error },
            }
        };
        let aws_account = connection.caller_account().await.map_err(|e| refusal(credential_field.to_owned(), e))?;
        let tried = join_all(regions.iter().map(|r| connection.probe(r))).await;
        for (i, result) in tried.into_iter().enumerate() {
            result.map_err(|e| refusal(format!("regions[{i}]"), e))?;
        }
        Ok(aws_account)
    }

    /// The account's stored credentials, the secret opened.
    async fn stored_credentials(&self, account: &Account) -> Result<CredentialsInput, InstancesError> {
        Ok(match &account.auth {
            AccountAuth::Role { role_arn, external_id } => {
                CredentialsInput::Role { role_arn: role_arn.clone(), external_id: external_id.clone() }
            }
            AccountAuth::Keys { access_key_id } => {
                let mut conn = self.db.reader().acquire().await?;
                let sealed =
                    store::sealed_secret(&mut conn, &account.id).await?.ok_or_else(|| InstancesError::Corrupt {
                        table: "instances_accounts",
                        reason: format!("account {} has an access key without its secret", account.id),
                    })?;
                let plain = self.key.open(&sealed, &secret_aad(&account.id)).map_err(|e| InstancesError::Corrupt {
                    table: "instances_accounts",
                    reason: format!("the secret of account {} does not open: {e}", account.id),
                })?;
                let secret_access_key = String::from_utf8(plain).map_err(|_| InstancesError::Corrupt {
                    table: "instances_accounts",
                    reason: format!("the secret of account {}", account.id),
                })?;
                CredentialsInput::Keys { access_key_id: access_key_id.clone(), secret_access_key }
            }
        })
    }

    /// The account's connection, made once per version of the account.
    async fn connection(&self, account: &Account) -> Result<Connection, InstancesError> {
        let key = (self.tenant.to_owned(), account.id.clone(), account.updated_at);
        if let Some(c) = self.cloud.connections.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(c.clone());
        }
        let credentials = self.stored_credentials(account).await?;
        let home = account.regions.first().map(String::as_str).unwrap_or("us-east-1");
        let connection = Connection::new(&self.cloud.platform, &credentials, account.endpoint_url.as_deref(), home);
        self.cloud.connections.lock().unwrap_or_else(|p| p.into_inner()).put(key, connection.clone());
        Ok(connection)
    }

    // ----- instances -----

    /// The instances of every account and region the filter allows, read concurrently
    /// (through the cache unless `fresh`), in the order of account, region, id.
    pub async fn list(&self, filter: &ListFilter, fresh: bool) -> Result<Listing, InstancesError> {
        let mut accounts = self.accounts().await?;
        // The order the cursor compares in, whatever the database's collation.
        accounts.sort_by(|a, b| a.name.cmp(&b.name));
        let mut reads = Vec::new();
        let mut unreadable = Vec::new();
        for account in accounts.iter().filter(|a| filter.account.as_ref().is_none_or(|n| *n == a.name)) {
            let mut regions: Vec<&String> =
                account.regions.iter().filter(|r| filter.region.as_ref().is_none_or(|f| f == *r)).collect();
            regions.sort();
            // An account whose stored credentials do not open costs its own lists, not the others'.
            let connection = match self.connection(account).await {
                Ok(c) => c,
                Err(e @ InstancesError::Corrupt { .. }) => {
                    tracing::error!(account = %account.name, error = %e, "an account's credentials cannot be read");
                    let error = AwsError::Platform("Cairn cannot read this account's stored credentials".into());
                    unreadable.extend(regions.iter().map(|r| Unavailable {
                        account: account.name.clone(),
                        region: (*r).clone(),
                        error: error.clone(),
                    }));
                    continue;
                }
                Err(e) => return Err(e),
            };
            for region in regions {
                let connection = connection.clone();
                reads.push(async move {
                    let key = cache::Key {
                        tenant: self.tenant.to_owned(),
                        account: account.id.clone(),
                        version: account.updated_at,
                        region: region.clone(),
                    };
                    let fetch = async move {
                        let mut list = connection.instances(&account.name, region).await?;
                        list.sort_by(|a, b| a.id.cmp(&b.id));
                        Ok(list)
                    };
                    (account, region, self.cloud.cache.get(&key, fresh, fetch).await)
                });
            }
        }
        let mut listing = Listing {
            filter: filter.clone(),
            reads: reads.len() + unreadable.len(),
            unavailable: unreadable,
            ..Listing::default()
        };
        for (account, region, result) in join_all(reads).await {
            match result {
                Ok(list) => listing.parts.push(list),
                Err(error) => {
                    tracing::warn!(account = %account.name, region = %region, error = %error, "an account's instances could not be listed");
                    listing.unavailable.push(Unavailable {
                        account: account.name.clone(),
                        region: region.clone(),
                        error,
                    });
                }
            }
        }
        listing.accounts = accounts;
        Ok(listing)
    }

    /// The instance at `target`; an instance AWS lists no more (or never did) is `NotFound`.
    /// One not in the cached list is looked for again fresh (it may be new).
    pub async fn find(&self, target: &Target) -> Result<(Account, Instance), InstancesError> {
        let account = self.account_named(&target.account).await?.ok_or(InstancesError::NotFound("instance"))?;
        if !account.regions.contains(&target.region) {
            return Err(InstancesError::NotFound("instance"));
        }
        let filter = ListFilter {
            account: Some(account.name.clone()),
            region: Some(target.region.clone()),
            ..Default::default()
        };
        for fresh in [false, true] {
            let listing = self.list(&filter, fresh).await?;
            if let Some(u) = listing.unavailable.first() {
                return Err(InstancesError::Aws { account: u.account.clone(), error: u.error.clone() });
            }
            if let Some(i) = listing.iter().find(|i| i.id == target.id) {
                return Ok((account, i.clone()));
            }
        }
        Err(InstancesError::NotFound("instance"))
    }

    /// Where the instance `id` is, when exactly one account and region lists it. One not in
    /// the cached lists is looked for again fresh (it may be new).
    pub async fn locate(&self, id: &str) -> Result<Target, InstancesError> {
        for fresh in [false, true] {
            let listing = self.list(&ListFilter::default(), fresh).await?;
            let mut found = listing.iter().filter(|i| i.id == id);
            match (found.next(), found.next()) {
                (Some(i), None) => {
                    return Ok(Target { account: i.account.clone(), region: i.region.clone(), id: i.id.clone() });
                }
                (Some(_), Some(_)) => {
                    return Err(InstancesError::Conflict(format!(
                        "instance {id} is listed by more than one account or region: name it by /{{account}}/{{region}}/{{id}}"
                    )));
                }
                // It may be in an account that did not answer.
                (None, _) if fresh => {
                    if let Some(u) = listing.unavailable.first() {
                        return Err(InstancesError::Aws { account: u.account.clone(), error: u.error.clone() });
                    }
                }
                (None, _) => {}
            }
        }
        Err(InstancesError::NotFound("instance"))
    }

    /// An instance with its status checks.
    pub async fn details(&self, target: &Target) -> Result<(Instance, Option<StatusChecks>), InstancesError> {
        bounded(&target.account, async {
            let (account, instance) = self.find(target).await?;
            let connection = self.connection(&account).await?;
            let checks = connection
                .status_checks(&target.region, &target.id)
                .await
                .map_err(|error| InstancesError::Aws { account: account.name.clone(), error })?;
            Ok((instance, checks))
        })
        .await
    }

    /// Reboots, starts or stops an instance, audited with its outcome (`failure` with the
    /// AWS error code); the account's cached list is dropped. Finding the instance is bounded
    /// as a read is; the action's own call is never cut short (its outcome must be audited),
    /// and the SDK bounds it.
    pub async fn act(
        &self,
        action: InstanceAction,
        target: &Target,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<(), InstancesError> {
        let (account, _) = bounded(&target.account, self.find(target)).await?;
        let connection = self.connection(&account).await?;
        let done = match action {
            InstanceAction::Reboot => connection.reboot(&target.region, &target.id).await,
            InstanceAction::Start => connection.start(&target.region, &target.id).await,
            InstanceAction::Stop => connection.stop(&target.region, &target.id).await,
        };
        self.cloud.cache.forget(self.tenant, &account.id);
        let mut details =
            json!({ "account": target.account, "region": target.region, "aws_account_id": account.aws_account_id });
        let outcome = match &done {
            Ok(()) => Outcome::Success,
            Err(e) => {
                details["error_code"] = json!(e.code());
                details["error"] = json!(e.to_string());
                Outcome::Failure
            }
        };
        let entry = NewEntry::new(actor.clone(), Action::fixed(action.permission()), outcome, meta.clone())
            .resource("instance", &target.id)
            .details(details);
        AuditService::record_now(self.db, entry).await?;
        done.map_err(|error| InstancesError::Aws { account: account.name, error })
    }

    /// Records that `actor` was refused `action` on the instance at `target`.
    pub async fn record_denial(
        &self,
        action: InstanceAction,
        target: &Target,
        reason: &str,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<(), InstancesError> {
        let entry = NewEntry::new(actor.clone(), Action::fixed("access.denied"), Outcome::Denied, meta.clone())
            .resource("instance", &target.id)
            .details(denial_details(action, target, reason));
        AuditService::record_now(self.db, entry).await?;
        Ok(())
    }

    /// An instance's metric.
    pub async fn metric(&self, target: &Target, query: &MetricQuery) -> Result<Vec<MetricPoint>, InstancesError> {
        let mut read = self.metrics(target, std::slice::from_ref(query)).await?;
        read.pop()
            .unwrap_or_else(|| Ok(Vec::new()))
            .map_err(|error| InstancesError::Aws { account: target.account.clone(), error })
    }

    /// Several metrics of one instance (found once), read concurrently, each with its own
    /// outcome: one CloudWatch does not give leaves the others.
    pub async fn metrics(
        &self,
        target: &Target,
        queries: &[MetricQuery],
    ) -> Result<Vec<Result<Vec<MetricPoint>, AwsError>>, InstancesError> {
        bounded(&target.account, async {
            let (account, _) = self.find(target).await?;
            let connection = self.connection(&account).await?;
            Ok(join_all(queries.iter().map(|q| connection.metric(&target.region, &target.id, q))).await)
        })
        .await
    }
}

/// What a refused action's entry says: the permission, why, and where the instance is when
/// that was looked up (an action by id alone is refused before any account is read).
fn denial_details(action: InstanceAction, target: &Target, reason: &str) -> serde_json::Value {
    let mut details = json!({ "attempted": action.permission(), "reason": reason });
    if !target.account.is_empty() {
        details["account"] = json!(target.account);
        details["region"] = json!(target.region);
    }
    details
}

/// How long a read of the console (an instance, its details, its metrics) may take in all,
/// whatever the number of calls to AWS it makes.
pub const READ_BOUND: Duration = Duration::from_secs(10);

/// `read`, or AWS's timeout for `account` once [`READ_BOUND`] has passed.
async fn bounded<T>(account: &str, read: impl Future<Output = Result<T, InstancesError>>) -> Result<T, InstancesError> {
    tokio::time::timeout(READ_BOUND, read)
        .await
        .unwrap_or_else(|_| Err(InstancesError::Aws { account: account.to_owned(), error: AwsError::Timeout }))
}

fn auth_of(c: &CredentialsInput) -> AccountAuth {
    match c {
        CredentialsInput::Keys { access_key_id, .. } => AccountAuth::Keys { access_key_id: access_key_id.clone() },
        CredentialsInput::Role { role_arn, external_id } => {
            AccountAuth::Role { role_arn: role_arn.clone(), external_id: external_id.clone() }
        }
    }
}

/// An account change's audit details; never a secret.
fn account_details(
    name: &str,
    regions: &[String],
    auth: &AccountAuth,
    endpoint_url: Option<&str>,
    aws_account_id: &str,
) -> serde_json::Value {
    let mut details =
        json!({ "name": name, "regions": regions, "aws_account_id": aws_account_id, "endpoint_url": endpoint_url });
    match auth {
        AccountAuth::Keys { access_key_id } => {
            details["access_key_id"] = json!(access_key_id);
        }
        AccountAuth::Role { role_arn, .. } => {
            details["role_arn"] = json!(role_arn);
        }
    }
    details
}
