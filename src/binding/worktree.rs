//! Exports of worktree provisioning.

use std::path::{Path, PathBuf};

use napi::bindgen_prelude::AsyncTask;
use napi_derive::napi;
use serde_json::{Map, Value};

use super::ids::JsKeyParts;
use super::{context, from_js, js_err, lock_bound, positional, task, Result};
use crate::context::Context;
use crate::worktree::{self, ProvisionRequest};

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProvisionArgs {
    #[serde(flatten)]
    key: JsKeyParts,
    task_type: String,
    project_root: String,
    work_category: Option<String>,
    base_ref: Option<String>,
    branch: Option<String>,
}

/// The six task types (phases) of an okstra run. Provisioning records any phase label as
/// given (`taskType` accepts other strings too); the wizard, the report checks and the
/// collector use exactly these.
#[napi(string_enum)]
pub enum TaskType {
    #[napi(value = "requirements-discovery")]
    RequirementsDiscovery,
    #[napi(value = "error-analysis")]
    ErrorAnalysis,
    #[napi(value = "implementation-planning")]
    ImplementationPlanning,
    #[napi(value = "implementation")]
    Implementation,
    #[napi(value = "final-verification")]
    FinalVerification,
    #[napi(value = "release-handoff")]
    ReleaseHandoff,
}

impl From<crate::task_type::TaskType> for TaskType {
    // Exhaustive on purpose: a task type added to the core fails to compile here.
    fn from(t: crate::task_type::TaskType) -> Self {
        use crate::task_type::TaskType as Core;
        match t {
            Core::RequirementsDiscovery => TaskType::RequirementsDiscovery,
            Core::ErrorAnalysis => TaskType::ErrorAnalysis,
            Core::ImplementationPlanning => TaskType::ImplementationPlanning,
            Core::Implementation => TaskType::Implementation,
            Core::FinalVerification => TaskType::FinalVerification,
            Core::ReleaseHandoff => TaskType::ReleaseHandoff,
        }
    }
}

/// The outcome of provisioning (and of its preview).
#[napi(string_enum)]
pub enum ProvisionStatus {
    /// A new branch and worktree were made and registered.
    #[napi(value = "created")]
    Created,
    /// The key's active (or reactivated released) entry was reused.
    #[napi(value = "reused")]
    Reused,
    /// `projectRoot` is itself a linked worktree and the key has no stage or group.
    #[napi(value = "skipped-in-worktree")]
    SkippedInWorktree,
    /// `projectRoot` is not inside git.
    #[napi(value = "skipped-not-git")]
    SkippedNotGit,
}

impl From<worktree::ProvisionStatus> for ProvisionStatus {
    fn from(s: worktree::ProvisionStatus) -> Self {
        match s {
            worktree::ProvisionStatus::Created => ProvisionStatus::Created,
            worktree::ProvisionStatus::Reused => ProvisionStatus::Reused,
            worktree::ProvisionStatus::SkippedInWorktree => ProvisionStatus::SkippedInWorktree,
            worktree::ProvisionStatus::SkippedNotGit => ProvisionStatus::SkippedNotGit,
        }
    }
}

/// What `provisionTaskWorktree` did. `path` is the worktree to work in (`projectRoot`
/// itself when skipped); `branch` and `baseRef` (full commit id) are empty when skipped;
/// `linked` (symlinked dirs), `linkedFiles` (symlinked files), `snapshots` (read-only
/// copies, `" (rw-fallback)"` appended when chmod failed), `cloned` and `copied` (private
/// copies) are filled for `created` only; `note` is one readable line saying what happened,
/// including skipped entries. Every carried entry is listed in the okstra block of the
/// repository's `info/exclude`, so `git status` in the worktree stays clean.
// Mirrors `worktree::Provisioned` field by field: the core carries no Node-API types.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct ProvisionResult {
    pub status: ProvisionStatus,
    /// The registry key of the entry (`…/checkout-500` for `taskId: 'Checkout 500'`), what
    /// `registryLookup` with the same options finds.
    pub task_key: String,
    pub path: String,
    pub branch: String,
    pub base_ref: String,
    pub note: String,
    /// Symlinked directories.
    pub linked: Vec<String>,
    /// Symlinked files.
    pub linked_files: Vec<String>,
    /// Read-only (0444) copies of files.
    pub snapshots: Vec<String>,
    /// Private copies (copy kind) made copy-on-write: every file shares its extents with
    /// the source (FICLONE/reflink), so they cost no space until written.
    pub cloned: Vec<String>,
    /// Private copies (copy kind) written byte for byte, because the filesystem cannot
    /// clone (or the source is on another filesystem).
    pub copied: Vec<String>,
}

