//! Exports of the end of a worktree's life: `worktreeStatus`, `worktreeRemove`,
//! `worktreeRestore`, `worktreeSnapshots`, `worktreeGc` (each with an `…Async` twin).

use napi::bindgen_prelude::AsyncTask;
use napi::Env;
use napi_derive::napi;
use serde_json::Value;

use super::ids::JsKeyParts;
use super::{context, from_js, invalid_arg, js_err, task, Result, Thrown};
use crate::lifecycle;

/// Counts from `git status`: staged, modified (unstaged), untracked (a wholly untracked
/// directory counts once) and conflicted paths.
#[napi(object, object_from_js = false)]
pub struct WorktreeDirty {
    pub staged: u32,
    pub modified: u32,
    pub untracked: u32,
    pub conflicted: u32,
}

impl From<lifecycle::Dirty> for WorktreeDirty {
    fn from(d: lifecycle::Dirty) -> Self {
        WorktreeDirty {
            staged: d.staged,
            modified: d.modified,
            untracked: d.untracked,
            conflicted: d.conflicted,
        }
    }
}

/// Whether a worktree's work is in the base, by which proof (`ancestor`, `same-tree`,
/// `merge-adds-nothing`, `patch-id`, or `not-integrated`), and the base judged against.
#[napi(object, object_from_js = false)]
pub struct WorktreeIntegration {
    pub integrated: bool,
    pub proof: String,
    pub base: String,
    pub base_commit: String,
}

impl From<lifecycle::Integration> for WorktreeIntegration {
    fn from(i: lifecycle::Integration) -> Self {
        WorktreeIntegration {
            integrated: i.integrated,
            proof: i.proof,
            base: i.base,
            base_commit: i.base_commit,
        }
    }
}

/// One reason `worktreeRemove` refuses: `dirty`, `untracked`, `stash`, `unpushed` (these
/// four `force` records and overrides), `process-inside`, `not-okstra`,
/// `locked-by-other` (never overridden), with what was found.
#[napi(object, object_from_js = false)]
pub struct WorktreeBlocker {
    pub reason: String,
    pub detail: String,
}

impl From<lifecycle::Blocker> for WorktreeBlocker {
    fn from(b: lifecycle::Blocker) -> Self {
        WorktreeBlocker {
            reason: b.reason.as_str().to_string(),
            detail: b.detail,
        }
    }
}

/// What a plan run's ledger records about a stage worktree: `state` `done` (a `done` row)
/// or `started` (only a `started` row; `null` when neither), the verdict of its last
/// `verified` row, the URL of the last `pr` row listing it.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct WorktreeStageLedger {
    #[napi(ts_type = "'started' | 'done' | null")]
    pub state: Option<String>,
    pub verified: Option<String>,
    pub pr: Option<String>,
}

impl From<lifecycle::StageLedger> for WorktreeStageLedger {
    fn from(l: lifecycle::StageLedger) -> Self {
        WorktreeStageLedger {
            state: l.state,
            verified: l.verified,
            pr: l.pr,
        }
    }
}

/// One worktree as `worktreeStatus` shows it.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct WorktreeStatusRow {
    pub task_key: String,
    /// `task`, `stage` or `group`.
    pub kind: String,
    pub project_id: String,
    pub path: String,
    /// The registry row's branch.
    pub branch: String,
    /// The registry row's status: `active` or `released`.
    pub status: String,
    /// The directory exists.
    pub exists: bool,
    /// The commit checked out.
    pub head: Option<String>,
    /// The branch checked out when it is not the row's.
    pub checked_out: Option<String>,
    pub dirty: WorktreeDirty,
    /// Stash entries made on its branch.
    pub stashes: u32,
    /// Commits on HEAD not in the base / in the base not on HEAD.
    pub ahead: Option<u32>,
    pub behind: Option<u32>,
    pub integration: Option<WorktreeIntegration>,
    /// HEAD is on some remote-tracking branch.
    pub pushed: bool,
    /// Processes working inside (pids).
    pub processes: Vec<u32>,
    /// Bytes on disk (only with `disk: true`).
    pub disk_bytes: Option<f64>,
    pub last_phase: String,
    pub created_at: String,
    pub age_seconds: Option<f64>,
    /// `worktreeRemove` without `force` would remove it.
    pub removable: bool,
    pub blockers: Vec<WorktreeBlocker>,
    /// A stage row's ledger state, from the `planRunRoot` ledgers; `null` for task and
    /// group rows, a stage the ledgers do not mention, or without `planRunRoot`.
    pub ledger: Option<WorktreeStageLedger>,
    /// What failed while judging it; the other fields are then partial.
    pub error: Option<String>,
}

