//! The intent journal: before its first change, provisioning durably records what it is
//! about to make, so a process killed at any instant leaves a record that the next call for
//! the key (or `okstra registry repair`) completes or undoes.
//!
//! Records live in `<OKSTRA_HOME>/worktrees/pending/`, one file per key and operation
//! (`provision-<fnv1a(key)>.json`, `assemble-<fnv1a(key)>.json`), written with
//! [`fsio::atomic_write`] (temp file, fsync, rename, fsync of the directory) and removed
//! when the operation is done. Every step they describe is undone idempotently: a missing
//! piece is skipped, so an undo that is itself killed is simply run again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use git2::{BranchType, Repository};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::owner::Home;
use super::{git, holders, WorktreeError};
use crate::fsio::{self, io_err};
use crate::ids;
use crate::registry::Registry;

/// The journal directory inside the worktrees root.
pub const PENDING_DIR: &str = "pending";

/// What one provisioning is about to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Intent {
    pub task_key: String,
    /// The common git dir of the main repository.
    pub git_dir: PathBuf,
    /// The worktree directory (absent when the record was written).
    pub path: PathBuf,
    /// The admin entry name under `.git/worktrees/`.
    pub admin: String,
    pub branch: String,
    /// The commit the branch is (or was to be) created at.
    pub base: String,
    /// The branch existed before (a re-entry on the key's own branch): undo keeps it.
    pub branch_existed: bool,
    /// The topmost parent directory provisioning created, removed again when empty.
    pub created_parent: Option<PathBuf>,
    pub pid: u32,
    pub started_at: String,
}

/// A record an older okstra wrote before moving a collector branch and its checkout.
/// `handoffAssemble` no longer writes one (its only change to an existing collector is one
/// git command that never overwrites local changes); a record still found is only cleared,
/// never acted on: resetting the collector could destroy someone's uncommitted work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Move {
    pub task_key: String,
    pub path: PathBuf,
    pub branch: String,
    pub from: String,
    pub to: String,
}

/// The two operations that keep records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Provision,
    Assemble,
}

impl Op {
    fn prefix(self) -> &'static str {
        match self {
            Op::Provision => "provision-",
            Op::Assemble => "assemble-",
        }
    }
}

/// The journal directory of one registry.
pub fn dir(reg: &Registry) -> PathBuf {
    reg.root().join(PENDING_DIR)
}

/// The record file of `op` for `key`.
pub fn file(reg: &Registry, op: Op, key: &str) -> PathBuf {
    dir(reg).join(format!("{}{}.json", op.prefix(), ids::stable_hash8(key)))
}

/// Writes a record durably.
pub fn write<T: Serialize>(path: &Path, record: &T) -> Result<(), WorktreeError> {
    let bytes = serde_json::to_vec_pretty(record).map_err(|e| fsio::FsError::Io {
        op: "serialize",
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    Ok(fsio::atomic_write(path, &bytes)?)
}

/// Reads a record; `Ok(None)` when there is none. An unreadable record is an error naming
/// the file (it is left in place).
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, WorktreeError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            fsio::FsError::Io {
                op: "parse journal record",
                path: path.to_path_buf(),
                source: std::io::Error::other(e),
            }
            .into()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("read", path)(e).into()),
    }
}

/// Removes a record (done or undone).
pub fn clear(path: &Path) -> Result<(), WorktreeError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(fsio::fsync_dir(path.parent().unwrap_or(Path::new(".")))?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("remove", path)(e).into()),
    }
}

/// Every record file of `op`.
pub fn list(reg: &Registry, op: Op) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir(reg)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(op.prefix()) && n.ends_with(".json"))
        })
        .collect();
    files.sort();
    files
}

/// Why `path` may not be touched by an undo of a record in `reg`'s journal: it must be an
/// absolute path strictly under the worktrees root, without `.`/`..` components, after
/// resolving symlinks in the part that exists. `None` when it may.
fn outside_root(root: &Path, path: &Path) -> Option<&'static str> {
    use std::path::Component;
    let plain = path.is_absolute()
        && path
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    let home = Home::at(root);
    if !plain {
        return Some("is not a plain absolute path");
    }
    if !home.contains(path) || git::real_path_lenient(path) == git::real_path_lenient(root) {
        return Some("lies outside the okstra worktrees root");
    }
    None
}

/// Refuses a provisioning record (of the journal in worktrees root `root`) whose undo
/// would reach outside that root: its
/// worktree path, the parent directory it created, and its admin entry name (one plain
/// file name under `.git/worktrees/`).
pub fn check_intent_in(root: &Path, record: &Path, i: &Intent) -> Result<(), WorktreeError> {
    let refuse = |named: &Path, why: &str| WorktreeError::JournalRefused {
        record: record.to_path_buf(),
        named: named.display().to_string(),
        why: why.to_string(),
    };
    for p in std::iter::once(&i.path).chain(&i.created_parent) {
        if let Some(why) = outside_root(root, p) {
            return Err(refuse(p, why));
        }
    }
    let admin_plain = !i.admin.is_empty()
        && i.admin != "."
        && i.admin != ".."
        && !i.admin.contains(['/', '\\', '\0']);
    if !admin_plain {
        return Err(refuse(
            Path::new(&i.admin),
            "is not a plain admin entry name under .git/worktrees/",
        ));
    }
    Ok(())
}