fn request(what: &str, o: Value) -> Result<(Context, ProvisionRequest)> {
    let o: ProvisionArgs = from_js(what, o)?;
    let ctx = context(o.key.home.as_deref(), o.key.lock_timeout_ms)?;
    // An entry passed back addresses its own stage or group (E_KEY_MISMATCH when its
    // fields name two entries).
    let key = o.key.parts()?;
    let req = ProvisionRequest {
        task_type: o.task_type,
        project_root: PathBuf::from(o.project_root),
        project_id: key.project_id,
        task_group: key.task_group,
        task_id: key.task_id,
        work_category: o.work_category.unwrap_or_default(),
        base_ref: o.base_ref,
        stage: key.stage,
        group_id: key.group_id,
        branch: o.branch,
        stages: None,
    };
    Ok((ctx, req))
}

impl From<worktree::Provisioned> for ProvisionResult {
    fn from(r: worktree::Provisioned) -> Self {
        ProvisionResult {
            status: r.status.into(),
            task_key: r.task_key,
            path: r.path,
            branch: r.branch,
            base_ref: r.base_ref,
            note: r.note,
            linked: r.linked,
            linked_files: r.linked_files,
            snapshots: r.snapshots,
            cloned: r.cloned,
            copied: r.copied,
        }
    }
}

fn provision(o: Value) -> Result<ProvisionResult> {
    let (ctx, req) = request("provisionTaskWorktree", o)?;
    let r = worktree::provision(&ctx, &req).map_err(js_err)?;
    Ok(r.into())
}

/// Creates or reuses the git worktree of a task key (segments are slugged first):
/// `skipped-not-git` outside git; `skipped-in-worktree` when `projectRoot` is itself a
/// linked worktree and the key has no stage or group; `reused` when the registry holds an
/// active entry (its phase is updated), or a released one whose directory is still its
/// worktree on its branch (reactivated; the note says so); else `created` — branch
/// `<prefix>-<task>[-s<N>|.group-<ID>]` (group-qualified `<prefix>-<group>-<task>…` when
/// another okstra key owns that name; `branch` overrides), or a released key's own branch
/// with its commits, at `baseRef` (branch, tag, remote ref, sha, or a relative ref such as
/// `HEAD` / `@{-1}` resolved in the worktree `projectRoot` names; default the main
/// worktree's HEAD), worktree at `computeWorktreePath(…)` made by `git worktree add` in the
/// main worktree (libgit2 when no git ≥ 2.36 is on PATH; the note then says so), locked in
/// git with reason `okstra task <key>`, shared state linked, then registered.
/// Crash-safe: an intent record under `<home>/worktrees/pending/` lets the next call of
/// the key complete or undo a provisioning that was killed. Concurrent calls for one key
/// give one `created` and `reused` for the others. Throws (leaving nothing behind)
/// `E_PATH_EXISTS`, `E_BRANCH_EXISTS` (not okstra's), `E_BRANCH_OWNED` (another key's,
/// named), `E_UNKNOWN_REF`, `E_WORKTREE_STALE`, `E_TASK_KEY_ACTIVE`, `E_INVALID_ARG`,
/// `E_KEY_MISMATCH` (an entry passed back whose fields name two entries),
/// `E_GIT` (git's output, e.g. a failing hook), `E_GIT_REQUIRED` (no usable git and the
/// checkout needs working-tree-encoding or a filter driver), `E_LOCK_TIMEOUT`,
/// `E_REGISTRY_CORRUPT`.
#[napi(
    ts_args_type = "o: KeyParts & { taskType: TaskType | (string & {}); projectRoot: string; workCategory?: string; baseRef?: string; branch?: string }"
)]
pub fn provision_task_worktree(o: Value) -> Result<ProvisionResult> {
    provision(o)
}

