//! The two provisioning locks under `<OKSTRA_HOME>/worktrees/.locks/`: one per task key
//! (held from the lookup to the reservation) and one per repository (serializes changes to
//! one repository's branches and worktrees). Both wait at most the registry's lock bound.

use std::path::{Path, PathBuf};

use super::WorktreeError;
use crate::fsio::{FsError, LockGuard};
use crate::ids::{self, KeyParts};
use crate::registry::Registry;

fn locks_dir(reg: &Registry) -> PathBuf {
    reg.root().join(".locks")
}

/// The per-key lock.
pub fn lock_key(reg: &Registry, key: &KeyParts) -> Result<LockGuard, WorktreeError> {
    lock_key_str(reg, &key.key())
}

/// The per-key lock by the key's text (journal records carry the text). Named by the
/// slugged key ([`ids::normalize_key`]), so the raw text of a row the Python helper wrote
/// (`…/Checkout 500`) and its slug (`…/checkout-500`) share one lock: they name one entry.
pub fn lock_key_str(reg: &Registry, key: &str) -> Result<LockGuard, WorktreeError> {
    let name = format!("key-{}.lock", ids::stable_hash8(&ids::normalize_key(key)));
    Ok(LockGuard::acquire(
        &locks_dir(reg).join(name),
        reg.lock_timeout(),
    )?)
}

/// The per-repository lock, named by the canonical common git dir.
///
/// Its bound is per holder, not for the whole queue: every holder counts itself in the lock
/// file (a handoff counter), and a waiter whose bound ran out waits another bound when the
/// counter moved meanwhile. So 32 agents queued on one repository, each holding it for
/// git's step only, are not failed for the queue's length; `E_LOCK_TIMEOUT` still comes
/// when one holder keeps it for a whole bound (a stuck process).
pub fn lock_repo(reg: &Registry, main: &git2::Repository) -> Result<LockGuard, WorktreeError> {
    let dir = main
        .path()
        .canonicalize()
        .unwrap_or_else(|_| main.path().to_path_buf());
    let name = format!("repo-{}.lock", ids::stable_hash8(&dir.to_string_lossy()));
    let path = locks_dir(reg).join(name);
    let mut seen = handoffs(&path);
    loop {
        match LockGuard::acquire(&path, reg.lock_timeout()) {
            Ok(guard) => {
                count_handoff(&guard);
                return Ok(guard);
            }
            Err(FsError::LockTimeout { .. }) if handoffs(&path) != seen => {
                seen = handoffs(&path);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The handoff counter in a repository lock file (0 when empty or unreadable).
fn handoffs(path: &Path) -> u64 {
    std::fs::read(path)
        .ok()
        .and_then(|b| {
            b.get(..8)
                .map(|h| u64::from_le_bytes(h.try_into().unwrap_or([0; 8])))
        })
        .unwrap_or(0)
}

/// Adds one to the handoff counter of the held lock. Best effort: a counter that cannot be
/// written only makes waiters give up at the plain bound.
fn count_handoff(guard: &LockGuard) {
    use std::os::unix::fs::FileExt;
    let mut buf = [0u8; 8];
    let n = guard.file().read_at(&mut buf, 0).unwrap_or(0);
    let now = if n == 8 { u64::from_le_bytes(buf) } else { 0 };
    let _ = guard.file().write_at(&now.wrapping_add(1).to_le_bytes(), 0);
}
