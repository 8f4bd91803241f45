//! `release_worktree`: the registry's release plus git's worktree lock.

use std::path::Path;

use super::{git, WorktreeError};
use crate::ids::KeyParts;
use crate::registry::{Registry, WorktreeEntry};

/// The registry's `release` plus git: marks the entry released, frees its branch, and
/// removes the git worktree lock okstra put on its directory (a lock with another reason
/// stays; when the directory is already gone the repository cannot be found from it and
/// doctor reports the stale entry). The directory and branch are kept, so the next
/// provision of the key reactivates it, or recreates the worktree on the same branch.
/// Returns the released entry, or `None` when the key is absent.
///
/// Holds the key's provisioning lock (`worktree::locks`) for its whole length, as
/// provisioning, repair and prune do: a release racing a provision of the same key runs
/// before or after it, never between its lookup and its reservation (which would leave
/// a row released and its worktree locked, or the reverse).
pub fn release_worktree(
    reg: &Registry,
    key: &KeyParts,
) -> Result<Option<WorktreeEntry>, WorktreeError> {
    let _key_lock = super::locks::lock_key(reg, key)?;
    let entry = reg.release(key)?;
    if let Some(e) = &entry {
        git::unlock_worktree_at(Path::new(&e.worktree_path))?;
    }
    Ok(entry)
}