task!(
    /// The Promise of `provisionTaskWorktree`.
    ProvisionTask => ProvisionResult
);

/// `provisionTaskWorktree` on the libuv pool; resolves to the same result.
#[napi(
    ts_args_type = "o: KeyParts & { taskType: TaskType | (string & {}); projectRoot: string; workCategory?: string; baseRef?: string; branch?: string }"
)]
pub fn provision_task_worktree_async(o: Value) -> AsyncTask<ProvisionTask> {
    ProvisionTask::run(move || provision(o))
}

/// What `provisionTaskWorktree` would do for the same options, with nothing changed:
/// `status` (`created`, `reused`, `skipped-…`), `path`, `branch`, `baseRef` (full commit id)
/// and a `note` saying how (new branch, reactivated released entry, recreated on the key's
/// own branch with its commits, an unfinished provisioning undone first).
// Mirrors `worktree::ProvisionPreview` field by field: the core carries no Node-API types.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct ProvisionPreview {
    pub status: ProvisionStatus,
    pub path: String,
    pub branch: String,
    pub base_ref: String,
    pub note: String,
}

/// The plan `provisionTaskWorktree` would follow for these options — path, branch, base and
/// outcome — computed from the registry, the journal and git with no change made (for a
/// confirmation screen). Throws what provisioning would throw before changing anything:
/// `E_INVALID_ARG`, `E_PATH_EXISTS`, `E_BRANCH_EXISTS`, `E_BRANCH_OWNED`, `E_UNKNOWN_REF`,
/// `E_WORKTREE_STALE`, `E_GIT`, `E_REGISTRY_CORRUPT`.
#[napi(
    ts_args_type = "o: KeyParts & { taskType: TaskType | (string & {}); projectRoot: string; workCategory?: string; baseRef?: string; branch?: string }"
)]
pub fn preview_task_worktree(o: Value) -> Result<ProvisionPreview> {
    let (ctx, req) = request("previewTaskWorktree", o)?;
    let r = worktree::preview(&ctx, &req).map_err(js_err)?;
    Ok(ProvisionPreview {
        status: r.status.into(),
        path: r.path,
        branch: r.branch,
        base_ref: r.base_ref,
        note: r.note,
    })
}

/// The shared entries provisioning carries from the main worktree, project-relative and
/// normalized; `notes` says what was skipped (unsafe entries, an unreadable project.json).
// Mirrors `worktree::SyncEntries` field by field: the core carries no Node-API types.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct SyncEntries {
    /// Symlinked directories.
    pub dirs: Vec<String>,
    /// Symlinked files.
    pub files: Vec<String>,
    /// Read-only (0444) copies.
    pub snapshots: Vec<String>,
    /// Private, writable copies (copy-on-write where the filesystem can): the configured
    /// copy entries, then the ignored paths `.worktreeinclude` selects. An entry listed
    /// here is not also linked.
    pub copies: Vec<String>,
    /// What was skipped and why (unsafe entries, dependency directories configured as
    /// symlinked dirs, an unreadable project.json or `.worktreeinclude`).
    pub notes: Vec<String>,
}

/// The sync dirs, sync files, snapshot files and copy entries for `projectRoot`, each from
/// the env var (`OKSTRA_WORKTREE_SYNC_DIRS` / `_SYNC_FILES` / `_SNAPSHOT_FILES` /
/// `_COPY_ENTRIES`, `:`-separated, empty disables), else project.json (`worktreeSyncDirs` /
/// `worktreeSyncFiles` / `worktreeSnapshotFiles` / `worktreeCopyEntries` in
/// `.okstra/project.json`, falling back to `.project-docs/okstra/project.json`), else the
/// defaults; copies also get the ignored paths `<projectRoot>/.worktreeinclude` selects.
/// Dependency directories (`node_modules`, `.venv`, `target`, …) are never linked (a note
/// names the copy kind). Linear in the number of entries. Never throws.
#[napi]
pub fn resolve_sync_entries(project_root: String) -> SyncEntries {
    let e = worktree::resolve_sync_entries(Path::new(&project_root));
    SyncEntries {
        dirs: e.dirs,
        files: e.files,
        snapshots: e.snapshots,
        copies: e.copies,
        notes: e.notes,
    }
}

