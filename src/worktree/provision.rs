//! `provision` and the operations that undo it: `release_worktree`, `remove_provisioned`,
//! and the git side of `doctor`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::git::{self, git_err};
use super::sync::{self, Carried};
use super::WorktreeError;
use crate::fsio::{self, io_err, LockGuard};
use crate::ids::{self, IdError, KeyParts};
use crate::registry::{DoctorReport, Problem, Registry, Reservation, WorktreeEntry};

/// What to provision. Segments are slugged (`safe_segment`) before they form the key, the
/// path and the branch, as the Python helper did.
#[derive(Debug, Clone, Default)]
pub struct ProvisionRequest {
    /// The phase asking (recorded as the entry's `last_phase`).
    pub task_type: String,
    /// Any directory of the project's repository (main worktree, a subdirectory, or, for
    /// stage and group keys, a linked worktree of the task).
    pub project_root: PathBuf,
    pub project_id: String,
    pub task_group: String,
    pub task_id: String,
    /// Picks the branch prefix (bugfix→fix, feature→feat, …; else task).
    pub work_category: String,
    /// Branch, tag, remote ref or sha to branch from; `None` = the main worktree's HEAD.
    pub base_ref: Option<String>,
    /// Implementation stage worktree (`#stage-<N>`).
    pub stage: Option<u32>,
    /// Stage-group collector worktree (`#group-<ID>`).
    pub group_id: Option<String>,
    /// Stages a stage-group collector covers, recorded in its registry entry (`stages`).
    pub stages: Option<Vec<u32>>,
    /// `OKSTRA_HOME` override.
    pub home: Option<String>,
    /// Bound on every lock wait (default `OKSTRA_LOCK_TIMEOUT_MS`, else 30 s).
    pub lock_timeout_ms: Option<u64>,
}

/// The four outcomes of SPEC §5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProvisionStatus {
    /// A new branch and worktree were made and registered.
    Created,
    /// The registry already held an active entry for the key.
    Reused,
    /// `project_root` is itself a linked worktree (plain task keys only); registry untouched.
    SkippedInWorktree,
    /// `project_root` is not inside a git repository.
    SkippedNotGit,
}

impl ProvisionStatus {
    /// The wire name (`created`, `reused`, `skipped-in-worktree`, `skipped-not-git`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProvisionStatus::Created => "created",
            ProvisionStatus::Reused => "reused",
            ProvisionStatus::SkippedInWorktree => "skipped-in-worktree",
            ProvisionStatus::SkippedNotGit => "skipped-not-git",
        }
    }
}

/// The result of [`provision`]. `linked`, `linked_files` and `snapshots` are only filled
/// for `created`; `base_ref` is the full commit id (empty when skipped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Provisioned {
    pub status: ProvisionStatus,
    pub path: String,
    pub branch: String,
    pub base_ref: String,
    /// One readable line: what happened, and what was linked, copied or skipped.
    pub note: String,
    pub linked: Vec<String>,
    pub linked_files: Vec<String>,
    pub snapshots: Vec<String>,
}

impl Provisioned {
    fn skipped(status: ProvisionStatus, root: &Path, note: &str) -> Provisioned {
        Provisioned {
            status,
            path: root.to_string_lossy().into_owned(),
            branch: String::new(),
            base_ref: String::new(),
            note: note.to_string(),
            linked: Vec::new(),
            linked_files: Vec::new(),
            snapshots: Vec::new(),
        }
    }
}

/// The slugged key of a request (raw segments checked first, like every other door).
pub fn key_of(req: &ProvisionRequest) -> Result<KeyParts, IdError> {
    KeyParts::new(
        &req.project_id,
        &req.task_group,
        &req.task_id,
        req.stage,
        req.group_id.as_deref(),
    )
    .map(|k| k.slugged())
}

/// What kind of worktree a key names, for notes.
fn kind(key: &KeyParts) -> String {
    match (&key.stage, &key.group_id) {
        (Some(n), _) => format!("stage {n} worktree"),
        (None, Some(g)) => format!("stage-group collector {g} worktree"),
        (None, None) => "task worktree".into(),
    }
}

fn locks_dir(reg: &Registry) -> PathBuf {
    reg.root().join(".locks")
}

/// The per-key lock: held across lookup → create → reserve.
fn lock_key(reg: &Registry, key: &KeyParts, ms: Option<u64>) -> Result<LockGuard, WorktreeError> {
    let name = format!("key-{}.lock", ids::stable_hash8(&key.key()));
    Ok(LockGuard::acquire(
        &locks_dir(reg).join(name),
        fsio::lock_timeout(ms),
    )?)
}

