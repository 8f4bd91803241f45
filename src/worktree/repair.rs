//! The worktree side of `okstra registry repair`: after the registry file's own repair,
//! clears every piece of debris doctor reports (see `debris`). Each piece is cleared under
//! the locks provisioning takes (its key's, then its repository's), and only after the
//! journal and the registry are read again under them: a provisioning that began after the
//! survey is never mistaken for debris.

use std::path::Path;

use git2::{Repository, WorktreeLockStatus};
use serde::Serialize;

use super::debris::{self, Debris, Wt};
use super::doctor::{canon, survey};
use super::journal::{self, Intent, Op};
use super::locks::{lock_key_str, lock_repo};
use super::owner::{self, Home};
use super::{git, WorktreeError};
use crate::fsio::LockGuard;
use crate::ids;
use crate::registry::{Problem, Registry, Reservation};

/// What `repair` did: the registry file's repair plus the debris it cleared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorktreeRepair {
    #[serde(flatten)]
    pub registry: crate::registry::RepairReport,
    /// The doctor findings this repair cleared.
    pub cleared: Vec<Problem>,
}

/// Repairs the registry file (`Registry::repair`: a corrupt file is moved aside and its
/// valid rows kept), then clears okstra's debris of this home: completes or undoes
/// unfinished provisionings, resets the checkout of interrupted assembles to their branch,
/// moves unreadable and refused journal records aside (deleting nothing a refused record
/// names), registers again the live okstra-locked worktrees whose row the registry lost
/// (from git's record and lock reason), locks active worktrees that lost okstra's lock,
/// unlocks okstra-locked worktrees whose key's row is released or elsewhere (directories
/// kept), removes git's records of this home's gone worktrees, deletes branches this home
/// made that no entry owns while they still point where they were created and nothing has
/// them checked out, and removes stale git lock files and temp files of dead writers.
/// Nothing outside the worktrees root is deleted besides git's own records and lock files.
pub fn repair(reg: &Registry) -> Result<WorktreeRepair, WorktreeError> {
    let registry = reg.repair()?;
    let mut cleared = crate::lifecycle::finish_removals(reg)?;
    let s = survey(reg, reg.list(None, None)?);
    for (d, p) in debris::find(&s) {
        if clear(reg, d)? {
            cleared.push(p);
        }
    }
    Ok(WorktreeRepair { registry, cleared })
}

/// The key's lock, the repository's lock, and the repository (each when there is one).
type Held = (Option<LockGuard>, Option<LockGuard>, Option<Repository>);

/// The locks provisioning of `key` takes: the key's (when known), then the repository's.
fn lock_for(reg: &Registry, key: Option<&str>, git_dir: &Path) -> Result<Held, WorktreeError> {
    let k = key.map(|k| lock_key_str(reg, k)).transpose()?;
    let main = Repository::open(git_dir).ok();
    let r = main.as_ref().map(|m| lock_repo(reg, m)).transpose()?;
    Ok((k, r, main))
}

/// Whether a provisioning of `key` is in flight or unfinished (its journal record exists).
fn pending(reg: &Registry, key: &str) -> bool {
    journal::file(reg, Op::Provision, key).exists()
}

/// Moves a journal record aside (`<record>.<suffix>`).
fn set_aside(file: &Path, suffix: &str) -> bool {
    let mut aside = file.as_os_str().to_owned();
    aside.push(suffix);
    std::fs::rename(file, &aside).is_ok()
}

/// Clears one piece of debris; returns whether it was cleared (a record another process
/// finished meanwhile, a worktree a provisioning now owns, or a branch that moved, is left
/// as it is).
fn clear(reg: &Registry, d: Debris) -> Result<bool, WorktreeError> {
    Ok(match d {
        Debris::Intent(file, intent) => finish_intent(reg, &file, &intent)?,
        Debris::Move(file, m) => {
            // Only the record goes: the collector is left exactly as it is (whatever
            // differs there shows in `git status`, and assemble refuses to touch it).
            let _k = lock_key_str(reg, &m.task_key)?;
            journal::clear(&file)?;
            true
        }
        Debris::UnreadableRecord(file) => set_aside(&file, ".unreadable"),
        Debris::RefusedRecord(file) => set_aside(&file, ".refused"),
        Debris::LockedOrphan(w) => unlock_orphan(reg, &w)?,
        Debris::Unregistered(w) => adopt(reg, &w)?,
        Debris::Unlocked(w) => relock(reg, &w)?,
        Debris::Prunable(w) => {
            let (_k, _r, main) = lock_for(reg, w.key.as_deref(), &w.git_dir)?;
            let skip = w.key.as_deref().is_some_and(|k| pending(reg, k));
            !skip && main.is_some_and(|m| forget_gone(&m, &w.name, &Home::of(reg)))
        }
        Debris::Branch(git_dir, name, at, key) => {
            let (_k, _r, main) = lock_for(reg, Some(&key), &git_dir)?;
            let owned = owner::parse_key(&key)
                .map(|p| reg.lookup(&p))
                .transpose()?
                .flatten()
                .is_some_and(|e| e.branch == name);
            !owned
                && !pending(reg, &key)
                && main.is_some_and(|m| journal::delete_branch_at(&m, &name, &at.to_string()))
        }
        Debris::GitLock(file) => std::fs::remove_file(file).is_ok(),
        Debris::Temp(file) => std::fs::remove_file(file).is_ok(),
    })
}

/// The worktree `w` names, when it still stands at the same place.
fn standing(main: &Repository, w: &Wt) -> Option<git2::Worktree> {
    let wt = main.find_worktree(&w.name).ok()?;
    (wt.validate().is_ok() && canon(wt.path()) == w.path).then_some(wt)
}

