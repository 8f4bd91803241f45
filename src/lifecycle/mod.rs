//! The end of a worktree's life: see every worktree the home knows ([`status`]), remove
//! one safely ([`remove`]: refused while it holds work that would be lost, or a process,
//! unless `force` first records the work as a snapshot commit), bring a removed one back
//! ([`restore`]) and collect the ones whose work is done ([`gc`]).
//!
//! Every judgement comes from `inspect` (git's status, stashes, the integration proof of
//! [`crate::integration`], remote-tracking branches, the processes inside from
//! `worktree::holders`), so `status`, `remove` and `gc` never disagree. The registry does
//! not know where a task's plan run lives, so `status` shows a stage's ledger state
//! (started/done, verdict, PR) only for the plan run roots the caller names
//! (`--plan-run-root` / `planRunRoot`), read with the ledger's own reader. Removal is
//! journal-backed ([`remove`]'s record under `<OKSTRA_HOME>/worktrees/pending/`) and
//! instant: the directory is renamed into `<OKSTRA_HOME>/worktrees/.trash/` ([`trash`]) and
//! deleted in the background; the next call finishes whatever a crash interrupted.

mod gc;
mod git;
mod inspect;
mod ledger_state;
mod remove;
mod restore;
mod snapshot;
mod status;
pub mod trash;

#[cfg(test)]
mod tests;

pub use gc::{gc, parse_duration, GcCandidate, GcOptions, GcReport};
pub use inspect::{Blocker, Dirty, Integration, Reason};
pub use ledger_state::StageLedger;
pub use remove::{
    finish_removals, recover_all, remove, unfinished_removals, Removed, REMOVE_PREFIX,
};
pub use restore::{list_snapshots, restore, RestoreRequest, Restored};
pub use snapshot::{SnapshotInfo, SNAPSHOT_REFS};
pub use status::{status, table, StatusOptions, StatusRow};

use std::path::PathBuf;

use crate::error::{Code, Coded, GitError, InvalidArg};
use crate::fsio::FsError;
use crate::integration::IntegrationError;
use crate::ledger::LedgerError;
use crate::registry::RegistryError;
use crate::worktree::WorktreeError;

/// Failures of the end-of-life commands.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    InvalidArg(#[from] InvalidArg),
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Worktree(Box<WorktreeError>),
    #[error(transparent)]
    Integration(Box<IntegrationError>),
    #[error(transparent)]
    Git(#[from] GitError),
    /// A plan run root given to `status` could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// No usable git executable.
    #[error("{0}")]
    GitRequired(String),
    /// The key has no registry row, or no snapshot by that number.
    #[error("{0}")]
    NotFound(String),
    /// `restore` of a worktree that is still there.
    #[error("{0}")]
    PathExists(String),
    /// SIGINT or SIGTERM before the point of no return: nothing was changed.
    #[error(transparent)]
    Interrupted(#[from] crate::interrupt::Interrupted),
    /// The worktree holds something a removal would lose, or may not be removed at all.
    #[error(
        "worktree {path} of {key} was not removed: {}. {}; nothing was changed",
        .blockers.iter().map(|b| format!("{} ({})", b.reason.as_str(), b.detail)).collect::<Vec<_>>().join("; "),
        hint(.blockers)
    )]
    Refused {
        key: String,
        path: PathBuf,
        blockers: Vec<Blocker>,
    },
}

/// What to do about a refusal.
fn hint(blockers: &[Blocker]) -> &'static str {
    if blockers.iter().all(|b| b.reason.forceable()) {
        "Commit, push or stash the work, or pass --force (`force: true`) to record it under \
         refs/okstra/snapshots/ and remove anyway (`okstra worktree restore` brings it back)"
    } else {
        "--force records uncommitted work but never removes a worktree with a process \
         inside, one okstra did not make, or one another tool locked; end the process, or \
         remove that worktree with git itself"
    }
}

impl From<WorktreeError> for LifecycleError {
    fn from(e: WorktreeError) -> Self {
        LifecycleError::Worktree(Box::new(e))
    }
}

impl From<IntegrationError> for LifecycleError {
    fn from(e: IntegrationError) -> Self {
        LifecycleError::Integration(Box::new(e))
    }
}

impl Coded for LifecycleError {
    fn code(&self) -> Code {
        match self {
            LifecycleError::InvalidArg(e) => e.code(),
            LifecycleError::Fs(e) => e.code(),
            LifecycleError::Registry(e) => e.code(),
            LifecycleError::Worktree(e) => e.code(),
            LifecycleError::Integration(e) => e.code(),
            LifecycleError::Git(e) => e.code(),
            LifecycleError::Ledger(e) => e.code(),
            LifecycleError::GitRequired(_) => Code::GitRequired,
            LifecycleError::NotFound(_) => Code::NotFound,
            LifecycleError::PathExists(_) => Code::PathExists,
            LifecycleError::Interrupted(e) => e.code(),
            LifecycleError::Refused { .. } => Code::RemoveRefused,
        }
    }

    /// A refusal's reasons: `reasons: [{ reason, detail }]`, each a blocker exactly as
    /// `status` shows it (`reason`: `dirty`, `untracked`, `stash`, `unpushed`,
    /// `process-inside`, `not-okstra`, `locked-by-other`).
    fn data(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        let LifecycleError::Refused { blockers, .. } = self else {
            return None;
        };
        let reasons = blockers
            .iter()
            .map(|b| serde_json::to_value(b).unwrap_or(serde_json::Value::Null))
            .collect();
        Some(serde_json::Map::from_iter([(
            "reasons".to_string(),
            serde_json::Value::Array(reasons),
        )]))
    }
}

/// The kind of worktree a key names: `task`, `stage` (`#stage-<N>`) or `group`
/// (`#group-<ID>`).
pub fn kind_of(key: &str) -> &'static str {
    match key.rsplit_once('#') {
        Some((_, s)) if s.starts_with("stage-") => "stage",
        Some((_, s)) if s.starts_with("group-") => "group",
        _ => "task",
    }
}
