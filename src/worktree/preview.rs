//! Planning a provision: which path, branch and base a request gets and what the outcome
//! will be, read from the registry, the journal and git without changing anything.
//! [`preview`] exposes it (the wizard shows it before confirming); [`provision`] runs the
//! same plan, so what was shown is what happens.
//!
//! [`provision`]: super::provision

use std::path::{Path, PathBuf};

use git2::{Oid, Repository};
use serde::Serialize;

use super::git;
use super::journal::{self, Intent, Op};
use super::provision::{admin_name, key_of, kind, ProvisionRequest, ProvisionStatus};
use super::WorktreeError;
use crate::context::Context;
use crate::error::InvalidArg;
use crate::ids::{self, KeyParts};
use crate::registry::{Registry, WorktreeEntry};

/// What [`provision`](super::provision) would do for a request, with no change made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionPreview {
    /// The status provisioning would return.
    pub status: ProvisionStatus,
    pub path: String,
    pub branch: String,
    /// The full commit id the worktree starts from (empty when skipped).
    pub base_ref: String,
    /// One readable line: what would happen (created, reused, reactivated, recreated on the
    /// key's own branch, an unfinished provisioning undone first, …).
    pub note: String,
}

/// How a request starts: skipped, or a key in a repository.
pub(super) enum Start {
    Skip(ProvisionStatus, PathBuf, &'static str),
    Repo(KeyParts, Repository),
}

/// Validates the request and finds its repository (the way git does, [`git::find`]):
/// `skipped-not-git` only when git says `project_root` is in no repository;
/// `skipped-in-worktree` only for a plain task key whose `project_root` lies in a worktree
/// okstra made ([`git::is_okstra_worktree`]). Any other checkout — the main worktree, a
/// linked worktree of the user's, a bare repository or a checkout of one — gets its own
/// task worktree.
pub(super) fn start(req: &ProvisionRequest, worktrees_root: &Path) -> Result<Start, WorktreeError> {
    // At the door, before anything runs: a branch git could read as an option (`-m`
    // renames the user's branch) never reaches git.
    if let Some(b) = &req.branch {
        crate::git_arg::check_branch("branch", b)?;
    }
    let key = key_of(req)?;
    let root = &req.project_root;
    if !root.is_dir() {
        return Err(InvalidArg(format!(
            "projectRoot {} is not a directory; pass the project's directory",
            root.display()
        ))
        .into());
    }
    let Some(repo) = git::find(root)? else {
        return Ok(Start::Skip(
            ProvisionStatus::SkippedNotGit,
            root.clone(),
            "worktree provisioning skipped: project_root is not inside a git repository; task \
             will operate directly on project_root",
        ));
    };
    if key.stage.is_none()
        && key.group_id.is_none()
        && git::is_okstra_worktree(&repo, worktrees_root)
    {
        return Ok(Start::Skip(
            ProvisionStatus::SkippedInWorktree,
            root.clone(),
            "worktree provisioning skipped: project_root is already inside an okstra task \
             worktree; task reuses the caller's worktree",
        ));
    }
    Ok(Start::Repo(key, repo))
}

/// A new worktree to make.
pub(super) struct Creation {
    pub path: PathBuf,
    pub admin: String,
    pub branch: String,
    pub base: Oid,
    /// What the registry records as `base_ref`.
    pub base_ref: String,
    /// The branch is the key's own (a released entry's): checked out, never deleted.
    pub branch_existed: bool,
    /// Admin entries of this key whose directory is gone, pruned first.
    pub stale_admins: Vec<String>,
    /// The checkout whose shared state is carried ([`carry_source`]).
    pub carry_from: Option<PathBuf>,
}

/// The checkout whose shared state (`.env`, `.project-docs`, copies) a new worktree gets:
/// the main worktree; for a bare repository, which has none, the checkout the request named
/// (`main/` beside `repo.git` or `.bare/`), and nothing when it named the bare directory.
pub(super) fn carry_source(repo: &Repository, main: &Repository) -> Option<PathBuf> {
    if main.is_bare() {
        repo.workdir().map(Path::to_path_buf)
    } else {
        main.workdir().map(Path::to_path_buf)
    }
}

/// What provisioning does for a key without an active entry.
pub(super) enum Action {
    Reuse(WorktreeEntry),
    /// A released entry whose directory is still its worktree on its branch.
    Reactivate(WorktreeEntry, String),
    Create(Creation),
}

/// Plans a key. `pending` is an unfinished provisioning of the key that will be undone
/// first (its path and the branch it created count as free).
pub(super) fn plan(
    req: &ProvisionRequest,
    key: &KeyParts,
    repo: &Repository,
    main: &Repository,
    reg: &Registry,
    pending: Option<&Intent>,
) -> Result<Action, WorktreeError> {
    let own = reg.lookup(key)?;
    if let Some(e) = own.clone().filter(WorktreeEntry::is_active) {
        return Ok(Action::Reuse(e));
    }
    let path = own
        .as_ref()
        .map(|e| PathBuf::from(&e.worktree_path))
        .unwrap_or_else(|| ids::compute_worktree_path(reg.root(), key));
    let made_by_pending = pending.is_some_and(|p| p.path == path);
    if path.symlink_metadata().is_ok() && !made_by_pending {
        if let Some(e) = &own {
            if let Some(admin) = git::admin_name_at(main, &path) {
                if git::head_branch(&path).as_deref() == Some(e.branch.as_str()) {
                    return Ok(Action::Reactivate(e.clone(), admin));
                }
            }
        }
        return Err(WorktreeError::PathExists {
            detail: match &own {
                Some(e) => format!(
                    "the registry's released entry for {} expects a worktree of this \
                     repository on branch {} there, and it is not one",
                    key.key(),
                    e.branch
                ),
                None => format!("no registry entry owns it (key {})", key.key()),
            },
            path,
        });
    }
    let stale_admins = stale_admins(main, key, &path)?;
    let (branch, branch_existed) = choose_branch(req, key, main, reg, own.as_ref(), pending)?;
    let (base, base_ref) = if branch_existed {
        let tip = main
            .refname_to_id(&format!("refs/heads/{branch}"))
            .map_err(crate::error::git_err("resolve branch", main.path()))?;
        let recorded = own
            .as_ref()
            .map(|e| e.base_ref.clone())
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| tip.to_string());
        (tip, recorded)
    } else {
        let base = git::resolve_base(repo, main, req.base_ref.as_deref())?;
        (base, base.to_string())
    };
    Ok(Action::Create(Creation {
        path,
        admin: admin_name(key),
        branch,
        base,
        base_ref,
        branch_existed,
        stale_admins,
        carry_from: carry_source(repo, main),
    }))
}

