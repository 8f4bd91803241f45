//! The machine-global worktree registry: `<OKSTRA_HOME>/worktrees/registry.json`
//! guarded by an exclusive `flock` on `registry.lock`, the same two files the Python helper
//! used, so both can run side by side on one machine.
//!
//! Every write holds the lock for its whole read-modify-write and replaces the file
//! atomically. Reads (`lookup`, `list`, `get_implementation_base`, …) take no lock: every
//! writer (ours and Python's) replaces the file by rename, so a reader always sees a whole
//! old or a whole new file, and a stuck lock holder cannot stall them.

mod cache;
mod canon;
mod doctor;
mod entry;
mod layout;
mod lookup_index;
mod release;
mod repair;
mod resolve;
mod store;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use canon::Canon;
pub use doctor::{DoctorReport, Problem, ProblemCode};
pub use entry::{now_stamp, parse_stamp, EntryStatus, WorktreeEntry, STAMP_FORMAT};
pub use repair::RepairReport;
use store::Doc;

use crate::context::Context;
use crate::error::{Code, Coded, InvalidArg};
use crate::fsio::{self, FsError, LockGuard};
use crate::ids::KeyParts;

/// The registry file name inside the worktrees root.
pub const REGISTRY_FILE: &str = "registry.json";
/// The lock file name inside the worktrees root.
pub const LOCK_FILE: &str = "registry.lock";

/// Registry failures.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    InvalidArg(#[from] InvalidArg),
    #[error(transparent)]
    Fs(#[from] FsError),
    /// The registry file cannot be trusted; it was not changed.
    #[error(
        "registry {path} is corrupt ({detail}); it was left untouched. Run `okstra registry \
         repair` to move it aside and keep the rows that are still valid"
    )]
    Corrupt { path: PathBuf, detail: String },
    /// The key already has an active entry.
    #[error(
        "task-key already has a worktree registered: {key} → {path} (branch {branch}). Use \
         lookup to reuse it, or release it before reserving anew"
    )]
    TaskKeyActive {
        key: String,
        path: String,
        branch: String,
    },
    /// The branch is registered to another active key.
    #[error(
        "branch {branch:?} is already registered to a different task-key: {owner}. Choose a \
         different work-category or release the conflicting task first"
    )]
    BranchOwned { branch: String, owner: String },
    /// No entry for the key.
    #[error(
        "no registry entry for task-key {key}; reserve it first (or check the key's segments)"
    )]
    NotFound { key: String },
}

impl Coded for RegistryError {
    fn code(&self) -> Code {
        match self {
            RegistryError::InvalidArg(e) => e.code(),
            RegistryError::Fs(e) => e.code(),
            RegistryError::Corrupt { .. } => Code::RegistryCorrupt,
            RegistryError::TaskKeyActive { .. } => Code::TaskKeyActive,
            RegistryError::BranchOwned { .. } => Code::BranchOwned,
            RegistryError::NotFound { .. } => Code::NotFound,
        }
    }
}

type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// What a new reservation records.
#[derive(Debug, Clone)]
pub struct Reservation {
    pub worktree_path: String,
    pub branch: String,
    pub base_ref: String,
    pub phase: String,
    pub stages: Option<Vec<u32>>,
}

/// A handle on one registry (one `OKSTRA_HOME`).
#[derive(Debug, Clone)]
pub struct Registry {
    root: PathBuf,
    lock_timeout: Duration,
}

fn invalid(msg: String) -> RegistryError {
    InvalidArg(msg).into()
}

fn check_commit(commit: &str) -> Result<()> {
    let ok = matches!(commit.len(), 40 | 64) && commit.bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "commit {commit:?} is not a full commit id (40 or 64 hex digits); resolve it first, \
             e.g. `git rev-parse <ref>`"
        )))
    }
}

