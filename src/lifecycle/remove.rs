//! `remove`: one key's worktree removed safely, crash-safe through a journal record.
//!
//! Order of a removal (under the key's lock):
//! 1. judge the worktree ([`inspect`]); refuse (nothing changed) on any reason, or with
//!    `force` on a reason force may not override;
//! 2. with `force`, record the work as a snapshot commit (a ref: nothing else changes);
//! 3. write the journal record `pending/remove-<fnv1a(key)>.json` (the trash slot, the
//!    admin dir, the branch tip to delete when integrated);
//! 4. rename the directory into the trash — the point of no return;
//! 5. remove git's admin entry (its lock goes with it), delete the branch when integrated
//!    (only while it still points at the judged tip), release the registry row;
//! 6. clear the record; delete the trash item in the background.
//!
//! A process killed before step 4 leaves a record whose directory is still in place: the
//! next call clears it (nothing had changed). Killed after step 4, the next call (remove,
//! gc, `okstra registry repair`) finishes steps 5–6 from the record.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::git::Git;
use super::inspect::{self, Facts, Integration};
use super::snapshot::{self, SnapshotInfo};
use super::{trash, LifecycleError};
use crate::context::Context;
use crate::error::{GitCause, GitError};
use crate::ids::{self, KeyParts};
use crate::registry::{Problem, ProblemCode, Registry};
use crate::worktree::git::LOCK_REASON_PREFIX;
use crate::worktree::journal;
use crate::worktree::locks::{lock_key, lock_key_str};
use crate::worktree::WorktreeError;

/// The file-name prefix of a removal's journal record.
pub const REMOVE_PREFIX: &str = "remove-";

/// What one removal does, recorded before its first change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Removal {
    pub task_key: String,
    /// The worktree directory.
    pub path: PathBuf,
    /// Where it is renamed to, under `<worktrees root>/.trash/`.
    pub trash: PathBuf,
    /// git's admin entry of the worktree (`<common>/worktrees/<name>`).
    pub admin: Option<PathBuf>,
    /// The common git dir.
    pub common_dir: Option<PathBuf>,
    pub branch: String,
    /// Delete the branch, only while it points at this commit (it was proved integrated).
    pub delete_branch_at: Option<String>,
    pub pid: u32,
    pub started_at: String,
}

/// What `remove` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Removed {
    pub task_key: String,
    pub path: String,
    pub branch: String,
    /// The branch was deleted (it was integrated).
    pub branch_deleted: bool,
    /// The integration proof the branch was judged by (`null` without a base).
    pub integration: Option<Integration>,
    /// The snapshot `force` recorded (`null` when nothing would have been lost).
    pub snapshot: Option<SnapshotInfo>,
    /// The directory was already gone (deleted by hand): only git's record and the row
    /// were cleared.
    pub already_gone: bool,
}

/// The record file of a removal of `key`.
pub fn record_file(reg: &Registry, key: &str) -> PathBuf {
    journal::dir(reg).join(format!("{REMOVE_PREFIX}{}.json", ids::stable_hash8(key)))
}

/// Every removal record in the journal.
pub fn records(reg: &Registry) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(journal::dir(reg))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(REMOVE_PREFIX) && n.ends_with(".json"))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Removes the worktree of `key` and releases its registry row (see the module docs).
/// Refused with `E_REMOVE_REFUSED` naming every reason; `force` records the work first
/// (dirty tree, untracked files, branch tip) as `refs/okstra/snapshots/<key>/<n>`.
pub fn remove(ctx: &Context, key: &KeyParts, force: bool) -> Result<Removed, LifecycleError> {
    let reg = Registry::open(ctx);
    let key = &reg.resolve(key)?;
    let git = Git::locate()?;
    trash::finish(&reg, false);
    let key_text = key.key();
    let _key_lock = lock_key(&reg, key)?;
    let record = record_file(&reg, &key_text);
    if record.exists() {
        recover(&reg, &git, &record)?;
    }
    let entry = reg.lookup(key)?.ok_or_else(|| {
        LifecycleError::NotFound(format!(
            "no registry entry for task-key {key_text}; `okstra worktree status` lists the \
             worktrees this home knows"
        ))
    })?;
    let path = PathBuf::from(&entry.worktree_path);
    let facts = inspect::inspect(
        &git,
        &path,
        reg.root(),
        &entry.branch,
        &|common, dir| inspect::repo_facts(&git, common, dir),
        false,
    )?;
    if !facts.exists {
        return gone_by_hand(&reg, &git, key, &entry.branch, &path);
    }
    let refuse = facts
        .blockers
        .iter()
        .any(|b| !force || !b.reason.forceable());
    if refuse {
        return Err(LifecycleError::Refused {
            key: key_text,
            path,
            blockers: facts.blockers,
        });
    }
    crate::interrupt::check()?;
    let snapshot = if force && !facts.blockers.is_empty() {
        let admin = facts.admin_dir.as_deref().unwrap_or(&path);
        Some(snapshot::take(
            &git,
            &path,
            admin,
            &key_text,
            facts.branch.as_deref(),
            facts.head.as_deref(),
        )?)
    } else {
        None
    };
    crate::interrupt::check()?;
    let plan = plan(&reg, &key_text, &entry.branch, &path, &facts);
    journal::write(&record, &plan)?;
    if !trash::move_in(&path, &plan.trash)? {
        // Another file system: no rename into the trash, so delete in place.
        std::fs::remove_dir_all(&path).map_err(crate::fsio::io_err("remove", &path))?;
    }
    let branch_deleted = complete(&reg, &git, &record, &plan)?;
    Ok(Removed {
        task_key: key_text,
        path: entry.worktree_path,
        branch: entry.branch,
        branch_deleted,
        integration: facts.integration,
        snapshot,
        already_gone: false,
    })
}

