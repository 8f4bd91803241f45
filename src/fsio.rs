//! File primitives shared by every store: a bounded, blocking exclusive `flock` and the
//! atomic replace (unique exclusive temp file, fsync, rename, fsync the directory).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use fs2::FileExt;

use crate::error::{Code, Coded, InvalidArg};

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
    /// A file below a repository or plan run root is not a plain file reached without
    /// symlinks (see [`crate::safe_open`]).
    #[error(
        "{path} is {what}; okstra never follows a symlink, nor opens a FIFO, socket or device, \
         inside a repository or plan run root (docs/security.md). Nothing was opened through it \
         and nothing changed: replace it with a regular file or remove it, then retry"
    )]
    Unsafe { path: PathBuf, what: &'static str },
    /// A file is larger than what okstra reads for its purpose.
    #[error(
        "{path} is larger than {bound} bytes, the most okstra reads for {purpose}; nothing was \
         read past the bound and nothing changed. Shrink or replace the file"
    )]
    TooLarge {
        path: PathBuf,
        bound: u64,
        purpose: &'static str,
    },
    /// SIGINT or SIGTERM arrived while waiting for a lock or reading (the CLI only).
    #[error(transparent)]
    Interrupted(#[from] crate::interrupt::Interrupted),
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
    fn code(&self) -> Code {
        match self {
            FsError::LockTimeout { .. } => Code::LockTimeout,
            FsError::Io { .. } => Code::Io,
            FsError::Unsafe { .. } => Code::UnsafeFile,
            FsError::TooLarge { .. } => Code::FileTooLarge,
            FsError::Interrupted(_) => Code::Interrupted,
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

/// The longest lock bound okstra accepts, in milliseconds (one day): okstra's own locks are
/// held for seconds, so a larger bound is a mistake, refused rather than waited out.
pub const MAX_LOCK_TIMEOUT_MS: u64 = 86_400_000;

/// Resolves the lock bound: an explicit value wins, then `OKSTRA_LOCK_TIMEOUT_MS` (unset or
/// blank: not given), then 30 s. A value okstra cannot use — over
/// [`MAX_LOCK_TIMEOUT_MS`], or (the env var) not a whole number of milliseconds, negative, or
/// not UTF-8 — is `E_INVALID_ARG` naming it, never replaced by the default (docs/security.md).
pub fn lock_timeout(explicit_ms: Option<u64>) -> Result<Duration, InvalidArg> {
    let ms = match explicit_ms {
        Some(ms) => {
            check_lock_ms("lockTimeoutMs / --lock-timeout-ms", ms)?;
            ms
        }
        None => match lock_timeout_env()? {
            Some(ms) => ms,
            None => return Ok(DEFAULT_LOCK_TIMEOUT),
        },
    };
    Ok(Duration::from_millis(ms))
}

fn check_lock_ms(name: &str, ms: u64) -> Result<(), InvalidArg> {
    if ms > MAX_LOCK_TIMEOUT_MS {
        return Err(InvalidArg(format!(
            "{name} {ms} is over {MAX_LOCK_TIMEOUT_MS} (one day), the longest lock wait okstra \
             accepts; give a smaller number of milliseconds"
        )));
    }
    Ok(())
}

/// `OKSTRA_LOCK_TIMEOUT_MS` as milliseconds; `None` when unset or blank.
fn lock_timeout_env() -> Result<Option<u64>, InvalidArg> {
    let bad = |shown: &str, why: &str| {
        InvalidArg(format!(
            "{LOCK_TIMEOUT_ENV} {shown:?} {why}; okstra does not fall back to the default \
             (30000). Set it to a whole number of milliseconds from 0 to \
             {MAX_LOCK_TIMEOUT_MS}, or unset it"
        ))
    };
    let raw = match std::env::var(LOCK_TIMEOUT_ENV) {
        Ok(v) => v,
        Err(std::env::VarError::NotPresent) => return Ok(None),
        Err(std::env::VarError::NotUnicode(raw)) => {
            return Err(bad(&raw.to_string_lossy(), "is not valid UTF-8"))
        }
    };
    let v = raw.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(v, "is not a whole number of milliseconds"));
    }
    let ms: u64 = v.parse().map_err(|_| bad(v, "is too large a number"))?;
    check_lock_ms(LOCK_TIMEOUT_ENV, ms)?;
    Ok(Some(ms))
}

/// How often a lock wait looks whether SIGINT / SIGTERM arrived (see [`crate::interrupt`]).
pub const INTERRUPT_POLL: Duration = Duration::from_millis(50);

/// After this long a waiting CLI says on stderr which lock it waits for.
pub const WAIT_NOTICE_AFTER: Duration = Duration::from_secs(1);

thread_local! {
    static ANNOUNCE_WAITS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with lock-wait notices on: while it runs, a lock wait on this thread that lasts
/// longer than [`WAIT_NOTICE_AFTER`] prints one line on the process's stderr naming the lock
/// (cargo's "Blocking waiting for file lock"). The CLI turns this on; library calls stay
/// silent.
pub fn announcing_lock_waits<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            ANNOUNCE_WAITS.with(|a| a.set(self.0));
        }
    }
    let _reset = Reset(ANNOUNCE_WAITS.with(|a| a.replace(true)));
    f()
}

