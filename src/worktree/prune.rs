//! `prune` with git: releasing the registry entries whose directory is gone also removes
//! okstra's git lock on those worktrees and git's record of them, so `doctor` stops
//! advising the same prune.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use git2::{Repository, WorktreeLockStatus, WorktreePruneOptions};
use serde::Serialize;

use super::git::{self, LOCK_REASON_PREFIX};
use super::WorktreeError;
use crate::error::git_err;
use crate::registry::{Registry, WorktreeEntry};

/// What [`prune`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Pruned {
    /// The entries released (or, in a dry run, that would be).
    pub released: Vec<WorktreeEntry>,
    /// Paths of released worktrees whose okstra git lock and git record were removed.
    pub unlocked: Vec<String>,
    /// Released worktrees git may still record, because no repository of theirs could be
    /// found (pass `projectRoot` / `--project-root`).
    pub unresolved: Vec<String>,
}

/// The registry's prune plus git: after releasing entries whose directory is gone (unless
/// `dry_run`), finds each one in the repositories of the registry's still-existing
/// worktrees (and `project_root`'s, when given), removes its lock when okstra put it (the
/// reason starts with `okstra task `) and prunes git's record of the gone directory. A
/// lock with another reason is left alone.
pub fn prune(
    reg: &Registry,
    dry_run: bool,
    project_root: Option<&Path>,
) -> Result<Pruned, WorktreeError> {
    if let Some(root) = project_root {
        crate::ids::check_dir("projectRoot", root)?;
    }
    let released = reg.prune(dry_run)?;
    let mut out = Pruned {
        released,
        unlocked: Vec::new(),
        unresolved: Vec::new(),
    };
    if dry_run || out.released.is_empty() {
        return Ok(out);
    }
    let repos = candidate_repos(reg, project_root)?;
    for e in &out.released {
        let path = Path::new(&e.worktree_path);
        let mut done = false;
        for main in repos.values() {
            if forget_gone_worktree(main, path)? {
                done = true;
                break;
            }
        }
        if done {
            out.unlocked.push(e.worktree_path.clone());
        } else {
            out.unresolved.push(e.worktree_path.clone());
        }
    }
    Ok(out)
}

/// Main repositories of every registry entry whose directory still exists, plus
/// `project_root`'s, keyed by their canonical git dir.
fn candidate_repos(
    reg: &Registry,
    project_root: Option<&Path>,
) -> Result<BTreeMap<PathBuf, Repository>, WorktreeError> {
    let mut repos = BTreeMap::new();
    let mut add = |dir: &Path| {
        if let Some(main) = git::discover(dir).and_then(|r| git::open_main(&r).ok()) {
            let key = main
                .path()
                .canonicalize()
                .unwrap_or_else(|_| main.path().to_path_buf());
            repos.entry(key).or_insert(main);
        }
    };
    if let Some(root) = project_root {
        add(root);
    }
    for e in reg.list(None, None)? {
        let p = Path::new(&e.worktree_path);
        if p.is_dir() {
            add(p);
        }
    }
    Ok(repos)
}

/// When `main` records a worktree at the gone `path`: removes okstra's lock on it and
/// prunes the record. Returns whether `main` recorded it.
fn forget_gone_worktree(main: &Repository, path: &Path) -> Result<bool, WorktreeError> {
    let Some(name) = git::admin_name_at(main, path) else {
        return Ok(false);
    };
    let wt = main
        .find_worktree(&name)
        .map_err(git_err("find worktree", main.path()))?;
    if wt.validate().is_ok() {
        // The directory is back (recreated since): leave git's record and lock alone.
        return Ok(true);
    }
    let status = wt
        .is_locked()
        .map_err(git_err("worktree lock status", main.path()))?;
    match status {
        WorktreeLockStatus::Locked(Some(reason)) if reason.starts_with(LOCK_REASON_PREFIX) => {
            git::retry_locked(|| wt.unlock()).map_err(git_err("worktree unlock", main.path()))?;
        }
        WorktreeLockStatus::Locked(_) => return Ok(true),
        WorktreeLockStatus::Unlocked => {}
    }
    git::retry_locked(|| wt.prune(Some(&mut WorktreePruneOptions::new())))
        .map_err(git_err("worktree prune", main.path()))?;
    Ok(true)
}
