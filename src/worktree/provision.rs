//! `provision`: the request, its outcomes, and the crash-safe creation of a worktree (see
//! `journal` for the record it keeps and `preview` for the plan it runs).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::journal::{self, Intent, Op, Recovered, Rollback};
use super::locks::{lock_key, lock_repo};
use super::preview::{plan, start, Action, Creation, Start};
use super::sync::{self, Carried};
use super::WorktreeError;
use super::{git, owner};
use crate::context::Context;
use crate::error::InvalidArg;
use crate::fsio::io_err;
use crate::ids::{self, KeyParts};
use crate::interrupt;
use crate::registry::{Registry, Reservation, WorktreeEntry};

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
    /// An explicit branch name (`--branch`): the way out when the computed one belongs to
    /// someone else. Used as given; never group-qualified.
    pub branch: Option<String>,
    /// Stages a stage-group collector covers, recorded in its registry entry (`stages`).
    pub stages: Option<Vec<u32>>,
}

/// The four outcomes of provisioning: skipped (not git / in a worktree), reused, created.
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

/// The result of [`provision`]. `linked`, `linked_files`, `snapshots`, `cloned` and
/// `copied` are only filled for `created`; `base_ref` is the full commit id (empty when skipped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Provisioned {
    pub status: ProvisionStatus,
    /// The registry key the request names (slugged; a row's raw text when only that one
    /// exists, see `Registry::resolve`).
    pub task_key: String,
    pub path: String,
    pub branch: String,
    pub base_ref: String,
    /// One readable line: what happened, and what was linked, copied or skipped.
    pub note: String,
    pub linked: Vec<String>,
    pub linked_files: Vec<String>,
    pub snapshots: Vec<String>,
    /// Private copies made copy-on-write (every file shares extents with the source).
    pub cloned: Vec<String>,
    /// Private copies written byte for byte (the filesystem cannot clone).
    pub copied: Vec<String>,
}

impl Provisioned {
    fn skipped(status: ProvisionStatus, key: &KeyParts, root: &Path, note: &str) -> Provisioned {
        Provisioned {
            status,
            task_key: key.key(),
            path: root.to_string_lossy().into_owned(),
            branch: String::new(),
            base_ref: String::new(),
            note: note.to_string(),
            linked: Vec::new(),
            linked_files: Vec::new(),
            snapshots: Vec::new(),
            cloned: Vec::new(),
            copied: Vec::new(),
        }
    }
}

/// The slugged key of a request (raw segments checked first, like every other door).
pub fn key_of(req: &ProvisionRequest) -> Result<KeyParts, InvalidArg> {
    KeyParts::new(
        &req.project_id,
        &req.task_group,
        &req.task_id,
        req.stage,
        req.group_id.as_deref(),
    )
    .map(|k| k.slugged())
}

/// The registry key of a request in a repository: its slugged key `slug`, unless no row
/// has it and a row has the raw text the caller gave (a row the Python helper's registry
/// calls wrote); the rule every door applies (`Registry::resolve`).
pub(super) fn entry_key(
    reg: &Registry,
    req: &ProvisionRequest,
    slug: KeyParts,
) -> Result<KeyParts, WorktreeError> {
    let raw = KeyParts::new(
        &req.project_id,
        &req.task_group,
        &req.task_id,
        req.stage,
        req.group_id.as_deref(),
    )?;
    if raw == slug {
        return Ok(slug);
    }
    Ok(reg.resolve(&raw)?)
}

/// What kind of worktree a key names, for notes.
pub(super) fn kind(key: &KeyParts) -> String {
    match (&key.stage, &key.group_id) {
        (Some(n), _) => format!("stage {n} worktree"),
        (None, Some(g)) => format!("stage-group collector {g} worktree"),
        (None, None) => "task worktree".into(),
    }
}