/// An exclusive advisory lock (`flock(LOCK_EX)`) held until dropped. It is the same lock
/// Python's `fcntl.flock` takes, so both runtimes exclude each other.
///
/// A contended lock is waited for by blocking in `flock` (not by polling, which loses to
/// newcomers): a waiter thread blocks on its own descriptor and hands it over through a
/// channel; the caller waits on the channel for at most the bound. A waiter abandoned at the
/// bound that acquires the lock later drops it at once.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
}

impl LockGuard {
    /// Takes the lock on `path` (created if missing, parents too), waiting at most `timeout`.
    /// The lock file itself is never a symlink, FIFO or device: it is opened like every
    /// file below a root ([`crate::safe_open::open_file`]), so a planted
    /// `consumers.lock -> X` is refused (`E_UNSAFE_FILE`) instead of creating X.
    pub fn acquire(path: &Path, timeout: Duration) -> Result<LockGuard, FsError> {
        crate::interrupt::check()?;
        if let Some(parent) = non_empty_parent(path) {
            std::fs::create_dir_all(parent).map_err(io_err("create directory", parent))?;
        }
        let file = crate::safe_open::open_file(path, crate::safe_open::Access::ReadWriteCreate)?
            .ok_or_else(|| FsError::Io {
                op: "open lock file",
                path: path.to_path_buf(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })?;
        LockGuard::take(file, path, timeout)
    }

    /// Takes the lock on an open file (a lock file or a directory).
    ///
    /// SIGINT / SIGTERM inside a [`crate::interrupt::SignalScope`] end the wait within
    /// [`INTERRUPT_POLL`] with [`FsError::Interrupted`]; a lock taken after the signal is
    /// released at once, so the caller changes nothing.
    fn take(file: File, path: &Path, timeout: Duration) -> Result<LockGuard, FsError> {
        match file.try_lock_exclusive() {
            Ok(()) => {
                let guard = LockGuard { file };
                crate::interrupt::check()?;
                return Ok(guard);
            }
            Err(e) if e.kind() == fs2::lock_contended_error().kind() => {}
            Err(e) => return Err(io_err("lock", path)(e)),
        }
        let start = Instant::now();
        let (tx, rx) = mpsc::sync_channel::<std::io::Result<File>>(1);
        thread::Builder::new()
            .name("okstra-lock-wait".into())
            .spawn(move || {
                let got = file.lock_exclusive().map(|()| file);
                // When the caller gave up, the send fails and the file (with the lock, if it
                // was taken) is dropped here: a late acquisition is released at once.
                let _ = tx.send(got);
            })
            .map_err(io_err("start lock waiter for", path))?;
        let announce = ANNOUNCE_WAITS.with(|a| a.get());
        let mut announced = false;
        loop {
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(FsError::LockTimeout {
                    path: path.to_path_buf(),
                    waited_ms: waited.as_millis(),
                });
            }
            crate::interrupt::check()?;
            let mut slice = (timeout - waited).min(INTERRUPT_POLL);
            if announce && !announced {
                slice = slice.min(WAIT_NOTICE_AFTER.saturating_sub(waited));
            }
            match rx.recv_timeout(slice) {
                Ok(Ok(file)) => {
                    let guard = LockGuard { file };
                    crate::interrupt::check()?;
                    return Ok(guard);
                }
                Ok(Err(e)) => return Err(io_err("lock", path)(e)),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if announce && !announced && start.elapsed() >= WAIT_NOTICE_AFTER {
                        announced = true;
                        eprintln!(
                            "okstra: Blocking waiting for file lock on {} (another okstra \
                             process holds it; giving up after {} ms)",
                            path.display(),
                            timeout.as_millis()
                        );
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(FsError::Io {
                        op: "lock",
                        path: path.to_path_buf(),
                        source: std::io::Error::other("the lock waiter thread ended"),
                    })
                }
            }
        }
    }