/// The per-repository lock, named by the canonical common git dir.
fn lock_repo(
    reg: &Registry,
    main: &git2::Repository,
    ms: Option<u64>,
) -> Result<LockGuard, WorktreeError> {
    let dir = main
        .path()
        .canonicalize()
        .unwrap_or_else(|_| main.path().to_path_buf());
    let name = format!("repo-{}.lock", ids::stable_hash8(&dir.to_string_lossy()));
    Ok(LockGuard::acquire(
        &locks_dir(reg).join(name),
        fsio::lock_timeout(ms),
    )?)
}

fn active(reg: &Registry, key: &KeyParts) -> Result<Option<WorktreeEntry>, WorktreeError> {
    Ok(reg.lookup(key)?.filter(WorktreeEntry::is_active))
}

fn reused(
    reg: &Registry,
    key: &KeyParts,
    e: WorktreeEntry,
    task_type: &str,
) -> Result<Provisioned, WorktreeError> {
    reg.touch_phase(key, task_type)?;
    let short: String = e.base_ref.chars().take(12).collect();
    Ok(Provisioned {
        status: ProvisionStatus::Reused,
        note: format!(
            "{} reused at {} on branch {} (base {short}); phase {task_type}",
            kind(key),
            e.worktree_path,
            e.branch
        ),
        path: e.worktree_path,
        branch: e.branch,
        base_ref: e.base_ref,
        linked: Vec::new(),
        linked_files: Vec::new(),
        snapshots: Vec::new(),
    })
}

/// Creates the missing ancestors of `path`; returns the topmost one it created (to remove
/// on rollback), or `None` when all existed.
fn create_parents(path: &Path) -> Result<Option<PathBuf>, WorktreeError> {
    let Some(parent) = path.parent() else {
        return Ok(None);
    };
    let top = parent
        .ancestors()
        .take_while(|a| !a.exists())
        .last()
        .map(Path::to_path_buf);
    std::fs::create_dir_all(parent).map_err(io_err("create directory", parent))?;
    Ok(top)
}

