//! The worktree side of `okstra registry repair`: after the registry file's own repair,
//! clears every piece of debris doctor reports (see `debris`), under the key and
//! repository locks provisioning takes.

use std::path::Path;

use git2::Repository;
use serde::Serialize;

use super::debris::{self, Debris};
use super::doctor::survey;
use super::journal::{self, Intent};
use super::locks::{lock_key_str, lock_repo};
use super::WorktreeError;
use crate::registry::{Problem, Registry};

/// What `repair` did: the registry file's repair plus the debris it cleared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorktreeRepair {
    #[serde(flatten)]
    pub registry: crate::registry::RepairReport,
    /// The doctor findings this repair cleared.
    pub cleared: Vec<Problem>,
}

/// Repairs the registry file (`Registry::repair`), then clears okstra's debris: completes
/// or undoes unfinished provisionings, resets the checkout of interrupted assembles to
/// their branch, moves unreadable journal records aside, unlocks okstra-locked worktrees no
/// active entry owns (directories kept), deletes branches okstra made that no entry owns
/// while they still point where they were created and nothing has them checked out, and
/// removes stale git lock files. Takes the key and repository locks provisioning takes.
pub fn repair(reg: &Registry) -> Result<WorktreeRepair, WorktreeError> {
    let registry = reg.repair()?;
    let s = survey(reg, reg.list(None, None)?);
    let mut cleared = Vec::new();
    for (d, p) in debris::find(&s) {
        if clear(reg, d)? {
            cleared.push(p);
        }
    }
    Ok(WorktreeRepair { registry, cleared })
}

/// Clears one piece of debris; returns whether it was cleared (a record another process
/// finished meanwhile, or a branch that moved, is left as it is).
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
        Debris::UnreadableRecord(file) => {
            let mut aside = file.as_os_str().to_owned();
            aside.push(".unreadable");
            std::fs::rename(&file, &aside).is_ok()
        }
        Debris::LockedOrphan(git_dir, name) => Repository::open(git_dir)
            .ok()
            .and_then(|m| m.find_worktree(&name).ok())
            .is_some_and(|w| w.unlock().is_ok()),
        Debris::Branch(git_dir, name, at) => Repository::open(git_dir)
            .is_ok_and(|m| journal::delete_branch_at(&m, &name, &at.to_string())),
        Debris::GitLock(file) => std::fs::remove_file(file).is_ok(),
    })
}

/// Completes or undoes an unfinished provisioning under its key's and repository's locks,
/// re-reading the record once they are held (the provisioning may have ended meanwhile).
fn finish_intent(reg: &Registry, file: &Path, intent: &Intent) -> Result<bool, WorktreeError> {
    let _k = lock_key_str(reg, &intent.task_key)?;
    let main = Repository::open(&intent.git_dir).ok();
    let _r = match &main {
        Some(m) => Some(lock_repo(reg, m)?),
        None => None,
    };
    match journal::read::<Intent>(file)? {
        Some(i) => {
            journal::recover(reg, file, &i, reg.lock_timeout())?;
            Ok(true)
        }
        None => Ok(false),
    }
}
