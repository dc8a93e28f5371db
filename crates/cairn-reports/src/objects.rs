//! Where rendered reports are kept: an object store under keys
//! `reports/<tenant id>/<report id>.pdf` — a folder on this machine (by default
//! `<data dir>/objects`) or an S3 bucket (AWS or an S3-compatible store), both through
//! `object_store`. On S3 each object is tagged `cairn-expires=<date>`, so a bucket lifecycle
//! rule can expire it even if Cairn never does, and its download links are presigned URLs;
//! a folder's are links Cairn signs and serves itself ([`crate::links`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cairn_domain::MasterKey;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::signer::Signer;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutOptions, PutPayload, TagSet};
use url::Url;

use crate::jobs::{Job, Status};
use crate::links::download_path;

/// The tag whose value is the date (UTC, `YYYY-MM-DD`) after which an object may go.
pub const EXPIRES_TAG: &str = "cairn-expires";
const DAY_MS: i64 = 86_400_000;

#[derive(Debug, thiserror::Error)]
#[error("object store: {0}")]
pub struct ObjectError(String);

impl From<object_store::Error> for ObjectError {
    fn from(e: object_store::Error) -> Self {
        ObjectError(e.to_string())
    }
}

/// Where reports go, as configured (`object_store_url` and its settings).
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    Folder(PathBuf),
    S3(S3Location),
}

/// A bucket and the settings to reach it. Unset settings come from the standard AWS
/// variables (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, `AWS_ENDPOINT_URL`) and, without keys, from the container's or
/// instance's role.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Keys start with it (no leading or trailing `/`); empty for none.
    pub prefix: String,
    /// An S3-compatible endpoint (MinIO, a local test server); `None` for AWS.
    pub endpoint: Option<Url>,
    pub region: Option<String>,
    /// An access key id and its secret.
    pub keys: Option<(String, String)>,
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Location {
    /// `s3://bucket/prefix` or a local path; the folder is `default` when `text` is empty.
    pub fn parse(text: &str, default: PathBuf) -> Result<Location, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Location::Folder(default));
        }
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let valid = (3..=63).contains(&bucket.len())
                && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
                && !bucket.starts_with(['-', '.'])
                && !bucket.ends_with(['-', '.']);
            if !valid {
                return Err(format!("{bucket:?} is not an S3 bucket name (3-63 lower-case letters, digits, - and .)"));
            }
            let prefix = prefix.trim_matches('/');
            if prefix.split('/').any(|p| p.is_empty() || p == "." || p == "..") && !prefix.is_empty() {
                return Err(format!("{prefix:?} is not a key prefix"));
            }
            let s3 = S3Location {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
                endpoint: None,
                region: None,
                keys: None,
            };
            return Ok(Location::S3(s3));
        }
        if let Some(path) = text.strip_prefix("file://") {
            return Ok(Location::Folder(PathBuf::from(path)));
        }
        if text.contains("://") {
            return Err("must be a folder, file:///folder or s3://bucket/prefix".into());
        }
        Ok(Location::Folder(PathBuf::from(text)))
    }

    /// Where it is, for logs and `config show`: never credentials.
    pub fn describe(&self) -> String {
        match self {
            Location::Folder(p) => p.display().to_string(),
            Location::S3(s) => {
                let prefix = if s.prefix.is_empty() { String::new() } else { format!("/{}", s.prefix) };
                let at = s.endpoint.as_ref().map(|e| format!(" at {}", e.as_str().trim_end_matches('/')));
                format!("s3://{}{prefix}{}", s.bucket, at.unwrap_or_default())
            }
        }
    }
}

#[derive(Debug)]
enum Backend {
    Folder,
    S3 { s3: AmazonS3, prefix: String },
}

/// The store of rendered reports.
#[derive(Debug, Clone)]
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    backend: Arc<Backend>,
    /// Where it is, as logs and errors name it.
    pub location: String,
}

impl Objects {
    pub fn open(location: &Location) -> Result<Objects, ObjectError> {
        match location {
            Location::Folder(root) => Objects::folder(root.clone()),
            Location::S3(s) => Objects::s3(s),
        }
    }

    /// A folder, created when missing.
    pub fn folder(root: PathBuf) -> Result<Objects, ObjectError> {
        std::fs::create_dir_all(&root).map_err(|e| ObjectError(format!("{}: {e}", root.display())))?;
        let store = LocalFileSystem::new_with_prefix(&root)?.with_automatic_cleanup(true);
        Ok(Objects { store: Arc::new(store), backend: Arc::new(Backend::Folder), location: root.display().to_string() })
    }

    /// A bucket. Nothing is contacted until the first report.
    pub fn s3(s: &S3Location) -> Result<Objects, ObjectError> {
        // TLS is rustls on ring, as everywhere in Cairn (idempotent).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&s.bucket);
        if let Some(region) = &s.region {
            builder = builder.with_region(region);
        }
        if let Some(endpoint) = &s.endpoint {
            let plain = endpoint.scheme() == "http";
            builder = builder
                .with_endpoint(endpoint.as_str().trim_end_matches('/'))
                .with_client_options(ClientOptions::new().with_allow_http(plain));
        }
        if let Some((id, secret)) = &s.keys {
            builder = builder.with_access_key_id(id).with_secret_access_key(secret);
        }
        let s3 = builder.build()?;
        Ok(Objects {
            store: Arc::new(s3.clone()),
            backend: Arc::new(Backend::S3 { s3, prefix: s.prefix.clone() }),
            location: Location::S3(s.clone()).describe(),
        })
    }

