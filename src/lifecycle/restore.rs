//! `restore`: a removed worktree back on its branch, with a snapshot's files in place; and
//! the list of a key's snapshots.
//!
//! The worktree is provisioned again exactly as `provision` brings back a released key (its
//! own branch, with its commits; the branch is recreated at the snapshot's parent when the
//! removal deleted it), then the snapshot's tree is written over the files with `git
//! restore --source=<snapshot> --worktree -- .`: tracked edits, deletions, untracked files,
//! exec bits and symlinks come back, the index and HEAD stay the branch's, so `git status`
//! shows the work as it was before the removal (as unstaged changes and untracked files).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::git::{check, Git};
use super::remove::remembered_repos;
use super::snapshot::{self, SnapshotInfo};
use super::LifecycleError;
use crate::context::Context;
use crate::ids::KeyParts;
use crate::registry::{Registry, WorktreeEntry};
use crate::worktree::{self, ProvisionRequest};

/// What `restore` is asked.
#[derive(Debug, Clone, Default)]
pub struct RestoreRequest {
    /// Any directory of the repository (default: the repositories okstra remembers).
    pub project_root: Option<PathBuf>,
    /// The snapshot number to put back. Default: the newest one taken on the branch's
    /// current tip (none when there is none).
    pub snapshot: Option<u32>,
}

/// What `restore` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Restored {
    pub task_key: String,
    pub path: String,
    pub branch: String,
    /// The snapshot whose files were put back (`null` when none).
    pub snapshot: Option<SnapshotInfo>,
    /// Provisioning's note.
    pub note: String,
}

fn entry_of(reg: &Registry, key: &KeyParts) -> Result<WorktreeEntry, LifecycleError> {
    reg.lookup(key)?.ok_or_else(|| {
        LifecycleError::NotFound(format!(
            "no registry entry for task-key {}; nothing to restore",
            key.key()
        ))
    })
}

/// The common git dir holding the key's branch or snapshots.
fn find_repo(
    git: &Git,
    reg: &Registry,
    key: &str,
    branch: &str,
    given: Option<&Path>,
) -> Result<PathBuf, LifecycleError> {
    if let Some(dir) = given {
        crate::ids::check_dir("projectRoot", dir)?;
        return git.common_dir(dir);
    }
    for common in remembered_repos(reg) {
        let refs = git.text(
            "for-each-ref",
            &common,
            &[
                "for-each-ref",
                "--count=1",
                "--format=%(refname)",
                &snapshot::key_prefix(key),
                &format!("refs/heads/{branch}"),
            ],
        );
        if refs.is_ok_and(|r| !r.is_empty()) {
            return Ok(common);
        }
    }
    Err(LifecycleError::NotFound(format!(
        "no repository okstra remembers holds branch {branch} or snapshots of {key}; pass \
         --project-root (`projectRoot`) naming the repository"
    )))
}

/// The snapshots of `key`, oldest first.
pub fn list_snapshots(
    ctx: &Context,
    key: &KeyParts,
    project_root: Option<&Path>,
) -> Result<Vec<SnapshotInfo>, LifecycleError> {
    let reg = Registry::open(ctx);
    let key = reg.resolve(key)?;
    let git = Git::locate()?;
    let branch = reg.lookup(&key)?.map(|e| e.branch).unwrap_or_default();
    let common = match find_repo(&git, &reg, &key.key(), &branch, project_root) {
        Ok(c) => c,
        Err(LifecycleError::NotFound(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    snapshot::list(&git, &common, &key.key())
}

/// The main worktree of the repository with common dir `common`.
fn main_worktree(common: &Path) -> Result<PathBuf, LifecycleError> {
    Ok(worktree::main_worktree_path(common)?)
}

/// The snapshot to put back: number `wanted`, else the newest taken on the branch's tip
/// `tip` (any, when the branch is gone).
fn choose(
    key: &str,
    snaps: &[SnapshotInfo],
    tip: Option<&str>,
    wanted: Option<u32>,
) -> Result<Option<SnapshotInfo>, LifecycleError> {
    Ok(match wanted {
        Some(n) => Some(
            snaps
                .iter()
                .find(|s| s.number == n)
                .cloned()
                .ok_or_else(|| {
                    LifecycleError::NotFound(format!(
                        "{} has no snapshot {n} (it has {}); `okstra worktree restore --list` \
                         lists them",
                        key,
                        if snaps.is_empty() {
                            "none".to_string()
                        } else {
                            snaps
                                .iter()
                                .map(|s| s.number.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ))
                })?,
        ),
        None => snaps
            .iter()
            .rev()
            .find(|s| tip.is_none() || tip == Some(s.head.as_str()))
            .cloned(),
    })
}

/// Brings the removed worktree of `key` back (see the module docs).
pub fn restore(
    ctx: &Context,
    key: &KeyParts,
    req: &RestoreRequest,
) -> Result<Restored, LifecycleError> {
    let reg = Registry::open(ctx);
    let key = reg.resolve(key)?;
    let git = Git::locate()?;
    super::remove::recover_all(ctx)?;
    let entry = entry_of(&reg, &key)?;
    if Path::new(&entry.worktree_path).exists() {
        return Err(LifecycleError::PathExists(format!(
            "the worktree of {} is still at {}; there is nothing to restore (`okstra worktree \
             status` shows it)",
            entry.task_key, entry.worktree_path
        )));
    }
    let common = find_repo(
        &git,
        &reg,
        &entry.task_key,
        &entry.branch,
        req.project_root.as_deref(),
    )?;
    let snaps = snapshot::list(&git, &common, &entry.task_key)?;
    let tip = git.commit(&common, &format!("refs/heads/{}", entry.branch))?;
    let chosen = choose(&entry.task_key, &snaps, tip.as_deref(), req.snapshot)?;
    let base_ref = match (&tip, &chosen) {
        (None, Some(s)) if !s.head.is_empty() => Some(s.head.clone()),
        _ => None,
    };
    let provisioned = worktree::provision(
        ctx,
        &ProvisionRequest {
            task_type: if entry.last_phase.is_empty() {
                "implementation".into()
            } else {
                entry.last_phase.clone()
            },
            project_root: main_worktree(&common)?,
            project_id: key.project_id.clone(),
            task_group: key.task_group.clone(),
            task_id: key.task_id.clone(),
            work_category: String::new(),
            base_ref,
            stage: key.stage,
            group_id: key.group_id.clone(),
            branch: Some(entry.branch.clone()),
            stages: entry.stages.clone(),
        },
    )?;
    let path = PathBuf::from(&provisioned.path);
    if let Some(s) = &chosen {
        let out = git.output(
            "restore snapshot",
            &path,
            &[
                "restore",
                &format!("--source={}", s.commit),
                "--worktree",
                "--",
                ".",
            ],
        )?;
        check("restore snapshot", &path, &out)?;
    }
    Ok(Restored {
        task_key: entry.task_key,
        path: provisioned.path,
        branch: provisioned.branch,
        snapshot: chosen,
        note: provisioned.note,
    })
}
