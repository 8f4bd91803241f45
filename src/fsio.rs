//! File primitives shared by every store: a bounded exclusive `flock` and the atomic
//! replace (temp file, fsync, rename, fsync the directory).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use fs2::FileExt;

use crate::error::Coded;

/// Default bound on how long any lock is waited for.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Env var overriding [`DEFAULT_LOCK_TIMEOUT`], in milliseconds.
pub const LOCK_TIMEOUT_ENV: &str = "OKSTRA_LOCK_TIMEOUT_MS";

/// Failures of the file primitives.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// Another process held the lock for longer than the bound.
    #[error(
        "timed out after {waited_ms} ms waiting for the lock on {path}; another okstra process \
         holds it. If no okstra process is running, a stuck process may still hold it: find it \
         with `fuser {path}`, or raise the bound with OKSTRA_LOCK_TIMEOUT_MS"
    )]
    LockTimeout { path: PathBuf, waited_ms: u128 },
    /// An I/O call failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Coded for FsError {
    fn code(&self) -> &'static str {
        match self {
            FsError::LockTimeout { .. } => "E_LOCK_TIMEOUT",
            FsError::Io { .. } => "E_IO",
        }
    }
}

/// Builds an [`FsError::Io`] for `op` on `path`.
pub fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> FsError + 'a {
    move |source| FsError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Resolves the lock bound: an explicit value wins, then `OKSTRA_LOCK_TIMEOUT_MS`, then 30 s.
/// An env value that is not a whole number of milliseconds is ignored.
pub fn lock_timeout(explicit_ms: Option<u64>) -> Duration {
    explicit_ms
        .or_else(|| {
            std::env::var(LOCK_TIMEOUT_ENV)
                .ok()
                .and_then(|v| v.trim().parse().ok())
        })
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_LOCK_TIMEOUT)
}

/// An exclusive advisory lock (`flock(LOCK_EX)`) held until dropped. It is the same lock
/// Python's `fcntl.flock` takes, so both runtimes exclude each other.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
}

impl LockGuard {
    /// Takes the lock on `path` (created if missing, parents too), waiting at most `timeout`.
    pub fn acquire(path: &Path, timeout: Duration) -> Result<LockGuard, FsError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_err("create directory", parent))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err("open lock file", path))?;
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock_exclusive() {
                Ok(()) => return Ok(LockGuard { file }),
                Err(e) if e.kind() == fs2::lock_contended_error().kind() => {
                    let waited = start.elapsed();
                    if waited >= timeout {
                        return Err(FsError::LockTimeout {
                            path: path.to_path_buf(),
                            waited_ms: waited.as_millis(),
                        });
                    }
                    thread::sleep(pause.min(timeout - waited));
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(e) => return Err(io_err("lock", path)(e)),
            }
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Closing the descriptor releases the flock as well; unlocking first only makes the
        // release explicit. A failure here cannot be acted on.
        let _ = FileExt::unlock(&self.file);
    }
}

/// Replaces `path` with `bytes` so that a crash at any instant leaves either the old or the
/// new file: write `<path>.tmp`, fsync it, rename it over `path`, fsync the directory.
/// Callers hold the store's lock, so the one temp name cannot be raced.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    {
        let mut f = File::create(&tmp).map_err(io_err("create", &tmp))?;
        f.write_all(bytes).map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("fsync", &tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io_err("rename into place", path))?;
    fsync_dir(dir)
}

/// Flushes a directory entry change (a rename or a new file) to disk.
pub fn fsync_dir(dir: &Path) -> Result<(), FsError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        atomic_write(&p, b"one").unwrap();
        atomic_write(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert!(!dir.path().join("a.json.tmp").exists());
    }

    #[test]
    fn lock_times_out_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lock");
        let _held = LockGuard::acquire(&p, Duration::from_secs(1)).unwrap();
        // flock locks belong to the open file description: a second open in this process
        // contends just like another process would.
        let err = LockGuard::acquire(&p, Duration::from_millis(50)).unwrap_err();
        assert_eq!(err.code(), "E_LOCK_TIMEOUT");
        assert!(err.to_string().contains("x.lock"), "{err}");
    }

    #[test]
    fn lock_is_free_again_after_drop() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lock");
        drop(LockGuard::acquire(&p, Duration::from_secs(1)).unwrap());
        LockGuard::acquire(&p, Duration::from_millis(10)).unwrap();
    }

    #[test]
    fn explicit_timeout_wins() {
        assert_eq!(lock_timeout(Some(5)), Duration::from_millis(5));
    }
}