/// Paths a source clean gate should ignore: `.okstra` plus every sync, snapshot and copy entry,
/// without leading `./` or trailing `/`, duplicates dropped, order kept. Never throws.
#[napi]
pub fn clean_gate_excludes(project_root: String) -> Vec<String> {
    worktree::clean_gate_excludes(Path::new(&project_root))
}

/// Whether `path` lies inside a linked (non-main) git worktree; `false` outside git. Never
/// throws.
#[napi]
pub fn is_inside_linked_worktree(path: String) -> bool {
    worktree::is_inside_linked_worktree(Path::new(&path))
}

task!(
    /// The Promise of `isInsideLinkedWorktree`.
    InsideLinkedTask => bool
);

/// `isInsideLinkedWorktree` on the libuv pool.
#[napi]
pub fn is_inside_linked_worktree_async(path: String) -> AsyncTask<InsideLinkedTask> {
    InsideLinkedTask::run(move || Ok(worktree::is_inside_linked_worktree(Path::new(&path))))
}

fn main_path(path: &str) -> Result<String> {
    Ok(worktree::main_worktree_path(Path::new(path))
        .map_err(js_err)?
        .to_string_lossy()
        .into_owned())
}

/// The main worktree of the repository containing `path` (from a linked worktree too);
/// `path` itself when it is not inside git. Throws `E_GIT` when the repository cannot be
/// opened.
#[napi]
pub fn main_worktree_path(path: String) -> Result<String> {
    main_path(&path)
}

task!(
    /// The Promise of `mainWorktreePath`.
    MainPathTask => String
);

/// `mainWorktreePath` on the libuv pool.
#[napi]
pub fn main_worktree_path_async(path: String) -> AsyncTask<MainPathTask> {
    MainPathTask::run(move || main_path(&path))
}

/// Options of `upsertProjectJson`.
#[napi(object)]
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectJsonOptions {
    /// The project's root directory.
    pub project_root: String,
    /// The id to register.
    pub project_id: String,
    /// How long to wait for the lock on the project root (default
    /// `OKSTRA_LOCK_TIMEOUT_MS`, else 30000).
    pub lock_timeout_ms: Option<f64>,
}

/// Registers `projectId` in `<projectRoot>/.okstra/project.json` (or the legacy
/// `.project-docs/okstra/project.json` when that is the one present) and returns the object
/// written. Owns only `projectId`, `projectRoot`, `createdAt` (kept) and `updatedAt`; every
/// other field is kept. Throws `E_PROJECT_ID_MISMATCH` when the file registers another id,
/// `E_PROJECT_JSON_INVALID` when it is not a JSON object, `E_INVALID_ARG`; the file is
/// unchanged then. (The 0.1 form `(projectRoot, projectId)` still works.)
#[napi(
    ts_args_type = "o: ProjectJsonOptions",
    ts_return_type = "Record<string, unknown>"
)]
pub fn upsert_project_json(o: Value, legacy: Option<Value>) -> Result<Map<String, Value>> {
    let o = match (o, legacy) {
        (Value::String(root), Some(Value::String(id))) => {
            serde_json::json!({ "projectRoot": root, "projectId": id })
        }
        (o, legacy) => positional(o, legacy, "projectRoot"),
    };
    let o: ProjectJsonOptions = from_js("upsertProjectJson", o)?;
    let bound = lock_bound(o.lock_timeout_ms)?;
    worktree::upsert_project_json(Path::new(&o.project_root), &o.project_id, bound).map_err(js_err)
}