/// The fields a reservation writes, in the Python helper's order.
fn fresh_row(parts: &KeyParts, r: &Reservation) -> Value {
    json!({
        "project_id": parts.project_id,
        "task_group": parts.task_group,
        "task_id": parts.task_id,
        "worktree_path": r.worktree_path,
        "branch": r.branch,
        "base_ref": r.base_ref,
        "created_at": now_stamp(),
        "last_phase": r.phase,
        "status": EntryStatus::Active.as_str(),
        "stage": parts.stage,
        "implementation_base_commit": "",
        "stages": r.stages,
    })
}

impl Registry {
    /// The registry of a resolved context: under its home, waiting at most its lock bound.
    pub fn open(ctx: &Context) -> Registry {
        Registry::at(ctx.worktrees_root(), ctx.lock_timeout())
    }

    /// The registry in an explicit worktrees root.
    pub fn at(root: PathBuf, lock_timeout: Duration) -> Registry {
        Registry { root, lock_timeout }
    }

    /// The worktrees root (`<OKSTRA_HOME>/worktrees`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// How long this handle waits for any lock (the context's bound).
    pub fn lock_timeout(&self) -> Duration {
        self.lock_timeout
    }

    /// Path of `registry.json`.
    pub fn file(&self) -> PathBuf {
        self.root.join(REGISTRY_FILE)
    }

    fn lock(&self) -> Result<LockGuard> {
        Ok(LockGuard::acquire(
            &self.root.join(LOCK_FILE),
            self.lock_timeout,
        )?)
    }

    fn corrupt(&self, detail: String) -> RegistryError {
        RegistryError::Corrupt {
            path: self.file(),
            detail,
        }
    }

    fn entries(&self, doc: &Doc) -> Result<Vec<WorktreeEntry>> {
        doc.entries().map_err(|detail| RegistryError::Corrupt {
            path: self.file(),
            detail,
        })
    }

    /// Runs `f` on the loaded document under the lock and saves when it returns `true`:
    /// the path for changes to many rows at once ([`Registry::prune`]), which rewrites the
    /// whole document once.
    fn modify<T>(&self, f: impl FnOnce(&mut Doc) -> Result<(T, bool)>) -> Result<T> {
        let _guard = self.lock()?;
        let file = self.file();
        let mut doc = Doc::load_typed(&file)?.0;
        let (out, changed) = f(&mut doc)?;
        if changed {
            doc.save(&file)?;
        }
        Ok(out)
    }

    /// Runs `f` on the registry's bytes under the lock and writes them (atomically) when it
    /// returns `true`: the path for changes to one row, which splice the changed members
    /// into the old bytes (see [`Canon`]). The file is scanned afresh unless it holds
    /// exactly the bytes this process last wrote or read here (see [`cache::take_canon`]);
    /// a copy `f` failed halfway through is dropped.
    fn edit<T>(&self, f: impl FnOnce(&mut Canon) -> Result<(T, bool)>) -> Result<T> {
        let _guard = self.lock()?;
        let file = self.file();
        let mut canon = match cache::take_canon(&file) {
            Some(canon) => canon,
            None => Canon::of(&file, Doc::read_bytes(&file)?)?,
        };
        let (out, changed) = f(&mut canon)?;
        if changed {
            fsio::atomic_write(&file, &canon.bytes)?;
        }
        cache::put_canon(&file, canon);
        Ok(out)
    }

    /// Sets the row of `key` in `canon` and returns it typed.
    fn put_row(&self, canon: &mut Canon, key: &str, row: &Value) -> Result<WorktreeEntry> {
        let entry = WorktreeEntry::from_row(key, row).map_err(|d| self.corrupt(d))?;
        canon.set_row(key, row).map_err(|d| self.corrupt(d))?;
        Ok(entry)
    }