/// Refuses an assemble record whose checkout lies outside the worktrees root `root`.
pub fn check_move_in(root: &Path, record: &Path, m: &Move) -> Result<(), WorktreeError> {
    match outside_root(root, &m.path) {
        Some(why) => Err(WorktreeError::JournalRefused {
            record: record.to_path_buf(),
            named: m.path.display().to_string(),
            why: why.to_string(),
        }),
        None => Ok(()),
    }
}

/// What undoing a record found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovered {
    /// The registry already held the finished entry: only the record was left.
    Completed,
    /// Everything the record describes was removed.
    Undone,
}

/// Completes or undoes an unfinished provisioning. The caller holds the key's lock (and
/// the repository's). A record naming anything outside the worktrees root is refused
/// (`E_JOURNAL_REFUSED`, see [`check_intent_in`]) and left in place. Waits (bounded by `bound`) for processes still working on the
/// worktree — a `git worktree add` child of a killed provisioning, which outlives it —
/// before removing anything.
pub fn recover(
    reg: &Registry,
    record: &Path,
    intent: &Intent,
    bound: Duration,
) -> Result<Recovered, WorktreeError> {
    check_intent_in(reg.root(), record, intent)?;
    let finished = reg
        .list(None, Some(crate::registry::EntryStatus::Active))?
        .into_iter()
        .any(|e| {
            e.task_key == intent.task_key
                && Path::new(&e.worktree_path) == intent.path
                && e.branch == intent.branch
        });
    if finished {
        clear(record)?;
        return Ok(Recovered::Completed);
    }
    undo(intent, bound);
    clear(record)?;
    Ok(Recovered::Undone)
}

/// Removes what an intent made: the worktree (directory, git admin entry, git lock), the
/// branch (only when provisioning created it and it still points at the base it was
/// created at, and no worktree has it checked out) and the parent directories it created
/// (only while empty). Every step tolerates a missing piece.
pub fn undo(intent: &Intent, bound: Duration) {
    // Also when the directory does not exist yet: a `git worktree add` the killed process
    // started may still be running (it names the path on its command line) and would
    // create the branch and the worktree after this undo.
    holders::wait_free(&intent.path, bound);
    match Repository::open(&intent.git_dir) {
        Ok(main) => {
            // The admin entry by the path it points at (the git CLI names it after the
            // directory), then by the name recorded.
            let mut names: Vec<String> = git::admin_name_at(&main, &intent.path)
                .into_iter()
                .collect();
            let recorded_is_ours = main
                .find_worktree(&intent.admin)
                .map_or(true, |w| w.path() == intent.path);
            if recorded_is_ours && !names.contains(&intent.admin) {
                names.push(intent.admin.clone());
            }
            for name in names {
                git::remove_worktree(&main, &name, &intent.path);
            }
            let _ = std::fs::remove_dir_all(&intent.path);
            if !intent.branch_existed {
                delete_branch_at(&main, &intent.branch, &intent.base);
            }
        }
        Err(_) => {
            let _ = std::fs::remove_dir_all(&intent.path);
        }
    }
    if let Some(top) = &intent.created_parent {
        let mut dir = intent.path.parent();
        while let Some(d) = dir {
            if std::fs::remove_dir(d).is_err() || d == top.as_path() {
                break;
            }
            dir = d.parent();
        }
    }
}

/// Deletes `branch` when it points at `base` and nothing has it checked out.
pub fn delete_branch_at(main: &Repository, branch: &str, base: &str) -> bool {
    let Ok(mut b) = main.find_branch(branch, BranchType::Local) else {
        return false;
    };
    let at_base = b.get().target().map(|o| o.to_string()).as_deref() == Some(base);
    if !at_base || git::branch_checked_out(main, branch) {
        return false;
    }
    git::retry_locked(|| b.delete()).is_ok()
}

/// A rollback guard over a recorded intent: dropped while armed (an error, an
/// interruption, a panic), it undoes everything the intent describes and removes the
/// record; [`Rollback::commit`] ends the operation and removes only the record.
pub struct Rollback {
    record: PathBuf,
    intent: Intent,
    armed: bool,
}

impl Rollback {
    /// Writes the record durably and arms the guard.
    pub fn begin(record: PathBuf, intent: Intent) -> Result<Rollback, WorktreeError> {
        write(&record, &intent)?;
        Ok(Rollback {
            record,
            intent,
            armed: true,
        })
    }

    /// Records the admin entry name git chose (the git CLI names it after the directory),
    /// so an undo finds it even before its `gitdir` file points anywhere.
    pub fn set_admin(&mut self, admin: &str) -> Result<(), WorktreeError> {
        if self.intent.admin != admin {
            self.intent.admin = admin.to_string();
            write(&self.record, &self.intent)?;
        }
        Ok(())
    }

    /// The operation finished: keep what it made.
    pub fn commit(mut self) -> Result<(), WorktreeError> {
        self.armed = false;
        clear(&self.record)
    }
}

impl Drop for Rollback {
    fn drop(&mut self) {
        if self.armed {
            undo(&self.intent, Duration::from_secs(10));
            // Best effort: a record left behind is recovered by the next call.
            let _ = clear(&self.record);
        }
    }
}
