//! Where rendered reports are kept: an object store under keys
//! `reports/<tenant id>/<report id>.pdf`. A folder on this machine (by default
//! `<data dir>/objects`) through `object_store`'s local file system.

use std::path::PathBuf;
use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

#[derive(Debug, thiserror::Error)]
#[error("object store: {0}")]
pub struct ObjectError(String);

impl From<object_store::Error> for ObjectError {
    fn from(e: object_store::Error) -> Self {
        ObjectError(e.to_string())
    }
}

/// The store of rendered reports.
#[derive(Debug, Clone)]
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    /// Where it is, as logs and errors name it.
    pub location: String,
}

impl Objects {
    /// A folder, created when missing.
    pub fn folder(root: PathBuf) -> Result<Objects, ObjectError> {
        std::fs::create_dir_all(&root).map_err(|e| ObjectError(format!("{}: {e}", root.display())))?;
        let store = LocalFileSystem::new_with_prefix(&root)?.with_automatic_cleanup(true);
        Ok(Objects { store: Arc::new(store), location: root.display().to_string() })
    }

    /// The key of a tenant's report.
    pub fn key(tenant: &str, report: &str) -> String {
        format!("reports/{tenant}/{report}.pdf")
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), ObjectError> {
        self.store.put(&Path::from(key), PutPayload::from(bytes)).await?;
        Ok(())
    }

    /// The object's bytes; `None` when it is gone.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectError> {
        match self.store.get(&Path::from(key)).await {
            Ok(got) => Ok(Some(got.bytes().await?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the object; one already gone is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

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
