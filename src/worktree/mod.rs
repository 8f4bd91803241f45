//! Worktree provisioning: create or reuse the git worktree of a task, an
//! implementation stage (`#stage-<N>`) or a stage-group collector (`#group-<ID>`), link the
//! main worktree's shared state into it, and keep git's own view (`git worktree list`,
//! locks) in step with the registry.
//!
//! The branch + worktree are made by `git worktree add` when git is on `PATH` (libgit2
//! otherwise, see `git`); every other git step is git2 in-process. Creation holds two bounded file locks
//! (see [`provision`]): one per task key, so concurrent provisioning of one key yields one
//! `created` and the rest `reused`; and one per repository, so creations in one repository
//! never race on git's own lock files.

mod debris;
mod doctor;
pub(crate) mod git;
pub(crate) mod holders;
pub(crate) mod journal;
pub(crate) mod locks;
mod owner;
mod preview;
mod project_json;
mod provision;
mod prune;
mod release;
mod remove;
mod repair;
pub(crate) mod sync;

#[cfg(test)]
pub(crate) mod fidelity_tests;
#[cfg(test)]
mod repair_tests;
#[cfg(test)]
pub(crate) mod tests;

use std::path::PathBuf;

pub use doctor::doctor;
pub use git::{is_inside_linked_worktree, main_worktree_path};
pub use preview::{branch_candidates, preview, ProvisionPreview};
pub use project_json::{project_id, upsert_project_json};
pub use provision::{key_of, provision, ProvisionRequest, ProvisionStatus, Provisioned};
pub use prune::{prune, Pruned};
pub use release::release_worktree;
pub use remove::{remove_provisioned, UndoCreation};
pub use repair::{repair, WorktreeRepair};
pub use sync::{clean_gate_excludes, resolve_sync_entries, SyncEntries};

use crate::error::{Code, Coded, GitError, InvalidArg};

/// The commit provisioning would branch from (`base_ref`, or the main worktree's HEAD when
/// `None`) in the repository of `project_root`, as `<name> @ <12 hex>`; `None` outside git.
/// It resolves with the very function provisioning uses, so a preview cannot disagree.
pub fn base_label(
    project_root: &std::path::Path,
    base_ref: Option<&str>,
) -> Result<Option<String>, WorktreeError> {
    let Some(repo) = git::find(project_root)? else {
        return Ok(None);
    };
    let main = git::open_main(&repo)?;
    let oid = git::resolve_base(&repo, &main, base_ref)?;
    let name = match base_ref.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => r.to_string(),
        None => main
            .head()
            .ok()
            .and_then(|h| h.shorthand().ok().map(str::to_string))
            .unwrap_or_else(|| "HEAD".into()),
    };
    let hex = oid.to_string();
    Ok(Some(format!("{name} @ {}", &hex[..12])))
}
use crate::fsio::FsError;
use crate::registry::RegistryError;