    /// The key of a tenant's report.
    pub fn key(tenant: &str, report: &str) -> String {
        format!("reports/{tenant}/{report}.pdf")
    }

    fn path(&self, key: &str) -> Path {
        match &*self.backend {
            Backend::S3 { prefix, .. } if !prefix.is_empty() => Path::from(format!("{prefix}/{key}")),
            _ => Path::from(key),
        }
    }

    /// Stores a report that may go after `expires` (epoch ms): on S3 the object is tagged
    /// with that day.
    pub async fn put(&self, key: &str, bytes: Vec<u8>, expires: i64) -> Result<(), ObjectError> {
        let mut tags = TagSet::default();
        if let Ok(t) = jiff::Timestamp::from_millisecond(expires) {
            tags.push(EXPIRES_TAG, &t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string());
        }
        let opts = PutOptions { tags, ..PutOptions::default() };
        self.store.put_opts(&self.path(key), PutPayload::from(bytes), opts).await?;
        Ok(())
    }

    /// The object's bytes; `None` when it is gone.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectError> {
        match self.store.get(&self.path(key)).await {
            Ok(got) => Ok(Some(got.bytes().await?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the object; one already gone is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// A ready report's download link and when it stops working: `link_days` from `now`
    /// (the tenant's setting), never past the report's expiry. On S3 a presigned URL; in a
    /// folder a link `public_url` serves, signed with `key`. `None` for a report that is not
    /// ready.
    pub async fn link(&self, signing: &LinkSigning<'_>, job: &Job, link_days: i64, now: i64) -> LinkResult {
        let (Status::Ready, Some(expires), Some(object)) = (job.status, job.expires_at, &job.object_key) else {
            return Ok(None);
        };
        let LinkSigning { key, public_url, tenant } = *signing;
        let until = (now + link_days * DAY_MS).min(expires);
        match &*self.backend {
            Backend::Folder => {
                let path = download_path(key, tenant, &job.id, until);
                Ok(Some((format!("{}{path}", public_url.trim_end_matches('/')), until)))
            }
            Backend::S3 { s3, .. } => {
                // Whole seconds, at least one: what SigV4 counts.
                let secs = ((until - now) / 1000).max(1) as u64;
                let path = self.path(object);
                let url = s3.signed_url(object_store::signer::Method::GET, &path, Duration::from_secs(secs)).await?;
                Ok(Some((url.to_string(), now + secs as i64 * 1000)))
            }
        }
    }
}

/// What a Cairn-served link is signed with and served from.
#[derive(Debug, Clone, Copy)]
pub struct LinkSigning<'a> {
    pub key: &'a MasterKey,
    /// Cairn's public URL.
    pub public_url: &'a str,
    /// The tenant's id.
    pub tenant: &'a str,
}

/// A link and when it stops working, if the report is ready.
pub type LinkResult = Result<Option<(String, i64)>, ObjectError>;

/// Removes a tenant's expired reports and their files, `batch` at a time; how many went. A
/// file already gone is no error. Safe to run on any number of workers at once: each row is
/// removed by one of them.
pub async fn remove_expired(db: &cairn_store::Db, objects: &Objects, now: i64) -> Result<usize, String> {
    let jobs = crate::jobs::Jobs { db };
    let mut removed = 0;
    loop {
        let gone = jobs.remove_expired(now, 100).await.map_err(|e| e.to_string())?;
        for (_, key) in &gone {
            if let Some(key) = key {
                objects.delete(key).await.map_err(|e| e.to_string())?;
            }
        }
        removed += gone.len();
        if gone.len() < 100 {
            return Ok(removed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_is_a_folder_or_a_bucket() {
        let default = PathBuf::from("/data/objects");
        assert_eq!(Location::parse("", default.clone()), Ok(Location::Folder(default.clone())));
        assert_eq!(Location::parse("/srv/reports", default.clone()), Ok(Location::Folder("/srv/reports".into())));
        assert_eq!(Location::parse("file:///srv/r", default.clone()), Ok(Location::Folder("/srv/r".into())));
        let Ok(Location::S3(s)) = Location::parse("s3://acme-reports/cairn/prod/", default.clone()) else {
            panic!("a bucket")
        };
        assert_eq!((s.bucket.as_str(), s.prefix.as_str()), ("acme-reports", "cairn/prod"));
        let Ok(Location::S3(s)) = Location::parse("s3://acme-reports", default.clone()) else { panic!("a bucket") };
        assert_eq!(s.prefix, "");
        for bad in ["s3://AB", "s3://x", "s3://-acme", "s3://acme/a//b", "s3://acme/../b", "gs://acme", "http://x"] {
            assert!(Location::parse(bad, default.clone()).is_err(), "{bad}");
        }
        let with_keys = S3Location { keys: Some(("AKIA".into(), "secret".into())), ..s };
        let shown = format!("{:?}", Location::S3(with_keys));
        assert_eq!(shown, "s3://acme-reports");
        assert!(!shown.contains("secret"));
    }
}
