//! Exports of the worktree registry.

use napi::bindgen_prelude::AsyncTask;
use napi_derive::napi;
use serde_json::Value;

use super::ids::JsKeyParts;
use super::{context, from_js, js_err, task, Result};
use crate::ids;
use crate::registry::{self, Registry, Reservation};
use crate::worktree;

/// Whether a registry entry holds its key and branch (`active`) or has given them up
/// (`released`; the directory and branch stay).
#[napi(string_enum)]
pub enum EntryStatus {
    #[napi(value = "active")]
    Active,
    #[napi(value = "released")]
    Released,
}

/// A registered worktree, field for field as `registry.json` stores it. `stage` is `null`
/// outside implementation stage worktrees; `stages` lists the stages a stage-group
/// collector covers (else `null`).
// Mirrors `registry::WorktreeEntry` field by field: the core carries no Node-API types.
#[napi(
    object,
    js_name = "WorktreeEntry",
    object_from_js = false,
    use_nullable = true
)]
pub struct JsWorktreeEntry {
    pub task_key: String,
    pub project_id: String,
    pub task_group: String,
    pub task_id: String,
    pub worktree_path: String,
    pub branch: String,
    pub base_ref: String,
    pub created_at: String,
    pub last_phase: String,
    pub status: EntryStatus,
    pub stage: Option<u32>,
    pub implementation_base_commit: String,
    pub stages: Option<Vec<u32>>,
}

impl From<registry::WorktreeEntry> for JsWorktreeEntry {
    fn from(e: registry::WorktreeEntry) -> Self {
        let status = match e.status {
            registry::EntryStatus::Active => EntryStatus::Active,
            registry::EntryStatus::Released => EntryStatus::Released,
        };
        JsWorktreeEntry {
            task_key: e.task_key,
            project_id: e.project_id,
            task_group: e.task_group,
            task_id: e.task_id,
            worktree_path: e.worktree_path,
            branch: e.branch,
            base_ref: e.base_ref,
            created_at: e.created_at,
            last_phase: e.last_phase,
            status,
            stage: e.stage,
            implementation_base_commit: e.implementation_base_commit,
            stages: e.stages,
        }
    }
}

fn open(home: Option<&str>, lock_timeout_ms: Option<f64>) -> Result<Registry> {
    Ok(Registry::open(&context(home, lock_timeout_ms)?))
}

/// The registry and the key the options name there (see `Registry::resolve`).
fn with_key(p: &JsKeyParts) -> Result<(Registry, ids::KeyParts)> {
    let reg = open(p.home.as_deref(), p.lock_timeout_ms)?;
    let key = reg.resolve_addressed(&p.addressed()?).map_err(js_err)?;
    Ok((reg, key))
}

/// The entry for the key (active or released), or `null`: the slugged key's, or a row
/// written under the raw text when only that one exists; a registry entry passed back
/// finds itself. Throws `E_INVALID_ARG`, `E_KEY_MISMATCH`, `E_REGISTRY_CORRUPT`.
#[napi]
pub fn registry_lookup(p: JsKeyParts) -> Result<Option<JsWorktreeEntry>> {
    let (reg, key) = with_key(&p)?;
    Ok(reg.lookup(&key).map_err(js_err)?.map(Into::into))
}

/// `registryReserve` options: the key parts plus what to record.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReserveArgs {
    #[serde(flatten)]
    key: JsKeyParts,
    worktree_path: String,
    branch: String,
    base_ref: String,
    phase: Option<String>,
    stages: Option<Vec<u32>>,
}

fn reserve(o: Value) -> Result<JsWorktreeEntry> {
    let o: ReserveArgs = from_js("registryReserve", o)?;
    let (reg, key) = with_key(&o.key)?;
    let r = Reservation {
        worktree_path: o.worktree_path,
        branch: o.branch,
        base_ref: o.base_ref,
        phase: o.phase.unwrap_or_default(),
        stages: o.stages,
    };
    reg.reserve(&key, &r).map(Into::into).map_err(js_err)
}

/// Registers an active entry for the key: `worktreePath` (absolute), `branch` (a valid git
/// branch name, owned by this key from now on), `baseRef` (the commit it was branched
/// from), `phase` (recorded as `last_phase`), `stages` (what a stage-group collector
/// covers). Throws `E_TASK_KEY_ACTIVE` when the key is active, `E_BRANCH_OWNED` when
/// another key owns the branch (a released key may be reserved again), `E_INVALID_ARG`,
/// `E_KEY_MISMATCH`, `E_REGISTRY_CORRUPT`, `E_LOCK_TIMEOUT`.
#[napi(
    ts_args_type = "o: KeyParts & { worktreePath: string; branch: string; baseRef: string; phase?: string; stages?: number[] }"
)]
pub fn registry_reserve(o: Value) -> Result<JsWorktreeEntry> {
    reserve(o)
}

