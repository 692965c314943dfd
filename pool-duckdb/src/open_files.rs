//! One database instance per file per process. DuckDB opens a file a
//! second time in the same process as a second, independent instance (its
//! lock is per process, so nothing stops it): two buffer pools and two
//! write-ahead logs over one file, each blind to the other's writes. A
//! pool claims its file here before opening it, and the claim lasts until
//! the last connection of its instance is gone.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

/// A claim on a file: held by the pool's root connection and by every
/// connection cloned from it; dropped with the last of them.
#[derive(Debug)]
pub(crate) struct Claim {
    key: PathBuf,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut open = registry().lock().unwrap_or_else(PoisonError::into_inner);
        // Remove only our own entry: a newer claim on the same file may
        // have replaced a dead one.
        if open.get(&self.key).is_some_and(|w| w.strong_count() == 0) {
            open.remove(&self.key);
        }
    }
}

fn registry() -> &'static Mutex<HashMap<PathBuf, Weak<Claim>>> {
    static OPEN: std::sync::OnceLock<Mutex<HashMap<PathBuf, Weak<Claim>>>> =
        std::sync::OnceLock::new();
    OPEN.get_or_init(Mutex::default)
}

/// The file's identity: its canonical path (the directory's, joined with
/// the name, for a file not yet created).
fn key(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            dir.canonicalize()
                .map_or_else(|_| path.to_path_buf(), |d| d.join(name))
        }
        _ => path.to_path_buf(),
    }
}

/// How long a claim may take to clear: a pool just dropped closes its
/// connections on blocking threads, in milliseconds.
const RELEASE_WAIT: Duration = Duration::from_secs(1);

/// Claims `path` for a new database instance, waiting up to a second for
/// a pool just dropped to let it go.
///
/// # Errors
/// `Err(())` if another live pool of this process has the file open.
pub(crate) async fn claim(path: &Path) -> Result<Arc<Claim>, ()> {
    let key = key(path);
    let deadline = tokio::time::Instant::now() + RELEASE_WAIT;
    loop {
        {
            let mut open = registry().lock().unwrap_or_else(PoisonError::into_inner);
            if open.get(&key).is_none_or(|w| w.strong_count() == 0) {
                let claim = Arc::new(Claim { key: key.clone() });
                open.insert(key, Arc::downgrade(&claim));
                return Ok(claim);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