/// The record of a removal about to happen.
fn plan(reg: &Registry, key: &str, branch: &str, path: &Path, facts: &Facts) -> Removal {
    let integrated = facts.integration.as_ref().is_some_and(|i| i.integrated);
    let on_row_branch = facts.branch.as_deref() == Some(branch);
    Removal {
        task_key: key.to_string(),
        path: path.to_path_buf(),
        trash: trash::slot(reg, key),
        admin: facts.admin_dir.clone(),
        common_dir: facts.common_dir.clone(),
        branch: branch.to_string(),
        delete_branch_at: facts.head.clone().filter(|_| integrated && on_row_branch),
        pid: std::process::id(),
        started_at: crate::registry::now_stamp(),
    }
}

/// Steps 5–6 of a removal whose directory is in the trash (or gone). Idempotent: a missing
/// piece is skipped. Returns whether the branch was deleted.
fn complete(reg: &Registry, git: &Git, record: &Path, r: &Removal) -> Result<bool, LifecycleError> {
    if let (Some(admin), Some(common)) = (&r.admin, &r.common_dir) {
        remove_admin(common, admin, &r.path);
    }
    let mut deleted = false;
    if let (Some(tip), Some(common)) = (&r.delete_branch_at, &r.common_dir) {
        if crate::git_arg::check_branch("branch", &r.branch).is_ok() {
            let refname = format!("refs/heads/{}", r.branch);
            let out = git.output(
                "branch delete",
                common,
                &["update-ref", "-m", "okstra: remove", "-d", &refname, tip],
            )?;
            deleted = out.status.success();
        }
    }
    if let Some(parts) = parts_of_key(&r.task_key) {
        reg.release(&parts)?;
    }
    journal::clear(record)?;
    if r.trash.exists() {
        trash::delete_in_background(&r.trash);
    }
    Ok(deleted)
}

/// Removes git's admin entry `admin` of the worktree that was at `path`: only a plain
/// entry directly under `<common>/worktrees/` whose `gitdir` names `path/.git` (or whose
/// `gitdir` is gone).
fn remove_admin(common: &Path, admin: &Path, path: &Path) {
    let under = admin.parent() == Some(common.join("worktrees").as_path())
        && admin
            .file_name()
            .is_some_and(|n| n != "." && n != ".." && !n.is_empty());
    if !under {
        return;
    }
    let points_here = match std::fs::read_to_string(admin.join("gitdir")) {
        Ok(text) => {
            crate::worktree::git::real_path_lenient(Path::new(text.trim()))
                == crate::worktree::git::real_path_lenient(&path.join(".git"))
        }
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    };
    if points_here {
        let _ = std::fs::remove_dir_all(admin);
    }
}

/// Finishes or drops the removal record `record` (the caller holds its key's lock).
pub(crate) fn recover(reg: &Registry, git: &Git, record: &Path) -> Result<(), LifecycleError> {
    let Some(r) = journal::read::<Removal>(record)? else {
        return Ok(());
    };
    if std::fs::symlink_metadata(&r.path).is_ok() {
        // Killed before the rename: nothing had changed.
        journal::clear(record)?;
        if r.trash.exists() {
            trash::delete_in_background(&r.trash);
        }
        return Ok(());
    }
    // The trash item must lie in this home's trash: a record naming anything else is
    // someone's edit, and only the trash item is ever deleted from it.
    let safe = r.trash.parent() == Some(trash::dir(reg).as_path());
    let r = Removal {
        trash: if safe { r.trash } else { PathBuf::new() },
        ..r
    };
    complete(reg, git, record, &r)?;
    Ok(())
}

