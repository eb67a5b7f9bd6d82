//! A key-value store on a SQLite file, laid out like Spin's own (`spin_key_value` table keyed
//! by store label and key), so a state directory can move between this host and `spin up`.
//!
//! Read-modify-write operations run in `BEGIN IMMEDIATE` transactions, which take SQLite's
//! write lock before reading: two hosts sharing the file (WAL mode) cannot interleave an
//! increment or a compare-and-swap.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{StoreError, Swap};

/// How long a writer waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub struct SqliteStore {
    connection: Arc<Mutex<Connection>>,
    label: Arc<str>,
}

impl SqliteStore {
    pub fn open(path: &Path, label: &str) -> Result<Self, StoreError> {
        let failed = |error: &dyn std::fmt::Display| {
            StoreError::Backend(format!("failed to open {}: {error}", path.display()))
        };
        if let Some(parent) = path.parent() {
            create_private_dir(parent).map_err(|e| failed(&e))?;
        }
        let connection = Connection::open(path).map_err(|e| failed(&e))?;
        restrict_to_owner(path, 0o600).map_err(|e| failed(&e))?;
        connection.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(backend)?;
        connection
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS spin_key_value (
                    store TEXT NOT NULL,
                    key   TEXT NOT NULL,
                    value BLOB NOT NULL,
                    PRIMARY KEY (store, key)
                )",
            )
            .map_err(backend)?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            label: label.into(),
        })
    }

    /// Runs `work` on the blocking pool with the connection locked.
    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection, &str) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let connection = self.connection.clone();
        let label = self.label.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = connection
                .lock()
                .map_err(|_| StoreError::Backend("sqlite connection lock poisoned".into()))?;
            work(&mut guard, &label)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("sqlite task failed: {e}")))?
    }
}

#[async_trait::async_trait]
impl super::Store for SqliteStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = key.to_owned();
        self.with(move |conn, label| read(conn, label, &key)).await
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let key = key.to_owned();
        let value = value.to_vec();
        self.with(move |conn, label| write(conn, label, &key, &value))
            .await
    }

    /// Writes every entry in one transaction: all or none, with one sync to disk.
    async fn set_many(&self, entries: Vec<(String, Vec<u8>)>) -> Result<(), StoreError> {
        self.with(move |conn, label| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            for (key, value) in &entries {
                write(&tx, label, key, value)?;
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.with(move |conn, label| {
            conn.execute(
                "DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2",
                params![label, key],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.get(key).await?.is_some())
    }

    async fn keys(&self) -> Result<Vec<String>, StoreError> {
        self.with(|conn, label| {
            let mut statement = conn
                .prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1 ORDER BY key")
                .map_err(backend)?;
            let rows = statement
                .query_map(params![label], |row| row.get::<_, String>(0))
                .map_err(backend)?;
            let mut keys = Vec::new();
            let mut total = 0usize;
            for row in rows {
                let key = row.map_err(backend)?;
                total += key.len();
                if total > super::MAX_VALUE_BYTES {
                    return Err(StoreError::Backend("key listing too large".into()));
                }
                keys.push(key);
            }
            Ok(keys)
        })
        .await
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        let key = key.to_owned();
        self.with(move |conn, label| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let current = match read(&tx, label, &key)? {
                None => 0,
                Some(bytes) => {
                    let bytes: [u8; 8] = bytes
                        .as_slice()
                        .try_into()
                        .map_err(|_| StoreError::NotACounter)?;
                    i64::from_le_bytes(bytes)
                }
            };
            let next = current.checked_add(delta).ok_or(StoreError::Overflow)?;
            write(&tx, label, &key, &next.to_le_bytes())?;
            tx.commit().map_err(backend)?;
            Ok(next)
        })
        .await
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<Swap, StoreError> {
        let key = key.to_owned();
        let expected = expected.map(<[u8]>::to_vec);
        let new = new.to_vec();
        self.with(move |conn, label| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let current = read(&tx, label, &key)?;
            if current != expected {
                return Ok(Swap::Conflict(current));
            }
            write(&tx, label, &key, &new)?;
            tx.commit().map_err(backend)?;
            Ok(Swap::Written)
        })
        .await
    }
}

fn read(conn: &Connection, label: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    conn.prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2")
        .map_err(backend)?
        .query_row(params![label, key], |row| row.get(0))
        .optional()
        .map_err(backend)
}

fn write(conn: &Connection, label: &str, key: &str, value: &[u8]) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
    )
    .map_err(backend)?
    .execute(params![label, key, value])
    .map_err(backend)?;
    Ok(())
}

/// Creates `dir` (and its parents) readable only by the owner, because it contains the stores.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    restrict_to_owner(dir, 0o700)
}

#[cfg(unix)]
fn restrict_to_owner(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn restrict_to_owner(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(error.to_string())
}