/// Creates or reuses the worktree of a task key (SPEC §5) and returns one of the four
/// outcomes.
///
/// - not inside git → `skipped-not-git` (path = `project_root`);
/// - `project_root` is a linked worktree and the key is a plain task key →
///   `skipped-in-worktree` (the caller already works in an isolated tree). Stage and group
///   keys are provisioned from a linked worktree too: implementation stage runs start from
///   the task worktree;
/// - an active registry entry → `reused` (its `last_phase` is updated);
/// - else `created`: a branch at `base_ref` (default: the main worktree's HEAD) and a
///   worktree at the computed path, made from the main repository, locked in git
///   (`git worktree lock` with reason `okstra task <key>`), with the shared state linked
///   from the main worktree, then registered.
///
/// A per-key lock under `<OKSTRA_HOME>/worktrees/.locks/` is held from the lookup to the
/// reservation, so concurrent calls for one key give one `created` and `reused` for the
/// rest; a per-repository lock serializes creations in one repository, and git calls are
/// retried while git's own lock files are busy.
///
/// Errors (nothing is left behind): `E_INVALID_ARG`, `E_PATH_EXISTS` (path exists but is
/// unregistered), `E_BRANCH_EXISTS`, `E_UNKNOWN_REF`, `E_WORKTREE_STALE`, `E_GIT`,
/// `E_LOCK_TIMEOUT`, and the registry's `E_BRANCH_OWNED` / `E_TASK_KEY_ACTIVE` /
/// `E_REGISTRY_CORRUPT` (after the new worktree and branch were removed again).
pub fn provision(req: &ProvisionRequest) -> Result<Provisioned, WorktreeError> {
    let key = key_of(req)?;
    let root = &req.project_root;
    ids::check_dir("projectRoot", root)?;
    let Some(repo) = git::discover(root) else {
        return Ok(Provisioned::skipped(
            ProvisionStatus::SkippedNotGit,
            root,
            "worktree provisioning skipped: project_root is not inside a git repository; task \
             will operate directly on project_root",
        ));
    };
    if repo.is_worktree() && key.stage.is_none() && key.group_id.is_none() {
        return Ok(Provisioned::skipped(
            ProvisionStatus::SkippedInWorktree,
            root,
            "worktree provisioning skipped: project_root is already inside a non-main git \
             worktree; task reuses the caller's worktree",
        ));
    }
    let reg = Registry::open(req.home.as_deref(), req.lock_timeout_ms)?;
    if let Some(e) = active(&reg, &key)? {
        return reused(&reg, &key, e, &req.task_type);
    }
    let _key_lock = lock_key(&reg, &key, req.lock_timeout_ms)?;
    if let Some(e) = active(&reg, &key)? {
        return reused(&reg, &key, e, &req.task_type);
    }
    let path = ids::compute_worktree_path(reg.root(), &key);
    if path.symlink_metadata().is_ok() {
        return Err(WorktreeError::PathExists { path });
    }
    let branch = ids::compute_branch_name(
        &req.work_category,
        &key.task_id,
        key.stage,
        key.group_id.as_deref(),
    )?;
    let main = git::open_main(&repo)?;
    let main_root = git::workdir_of_main(&main);
    let _repo_lock = lock_repo(&reg, &main, req.lock_timeout_ms)?;
    if git::branch_exists(&main, &branch) {
        return Err(WorktreeError::BranchExists { branch });
    }
    let base = git::resolve_base(&repo, &main, req.base_ref.as_deref())?;
    if let Some(name) = git::admin_name_at(&main, &path) {
        return Err(WorktreeError::StaleWorktree { name, path });
    }
    let made_parent = create_parents(&path)?;
    let undo_parents = || {
        if let Some(top) = &made_parent {
            let _ = std::fs::remove_dir_all(top);
        }
    };
    let made = match git::create_branch_and_worktree(&main, &path, &branch, base, &key.key()) {
        Ok(made) => made,
        Err(e) => {
            undo_parents();
            return Err(e);
        }
    };
    let carried = sync::carry(&main_root, &path, &sync::resolve_sync_entries(&main_root));
    let reservation = Reservation {
        worktree_path: path.to_string_lossy().into_owned(),
        branch: branch.clone(),
        base_ref: base.to_string(),
        phase: req.task_type.clone(),
        stages: req.stages.clone(),
    };
    if let Err(e) = reg.reserve(&key, &reservation) {
        git::undo_branch_and_worktree(&main, Some(&made.admin), &path, &branch, base);
        undo_parents();
        return Err(e.into());
    }
    let mut note = created_note(
        &key,
        &path,
        &branch,
        &base.to_string(),
        &req.task_type,
        &carried,
    );
    for n in &made.notes {
        note.push_str("; ");
        note.push_str(n);
    }
    Ok(Provisioned {
        status: ProvisionStatus::Created,
        path: reservation.worktree_path,
        branch,
        base_ref: reservation.base_ref,
        note,
        linked: carried.linked,
        linked_files: carried.linked_files,
        snapshots: carried.snapshots,
    })
}

fn created_note(
    key: &KeyParts,
    path: &Path,
    branch: &str,
    base: &str,
    task_type: &str,
    c: &Carried,
) -> String {
    let mut note = format!(
        "{} created at {} on branch {branch} (base {}; phase {task_type})",
        kind(key),
        path.display(),
        &base[..base.len().min(12)]
    );
    for (label, list) in [
        ("linked", &c.linked),
        ("linked-files", &c.linked_files),
        ("snapshot", &c.snapshots),
    ] {
        if !list.is_empty() {
            note.push_str(&format!("; {label} {}", list.join(", ")));
        }
    }
    for n in &c.notes {
        note.push_str("; ");
        note.push_str(n);
    }
    note
}

/// The registry's `release` plus git: marks the entry released, frees its branch, and
/// removes the git worktree lock okstra put on its directory (a lock with another reason
/// stays; when the directory is already gone the repository cannot be found from it and
/// `git worktree unlock <path>` is left to the user). The directory and branch are kept. Returns the released entry, or `None` when the
/// key is absent.
pub fn release_worktree(
    reg: &Registry,
    key: &KeyParts,
) -> Result<Option<WorktreeEntry>, WorktreeError> {
    let entry = reg.release(key)?;
    if let Some(e) = &entry {
        git::unlock_worktree_at(Path::new(&e.worktree_path))?;
    }
    Ok(entry)
}

