//! The two provisioning locks under `<OKSTRA_HOME>/worktrees/.locks/`: one per task key
//! (held from the lookup to the reservation) and one per repository (serializes changes to
//! one repository's branches and worktrees). Both wait at most the registry's lock bound.

use std::path::PathBuf;

use super::WorktreeError;
use crate::fsio::LockGuard;
use crate::ids::{self, KeyParts};
use crate::registry::Registry;

fn locks_dir(reg: &Registry) -> PathBuf {
    reg.root().join(".locks")
}

/// The per-key lock.
pub fn lock_key(reg: &Registry, key: &KeyParts) -> Result<LockGuard, WorktreeError> {
    lock_key_str(reg, &key.key())
}

/// The per-key lock by the key's text (journal records carry the text).
pub fn lock_key_str(reg: &Registry, key: &str) -> Result<LockGuard, WorktreeError> {
    let name = format!("key-{}.lock", ids::stable_hash8(key));
    Ok(LockGuard::acquire(
        &locks_dir(reg).join(name),
        reg.lock_timeout(),
    )?)
}

/// The per-repository lock, named by the canonical common git dir.
pub fn lock_repo(reg: &Registry, main: &git2::Repository) -> Result<LockGuard, WorktreeError> {
    let dir = main
        .path()
        .canonicalize()
        .unwrap_or_else(|_| main.path().to_path_buf());
    let name = format!("repo-{}.lock", ids::stable_hash8(&dir.to_string_lossy()));
    Ok(LockGuard::acquire(
        &locks_dir(reg).join(name),
        reg.lock_timeout(),
    )?)
}