impl From<lifecycle::StatusRow> for WorktreeStatusRow {
    fn from(r: lifecycle::StatusRow) -> Self {
        WorktreeStatusRow {
            task_key: r.task_key,
            kind: r.kind,
            project_id: r.project_id,
            path: r.path,
            branch: r.branch,
            status: r.status.as_str().to_string(),
            exists: r.exists,
            head: r.head,
            checked_out: r.checked_out,
            dirty: r.dirty.into(),
            stashes: r.stashes,
            ahead: r.ahead,
            behind: r.behind,
            integration: r.integration.map(Into::into),
            pushed: r.pushed,
            processes: r.processes,
            disk_bytes: r.disk_bytes.map(|b| b as f64),
            last_phase: r.last_phase,
            created_at: r.created_at,
            age_seconds: r.age_seconds.map(|s| s as f64),
            removable: r.removable,
            blockers: r.blockers.into_iter().map(Into::into).collect(),
            ledger: r.ledger.map(Into::into),
            error: r.error,
        }
    }
}

/// A snapshot commit a forced removal recorded, under `refs/okstra/snapshots/<key>/<n>`.
#[napi(object, object_from_js = false)]
pub struct WorktreeSnapshot {
    pub number: u32,
    /// The full ref name.
    #[napi(js_name = "ref")]
    pub ref_name: String,
    pub commit: String,
    /// The branch tip it was taken on (its parent).
    pub head: String,
    pub branch: String,
    pub path: String,
    pub taken_at: String,
}

impl From<lifecycle::SnapshotInfo> for WorktreeSnapshot {
    fn from(s: lifecycle::SnapshotInfo) -> Self {
        WorktreeSnapshot {
            number: s.number,
            ref_name: s.ref_name,
            commit: s.commit,
            head: s.head,
            branch: s.branch,
            path: s.path,
            taken_at: s.taken_at,
        }
    }
}

/// What `worktreeRemove` did.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct WorktreeRemoved {
    pub task_key: String,
    pub path: String,
    pub branch: String,
    /// The branch was deleted (it was integrated).
    pub branch_deleted: bool,
    pub integration: Option<WorktreeIntegration>,
    /// What `force` recorded (`null` when nothing would have been lost).
    pub snapshot: Option<WorktreeSnapshot>,
    /// The directory was already gone: only git's record and the row were cleared.
    pub already_gone: bool,
}

/// What `worktreeRestore` did.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct WorktreeRestored {
    pub task_key: String,
    pub path: String,
    pub branch: String,
    /// The snapshot whose files were put back.
    pub snapshot: Option<WorktreeSnapshot>,
    /// Provisioning's note.
    pub note: String,
}

/// One row `worktreeGc` considered.
#[napi(object, object_from_js = false)]
pub struct WorktreeGcCandidate {
    pub task_key: String,
    pub path: String,
    pub branch: String,
    /// `remove` or `keep`.
    pub action: String,
    /// Why it is a candidate (`merged (<proof> into <base>)`, `released`, `gone`, …).
    pub why: Vec<String>,
    /// Why it is kept (its blockers, `--keep`, a removal's error).
    pub kept_because: Vec<String>,
    pub blockers: Vec<WorktreeBlocker>,
    pub disk_bytes: f64,
    pub removed: bool,
    pub branch_deleted: bool,
}