/// Whether the registry holds an active entry for `key` at `path`.
fn active_at(reg: &Registry, key: &str, path: &Path) -> Result<bool, WorktreeError> {
    let Some(parts) = owner::parse_key(key) else {
        return Ok(false);
    };
    Ok(reg
        .lookup(&parts)?
        .is_some_and(|e| e.is_active() && canon(Path::new(&e.worktree_path)) == path))
}

/// Unlocks an okstra-locked worktree of this home that no active entry owns, unless (read
/// again under the key's and repository's locks) a provisioning now owns it.
fn unlock_orphan(reg: &Registry, w: &Wt) -> Result<bool, WorktreeError> {
    let Some(key) = w.key.as_deref() else {
        return Ok(false);
    };
    let (_k, _r, main) = lock_for(reg, Some(key), &w.git_dir)?;
    if pending(reg, key) || active_at(reg, key, &w.path)? {
        return Ok(false);
    }
    let Some(wt) = main.as_ref().and_then(|m| standing(m, w)) else {
        return Ok(false);
    };
    let ours = owner::lock_mark(&wt).is_some_and(|m| Home::of(reg).owns_locked(&m, &w.path));
    Ok(ours && git::retry_locked(|| wt.unlock()).is_ok())
}

/// Registers again a live okstra-locked worktree whose key has no row: the key from the
/// lock reason, the path git records (the computed path when it is the same directory),
/// the branch checked out there, and the commit okstra created the branch at (else the
/// worktree's HEAD) as its base.
fn adopt(reg: &Registry, w: &Wt) -> Result<bool, WorktreeError> {
    let Some(key) = w.key.as_deref() else {
        return Ok(false);
    };
    let Some(parts) = owner::parse_key(key) else {
        return Ok(false);
    };
    let (_k, _r, main) = lock_for(reg, Some(key), &w.git_dir)?;
    if pending(reg, key) || reg.lookup(&parts)?.is_some() {
        return Ok(false);
    }
    let Some(main) = main else {
        return Ok(false);
    };
    let Some(wt) = standing(&main, w) else {
        return Ok(false);
    };
    let home = Home::of(reg);
    if !owner::lock_mark(&wt).is_some_and(|m| m.key == key && home.owns_locked(&m, &w.path)) {
        return Ok(false);
    }
    let Some(branch) = git::head_branch(&w.path) else {
        return Ok(false);
    };
    let base = owner::branch_mark(&main, &branch)
        .filter(|(m, _)| m.key == key)
        .map(|(_, at)| at.to_string())
        .or_else(|| {
            Repository::open(&w.path)
                .ok()?
                .head()
                .ok()?
                .target()
                .map(|o| o.to_string())
        })
        .unwrap_or_default();
    let computed = ids::compute_worktree_path(reg.root(), &parts);
    let path = if canon(&computed) == w.path {
        computed
    } else {
        w.path.clone()
    };
    let r = Reservation {
        worktree_path: path.to_string_lossy().into_owned(),
        branch,
        base_ref: base,
        phase: "registry-repair".into(),
        stages: None,
    };
    Ok(reg.reserve(&parts, &r).is_ok())
}

/// Locks an active entry's worktree again with okstra's reason, when (read again under
/// the key's and repository's locks) the entry is still active there and it is unlocked.
fn relock(reg: &Registry, w: &Wt) -> Result<bool, WorktreeError> {
    let Some(key) = w.key.as_deref() else {
        return Ok(false);
    };
    let (_k, _r, main) = lock_for(reg, Some(key), &w.git_dir)?;
    if !active_at(reg, key, &w.path)? {
        return Ok(false);
    }
    let Some(wt) = main.as_ref().and_then(|m| standing(m, w)) else {
        return Ok(false);
    };
    if wt.is_locked().ok() != Some(WorktreeLockStatus::Unlocked) {
        return Ok(false);
    }
    let reason = format!("{}{}", git::LOCK_REASON_PREFIX, owner::tag(reg, key));
    Ok(git::retry_locked(|| wt.lock(Some(&reason))).is_ok())
}

/// Removes git's record `name` of a gone worktree of `home` (unlocking okstra's lock on it
/// first). A record whose directory is back, or that someone else locked, or that belongs
/// to another home, is left alone. Returns whether the record was removed.
pub(super) fn forget_gone(main: &Repository, name: &str, home: &Home) -> bool {
    let Ok(wt) = main.find_worktree(name) else {
        return false;
    };
    if wt.validate().is_ok() || !home.owns_worktree(&wt) {
        return false;
    }
    match wt.is_locked() {
        Ok(WorktreeLockStatus::Unlocked) => {}
        Ok(WorktreeLockStatus::Locked(_)) if owner::lock_mark(&wt).is_some() => {
            if git::retry_locked(|| wt.unlock()).is_err() {
                return false;
            }
        }
        _ => return false,
    }
    git::retry_locked(|| wt.prune(Some(&mut git2::WorktreePruneOptions::new()))).is_ok()
}

/// Completes or undoes an unfinished provisioning under its key's and repository's locks,
/// re-reading the record once they are held (the provisioning may have ended meanwhile).
fn finish_intent(reg: &Registry, file: &Path, intent: &Intent) -> Result<bool, WorktreeError> {
    let (_k, _r, _main) = lock_for(reg, Some(&intent.task_key), &intent.git_dir)?;
    match journal::read::<Intent>(file)? {
        Some(i) => {
            journal::recover(reg, file, &i, reg.lock_timeout())?;
            Ok(true)
        }
        None => Ok(false),
    }
}
