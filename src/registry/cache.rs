//! Lookups served from a validated copy of `registry.json` (its bytes in the writers'
//! layout and where each row sits, see [`Canon`]), kept per file in this process and
//! revalidated on every call by one `stat`: the copy is used while the file's (device,
//! inode, size, mtime) are the ones it was read at. Every writer (this module and the Python
//! helper) replaces the file by rename, which gives it a new inode, so a replaced file is
//! never mistaken for the cached one.
//!
//! One case needs care: file timestamps tick coarsely (a few ms), and a freed inode number
//! can be handed to the next file, so two files written within one tick could share all
//! four keys. A copy is therefore trusted by `stat` only when the file's mtime was already
//! older than [`SETTLED`] when it was read; a fresher file is read again on the next call
//! (as if there were no cache) until it has settled.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::canon::Canon;

/// How old a file's mtime must be before its (dev, inode, size, mtime) identify its content.
pub const SETTLED: Duration = Duration::from_millis(20);

/// How many registry files one process keeps copies of (one per `OKSTRA_HOME` in use).
const MAX_FILES: usize = 8;

/// The identity of one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

impl Stamp {
    /// The stamp of the file's metadata.
    pub fn of(m: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        }
    }

    /// The length of [`Stamp::to_bytes`].
    pub const BYTES: usize = 8 + 8 + 8 + 16;

    /// The stamp as bytes (little-endian dev, inode, size, mtime ns), for a file that names
    /// the version it describes.
    pub fn to_bytes(self) -> [u8; Self::BYTES] {
        let mut out = [0u8; Self::BYTES];
        out[..8].copy_from_slice(&self.dev.to_le_bytes());
        out[8..16].copy_from_slice(&self.ino.to_le_bytes());
        out[16..24].copy_from_slice(&self.size.to_le_bytes());
        out[24..].copy_from_slice(&self.mtime_ns.to_le_bytes());
        out
    }

    /// The stamp [`Stamp::to_bytes`] wrote.
    pub fn from_bytes(b: &[u8]) -> Option<Stamp> {
        Some(Stamp {
            dev: u64::from_le_bytes(b.get(..8)?.try_into().ok()?),
            ino: u64::from_le_bytes(b.get(8..16)?.try_into().ok()?),
            size: u64::from_le_bytes(b.get(16..24)?.try_into().ok()?),
            mtime_ns: i128::from_le_bytes(b.get(24..40)?.try_into().ok()?),
        })
    }

    /// The file size at this stamp.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether the file had not changed for [`SETTLED`] at `now`.
    pub fn settled_at(&self, now: SystemTime) -> bool {
        let now_ns = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        now_ns - self.mtime_ns >= SETTLED.as_nanos() as i128
    }
}

struct Copy {
    stamp: Stamp,
    canon: Arc<Canon>,
}

fn copies() -> &'static Mutex<HashMap<PathBuf, Copy>> {
    static COPIES: OnceLock<Mutex<HashMap<PathBuf, Copy>>> = OnceLock::new();
    COPIES.get_or_init(Default::default)
}

/// The cached copy of `path` when `stamp` is the one it was read at.
pub fn get(path: &Path, stamp: &Stamp) -> Option<Arc<Canon>> {
    let copies = copies().lock().ok()?;
    copies
        .get(path)
        .filter(|c| c.stamp == *stamp)
        .map(|c| c.canon.clone())
}

/// Remembers `canon` as the content of `path` at `stamp`, if that version had settled when
/// it was read (`read_at`, taken before the read); otherwise forgets any copy. Returns
/// whether the version had settled, i.e. whether `stamp` identifies `canon`.
pub fn put(path: &Path, stamp: Stamp, read_at: SystemTime, canon: Arc<Canon>) -> bool {
    let settled = stamp.settled_at(read_at);
    let Ok(mut copies) = copies().lock() else {
        return settled;
    };
    if !settled {
        copies.remove(path);
        return false;
    }
    if copies.len() >= MAX_FILES && !copies.contains_key(path) {
        copies.clear();
    }
    copies.insert(path.to_path_buf(), Copy { stamp, canon });
    true
}

fn canons() -> &'static Mutex<HashMap<PathBuf, Canon>> {
    static CANONS: OnceLock<Mutex<HashMap<PathBuf, Canon>>> = OnceLock::new();
    CANONS.get_or_init(Default::default)
}

/// Takes the copy of `path` a change of this process last wrote (or read), when the file
/// (read under the lock) still holds exactly its bytes: the next change skips the read into
/// a fresh buffer and the scan. Matching is by content, so no timestamp question arises.
pub fn take_canon(path: &Path) -> Option<Canon> {
    let mut canons = canons().lock().ok()?;
    let canon = canons.remove(path)?;
    crate::fsio::file_holds(path, &canon.bytes).then_some(canon)
}

/// Keeps `canon`, whose bytes are what `path` now holds (written under the lock).
pub fn put_canon(path: &Path, canon: Canon) {
    let Ok(mut canons) = canons().lock() else {
        return;
    };
    if canons.len() >= MAX_FILES && !canons.contains_key(path) {
        canons.clear();
    }
    canons.insert(path.to_path_buf(), canon);
}