/// What `worktreeGc` found and (with `apply`) did.
#[napi(object, object_from_js = false)]
pub struct WorktreeGcReport {
    pub applied: bool,
    pub candidates: Vec<WorktreeGcCandidate>,
    /// Bytes freed (or that `apply` would free).
    pub reclaimed_bytes: f64,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StatusArgs {
    project_ids: Option<Vec<String>>,
    disk: Option<bool>,
    plan_run_root: Option<OneOrMany>,
    home: Option<String>,
    lock_timeout_ms: Option<f64>,
}

/// A string or an array of strings.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

fn status(o: Option<Value>) -> Result<Vec<WorktreeStatusRow>> {
    let o: StatusArgs = match o {
        None | Some(Value::Null) => StatusArgs::default(),
        Some(v) => from_js("worktreeStatus", v)?,
    };
    let ctx = context(o.home.as_deref(), o.lock_timeout_ms)?;
    let rows = lifecycle::status(
        &ctx,
        &lifecycle::StatusOptions {
            project_ids: o.project_ids.unwrap_or_default(),
            disk: o.disk.unwrap_or(false),
            plan_run_roots: match o.plan_run_root {
                None => Vec::new(),
                Some(OneOrMany::One(r)) => vec![r],
                Some(OneOrMany::Many(r)) => r,
            },
        },
    )
    .map_err(js_err)?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// One row per worktree the home's registry knows (only `projectIds` when given): kind,
/// path, branch, dirty counts, stashes, ahead/behind the base, whether its work is
/// integrated and by which proof, processes inside, disk use (`disk: true`; it walks every
/// file), last phase and age, and the `blockers` `worktreeRemove` would refuse with. git
/// runs for several worktrees at once. `planRunRoot` (one or several plan run roots) gives
/// each stage row its `ledger` state from that `consumers.jsonl`, matched by task key and
/// stage; without it `ledger` is `null`. Finishes a removal a crash interrupted first;
/// changes nothing else. Throws `E_GIT_REQUIRED`, `E_REGISTRY_CORRUPT`, `E_INVALID_ARG`
/// (also a missing plan run root), `E_UNSAFE_FILE` (a `consumers.jsonl` that is a symlink,
/// FIFO or device).
#[napi(
    ts_args_type = "o?: { projectIds?: string[]; disk?: boolean; planRunRoot?: string | string[]; home?: string; lockTimeoutMs?: number }"
)]
pub fn worktree_status(o: Option<Value>) -> Result<Vec<WorktreeStatusRow>> {
    status(o)
}

task!(
    /// The Promise of `worktreeStatus`.
    WorktreeStatusTask => Vec<WorktreeStatusRow>
);