/// Undoes a `created` provision completely, for rollbacks (e.g. a stage-group collector
/// whose merge conflicted): removes the worktree directory and git's record of it (only a
/// directory git lists as a linked worktree of the repository is deleted), deletes its
/// branch, and releases the registry entry. `project_root` is any directory of the
/// repository (needed when the worktree directory is already gone). Returns the released
/// entry, or `None` when the key has no entry (nothing is done).
///
/// Errors: `E_INVALID_ARG` (projectRoot not in git), `E_GIT`, `E_LOCK_TIMEOUT`,
/// `E_REGISTRY_CORRUPT`.
pub fn remove_provisioned(
    project_root: &Path,
    key: &KeyParts,
    home: Option<&str>,
    lock_timeout_ms: Option<u64>,
) -> Result<Option<WorktreeEntry>, WorktreeError> {
    let reg = Registry::open(home, lock_timeout_ms)?;
    let _key_lock = lock_key(&reg, key, lock_timeout_ms)?;
    let Some(entry) = reg.lookup(key)? else {
        return Ok(None);
    };
    let repo = git::discover(project_root).ok_or_else(|| {
        IdError::InvalidArg(format!(
            "projectRoot {} is not inside a git repository",
            project_root.display()
        ))
    })?;
    let main = git::open_main(&repo)?;
    let _repo_lock = lock_repo(&reg, &main, lock_timeout_ms)?;
    let path = PathBuf::from(&entry.worktree_path);
    // Only a directory git lists as a linked worktree of this repository is deleted: a row
    // may name any path (`registryReserve` takes what it is given).
    if let Some(name) = git::admin_name_at(&main, &path) {
        git::remove_worktree(&main, &name, &path);
    }
    if let Ok(mut b) = main.find_branch(&entry.branch, git2::BranchType::Local) {
        git::retry_locked(|| b.delete()).map_err(git_err("branch delete", main.path()))?;
    }
    Ok(reg.release(key)?)
}

fn problem(code: &str, key: Option<&str>, detail: String) -> Problem {
    Problem {
        code: code.into(),
        task_key: key.map(str::to_string),
        detail,
    }
}

/// The registry's consistency report plus git's view: for every repository the active
/// entries live in, compares `git worktree list` with the registry. Extra problem codes:
/// `branch-switched` (the worktree has another branch checked out), `worktree-prunable`
/// (git lists a worktree under the okstra root whose directory is gone),
/// `worktree-foreign` (git lists a worktree under the okstra root that no active entry
/// owns). Changes nothing.
pub fn doctor(reg: &Registry) -> Result<DoctorReport, WorktreeError> {
    let (mut report, active) = reg.doctor_and_active()?;
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let mut repos: BTreeMap<PathBuf, git2::Repository> = BTreeMap::new();
    for e in &active {
        let path = Path::new(&e.worktree_path);
        if !path.exists() {
            continue;
        }
        if let Some(b) = git::head_branch(path).filter(|b| *b != e.branch) {
            report.problems.push(problem(
                "branch-switched",
                Some(&e.task_key),
                format!(
                    "{} has branch {b} checked out, not its registered branch {}",
                    e.worktree_path, e.branch
                ),
            ));
        }
        if let Some(main) = git::discover(path).and_then(|r| git::open_main(&r).ok()) {
            repos.entry(canon(main.path())).or_insert(main);
        }
    }
    // Needed only when some repository was found: skips a realpath per row otherwise.
    let owned: BTreeMap<PathBuf, &WorktreeEntry> = active
        .iter()
        .filter(|_| !repos.is_empty())
        .map(|e| (canon(Path::new(&e.worktree_path)), e))
        .collect();
    let okstra_root = canon(reg.root());
    for main in repos.values() {
        let Ok(names) = main.worktrees() else {
            continue;
        };
        for name in names.iter().filter_map(|n| n.ok().flatten()) {
            let Ok(wt) = main.find_worktree(name) else {
                continue;
            };
            let path = canon(wt.path());
            if !path.starts_with(&okstra_root) {
                continue;
            }
            let owner = owned.get(&path).map(|e| e.task_key.as_str());
            if wt.validate().is_err() {
                report.problems.push(problem(
                    "worktree-prunable",
                    owner,
                    format!(
                        "git still lists worktree {name} at {} but its directory is gone; \
                         `git worktree unlock {}` and `git worktree prune` clear it, then \
                         `okstra registry prune --apply` releases the entry",
                        path.display(),
                        path.display()
                    ),
                ));
            } else if owner.is_none() {
                report.problems.push(problem(
                    "worktree-foreign",
                    None,
                    format!(
                        "git worktree {name} at {} lies under the okstra root but no active \
                         registry entry owns it",
                        path.display()
                    ),
                ));
            }
        }
    }
    report.ok = report.problems.is_empty();
    Ok(report)
}