task!(
    /// The Promise of `registryReserve`.
    ReserveTask => JsWorktreeEntry
);

/// `registryReserve` on the libuv pool.
#[napi(
    ts_args_type = "o: KeyParts & { worktreePath: string; branch: string; baseRef: string; phase?: string; stages?: number[] }"
)]
pub fn registry_reserve_async(o: Value) -> AsyncTask<ReserveTask> {
    ReserveTask::run(move || reserve(o))
}

#[derive(serde::Deserialize)]
struct PhaseArgs {
    #[serde(flatten)]
    key: JsKeyParts,
    phase: String,
}

fn touch_phase(o: Value) -> Result<()> {
    let o: PhaseArgs = from_js("registryTouchPhase", o)?;
    let (reg, key) = with_key(&o.key)?;
    reg.touch_phase(&key, &o.phase).map_err(js_err)
}

/// Records the latest phase seen on the worktree; does nothing when the key is absent.
/// Throws `E_INVALID_ARG`, `E_KEY_MISMATCH`, `E_REGISTRY_CORRUPT`, `E_LOCK_TIMEOUT`.
#[napi(ts_args_type = "o: KeyParts & { phase: string }")]
pub fn registry_touch_phase(o: Value) -> Result<()> {
    touch_phase(o)
}

task!(
    /// The Promise of `registryTouchPhase`.
    TouchPhaseTask => ()
);

/// `registryTouchPhase` on the libuv pool.
#[napi(ts_args_type = "o: KeyParts & { phase: string }")]
pub fn registry_touch_phase_async(o: Value) -> AsyncTask<TouchPhaseTask> {
    TouchPhaseTask::run(move || touch_phase(o))
}

fn release(p: JsKeyParts) -> Result<Option<JsWorktreeEntry>> {
    let (reg, key) = with_key(&p)?;
    Ok(worktree::release_worktree(&reg, &key)
        .map_err(js_err)?
        .map(Into::into))
}

/// Marks the entry `released`, frees its branch and removes the git worktree lock okstra
/// put on its directory (other locks stay); the directory and branch stay. Returns the
/// released entry, or `null` when the key is absent. Takes the key's provisioning lock, so
/// it never runs inside a provisioning of the key. A registry entry passed back releases
/// exactly that entry. Throws `E_INVALID_ARG`, `E_KEY_MISMATCH`, `E_REGISTRY_CORRUPT`,
/// `E_LOCK_TIMEOUT`, `E_GIT`.
#[napi]
pub fn registry_release(p: JsKeyParts) -> Result<Option<JsWorktreeEntry>> {
    release(p)
}

task!(
    /// The Promise of `registryRelease`.
    ReleaseTask => Option<JsWorktreeEntry>
);

/// `registryRelease` on the libuv pool.
#[napi]
pub fn registry_release_async(p: JsKeyParts) -> AsyncTask<ReleaseTask> {
    ReleaseTask::run(move || release(p))
}

#[derive(serde::Deserialize)]
struct CommitArgs {
    #[serde(flatten)]
    key: JsKeyParts,
    commit: String,
}

fn write_base(o: Value, reset: bool) -> Result<String> {
    let o: CommitArgs = from_js("implementation base", o)?;
    let (reg, key) = with_key(&o.key)?;
    if reset {
        reg.reset_implementation_base(&key, &o.commit)
    } else {
        reg.set_implementation_base(&key, &o.commit)
    }
    .map_err(js_err)
}

/// Pins the implementation base once and returns the recorded value (a later call returns
/// the first commit unchanged). `commit` is a full id (40 or 64 hex digits). Throws
/// `E_NOT_FOUND` when the key is not registered, `E_INVALID_ARG` for anything else than a
/// full hex id, `E_KEY_MISMATCH`, `E_REGISTRY_CORRUPT`, `E_LOCK_TIMEOUT`.
#[napi(ts_args_type = "o: KeyParts & { commit: string }")]
pub fn registry_set_implementation_base(o: Value) -> Result<String> {
    write_base(o, false)
}

/// The deliberate re-anchor: replaces the recorded implementation base. Throws
/// `E_NOT_FOUND` when the key is not registered, `E_INVALID_ARG` for anything else than a
/// full hex id, `E_KEY_MISMATCH`, `E_REGISTRY_CORRUPT`, `E_LOCK_TIMEOUT`.
#[napi(ts_args_type = "o: KeyParts & { commit: string }")]
pub fn registry_reset_implementation_base(o: Value) -> Result<String> {
    write_base(o, true)
}