/// `worktreeStatus` on the libuv pool.
#[napi(
    ts_args_type = "o?: { projectIds?: string[]; disk?: boolean; planRunRoot?: string | string[]; home?: string; lockTimeoutMs?: number }"
)]
pub fn worktree_status_async(o: Option<Value>) -> AsyncTask<WorktreeStatusTask> {
    WorktreeStatusTask::run(move || status(o))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RemoveArgs {
    #[serde(flatten)]
    key: JsKeyParts,
    force: Option<bool>,
}

fn remove(o: Value) -> std::result::Result<WorktreeRemoved, Thrown> {
    let o: RemoveArgs = from_js("worktreeRemove", o)?;
    let ctx = context(o.key.home.as_deref(), o.key.lock_timeout_ms)?;
    let r = lifecycle::remove(&ctx, &o.key.parts()?, o.force.unwrap_or(false))
        .map_err(Thrown::coded)?;
    Ok(WorktreeRemoved {
        task_key: r.task_key,
        path: r.path,
        branch: r.branch,
        branch_deleted: r.branch_deleted,
        integration: r.integration.map(Into::into),
        snapshot: r.snapshot.map(Into::into),
        already_gone: r.already_gone,
    })
}

/// Removes the key's worktree: the directory (renamed into `<home>/worktrees/.trash` and
/// deleted in the background, so the call returns at once), git's record of it and its
/// lock, the branch only when its work is integrated in the base, and releases the registry
/// row. Refuses, changing nothing, with `E_REMOVE_REFUSED` naming every reason (dirty,
/// untracked, stash, unpushed, process-inside, not-okstra, locked-by-other) in its message
/// and as data: `err.reasons` is `[{ reason, detail }]`, the same objects as
/// `worktreeStatus`'s `blockers`. `force: true`
/// first records the dirty tree, untracked files and branch tip as a commit under
/// `refs/okstra/snapshots/<key>/<n>` (`worktreeRestore` brings them back), but never
/// overrides the last three reasons. Crash-safe: a journal record lets the next call finish
/// a removal that was killed. Also throws `E_NOT_FOUND`, `E_GIT`, `E_GIT_REQUIRED`,
/// `E_LOCK_TIMEOUT`, `E_REGISTRY_CORRUPT`, `E_INVALID_ARG`.
#[napi(ts_args_type = "o: KeyParts & { force?: boolean }")]
pub fn worktree_remove(env: Env, o: Value) -> napi::Result<WorktreeRemoved> {
    remove(o).map_err(|e| e.throw(&env))
}

task!(
    /// The Promise of `worktreeRemove`.
    WorktreeRemoveTask => WorktreeRemoved
);

/// `worktreeRemove` on the libuv pool.
#[napi(ts_args_type = "o: KeyParts & { force?: boolean }")]
pub fn worktree_remove_async(o: Value) -> AsyncTask<WorktreeRemoveTask> {
    WorktreeRemoveTask::run_thrown(move || remove(o))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RestoreArgs {
    #[serde(flatten)]
    key: JsKeyParts,
    project_root: Option<String>,
    snapshot: Option<f64>,
}

fn restore_args(what: &str, o: Value) -> Result<(crate::context::Context, RestoreArgs)> {
    let o: RestoreArgs = from_js(what, o)?;
    let ctx = context(o.key.home.as_deref(), o.key.lock_timeout_ms)?;
    Ok((ctx, o))
}

fn restore(o: Value) -> Result<WorktreeRestored> {
    let (ctx, o) = restore_args("worktreeRestore", o)?;
    let snapshot = match o.snapshot {
        None => None,
        Some(n) if n >= 1.0 && n.fract() == 0.0 && n <= f64::from(u32::MAX) => Some(n as u32),
        Some(n) => {
            return Err(invalid_arg(format!(
                "snapshot {n} is not a snapshot number (1, 2, …)"
            )))
        }
    };
    let r = lifecycle::restore(
        &ctx,
        &o.key.parts()?,
        &lifecycle::RestoreRequest {
            project_root: o.project_root.map(Into::into),
            snapshot,
        },
    )
    .map_err(js_err)?;
    Ok(WorktreeRestored {
        task_key: r.task_key,
        path: r.path,
        branch: r.branch,
        snapshot: r.snapshot.map(Into::into),
        note: r.note,
    })
}

/// Brings a removed worktree back: provisions the key again on its branch (recreated at the
/// snapshot's parent when the removal deleted it), then writes snapshot `snapshot` (default:
/// the newest taken on the branch's tip) over the files, so tracked edits, deletions,
/// untracked files, exec bits and symlinks are as they were; the index and HEAD are the
/// branch's. `projectRoot` names the repository (default: the ones okstra remembers).
/// Throws `E_PATH_EXISTS` (the worktree is there), `E_NOT_FOUND` (no row, no such
/// snapshot), what provisioning throws, `E_GIT`, `E_GIT_REQUIRED`.
#[napi(ts_args_type = "o: KeyParts & { projectRoot?: string; snapshot?: number }")]
pub fn worktree_restore(o: Value) -> Result<WorktreeRestored> {
    restore(o)
}

task!(
    /// The Promise of `worktreeRestore`.
    WorktreeRestoreTask => WorktreeRestored
);

/// `worktreeRestore` on the libuv pool.
#[napi(ts_args_type = "o: KeyParts & { projectRoot?: string; snapshot?: number }")]
pub fn worktree_restore_async(o: Value) -> AsyncTask<WorktreeRestoreTask> {
    WorktreeRestoreTask::run(move || restore(o))
}

/// The snapshots of a key (oldest first), from the repository `projectRoot` names or the
/// ones okstra remembers; `[]` when none. Throws `E_GIT_REQUIRED`, `E_INVALID_ARG`.
#[napi(ts_args_type = "o: KeyParts & { projectRoot?: string }")]
pub fn worktree_snapshots(o: Value) -> Result<Vec<WorktreeSnapshot>> {
    let (ctx, o) = restore_args("worktreeSnapshots", o)?;
    let root = o.project_root.map(std::path::PathBuf::from);
    let list = lifecycle::list_snapshots(&ctx, &o.key.parts()?, root.as_deref()).map_err(js_err)?;
    Ok(list.into_iter().map(Into::into).collect())
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GcArgs {
    apply: Option<bool>,
    merged: Option<bool>,
    released: Option<bool>,
    older_than: Option<String>,
    keep: Option<f64>,
    project_ids: Option<Vec<String>>,
    home: Option<String>,
    lock_timeout_ms: Option<f64>,
}

fn gc(o: Option<Value>) -> Result<WorktreeGcReport> {
    let o: GcArgs = match o {
        None | Some(Value::Null) => GcArgs::default(),
        Some(v) => from_js("worktreeGc", v)?,
    };
    let ctx = context(o.home.as_deref(), o.lock_timeout_ms)?;
    let older_than_secs = o
        .older_than
        .as_deref()
        .map(lifecycle::parse_duration)
        .transpose()
        .map_err(js_err)?;
    let keep = o
        .keep
        .map(|k| crate::ids::whole_number("keep", k, 1_000_000).map_err(js_err))
        .transpose()?
        .map(|k| k as usize);
    let r = lifecycle::gc(
        &ctx,
        &lifecycle::GcOptions {
            apply: o.apply.unwrap_or(false),
            merged: o.merged.unwrap_or(false),
            released: o.released.unwrap_or(false),
            older_than_secs,
            keep,
            project_ids: o.project_ids.unwrap_or_default(),
        },
    )
    .map_err(js_err)?;
    Ok(WorktreeGcReport {
        applied: r.applied,
        reclaimed_bytes: r.reclaimed_bytes as f64,
        candidates: r
            .candidates
            .into_iter()
            .map(|c| WorktreeGcCandidate {
                task_key: c.task_key,
                path: c.path,
                branch: c.branch,
                action: c.action,
                why: c.why,
                kept_because: c.kept_because,
                blockers: c.blockers.into_iter().map(Into::into).collect(),
                disk_bytes: c.disk_bytes as f64,
                removed: c.removed,
                branch_deleted: c.branch_deleted,
            })
            .collect(),
    })
}

/// Which worktrees may go, each with why (`merged (<proof> into <base>)`, `released`,
/// `gone`) or why it is kept (its blockers, `keep`): a dry run unless `apply: true`, which
/// removes exactly what `worktreeRemove` without `force` would. `merged` / `released` pick
/// the candidates (neither: both), `olderThan` (`30m`, `12h`, `7d`, `2w`) keeps younger
/// rows, `keep` the N newest candidates. Reports the bytes reclaimed. Throws
/// `E_INVALID_ARG`, `E_GIT_REQUIRED`, `E_LOCK_TIMEOUT`, `E_REGISTRY_CORRUPT`.
#[napi(
    ts_args_type = "o?: { apply?: boolean; merged?: boolean; released?: boolean; olderThan?: string; keep?: number; projectIds?: string[]; home?: string; lockTimeoutMs?: number }"
)]
pub fn worktree_gc(o: Option<Value>) -> Result<WorktreeGcReport> {
    gc(o)
}

task!(
    /// The Promise of `worktreeGc`.
    WorktreeGcTask => WorktreeGcReport
);

/// `worktreeGc` on the libuv pool.
#[napi(
    ts_args_type = "o?: { apply?: boolean; merged?: boolean; released?: boolean; olderThan?: string; keep?: number; projectIds?: string[]; home?: string; lockTimeoutMs?: number }"
)]
pub fn worktree_gc_async(o: Option<Value>) -> AsyncTask<WorktreeGcTask> {
    WorktreeGcTask::run(move || gc(o))
}