/// Admin entries git keeps for this key (by okstra's name for it, or at its path) whose
/// directory is gone. One locked with a reason that is not okstra's is the user's:
/// `E_WORKTREE_STALE`.
fn stale_admins(
    main: &Repository,
    key: &KeyParts,
    path: &Path,
) -> Result<Vec<String>, WorktreeError> {
    let mut names = vec![admin_name(key)];
    if let Some(n) = git::admin_name_at(main, path) {
        names.push(n);
    }
    names.dedup();
    let mut stale = Vec::new();
    for name in names {
        let Ok(wt) = main.find_worktree(&name) else {
            continue;
        };
        if wt.path().exists() && wt.path() != path {
            return Err(WorktreeError::StaleWorktree {
                name,
                path: wt.path().to_path_buf(),
            });
        }
        let foreign_lock = matches!(
            wt.is_locked(),
            Ok(git2::WorktreeLockStatus::Locked(Some(r))) if !r.starts_with(git::LOCK_REASON_PREFIX)
        );
        if foreign_lock {
            return Err(WorktreeError::StaleWorktree {
                name,
                path: wt.path().to_path_buf(),
            });
        }
        stale.push(name);
    }
    Ok(stale)
}

/// The branch names a key may get, in order of preference: `<prefix>-<task>…`, then, when
/// another okstra key owns that, the group-qualified `<prefix>-<group>-<task>…`. An explicit
/// `branch` is the only candidate.
pub fn branch_candidates(
    work_category: &str,
    key: &KeyParts,
    explicit: Option<&str>,
) -> Result<Vec<String>, InvalidArg> {
    if let Some(b) = explicit {
        return Ok(vec![b.to_string()]);
    }
    let plain = ids::compute_branch_name(
        work_category,
        &key.task_id,
        key.stage,
        key.group_id.as_deref(),
    )?;
    let qualified = ids::compute_branch_name(
        work_category,
        &format!("{}-{}", key.task_group, key.task_id),
        key.stage,
        key.group_id.as_deref(),
    )?;
    Ok(vec![plain, qualified])
}