    /// The entry for the key, active or released, for a process that will ask again.
    /// It reads the registry the way every other call does, so it refuses exactly what they
    /// refuse (`E_REGISTRY_CORRUPT`, `E_IO`). The validated registry is kept in this process
    /// and reused while the file's (device, inode, size, mtime) are unchanged (see the
    /// `registry::cache` module), so a repeated lookup costs one `stat`.
    pub fn lookup(&self, parts: &KeyParts) -> Result<Option<WorktreeEntry>> {
        let file = self.file();
        let stamp = match std::fs::metadata(&file) {
            Ok(m) => cache::Stamp::of(&m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(fsio::io_err("read registry", &file)(e).into()),
        };
        let canon = match cache::get(&file, &stamp) {
            Some(canon) => canon,
            None => self.scan(&file, false)?,
        };
        Ok(canon.entry(&parts.key()))
    }

    /// The entry for the key, for a process that asks once (the CLI): answered from the
    /// lookup index (`registry.idx`, see the `lookup_index` module) with a few small reads when it
    /// describes the registry as it is now, else by the full read of [`Registry::lookup`],
    /// which then writes a fresh index for the next caller (the only writer of the index:
    /// the calls of a process that keeps its copy leave no file behind).
    pub fn lookup_once(&self, parts: &KeyParts) -> Result<Option<WorktreeEntry>> {
        match lookup_index::lookup(&self.index_file(), &self.file(), &parts.key()) {
            lookup_index::Answer::Row(e) => Ok(Some(*e)),
            lookup_index::Answer::Absent => Ok(None),
            lookup_index::Answer::Unknown => Ok(self.scan(&self.file(), true)?.entry(&parts.key())),
        }
    }

    /// Reads and validates the registry (missing: empty). A version whose mtime had settled
    /// when it was read is kept in memory (see `cache::put`) and, with `index` (the caller
    /// found no usable lookup index), gets a fresh one.
    fn scan(&self, file: &Path, index: bool) -> Result<std::sync::Arc<Canon>> {
        // Taken before the read: a version whose mtime is older than this by the settling
        // time is identified by its stamp (see `cache`).
        let read_at = std::time::SystemTime::now();
        let Some((stamp, bytes)) = Doc::read_stamped(file)? else {
            return Ok(std::sync::Arc::new(Canon::of(file, None)?));
        };
        let canon = std::sync::Arc::new(Canon::of(file, Some(bytes))?);
        if cache::put(file, stamp, read_at, canon.clone()) && index {
            // Only speed depends on it: a registry directory we cannot write to (or a full
            // disk) still answers, by the full read.
            let _ = lookup_index::write(&self.index_file(), &stamp, &canon);
        }
        Ok(canon)
    }

    /// Path of the lookup index, `registry.idx`.
    pub fn index_file(&self) -> PathBuf {
        self.root.join(lookup_index::INDEX_FILE)
    }

    /// Inserts an active entry. Fails with `E_TASK_KEY_ACTIVE` when the key is active and
    /// `E_BRANCH_OWNED` when another key owns the branch; a released key may be reserved
    /// again (fields of its old row that this module does not know are kept).
    pub fn reserve(&self, parts: &KeyParts, r: &Reservation) -> Result<WorktreeEntry> {
        if r.worktree_path.is_empty()
            || r.worktree_path.contains('\0')
            || !Path::new(&r.worktree_path).is_absolute()
        {
            return Err(invalid(format!(
                "worktreePath {:?} must be an absolute path",
                r.worktree_path
            )));
        }
        // A registry branch later reaches git (re-entry checks it out): refused here when
        // git could read it as an option or it is not a branch name.
        crate::git_arg::check_branch("branch", &r.branch)?;
        let key = parts.key();
        self.edit(|canon| {
            if let Some(e) = canon.entry(&key).filter(WorktreeEntry::is_active) {
                return Err(RegistryError::TaskKeyActive {
                    key,
                    path: e.worktree_path,
                    branch: e.branch,
                });
            }
            // Only an active row on the branch owns it: an index entry left pointing at a
            // missing or released key (or one on another branch) is stale and replaced below.
            if let Some(owner) = canon.active_owner(&r.branch, &key) {
                return Err(RegistryError::BranchOwned {
                    branch: r.branch.clone(),
                    owner,
                });
            }
            // A released row is reserved again in place: fields this module does not know
            // stay.
            let mut row = canon
                .row(&key)
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({}));
            if let (Some(row), Value::Object(fresh)) = (row.as_object_mut(), fresh_row(parts, r)) {
                row.extend(fresh);
            }
            let entry = self.put_row(canon, &key, &row)?;
            canon
                .set_branch(&r.branch, &key)
                .map_err(|d| self.corrupt(d))?;
            Ok((entry, true))
        })
    }