/// The recorded implementation base, or `null` when absent or unset. Throws
/// `E_INVALID_ARG`, `E_KEY_MISMATCH`, `E_REGISTRY_CORRUPT`.
#[napi]
pub fn registry_get_implementation_base(p: JsKeyParts) -> Result<Option<String>> {
    let (reg, key) = with_key(&p)?;
    reg.get_implementation_base(&key).map_err(js_err)
}

/// Stage numbers with an active `#stage-<N>` entry for the task, ascending (the stage or
/// group in `p` is ignored; rows in slugged or raw form count). Throws `E_INVALID_ARG`,
/// `E_KEY_MISMATCH`, `E_REGISTRY_CORRUPT`.
#[napi]
pub fn registry_list_active_stage_numbers(p: JsKeyParts) -> Result<Vec<u32>> {
    let (reg, key) = with_key(&p)?;
    reg.list_active_stage_numbers(&key).map_err(js_err)
}

/// Filters of `registryList`.
#[napi(object)]
pub struct ListOptions {
    pub project_id: Option<String>,
    /// Only entries with this status; another string is `E_INVALID_ARG`.
    pub status: Option<EntryStatus>,
    /// `OKSTRA_HOME` override.
    pub home: Option<String>,
}

/// Every entry matching the filters, sorted by task key (`projectId` matches a row whose
/// project slugs the same). Throws `E_INVALID_ARG`, `E_REGISTRY_CORRUPT`.
#[napi]
pub fn registry_list(f: Option<ListOptions>) -> Result<Vec<JsWorktreeEntry>> {
    let f = f.unwrap_or(ListOptions {
        project_id: None,
        status: None,
        home: None,
    });
    let reg = open(f.home.as_deref(), None)?;
    let status = f.status.map(|s| match s {
        EntryStatus::Active => registry::EntryStatus::Active,
        EntryStatus::Released => registry::EntryStatus::Released,
    });
    Ok(reg
        .list(f.project_id.as_deref(), status)
        .map_err(js_err)?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Options of `registryPrune`.
#[napi(object)]
pub struct PruneOptions {
    /// Default `true`: report only.
    pub dry_run: Option<bool>,
    /// A directory of the project's repository, to find released worktrees no other
    /// registry entry leads to (their git lock and record are removed).
    pub project_root: Option<String>,
    /// `OKSTRA_HOME` override.
    pub home: Option<String>,
    /// How long to wait for a lock (default `OKSTRA_LOCK_TIMEOUT_MS`, else 30000).
    pub lock_timeout_ms: Option<f64>,
}

/// What `registryPrune` released (or, in a dry run, would release).
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct PruneResult {
    pub released: Vec<JsWorktreeEntry>,
    /// Gone worktrees of this home whose okstra git lock and git record were removed.
    pub unlocked: Vec<String>,
    /// Released worktrees whose repository was not found (pass `projectRoot`).
    pub unresolved: Vec<String>,
}

fn prune(o: Option<PruneOptions>) -> Result<PruneResult> {
    let (dry, root, home, ms) = o.map_or((true, None, None, None), |o| {
        (
            o.dry_run.unwrap_or(true),
            o.project_root,
            o.home,
            o.lock_timeout_ms,
        )
    });
    let reg = open(home.as_deref(), ms)?;
    let p = crate::worktree::prune(&reg, dry, root.as_deref().map(std::path::Path::new))
        .map_err(js_err)?;
    Ok(PruneResult {
        released: p.released.into_iter().map(Into::into).collect(),
        unlocked: p.unlocked,
        unresolved: p.unresolved,
    })
}

/// Releases active entries whose worktree directory is gone (each under its key's lock);
/// a dry run unless `dryRun: false`. Applied, it also removes okstra's git lock and git's
/// record of every gone worktree of this home (found through the repositories of the
/// registry's existing worktrees, those okstra provisioned in, and `projectRoot`); another
/// `OKSTRA_HOME`'s are left alone. Throws `E_INVALID_ARG`, `E_LOCK_TIMEOUT`,
/// `E_REGISTRY_CORRUPT`, `E_GIT`.
#[napi]
pub fn registry_prune(o: Option<PruneOptions>) -> Result<PruneResult> {
    prune(o)
}

task!(
    /// The Promise of `registryPrune`.
    PruneTask => PruneResult
);

/// `registryPrune` on the libuv pool.
#[napi]
pub fn registry_prune_async(o: Option<PruneOptions>) -> AsyncTask<PruneTask> {
    PruneTask::run(move || prune(o))
}

/// Where the registry is, for the whole-registry operations.
#[napi(object)]
pub struct HomeOptions {
    /// `OKSTRA_HOME` override.
    pub home: Option<String>,
    /// How long to wait for a lock (default `OKSTRA_LOCK_TIMEOUT_MS`, else 30000).
    pub lock_timeout_ms: Option<f64>,
}

/// The kind of a doctor finding (what each means and what clears it: `docs/errors.md`).
/// From the registry: `branch-index-dangling`, `branch-index-missing`,
/// `branch-active-twice`, `worktree-missing`, `not-a-worktree`, `worktree-unknown-to-git`;
/// from git's worktree list: `branch-switched`, `worktree-prunable`, `worktree-foreign`;
/// okstra's debris: `provision-unfinished`, `assemble-unfinished`, `remove-unfinished`,
/// `journal-unreadable`,
/// `journal-refused`, `worktree-locked-orphan`, `worktree-unregistered`,
/// `worktree-unlocked`, `branch-unregistered`, `git-lock-stale`, `temp-file-stale`.
// Mirrors `registry::ProblemCode` (the core carries no Node-API types); a test checks the
// strings against the generated table of docs/errors.md.
#[napi(string_enum)]
pub enum ProblemCode {
    #[napi(value = "branch-index-dangling")]
    BranchIndexDangling,
    #[napi(value = "branch-index-missing")]
    BranchIndexMissing,
    #[napi(value = "branch-active-twice")]
    BranchActiveTwice,
    #[napi(value = "worktree-missing")]
    WorktreeMissing,
    #[napi(value = "not-a-worktree")]
    NotAWorktree,
    #[napi(value = "worktree-unknown-to-git")]
    WorktreeUnknownToGit,
    #[napi(value = "branch-switched")]
    BranchSwitched,
    #[napi(value = "worktree-prunable")]
    WorktreePrunable,
    #[napi(value = "worktree-foreign")]
    WorktreeForeign,
    #[napi(value = "provision-unfinished")]
    ProvisionUnfinished,
    #[napi(value = "assemble-unfinished")]
    AssembleUnfinished,
    #[napi(value = "remove-unfinished")]
    RemoveUnfinished,
    #[napi(value = "journal-unreadable")]
    JournalUnreadable,
    #[napi(value = "journal-refused")]
    JournalRefused,
    #[napi(value = "worktree-locked-orphan")]
    WorktreeLockedOrphan,
    #[napi(value = "worktree-unregistered")]
    WorktreeUnregistered,
    #[napi(value = "worktree-unlocked")]
    WorktreeUnlocked,
    #[napi(value = "branch-unregistered")]
    BranchUnregistered,
    #[napi(value = "git-lock-stale")]
    GitLockStale,
    #[napi(value = "temp-file-stale")]
    TempFileStale,
}

impl From<registry::ProblemCode> for ProblemCode {
    fn from(c: registry::ProblemCode) -> Self {
        use registry::ProblemCode as C;
        match c {
            C::BranchIndexDangling => ProblemCode::BranchIndexDangling,
            C::BranchIndexMissing => ProblemCode::BranchIndexMissing,
            C::BranchActiveTwice => ProblemCode::BranchActiveTwice,
            C::WorktreeMissing => ProblemCode::WorktreeMissing,
            C::NotAWorktree => ProblemCode::NotAWorktree,
            C::WorktreeUnknownToGit => ProblemCode::WorktreeUnknownToGit,
            C::BranchSwitched => ProblemCode::BranchSwitched,
            C::WorktreePrunable => ProblemCode::WorktreePrunable,
            C::WorktreeForeign => ProblemCode::WorktreeForeign,
            C::ProvisionUnfinished => ProblemCode::ProvisionUnfinished,
            C::AssembleUnfinished => ProblemCode::AssembleUnfinished,
            C::RemoveUnfinished => ProblemCode::RemoveUnfinished,
            C::JournalUnreadable => ProblemCode::JournalUnreadable,
            C::JournalRefused => ProblemCode::JournalRefused,
            C::WorktreeLockedOrphan => ProblemCode::WorktreeLockedOrphan,
            C::WorktreeUnregistered => ProblemCode::WorktreeUnregistered,
            C::WorktreeUnlocked => ProblemCode::WorktreeUnlocked,
            C::BranchUnregistered => ProblemCode::BranchUnregistered,
            C::GitLockStale => ProblemCode::GitLockStale,
            C::TempFileStale => ProblemCode::TempFileStale,
        }
    }
}

/// One doctor finding; `detail` names the command that clears it.
// Mirrors `registry::Problem` with the binding's `ProblemCode`.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct DoctorProblem {
    pub code: ProblemCode,
    pub task_key: Option<String>,
    pub detail: String,
}

/// The doctor's report; `ok` when `problems` is empty.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct DoctorReport {
    pub ok: bool,
    pub problems: Vec<DoctorProblem>,
}

