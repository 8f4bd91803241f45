//! `registry.idx`: where each row of one version of `registry.json` sits, so that a process
//! that asks once (every `okstra registry lookup`) answers with a few small reads instead of
//! reading and scanning the whole registry — the scan grows with the registry, this does not.
//!
//! The index names the version it describes by the registry's (device, inode, size, mtime)
//! and is used only while the registry still has exactly that stamp. It is written only for
//! a version whose mtime had settled when it was read (the rule of the in-process copy, see
//! `cache`), after a full scan validated every row of it; a registry replaced since (by us,
//! by the Python helper, by hand) has another stamp, and the next full scan writes a fresh
//! index. Every answer is checked against the registry itself: the bytes at a slot must be
//! the key's own token and a valid row, or the lookup takes the full path. The file is a
//! cache: deleting it is always safe, and the Python helper neither reads nor writes it.
//!
//! Layout (little-endian): the 8-byte magic `OKSIDX01`, the stamp (dev u64, inode u64, size
//! u64, mtime ns i128), the slot count u64 (a power of two), then the slots, 12 bytes each:
//! the key hash u32 (never 0), the offset of the key's token u32 and the offset just past
//! the row's value u32. An all-zero slot is empty; keys probe linearly from `hash & (n-1)`.

use std::fs::File;
use std::hash::BuildHasher;
use std::os::unix::fs::FileExt;
use std::path::Path;

use rustc_hash::FxBuildHasher;

use super::cache::Stamp;
use super::canon::Canon;
use super::entry::WorktreeEntry;
use super::layout::token;
use crate::fsio;

/// The index file name inside the worktrees root.
pub const INDEX_FILE: &str = "registry.idx";

const MAGIC: &[u8; 8] = b"OKSIDX01";
const HEADER: usize = 8 + Stamp::BYTES + 8;
const SLOT: usize = 12;
/// Slots read per probe step (most keys are found in the first).
const BATCH: usize = 16;

/// What the index says about a key.
#[derive(Debug)]
pub enum Answer {
    /// The key's row, checked against the registry's bytes.
    Row(Box<WorktreeEntry>),
    /// The index of the registry's current version has no such key.
    Absent,
    /// No usable index (none, stale, damaged, or its answer did not check out): take the
    /// full path.
    Unknown,
}

fn hash(token: &[u8]) -> u32 {
    let h = (FxBuildHasher.hash_one(token) >> 32) as u32;
    h.max(1)
}

/// Writes the index of `canon`, the registry version `stamp` (best effort: an index that
/// cannot be written only costs speed, so errors are returned for the caller to drop).
pub fn write(idx: &Path, stamp: &Stamp, canon: &Canon) -> Result<(), fsio::FsError> {
    let members = &canon.layout.tasks.members;
    let fits = |n: usize| u32::try_from(n).is_ok();
    if !fits(canon.bytes.len()) {
        return Ok(());
    }
    let slots = (members.len() * 2).next_power_of_two().max(8);
    let mut table = vec![0u8; slots * SLOT];
    for m in members {
        let h = hash(&canon.bytes[m.key.clone()]);
        let mut i = h as usize & (slots - 1);
        while table[i * SLOT..i * SLOT + 4] != [0; 4] {
            i = (i + 1) & (slots - 1);
        }
        let slot = &mut table[i * SLOT..(i + 1) * SLOT];
        slot[..4].copy_from_slice(&h.to_le_bytes());
        slot[4..8].copy_from_slice(&(m.key.start as u32).to_le_bytes());
        slot[8..].copy_from_slice(&(m.value.end as u32).to_le_bytes());
    }
    let mut out = Vec::with_capacity(HEADER + table.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&stamp.to_bytes());
    out.extend_from_slice(&(slots as u64).to_le_bytes());
    out.extend_from_slice(&table);
    fsio::atomic_write(idx, &out)
}

/// Whether the index at `idx` describes the registry version `stamp`.
#[cfg(test)]
pub fn is_current(idx: &Path, stamp: &Stamp) -> bool {
    File::open(idx)
        .ok()
        .and_then(|f| header(&f))
        .is_some_and(|(s, _)| s == *stamp)
}

fn header(f: &File) -> Option<(Stamp, usize)> {
    let mut h = [0u8; HEADER];
    f.read_exact_at(&mut h, 0).ok()?;
    if &h[..8] != MAGIC {
        return None;
    }
    let stamp = Stamp::from_bytes(&h[8..8 + Stamp::BYTES])?;
    let slots = u64::from_le_bytes(h[8 + Stamp::BYTES..].try_into().ok()?);
    let slots = usize::try_from(slots).ok()?;
    let len = f.metadata().ok()?.len();
    (slots.is_power_of_two() && len == (HEADER + slots * SLOT) as u64).then_some((stamp, slots))
}

/// The row of `key` by the index at `idx`, when it describes the registry at `reg` as it is.
pub fn lookup(idx: &Path, reg: &Path, key: &str) -> Answer {
    let found = (|| {
        let index = File::open(idx).ok()?;
        let (stamp, slots) = header(&index)?;
        // The registry's own descriptor: what is read below is the version stamped here.
        let registry = File::open(reg).ok()?;
        if Stamp::of(&registry.metadata().ok()?) != stamp {
            return None;
        }
        let want = token(key);
        let h = hash(&want);
        let mut i = h as usize & (slots - 1);
        let mut batch = [0u8; BATCH * SLOT];
        for _ in 0..slots.div_ceil(BATCH) + 1 {
            let n = BATCH.min(slots - i);
            index
                .read_exact_at(&mut batch[..n * SLOT], (HEADER + i * SLOT) as u64)
                .ok()?;
            for slot in batch[..n * SLOT].chunks_exact(SLOT) {
                let word = |at: usize| {
                    u32::from_le_bytes([slot[at], slot[at + 1], slot[at + 2], slot[at + 3]])
                };
                match word(0) {
                    0 => return Some(Answer::Absent),
                    s if s == h => {
                        if let Some(answer) = row_at(&registry, key, &want, word(4), word(8)) {
                            return Some(answer);
                        }
                    }
                    _ => {}
                }
            }
            i = (i + n) & (slots - 1);
        }
        None
    })();
    found.unwrap_or(Answer::Unknown)
}

/// What the registry holds at `start..end`: `None` when it is another key's member (a hash
/// shared by two keys: probe on), the row when it is `want` (the key's token), `": "` and
/// a valid row, else [`Answer::Unknown`] (an index that does not match its registry).
fn row_at(registry: &File, key: &str, want: &[u8], start: u32, end: u32) -> Option<Answer> {
    let Some(len) = end.checked_sub(start) else {
        return Some(Answer::Unknown);
    };
    let mut bytes = vec![0u8; len as usize];
    if registry
        .read_exact_at(&mut bytes, u64::from(start))
        .is_err()
    {
        return Some(Answer::Unknown);
    }
    let value = bytes.strip_prefix(want)?;
    let row = value
        .strip_prefix(b": ")
        .and_then(|v| serde_json::from_slice::<serde_json::Value>(v).ok())
        .and_then(|row| WorktreeEntry::from_row(key, &row).ok());
    Some(row.map_or(Answer::Unknown, |e| Answer::Row(Box::new(e))))
}

#[cfg(test)]
mod tests;