    /// Takes the lock on a directory itself (`flock` on the directory's descriptor), so
    /// writers of the files in it exclude each other without leaving a lock file beside
    /// them (e.g. in a repository's `.okstra/`). The directory must exist.
    pub fn acquire_dir(dir: &Path, timeout: Duration) -> Result<LockGuard, FsError> {
        crate::interrupt::check()?;
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(dir)
            .map_err(io_err("open directory", dir))?;
        LockGuard::take(file, dir, timeout)
    }
}

impl LockGuard {
    /// The locked file (to record something in it while holding the lock).
    pub fn file(&self) -> &File {
        &self.file
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Closing the descriptor releases the flock as well; unlocking first only makes the
        // release explicit. A failure here cannot be acted on.
        let _ = FileExt::unlock(&self.file);
    }
}

/// `path`'s directory, or `None` for a bare file name (whose directory is `.`).
fn non_empty_parent(path: &Path) -> Option<&Path> {
    path.parent().filter(|p| !p.as_os_str().is_empty())
}

/// The directory holding `path`: its parent, or `.` for a bare relative name.
pub fn dir_of(path: &Path) -> &Path {
    non_empty_parent(path).unwrap_or(Path::new("."))
}

/// A temp file beside its target, created exclusively; removed when dropped unless it was
/// renamed into place (the rollback of every failed write).
struct TempFile {
    path: PathBuf,
    file: Option<File>,
}