/// Finishes every removal a killed process left (each under its key's lock); returns how
/// many records were handled. `gc`, `status` and `restore` call it.
pub fn recover_all(ctx: &Context) -> Result<usize, LifecycleError> {
    recover_in(&Registry::open(ctx))
}

/// The doctor finding of every unfinished removal (`remove-unfinished`).
pub fn unfinished_removals(reg: &Registry) -> Vec<Problem> {
    records(reg)
        .into_iter()
        .filter_map(|f| {
            let r = journal::read::<Removal>(&f).ok().flatten()?;
            Some(Problem::new(
                ProblemCode::RemoveUnfinished,
                Some(&r.task_key),
                format!(
                    "removal of {} at {} (pid {}, {}) did not finish; `okstra registry \
                     repair` (or `okstra worktree remove` of the key) finishes it",
                    r.task_key,
                    r.path.display(),
                    r.pid,
                    r.started_at
                ),
            ))
        })
        .collect()
}

/// `okstra registry repair`'s part: finishes every unfinished removal and returns the
/// findings it cleared.
pub fn finish_removals(reg: &Registry) -> Result<Vec<Problem>, WorktreeError> {
    let found = unfinished_removals(reg);
    if found.is_empty() {
        return Ok(found);
    }
    recover_in(reg).map_err(|e| match e {
        LifecycleError::Worktree(w) => *w,
        LifecycleError::Fs(e) => e.into(),
        LifecycleError::Registry(e) => e.into(),
        LifecycleError::Git(e) => e.into(),
        other => GitError::new(
            "finish removal",
            reg.root(),
            GitCause::State(other.to_string()),
        )
        .into(),
    })?;
    Ok(found)
}

/// [`recover_all`] in one registry.
fn recover_in(reg: &Registry) -> Result<usize, LifecycleError> {
    let reg = reg.clone();
    let files = records(&reg);
    if files.is_empty() {
        return Ok(0);
    }
    let git = Git::locate()?;
    let mut n = 0;
    for file in files {
        let Some(r) = journal::read::<Removal>(&file)? else {
            continue;
        };
        let _lock = lock_key_str(&reg, &r.task_key)?;
        recover(&reg, &git, &file)?;
        n += 1;
    }
    Ok(n)
}

/// A row whose directory was deleted by hand: git's admin entry pointing at it (found in
/// the repositories okstra remembers) is removed when okstra's or unlocked, and the row is
/// released.
fn gone_by_hand(
    reg: &Registry,
    git: &Git,
    key: &KeyParts,
    branch: &str,
    path: &Path,
) -> Result<Removed, LifecycleError> {
    let _ = git;
    for common in remembered_repos(reg) {
        let Ok(names) = std::fs::read_dir(common.join("worktrees")) else {
            continue;
        };
        for admin in names.flatten().map(|e| e.path()) {
            let foreign_lock = std::fs::read_to_string(admin.join("locked"))
                .is_ok_and(|r| !r.starts_with(LOCK_REASON_PREFIX));
            if !foreign_lock {
                remove_admin(&common, &admin, path);
            }
        }
    }
    let entry = reg.release(key)?;
    Ok(Removed {
        task_key: key.key(),
        path: path.display().to_string(),
        branch: entry.map_or_else(|| branch.to_string(), |e| e.branch),
        branch_deleted: false,
        integration: None,
        snapshot: None,
        already_gone: true,
    })
}

/// The common git dirs okstra provisioned in (`<worktrees root>/repos/*`).
pub(crate) fn remembered_repos(reg: &Registry) -> Vec<PathBuf> {
    std::fs::read_dir(reg.root().join("repos"))
        .map(|d| {
            d.flatten()
                .filter_map(|f| std::fs::read_to_string(f.path()).ok())
                .map(|t| PathBuf::from(t.trim()))
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default()
}

/// The parts of a key text (`<project>/<group>/<task>[#stage-<N>|#group-<ID>]`), as journal
/// records carry it; `None` when it is not one.
pub(crate) fn parts_of_key(key: &str) -> Option<KeyParts> {
    let (base, suffix) = match key.split_once('#') {
        Some((b, s)) => (b, Some(s)),
        None => (key, None),
    };
    let mut seg = base.splitn(3, '/');
    let (p, g, t) = (seg.next()?, seg.next()?, seg.next()?);
    let (stage, group) = match suffix {
        None => (None, None),
        Some(s) => match (s.strip_prefix("stage-"), s.strip_prefix("group-")) {
            (Some(n), _) => (Some(n.parse().ok()?), None),
            (None, Some(g)) => (None, Some(g)),
            _ => return None,
        },
    };
    KeyParts::new(p, g, t, stage, group)
        .ok()
        .filter(|k| k.key() == key)
}
