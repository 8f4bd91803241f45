//! Lookups served from a validated copy of `registry.json` (its bytes in the writers'
//! layout and where each row sits, see [`Canon`]), kept per file in this process and
//! revalidated on every call by one `stat`: the copy is used while the file's (device,
//! inode, size, mtime) are the ones it was read at. Every writer (this module and the Python
//! helper) replaces the file by rename, which gives it a new inode, so a replaced file is
//! never mistaken for the cached one.
//!
//! Lookups and writers share the one copy per file (a writer edits it in place and puts it
//! back; the next lookup confirms it by content), so a process holds each registry once.
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

/// The one copy of a registry file this process keeps: shared by lookups (which trust it by
/// its `stamp` when it had settled) and by writers (which trust it by content).
struct Slot {
    canon: Arc<Canon>,
    /// The version the copy is trusted to be by `stat` alone; `None` when it is only known
    /// to have been the file's content (a fresh file, or one this process just wrote).
    stamp: Option<Stamp>,
}

/// One slot per registry file: lookups and writes share one copy, so a process that read a
/// registry and changed a row holds it once, not once per kind of use.
fn slots() -> &'static Mutex<HashMap<PathBuf, Slot>> {
    static SLOTS: OnceLock<Mutex<HashMap<PathBuf, Slot>>> = OnceLock::new();
    SLOTS.get_or_init(Default::default)
}

fn keep(slots: &mut HashMap<PathBuf, Slot>, path: &Path, slot: Slot) {
    if slots.len() >= MAX_FILES && !slots.contains_key(path) {
        slots.clear();
    }
    slots.insert(path.to_path_buf(), slot);
}

/// The copy of `path` when it is the version `stamp` (taken by the caller just before)
/// describes: by the stamp it was trusted at, or, for a copy known only by content, by
/// comparing its bytes with the file's (chunked, no file-sized buffer) — after which the
/// stamp is trusted too if it had settled. A copy that is not the file's content is dropped
/// here, before the caller reads the file again, so the two never coexist.
pub fn get(path: &Path, stamp: &Stamp) -> Option<Arc<Canon>> {
    let mut slots = slots().lock().ok()?;
    let slot = slots.get_mut(path)?;
    if slot.stamp == Some(*stamp) {
        return Some(slot.canon.clone());
    }
    if slot.stamp.is_none() {
        let read_at = SystemTime::now();
        let same = crate::fsio::file_holds(path, &slot.canon.bytes)
            && std::fs::metadata(path).is_ok_and(|m| Stamp::of(&m) == *stamp);
        if same {
            if stamp.settled_at(read_at) {
                slot.stamp = Some(*stamp);
            }
            return Some(slot.canon.clone());
        }
    }
    slots.remove(path);
    None
}

/// Keeps `canon` as the copy of `path`, read at version `stamp` (`read_at`, taken before the
/// read): trusted by that stamp if the version had settled, else by content only. Returns
/// whether the version had settled, i.e. whether `stamp` identifies `canon`.
pub fn put(path: &Path, stamp: Stamp, read_at: SystemTime, canon: Arc<Canon>) -> bool {
    let settled = stamp.settled_at(read_at);
    if let Ok(mut slots) = slots().lock() {
        let stamp = settled.then_some(stamp);
        keep(&mut slots, path, Slot { canon, stamp });
    }
    settled
}

/// Takes the copy of `path` (the one a change of this process last wrote, or a lookup
/// read), when the file (read under the lock) still holds exactly its bytes: the next
/// change skips the read into a fresh buffer and the scan. Matching is by content, so no
/// timestamp question arises. The copy leaves the cache while the change edits it.
pub fn take_canon(path: &Path) -> Option<Canon> {
    let slot = slots().lock().ok()?.remove(path)?;
    // Unshared unless a lookup on another thread holds it this instant (then it is copied).
    let canon = Arc::try_unwrap(slot.canon).unwrap_or_else(|shared| (*shared).clone());
    crate::fsio::file_holds(path, &canon.bytes).then_some(canon)
}

/// Keeps `canon`, whose bytes are what `path` now holds (written under the lock), as the
/// file's one copy, trusted by content until a lookup confirms its stamp.
pub fn put_canon(path: &Path, canon: Canon) {
    if let Ok(mut slots) = slots().lock() {
        let slot = Slot {
            canon: Arc::new(canon),
            stamp: None,
        };
        keep(&mut slots, path, slot);
    }
}