fn doctor(o: Option<HomeOptions>) -> Result<DoctorReport> {
    let reg = open(
        o.as_ref().and_then(|o| o.home.as_deref()),
        o.as_ref().and_then(|o| o.lock_timeout_ms),
    )?;
    let r = worktree::doctor(&reg).map_err(js_err)?;
    Ok(DoctorReport {
        ok: r.ok,
        problems: r.problems.into_iter().map(problem).collect(),
    })
}

fn problem(p: crate::registry::Problem) -> DoctorProblem {
    DoctorProblem {
        code: p.code.into(),
        task_key: p.task_key,
        detail: p.detail,
    }
}

/// A read-only consistency report: branch index vs rows, missing directories, worktrees
/// git no longer knows, and `git worktree list` of every repository the active entries
/// live in (branch switched, prunable, foreign worktrees under the okstra root), plus this
/// home's debris (another `OKSTRA_HOME`'s worktrees and branches are never reported).
/// Throws `E_INVALID_ARG`, `E_REGISTRY_CORRUPT`.
#[napi]
pub fn registry_doctor(o: Option<HomeOptions>) -> Result<DoctorReport> {
    doctor(o)
}

task!(
    /// The Promise of `registryDoctor`.
    DoctorTask => DoctorReport
);

/// `registryDoctor` on the libuv pool.
#[napi]
pub fn registry_doctor_async(o: Option<HomeOptions>) -> AsyncTask<DoctorTask> {
    DoctorTask::run(move || doctor(o))
}