/// The name of the worktree's admin entry under `.git/worktrees/`: readable, and unique per
/// key (`stage-1` alone repeats across tasks) through an FNV-1a hash of the whole key.
pub fn admin_name(key: &KeyParts) -> String {
    let suffix = match (&key.stage, &key.group_id) {
        (Some(n), _) => format!("-stage-{n}"),
        (None, Some(g)) => format!("-group-{g}"),
        (None, None) => String::new(),
    };
    // Slugged: a row under raw text (`Checkout 500`) gets a name without spaces.
    let task = ids::safe_segment(&key.task_id);
    format!("{task}{suffix}-{}", ids::stable_hash8(&key.key()))
}

fn active(reg: &Registry, key: &KeyParts) -> Result<Option<WorktreeEntry>, WorktreeError> {
    Ok(reg.lookup(key)?.filter(WorktreeEntry::is_active))
}

fn reused(
    reg: &Registry,
    key: &KeyParts,
    e: WorktreeEntry,
    task_type: &str,
    verb: &str,
) -> Result<Provisioned, WorktreeError> {
    reg.touch_phase(key, task_type)?;
    let short: String = e.base_ref.chars().take(12).collect();
    Ok(Provisioned {
        status: ProvisionStatus::Reused,
        task_key: key.key(),
        note: format!(
            "{} {verb} at {} on branch {} (base {short}); phase {task_type}",
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
        cloned: Vec::new(),
        copied: Vec::new(),
    })
}

/// Creates or reuses the worktree of a task key and returns one of the four outcomes.
///
/// - not inside git → `skipped-not-git` (path = `project_root`);
/// - `project_root` is a linked worktree and the key is a plain task key →
///   `skipped-in-worktree` (the caller already works in an isolated tree). Stage and group
///   keys are provisioned from a linked worktree too: implementation stage runs start from
///   the task worktree;
/// - an active registry entry → `reused` (its `last_phase` is updated);
/// - a released entry whose directory is still its worktree on its branch → `reused`, the
///   entry reactivated (note says so);
/// - else `created`: a worktree at the computed path (a released entry's own path and
///   branch when it has them: its commits are kept), on a new branch at `base_ref` (default:
///   the main worktree's HEAD) unless it reuses the key's own branch, made from the main
///   repository, locked in git (`git worktree lock` with reason `okstra task <key>`), with
///   the shared state linked from the main worktree, then registered.
///
/// Crash safety: before its first change, creation durably records its intent in
/// `<OKSTRA_HOME>/worktrees/pending/`; the next call for the key (or `okstra registry
/// repair`) finds an unfinished record and completes or undoes it, then goes on. Inside a
/// [`crate::interrupt::SignalScope`] (the CLI), SIGINT / SIGTERM stop it between steps and
/// everything made is undone (`E_INTERRUPTED`).
///
/// A per-key lock under `<OKSTRA_HOME>/worktrees/.locks/` is held from the lookup to the
/// reservation, so concurrent calls for one key give one `created` and `reused` for the
/// rest; a per-repository lock serializes creations in one repository, and git calls are
/// retried while git's own lock files are busy.
///
/// Errors (nothing is left behind): `E_INVALID_ARG`, `E_PATH_EXISTS`, `E_BRANCH_EXISTS`
/// (not okstra's), `E_BRANCH_OWNED` (another key's, active or released), `E_UNKNOWN_REF`,
/// `E_WORKTREE_STALE`, `E_GIT`, `E_LOCK_TIMEOUT`, `E_INTERRUPTED`, and the registry's
/// `E_TASK_KEY_ACTIVE` / `E_REGISTRY_CORRUPT`.
pub fn provision(ctx: &Context, req: &ProvisionRequest) -> Result<Provisioned, WorktreeError> {
    let reg = Registry::open(ctx);
    // git's version is asked once per executable for every process, not once per process.
    git::cli::remember_versions_in(reg.root());
    crate::timing::mark("parse arguments, open registry");
    let (key, repo) = match start(req, reg.root())? {
        Start::Skip(status, root, note) => {
            return Ok(Provisioned::skipped(status, &key_of(req)?, &root, note))
        }
        Start::Repo(key, repo) => (entry_key(&reg, req, key)?, repo),
    };
    crate::timing::mark("open repository");
    let record = journal::file(&reg, Op::Provision, &key.key());
    if !record.exists() {
        if let Some(e) = active(&reg, &key)? {
            if git::worktree_intact(Path::new(&e.worktree_path)) {
                return reused(&reg, &key, e, &req.task_type, "reused");
            }
        }
    }
    crate::timing::mark("registry lookup");
    let _key_lock = lock_key(&reg, &key)?;
    crate::timing::mark("key lock");
    let mut recovered = recover_pending(&reg, &record)?;
    if let Some(e) = active(&reg, &key)? {
        if git::worktree_intact(Path::new(&e.worktree_path)) {
            return reused(&reg, &key, e, &req.task_type, "reused");
        }
        // `reused` means the worktree is there: one whose directory or git record is gone
        // (`rm -rf`, `git worktree remove`) is released and made again below on its recorded
        // path and branch (its commits kept), as a released key is. A crash in between
        // leaves a released row, which the next call recreates the same way.
        reg.release(&key)?;
        recovered.get_or_insert("the recorded worktree was gone");
    }
    crate::timing::mark("registry lookup under the key lock");
    let main = git::open_main(&repo)?;
    let repo_lock = lock_repo(&reg, &main)?;
    crate::timing::mark("repository lock");
    let planned = plan(req, &key, &repo, &main, &reg, None)?;
    crate::timing::mark("plan (branch, path, base)");
    let mut out = match planned {
        Action::Reuse(e) => reused(&reg, &key, e, &req.task_type, "reused")?,
        Action::Reactivate(e, admin) => reactivate(req, &key, &reg, &main, e, &admin)?,
        Action::Create(c) => create(req, &key, &reg, &main, &record, c, repo_lock)?,
    };
    if let Some(r) = recovered {
        out.note = format!("{r}; {}", out.note);
    }
    Ok(out)
}

/// Reactivates a released entry whose directory is still its worktree on its branch:
/// locks the worktree in git again and reserves the entry anew. A refused reservation
/// takes the lock off again (the [`git::Relock`] guard).
fn reactivate(
    req: &ProvisionRequest,
    key: &KeyParts,
    reg: &Registry,
    main: &git2::Repository,
    e: WorktreeEntry,
    admin: &str,
) -> Result<Provisioned, WorktreeError> {
    let relock = git::lock_worktree(main, admin, &owner::tag(reg, &key.key()))?;
    let stages = req.stages.clone().or_else(|| e.stages.clone());
    reg.reserve(
        key,
        &Reservation {
            worktree_path: e.worktree_path.clone(),
            branch: e.branch.clone(),
            base_ref: e.base_ref.clone(),
            phase: req.task_type.clone(),
            stages,
        },
    )?;
    relock.keep();
    reused(reg, key, e, &req.task_type, "reactivated (released entry)")
}

/// Completes or undoes an unfinished provisioning of the key (the caller holds its lock);
/// returns what was done, for the note.
fn recover_pending(reg: &Registry, record: &Path) -> Result<Option<&'static str>, WorktreeError> {
    let Some(intent) = journal::read::<Intent>(record)? else {
        return Ok(None);
    };
    let main = git2::Repository::open(&intent.git_dir).ok();
    let _repo_lock = match &main {
        Some(m) => Some(lock_repo(reg, m)?),
        None => None,
    };
    Ok(Some(
        match journal::recover(reg, record, &intent, reg.lock_timeout())? {
            Recovered::Completed => "an interrupted provisioning had finished",
            Recovered::Undone => "an interrupted provisioning was undone",
        },
    ))
}