fn choose_branch(
    req: &ProvisionRequest,
    key: &KeyParts,
    main: &Repository,
    reg: &Registry,
    own: Option<&WorktreeEntry>,
    pending: Option<&Intent>,
) -> Result<(String, bool), WorktreeError> {
    let made_by_pending = |b: &str| pending.is_some_and(|p| p.branch == b && !p.branch_existed);
    let exists = |b: &str| git::branch_exists(main, b) && !made_by_pending(b);
    // Re-entry: the key's own branch, when it is still there.
    if let Some(e) = own {
        let wanted = req.branch.as_deref().is_none_or(|b| b == e.branch);
        if wanted && exists(&e.branch) {
            return Ok((e.branch.clone(), true));
        }
    }
    let rows = reg.list(None, None)?;
    let me = key.key();
    let in_flight: Vec<Intent> = journal::list(reg, Op::Provision)
        .iter()
        .filter_map(|f| journal::read::<Intent>(f).ok().flatten())
        .filter(|p| p.task_key != me && !p.branch_existed)
        .collect();
    let candidates = branch_candidates(&req.work_category, key, req.branch.as_deref())?;
    let last = candidates.len() - 1;
    for (i, cand) in candidates.into_iter().enumerate() {
        let owner = rows
            .iter()
            .filter(|e| e.branch == cand && e.task_key != me)
            .min_by_key(|e| !e.is_active())
            .map(|o| (o.task_key.clone(), o.status))
            // Another key still making this branch (its record stays until its row is
            // written; the repository lock no longer covers its copies) owns it too.
            .or_else(|| {
                in_flight
                    .iter()
                    .find(|p| p.branch == cand)
                    .map(|p| (p.task_key.clone(), crate::registry::EntryStatus::Active))
            });
        if let Some((owner, status)) = owner {
            if i < last {
                continue;
            }
            return Err(WorktreeError::BranchTaken {
                branch: cand,
                owner,
                status,
            });
        }
        if exists(&cand) {
            let made = if git::okstra_created_at(main, &cand).is_some() {
                "was created by okstra but no registry entry owns it (`okstra registry \
                 doctor` lists it; `okstra registry repair` deletes it while it still points \
                 where it was created)"
            } else {
                "was not created by okstra"
            };
            return Err(WorktreeError::BranchExists {
                branch: cand,
                detail: made.into(),
            });
        }
        return Ok((cand, false));
    }
    unreachable!("branch_candidates returns at least one name")
}

/// What [`provision`](super::provision) would do for `req`: the same checks, the same
/// path, branch and base, and the same errors, with nothing changed (no lock is taken, so
/// a concurrent call may change the answer).
///
/// Errors: those of `provision` that come before any change (`E_INVALID_ARG`,
/// `E_PATH_EXISTS`, `E_BRANCH_EXISTS`, `E_BRANCH_OWNED`, `E_UNKNOWN_REF`,
/// `E_WORKTREE_STALE`, `E_GIT`, `E_REGISTRY_CORRUPT`).
pub fn preview(ctx: &Context, req: &ProvisionRequest) -> Result<ProvisionPreview, WorktreeError> {
    let reg = Registry::open(ctx);
    let (key, repo) = match start(req, reg.root())? {
        Start::Skip(status, root, note) => {
            return Ok(ProvisionPreview {
                status,
                path: root.to_string_lossy().into_owned(),
                branch: String::new(),
                base_ref: String::new(),
                note: note.into(),
            })
        }
        Start::Repo(key, repo) => (super::provision::entry_key(&reg, req, key)?, repo),
    };
    let main = git::open_main(&repo)?;
    let pending: Option<Intent> =
        journal::read(&journal::file(&reg, Op::Provision, &key.key())).unwrap_or(None);
    let first = if pending.is_some() {
        "an unfinished provisioning of this key would be undone first; "
    } else {
        ""
    };
    let what = kind(&key);
    let out = match plan(req, &key, &repo, &main, &reg, pending.as_ref())? {
        Action::Reuse(e) => ProvisionPreview {
            status: ProvisionStatus::Reused,
            note: format!(
                "{what} would be reused at {} on branch {}",
                e.worktree_path, e.branch
            ),
            path: e.worktree_path,
            branch: e.branch,
            base_ref: e.base_ref,
        },
        Action::Reactivate(e, _) => ProvisionPreview {
            status: ProvisionStatus::Reused,
            note: format!(
                "{first}{what} would be reactivated at {} on branch {} (released entry; its \
                 directory is still the worktree)",
                e.worktree_path, e.branch
            ),
            path: e.worktree_path,
            branch: e.branch,
            base_ref: e.base_ref,
        },
        Action::Create(c) => ProvisionPreview {
            status: ProvisionStatus::Created,
            note: if c.branch_existed {
                format!(
                    "{first}{what} would be recreated at {} on its existing branch {} (its \
                     commits kept)",
                    c.path.display(),
                    c.branch
                )
            } else {
                format!(
                    "{first}{what} would be created at {} on new branch {} from {}",
                    c.path.display(),
                    c.branch,
                    c.base
                )
            },
            path: c.path.to_string_lossy().into_owned(),
            branch: c.branch,
            base_ref: c.base_ref,
        },
    };
    Ok(out)
}