impl TempFile {
    /// Creates `.<name>.tmp-<pid>-<n>` in `dir` with `O_EXCL | O_NOFOLLOW`: never an
    /// existing file, never through a symlink, and unique per writer, so two writers never
    /// share (and truncate) one temp file.
    fn create_beside(target: &Path) -> Result<TempFile, FsError> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = dir_of(target);
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let mut attempt = 0;
        loop {
            let seq = SEQ.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!(
                ".{name}.tmp-{}-{seq}-{nanos:x}",
                std::process::id()
            ));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&path)
            {
                Ok(file) => {
                    return Ok(TempFile {
                        path,
                        file: Some(file),
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                    attempt += 1;
                }
                Err(e) => return Err(io_err("create temp file", &path)(e)),
            }
        }
    }

    /// Writes and fsyncs the whole content.
    fn fill(&mut self, bytes: &[u8]) -> Result<(), FsError> {
        let Some(f) = self.file.as_mut() else {
            return Ok(());
        };
        f.write_all(bytes).map_err(io_err("write", &self.path))?;
        f.sync_all().map_err(io_err("fsync", &self.path))
    }

    /// Renames the temp file over `target`; from here on it is no longer ours to remove.
    fn publish(mut self, target: &Path) -> Result<(), FsError> {
        self.file = None;
        std::fs::rename(&self.path, target).map_err(io_err("rename into place", target))?;
        self.path = PathBuf::new();
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Whether the file at `path` holds exactly `bytes`, read in small chunks (no buffer the
/// size of the file, whose fresh pages cost more than the comparison): how a writer that
/// kept what it last wrote confirms, under the lock, that nobody changed the file since.
/// Any error reading it is "no" (the caller then reads it in full and reports the error).
pub fn file_holds(path: &Path, bytes: &[u8]) -> bool {
    use std::io::Read;
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let mut chunk = vec![0u8; 256 << 10];
    let mut at = 0;
    loop {
        match file.read(&mut chunk) {
            Ok(0) => return at == bytes.len(),
            Ok(n) => {
                if bytes.get(at..at + n) != Some(&chunk[..n]) {
                    return false;
                }
                at += n;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Replaces `path` with `bytes` so that a crash at any instant leaves either the old or the
/// new file, and two writers at once leave one writer's whole content: a unique temp file
/// is created beside `path` (`O_EXCL | O_NOFOLLOW`, so a symlink planted at any name is
/// never followed), written, fsynced and renamed over `path`; then the directory is fsynced.
/// On any error the temp file is removed and `path` is unchanged. A `path` that is a symlink
/// is replaced by a regular file (the link's target is never written). Relative paths are
/// resolved against the current directory.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    let dir = dir_of(path);
    std::fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
    let mut tmp = TempFile::create_beside(path)?;
    tmp.fill(bytes)?;
    tmp.publish(path)?;
    fsync_dir(dir)
}

/// Flushes a directory entry change (a rename or a new file) to disk.
pub fn fsync_dir(dir: &Path) -> Result<(), FsError> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
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
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "only the target remains");
    }

    #[test]
    fn atomic_write_never_follows_a_planted_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"keep").unwrap();
        let p = dir.path().join("a.json");
        // The old fixed temp name, and the target itself, as symlinks out of the directory.
        std::os::unix::fs::symlink(&outside, dir.path().join("a.json.tmp")).unwrap();
        std::os::unix::fs::symlink(&outside, &p).unwrap();
        atomic_write(&p, b"new").unwrap();
        assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert!(!std::fs::symlink_metadata(&p)
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn atomic_write_removes_its_temp_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        // Renaming a file over a directory fails after the temp file was written.
        let p = dir.path().join("sub");
        std::fs::create_dir_all(p.join("x")).unwrap();
        let err = atomic_write(&p, b"data").unwrap_err();
        assert_eq!(err.code(), "E_IO");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "the temp file was removed");
    }

    #[test]
    fn atomic_write_takes_a_bare_relative_name() {
        assert_eq!(dir_of(Path::new("state.json")), Path::new("."));
        assert_eq!(dir_of(Path::new("a/state.json")), Path::new("a"));
    }

    #[test]
    fn a_waiter_gets_the_lock_as_soon_as_it_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lock");
        let held = LockGuard::acquire(&p, Duration::from_secs(1)).unwrap();
        let p2 = p.clone();
        let waiter = thread::spawn(move || {
            let t = Instant::now();
            LockGuard::acquire(&p2, Duration::from_secs(10)).map(|_| t.elapsed())
        });
        thread::sleep(Duration::from_millis(200));
        drop(held);
        let waited = waiter.join().unwrap().unwrap();
        assert!(waited < Duration::from_secs(2), "{waited:?}");
    }

    #[test]
    fn an_abandoned_waiter_releases_a_late_acquisition() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lock");
        let held = LockGuard::acquire(&p, Duration::from_secs(1)).unwrap();
        assert!(LockGuard::acquire(&p, Duration::from_millis(50)).is_err());
        drop(held);
        // The abandoned waiter takes the lock and drops it at once.
        LockGuard::acquire(&p, Duration::from_secs(2)).unwrap();
    }

    #[test]
    fn directory_locks_exclude_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let _held = LockGuard::acquire_dir(dir.path(), Duration::from_secs(1)).unwrap();
        let err = LockGuard::acquire_dir(dir.path(), Duration::from_millis(50)).unwrap_err();
        assert_eq!(err.code(), "E_LOCK_TIMEOUT");
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
        assert_eq!(lock_timeout(Some(5)).unwrap(), Duration::from_millis(5));
    }
}