/// Makes a planned worktree under a journal record; any failure or interruption before the
/// reservation undoes every step (the [`Rollback`] guard).
fn create(
    req: &ProvisionRequest,
    key: &KeyParts,
    reg: &Registry,
    main: &git2::Repository,
    record: &Path,
    c: Creation,
    repo_lock: crate::fsio::LockGuard,
) -> Result<Provisioned, WorktreeError> {
    let mut guard = Rollback::begin(record.to_path_buf(), intent(key, main, &c))?;
    crate::timing::mark("journal record (durable)");
    interrupt::check()?;
    super::doctor::remember_repo(reg, main)?;
    crate::timing::mark("remember repository");
    for name in &c.stale_admins {
        let gone = main
            .find_worktree(name)
            .map(|w| w.path().to_path_buf())
            .unwrap_or_default();
        git::remove_worktree(main, name, &gone);
    }
    if let Some(parent) = c.path.parent() {
        std::fs::create_dir_all(parent).map_err(io_err("create directory", parent))?;
    }
    let owner = owner::tag(reg, &key.key());
    let made = if c.branch_existed {
        git::worktree_on_branch(main, &c.path, &c.branch, &owner)?
    } else {
        let made = git::create_branch_and_worktree(main, &c.path, &c.branch, c.base, &owner)?;
        git::mark_okstra_branch(main, &c.branch, c.base, &owner);
        made
    };
    crate::timing::mark("git worktree add");
    guard.set_admin(&made.admin)?;
    crate::timing::mark("journal: admin entry");
    // The repository lock covers git's own step only: copies, links and snapshots (a big
    // `node_modules` copy takes seconds) run without it, so other keys of the repository
    // do not queue behind them. The key lock is still held, and the journal record stays
    // until the registry row is written, so a crash mid-copy is undone by the next call.
    drop(repo_lock);
    interrupt::check()?;
    let carried = sync::carry(main, c.carry_from.as_deref(), &c.path, reg.lock_timeout());
    crate::timing::mark("carry shared state");
    interrupt::check()?;
    let reservation = Reservation {
        worktree_path: c.path.to_string_lossy().into_owned(),
        branch: c.branch.clone(),
        base_ref: c.base_ref.clone(),
        phase: req.task_type.clone(),
        stages: req.stages.clone(),
    };
    reg.reserve(key, &reservation)?;
    crate::timing::mark("registry row (durable)");
    guard.commit()?;
    crate::timing::mark("journal record removed");
    let note = created_note(key, &c, &req.task_type, &carried, &made.notes);
    Ok(Provisioned {
        status: ProvisionStatus::Created,
        task_key: key.key(),
        path: reservation.worktree_path,
        branch: c.branch,
        base_ref: reservation.base_ref,
        note,
        linked: carried.linked,
        linked_files: carried.linked_files,
        snapshots: carried.snapshots,
        cloned: carried.cloned,
        copied: carried.copied,
    })
}