    /// Records the latest phase seen on the worktree; does nothing when the key is absent.
    pub fn touch_phase(&self, parts: &KeyParts, phase: &str) -> Result<()> {
        let key = parts.key();
        self.edit(|canon| {
            let Some(mut row) = canon.row(&key).filter(Value::is_object) else {
                return Ok(((), false));
            };
            if row.get("last_phase").and_then(Value::as_str) == Some(phase) {
                return Ok(((), false));
            }
            row["last_phase"] = Value::String(phase.to_string());
            self.put_row(canon, &key, &row)?;
            Ok(((), true))
        })
    }

    fn write_base(&self, parts: &KeyParts, commit: &str, overwrite: bool) -> Result<String> {
        check_commit(commit)?;
        let key = parts.key();
        self.edit(|canon| {
            let mut row = canon
                .row(&key)
                .ok_or_else(|| RegistryError::NotFound { key: key.clone() })?;
            let entry = WorktreeEntry::from_row(&key, &row).map_err(|d| self.corrupt(d))?;
            let recorded = entry.implementation_base_commit;
            if (!overwrite && !recorded.is_empty()) || recorded == commit {
                return Ok((recorded, false));
            }
            row["implementation_base_commit"] = Value::String(commit.into());
            self.put_row(canon, &key, &row)?;
            Ok((commit.to_string(), true))
        })
    }

    /// Pins the implementation base once: the first call records `commit`; later calls
    /// return the recorded value unchanged. `E_NOT_FOUND` when the key is absent.
    pub fn set_implementation_base(&self, parts: &KeyParts, commit: &str) -> Result<String> {
        self.write_base(parts, commit, false)
    }

    /// The deliberate re-anchor: replaces the recorded implementation base.
    pub fn reset_implementation_base(&self, parts: &KeyParts, commit: &str) -> Result<String> {
        self.write_base(parts, commit, true)
    }

    /// The recorded implementation base, or `None` when the key is absent or has none.
    pub fn get_implementation_base(&self, parts: &KeyParts) -> Result<Option<String>> {
        Ok(self
            .lookup(parts)?
            .map(|e| e.implementation_base_commit)
            .filter(|c| !c.is_empty()))
    }

    /// Stage numbers with an active `#stage-<N>` entry for the task, ascending. A row
    /// counts whether its segments are slugged or the raw text (`Checkout 500`).
    pub fn list_active_stage_numbers(&self, parts: &KeyParts) -> Result<Vec<u32>> {
        let mut out: Vec<u32> = self
            .list(None, Some(EntryStatus::Active))?
            .into_iter()
            .filter(|e| {
                // One task whichever form its rows were written in (slugged or raw text).
                let task = KeyParts {
                    project_id: e.project_id.clone(),
                    task_group: e.task_group.clone(),
                    task_id: e.task_id.clone(),
                    stage: None,
                    group_id: None,
                };
                task.same_entry(&parts.base())
            })
            .filter_map(|e| e.stage)
            .collect();
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Every entry, optionally filtered by project and status, sorted by task key. The
    /// project filter matches a row whose `project_id` slugs like it (`Shop` and `shop`
    /// both list the rows of `shop` and rows the Python helper wrote under `Shop`).
    pub fn list(
        &self,
        project_id: Option<&str>,
        status: Option<EntryStatus>,
    ) -> Result<Vec<WorktreeEntry>> {
        let (_, entries) = Doc::load_typed(&self.file())?;
        let mut out: Vec<WorktreeEntry> = entries
            .into_iter()
            .filter(|e| {
                project_id.is_none_or(|p| {
                    e.project_id == p
                        || crate::ids::safe_segment(&e.project_id) == crate::ids::safe_segment(p)
                })
            })
            .filter(|e| status.is_none_or(|s| e.status == s))
            .collect();
        out.sort_by(|a, b| a.task_key.cmp(&b.task_key));
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
