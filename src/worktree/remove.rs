//! `remove_provisioned`: undoing a `created` provision completely.

use std::path::{Path, PathBuf};

use super::git;
use super::locks::{lock_key, lock_repo};
use super::WorktreeError;
use crate::context::Context;
use crate::error::{git_err, InvalidArg};
use crate::ids::KeyParts;
use crate::registry::{Registry, WorktreeEntry};

/// Undoes a `created` provision completely, for rollbacks (e.g. a stage-group collector
/// whose merge conflicted): removes the worktree directory and git's record of it (only a
/// directory git lists as a linked worktree of the repository is deleted), deletes its
/// branch, and releases the registry entry. `project_root` is any directory of the
/// repository (needed when the worktree directory is already gone). Returns the released
/// entry, or `None` when the key has no entry (nothing is done).
///
/// Errors: `E_INVALID_ARG` (projectRoot not in git), `E_GIT`, `E_LOCK_TIMEOUT`,
/// `E_REGISTRY_CORRUPT`.
pub fn remove_provisioned(
    ctx: &Context,
    project_root: &Path,
    key: &KeyParts,
) -> Result<Option<WorktreeEntry>, WorktreeError> {
    let reg = Registry::open(ctx);
    let _key_lock = lock_key(&reg, key)?;
    let Some(entry) = reg.lookup(key)? else {
        return Ok(None);
    };
    let repo = git::discover(project_root).ok_or_else(|| {
        InvalidArg(format!(
            "projectRoot {} is not inside a git repository",
            project_root.display()
        ))
    })?;
    let main = git::open_main(&repo)?;
    let _repo_lock = lock_repo(&reg, &main)?;
    let path = PathBuf::from(&entry.worktree_path);
    // Only a directory git lists as a linked worktree of this repository is deleted: a row
    // may name any path (`registryReserve` takes what it is given).
    if let Some(name) = git::admin_name_at(&main, &path) {
        git::remove_worktree(&main, &name, &path);
    }
    if let Ok(mut b) = main.find_branch(&entry.branch, git2::BranchType::Local) {
        git::retry_locked(|| b.delete()).map_err(git_err("branch delete", main.path()))?;
    }
    Ok(reg.release(key)?)
}

/// A rollback guard over a worktree the caller just provisioned (`created`) and builds on:
/// dropped while armed (an error, a panic), it undoes the creation with
/// [`remove_provisioned`], best effort (the error that made it roll back is the one that
/// matters); [`UndoCreation::keep`] ends it. Armed only when the provision created the
/// worktree: a reused one is never removed.
pub struct UndoCreation<'a> {
    ctx: &'a Context,
    project_root: &'a Path,
    key: &'a KeyParts,
    armed: bool,
}

impl<'a> UndoCreation<'a> {
    /// Guards the worktree of `key` when `created`; a no-op guard otherwise.
    pub fn new(
        created: bool,
        ctx: &'a Context,
        project_root: &'a Path,
        key: &'a KeyParts,
    ) -> UndoCreation<'a> {
        UndoCreation {
            ctx,
            project_root,
            key,
            armed: created,
        }
    }

    /// The work on the worktree succeeded: keep it.
    pub fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for UndoCreation<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = remove_provisioned(self.ctx, self.project_root, self.key);
        }
    }
}