/// The journal record of a planned creation: everything an undo needs, including the
/// topmost parent directory that does not exist yet (removed again while empty).
fn intent(key: &KeyParts, main: &git2::Repository, c: &Creation) -> Intent {
    let top = c
        .path
        .parent()
        .and_then(|p| p.ancestors().take_while(|a| !a.exists()).last())
        .map(Path::to_path_buf);
    // The name the git CLI will give the admin entry, when it can be told in advance: the
    // record then needs no second durable write once git named it (`Rollback::set_admin`).
    let admin = match git::cli::locate() {
        git::cli::Located::Usable(_) => git::cli::predicted_admin(main, &c.path),
        _ => None,
    };
    Intent {
        task_key: key.key(),
        git_dir: main.path().to_path_buf(),
        path: c.path.clone(),
        admin: admin.unwrap_or_else(|| c.admin.clone()),
        branch: c.branch.clone(),
        base: c.base.to_string(),
        branch_existed: c.branch_existed,
        created_parent: top,
        pid: std::process::id(),
        started_at: crate::registry::now_stamp(),
    }
}

/// The note of a `created` outcome: what was made, what was carried, git's own notes.
fn created_note(
    key: &KeyParts,
    c: &Creation,
    task_type: &str,
    carried: &Carried,
    git_notes: &[String],
) -> String {
    let base = c.base.to_string();
    let made = if c.branch_existed {
        "recreated on its existing branch (commits kept) at"
    } else {
        "created at"
    };
    let mut note = format!(
        "{} {made} {} on branch {} (base {}; phase {task_type})",
        kind(key),
        c.path.display(),
        c.branch,
        &base[..base.len().min(12)]
    );
    note.push_str(&carried.describe());
    for n in git_notes {
        note.push_str("; ");
        note.push_str(n);
    }
    note
}