/// Provisioning failures. Every refusal is raised before anything changes, or after the
/// partial work was rolled back.
#[derive(Debug, thiserror::Error)]
pub enum WorktreeError {
    #[error(transparent)]
    InvalidArg(#[from] InvalidArg),
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The worktree path exists but is not this key's worktree.
    #[error(
        "task worktree path already exists: {path}; {detail}. Move it aside (or delete it if it \
         holds nothing you need), or pass another key, then retry"
    )]
    PathExists { path: PathBuf, detail: String },
    /// The branch to create exists and no okstra key owns it.
    #[error(
        "branch {branch} already exists and {detail}; pass --branch <name> (the `branch` \
         option) to provision this key on another branch"
    )]
    BranchExists { branch: String, detail: String },
    /// The branch belongs to another okstra key (active or released).
    #[error(
        "branch {branch} belongs to okstra task {owner} ({status}); it is that task's work. \
         Pass --branch <name> (the `branch` option) to provision this key on another branch"
    )]
    BranchTaken {
        branch: String,
        owner: String,
        status: crate::registry::EntryStatus,
    },
    /// SIGINT or SIGTERM arrived; what the call made was undone.
    #[error(transparent)]
    Interrupted(#[from] crate::interrupt::Interrupted),
    /// git still holds metadata for a worktree of this key whose directory is gone.
    #[error(
        "git still records a worktree named {name} (at {path}) whose directory is gone; run \
         `git worktree unlock {path}` if it is locked, then `git worktree prune`, and retry"
    )]
    StaleWorktree { name: String, path: PathBuf },
    /// A journal record names something outside the worktrees root; nothing was touched.
    #[error(
        "journal record {record} names {named}, which {why}; nothing it names was touched. Run \
         `okstra registry repair` (it moves the record aside) or move {record} aside, then \
         retry"
    )]
    JournalRefused {
        record: PathBuf,
        named: String,
        why: String,
    },
    /// git refuses the repository for dubious ownership.
    #[error(
        "git refuses the repository at {path}: {said}. Add it to safe.directory (global or \
         system config, `git -c safe.directory=…`, or GIT_CONFIG_COUNT/KEY/VALUE) or fix its \
         owner, then retry; the task was not started in the checkout"
    )]
    RepoUnsafe { path: PathBuf, said: String },
    /// git accepts the repository but okstra cannot work with it.
    #[error(
        "{path} is in a git repository okstra cannot work with: {why}. Create the worktree \
         with `git worktree add` and start the task there; the task was not started in the \
         checkout"
    )]
    RepoUnsupported { path: PathBuf, why: String },
    /// `baseRef` names nothing in the repository.
    #[error(
        "base ref {reference:?} does not name a commit in {repo}; give a branch, tag, remote \
         ref (e.g. origin/main) or commit sha that `git rev-parse` resolves"
    )]
    UnknownRef { reference: String, repo: PathBuf },
    /// A git operation failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// No usable git on `PATH` and the checkout needs what libgit2 cannot do.
    #[error(
        "the checkout of {repo} needs git: {needs}; libgit2 (used because {why}) would write \
         files that differ from git's. Install git 2.36 or newer on PATH and retry"
    )]
    GitRequired {
        repo: PathBuf,
        needs: String,
        why: String,
    },
    /// project.json exists but holds something other than a JSON object.
    #[error("{path} is not a valid project.json ({detail}); fix or delete it and retry")]
    ProjectJsonInvalid { path: PathBuf, detail: String },
    /// project.json already registers another project id.
    #[error(
        "{path} already registers projectId {existing:?}, not {requested:?}. Pass --project-id \
         {existing} or manually delete {path} if you intend to re-register this directory \
         under a different id (one PROJECT_ROOT holds one projectId)"
    )]
    ProjectIdMismatch {
        path: PathBuf,
        existing: String,
        requested: String,
    },
}

impl Coded for WorktreeError {
    fn code(&self) -> Code {
        match self {
            WorktreeError::InvalidArg(e) => e.code(),
            WorktreeError::Fs(e) => e.code(),
            WorktreeError::Registry(e) => e.code(),
            WorktreeError::PathExists { .. } => Code::PathExists,
            WorktreeError::BranchExists { .. } => Code::BranchExists,
            WorktreeError::BranchTaken { .. } => Code::BranchOwned,
            WorktreeError::Interrupted(e) => e.code(),
            WorktreeError::StaleWorktree { .. } => Code::WorktreeStale,
            WorktreeError::UnknownRef { .. } => Code::UnknownRef,
            WorktreeError::JournalRefused { .. } => Code::JournalRefused,
            WorktreeError::RepoUnsafe { .. } => Code::RepoUnsafe,
            WorktreeError::RepoUnsupported { .. } => Code::RepoUnsupported,
            WorktreeError::Git(e) => e.code(),
            WorktreeError::GitRequired { .. } => Code::GitRequired,
            WorktreeError::ProjectJsonInvalid { .. } => Code::ProjectJsonInvalid,
            WorktreeError::ProjectIdMismatch { .. } => Code::ProjectIdMismatch,
        }
    }
}