/// What `registryRepair` did: `movedTo` is where the corrupt file was copied aside (then
/// replaced by the salvaged rows), or `null` when the registry was valid JSON; `released`
/// lists the keys that were a second active row on one branch (the newest keeps it) and
/// `indexFixed` counts branch index entries dropped, fixed or added.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct RepairResult {
    pub moved_to: Option<String>,
    pub salvaged: u32,
    pub dropped: u32,
    pub released: Vec<String>,
    pub index_fixed: u32,
    /// The doctor findings (okstra's debris) this repair cleared.
    pub cleared: Vec<DoctorProblem>,
}

fn repair(o: Option<HomeOptions>) -> Result<RepairResult> {
    let (home, ms) = o.map_or((None, None), |o| (o.home, o.lock_timeout_ms));
    let reg = open(home.as_deref(), ms)?;
    let r = worktree::repair(&reg).map_err(js_err)?;
    Ok(RepairResult {
        moved_to: r.registry.moved_to,
        salvaged: r.registry.salvaged,
        dropped: r.registry.dropped,
        released: r.registry.released,
        index_fixed: r.registry.index_fixed,
        cleared: r.cleared.into_iter().map(problem).collect(),
    })
}

/// Recovers from `E_REGISTRY_CORRUPT`: moves the file aside to
/// `registry.json.corrupt-<timestamp>` and keeps every row that is still valid, restores
/// the registry's invariants (one active row per branch, an exact branch index), then clears
/// this home's debris that `registryDoctor` reports, each under the locks provisioning
/// takes (completes or undoes unfinished provisioning and assembles, registers again live
/// worktrees git keeps locked for this home whose row was lost, locks active worktrees that
/// lost okstra's lock, unlocks okstra-locked worktrees no active entry owns, removes git's
/// records of gone worktrees, deletes unregistered branches this home made while they
/// still point where they were created, removes stale git lock files and temp files of
/// dead writers, sets aside refused journal records) and lists it in `cleared`. Throws
/// `E_INVALID_ARG`, `E_LOCK_TIMEOUT`, `E_REGISTRY_CORRUPT` (a file that is not JSON at
/// all is moved aside, not thrown), `E_GIT`, `E_IO`.
#[napi]
pub fn registry_repair(o: Option<HomeOptions>) -> Result<RepairResult> {
    repair(o)
}

task!(
    /// The Promise of `registryRepair`.
    RepairTask => RepairResult
);

/// `registryRepair` on the libuv pool.
#[napi]
pub fn registry_repair_async(o: Option<HomeOptions>) -> AsyncTask<RepairTask> {
    RepairTask::run(move || repair(o))
}
