//! The git side of provisioning: finding the repository and its main worktree, resolving
//! the base, creating branch + worktree, git's worktree lock, and removal.
//!
//! Creation goes through the git CLI ([`cli`]: `git worktree add`, so hooks, filters
//! including LFS, `working-tree-encoding` and sparse checkout behave exactly as git's) when
//! a git ≥ [`cli::MIN_VERSION`] is on `PATH`, and through libgit2 ([`lib2`]) otherwise,
//! which refuses or notes what it cannot do. Everything else (lookups, removal, locks) is
//! libgit2 in-process.

pub(crate) mod cli;
mod discover;

mod lib2;

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use git2::{BranchType, ErrorCode, Oid, Repository, WorktreeLockStatus};

use super::WorktreeError;
use crate::error::git_err;

/// Prefix of the lock reason okstra writes; `release` only removes locks it wrote.
pub const LOCK_REASON_PREFIX: &str = "okstra task ";

/// How long a git call is retried while one of git's lock files (`config.lock`,
/// `index.lock`, a ref's `.lock`) is held by another process.
const GIT_LOCK_RETRY: Duration = Duration::from_secs(10);

pub use discover::{find, require};

/// The repository containing `path`, or `None` when `path` is not inside one or cannot be
/// opened (for lookups that only report; provisioning uses [`find`], which tells the two
/// apart).
pub fn discover(path: &Path) -> Option<Repository> {
    find(path).ok().flatten()
}

/// The main repository (the one owning the common git dir) of `repo`.
pub fn open_main(repo: &Repository) -> Result<Repository, WorktreeError> {
    if !repo.is_worktree() {
        return Ok(Repository::open(repo.path()).map_err(git_err("open", repo.path()))?);
    }
    Ok(Repository::open(repo.commondir()).map_err(git_err("open", repo.commondir()))?)
}

/// The main worktree's directory (the common git dir itself for a bare repository).
pub fn workdir_of_main(main: &Repository) -> PathBuf {
    main.workdir()
        .unwrap_or_else(|| main.path())
        .to_path_buf()
        .components()
        .collect()
}

/// Whether `repo` (as found from a project root) is a worktree okstra made: a linked
/// worktree whose top directory lies under the worktrees root `worktrees_root`, or which git
/// has locked with okstra's reason (`okstra task …`, so another home's worktree counts too).
/// A user's own linked worktree (`git worktree add`, a checkout of a bare repository) is
/// not one.
pub fn is_okstra_worktree(repo: &Repository, worktrees_root: &Path) -> bool {
    if !repo.is_worktree() {
        return false;
    }
    let under_root = repo.workdir().is_some_and(|w| {
        let w = real_path_lenient(w);
        w.starts_with(real_path_lenient(worktrees_root))
    });
    under_root
        || git2::Worktree::open_from_repository(repo).is_ok_and(|wt| {
            matches!(wt.is_locked(),
                Ok(WorktreeLockStatus::Locked(Some(r))) if r.starts_with(LOCK_REASON_PREFIX))
        })
}

/// Whether `path` lies inside a linked (non-main) worktree. `false` outside git.
pub fn is_inside_linked_worktree(path: &Path) -> bool {
    discover(path).is_some_and(|r| r.is_worktree())
}

/// The main worktree of the repository containing `path`; `path` itself when it is not
/// inside a git repository (as the Python helper did, so callers can use the result as a
/// root either way).
pub fn main_worktree_path(path: &Path) -> Result<PathBuf, WorktreeError> {
    match find(path)? {
        None => Ok(path.to_path_buf()),
        Some(repo) => Ok(workdir_of_main(&open_main(&repo)?)),
    }
}

/// Resolves `reference` to a commit. `None` (or blank) is the main worktree's HEAD; a
/// given reference (branch, tag, remote ref, full or short sha, or a relative one such as
/// `HEAD`, `HEAD~2`, `@{-1}`) resolves in `repo`, the worktree the caller named, so `HEAD`
/// from a linked worktree is that worktree's HEAD, as `git rev-parse` there would say.
pub fn resolve_base(
    repo: &Repository,
    main: &Repository,
    reference: Option<&str>,
) -> Result<Oid, WorktreeError> {
    let unknown = |r: &str, in_repo: &Repository| WorktreeError::UnknownRef {
        reference: r.to_string(),
        repo: in_repo.workdir().unwrap_or(in_repo.path()).to_path_buf(),
    };
    match reference.map(str::trim).filter(|r| !r.is_empty()) {
        None => main
            .head()
            .and_then(|h| h.peel_to_commit())
            .map(|c| c.id())
            .map_err(|_| unknown("HEAD", main)),
        Some(r) => repo
            .revparse_single(r)
            .and_then(|o| o.peel_to_commit())
            .map(|c| c.id())
            .map_err(|_| unknown(r, repo)),
    }
}

/// Whether the local branch exists.
pub fn branch_exists(main: &Repository, branch: &str) -> bool {
    main.find_branch(branch, BranchType::Local).is_ok()
}

/// Runs `f` again (with growing pauses) while it fails because one of git's lock files is
/// held by another process, for at most [`GIT_LOCK_RETRY`].
pub fn retry_locked<T>(f: impl FnMut() -> Result<T, git2::Error>) -> Result<T, git2::Error> {
    retry_while(f, is_lock_busy)
}

/// Runs `f` again (with growing pauses) while it fails with an error `busy` accepts, for at
/// most [`GIT_LOCK_RETRY`].
pub(crate) fn retry_while<T, E>(
    mut f: impl FnMut() -> Result<T, E>,
    busy: impl Fn(&E) -> bool,
) -> Result<T, E> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        match f() {
            Err(e) if busy(&e) && start.elapsed() < GIT_LOCK_RETRY => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

fn is_lock_busy(e: &git2::Error) -> bool {
    e.code() == ErrorCode::Locked || e.message().contains(".lock")
}

/// `path` with its longest existing ancestor resolved (`canonicalize` needs the whole path
/// to exist; a worktree whose directory is gone still has to compare equal to what git
/// recorded, which is a real path).
pub fn real_path_lenient(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut cur = path;
    loop {
        if let Ok(real) = cur.canonicalize() {
            return rest.iter().rev().fold(real, |p, c| p.join(c));
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// The admin entry name `.git/worktrees/<name>` git records for a worktree of `main` at
/// `path`, if any, whether or not the directory still exists.
pub fn admin_name_at(main: &Repository, path: &Path) -> Option<String> {
    let want = real_path_lenient(path);
    let names = main.worktrees().ok()?;
    names.iter().filter_map(|n| n.ok().flatten()).find_map(|n| {
        let wt = main.find_worktree(n).ok()?;
        (real_path_lenient(wt.path()) == want).then(|| n.to_string())
    })
}

/// A new branch + worktree: git's admin entry name and what the caller should tell the
/// user (non-empty only on the libgit2 path: what git would have done differently).
#[derive(Debug)]
pub struct Created {
    pub admin: String,
    pub notes: Vec<String>,
}

/// Creates `branch` at `base` and a worktree on it at `path` (whose parent exists and which
/// itself does not), locked in git with reason `okstra task <owner>` (`owner::tag`: key and registry): what
/// `git worktree add --lock --reason … --no-track -b <branch> <path> <base>` run in the main
/// worktree makes. On failure nothing it made is left: the worktree (directory and
/// `.git/worktrees/<admin>`) is removed and the branch deleted again.
///
/// Undo of a success is [`undo_branch_and_worktree`]; the admin entry is also found from
/// the path ([`admin_name_at`]).
pub fn create_branch_and_worktree(
    main: &Repository,
    path: &Path,
    branch: &str,
    base: Oid,
    owner: &str,
) -> Result<Created, WorktreeError> {
    let reason = format!("{LOCK_REASON_PREFIX}{owner}");
    let mut undo = Undo {
        main,
        path,
        branch: Some((branch, base)),
        armed: true,
    };
    let made = match cli::locate() {
        cli::Located::Usable(git) => git
            .worktree_add(main, path, branch, base, &reason, || undo.run())
            .map(|admin| Created {
                admin,
                notes: Vec::new(),
            }),
        other => {
            let notes = lib2::check(main, base, other.why_not())?;
            lib2::add_worktree(main, path, branch, base, &reason)
                .map(|admin| Created { admin, notes })
        }
    }?;
    undo.armed = false;
    Ok(made)
}

/// A rollback guard over a worktree being added at `path` (and, with `branch`, the branch
/// created for it at its base): `run` is also the cleanup between retries, and dropping it
/// armed (a failure, a panic) removes what was made. Disarmed once the worktree stands.
struct Undo<'a> {
    main: &'a Repository,
    path: &'a Path,
    /// The branch made with the worktree and the commit it was made at; `None` when the
    /// worktree checks out an existing branch, which is never touched.
    branch: Option<(&'a str, Oid)>,
    armed: bool,
}

impl Undo<'_> {
    fn run(&self) {
        match self.branch {
            Some((branch, base)) => {
                undo_branch_and_worktree(self.main, None, self.path, branch, base);
            }
            None => remove_worktree_at(self.main, None, self.path),
        }
    }
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.run();
        }
    }
}

/// Undoes [`create_branch_and_worktree`]: removes the worktree git records at `path`
/// (admin entry `admin`, or the one found from the path when `None`: unlocking it, deleting
/// the directory and `.git/worktrees/<admin>`), then deletes `branch` only while it still
/// points at `base` (a branch that moved has work on it). Missing pieces are skipped;
/// nothing fails loudly because this is the rollback path.
pub fn undo_branch_and_worktree(
    main: &Repository,
    admin: Option<&str>,
    path: &Path,
    branch: &str,
    base: Oid,
) {
    remove_worktree_at(main, admin, path);
    if let Ok(mut b) = main.find_branch(branch, BranchType::Local) {
        if b.get().target() == Some(base) {
            let _ = retry_locked(|| b.delete());
        }
    }
}

/// Removes the worktree git records at `path` (admin entry `admin`, or the one found from
/// the path when `None`). A directory git never registered (the add failed before writing
/// its admin entry) is removed only while empty: anything in it is someone else's.
fn remove_worktree_at(main: &Repository, admin: Option<&str>, path: &Path) {
    match admin
        .map(str::to_string)
        .or_else(|| admin_name_at(main, path))
    {
        Some(name) => remove_worktree(main, &name, path),
        None => {
            let _ = std::fs::remove_dir(path);
        }
    }
}

/// Removes worktree `name` at `path` completely: unlocks it, deletes the directory and
/// prunes git's admin entry. Missing pieces are skipped; nothing here fails loudly because
/// it is the rollback path.
pub fn remove_worktree(main: &Repository, name: &str, path: &Path) {
    if let Ok(wt) = main.find_worktree(name) {
        let _ = wt.unlock();
    }
    let _ = std::fs::remove_dir_all(path);
    if let Ok(wt) = main.find_worktree(name) {
        let mut opts = git2::WorktreePruneOptions::new();
        opts.valid(true).locked(true).working_tree(true);
        let _ = wt.prune(Some(&mut opts));
    }
    let admin = main.path().join("worktrees").join(name);
    let _ = std::fs::remove_dir_all(admin);
}

/// Removes the git lock okstra put on the worktree at `path`, if there is one. Locks with
/// another reason (a user's own `git worktree lock`) are left alone. Returns whether a lock
/// was removed.
pub fn unlock_worktree_at(path: &Path) -> Result<bool, WorktreeError> {
    let Some(repo) = discover(path).filter(Repository::is_worktree) else {
        return Ok(false);
    };
    let wt = git2::Worktree::open_from_repository(&repo).map_err(git_err("open", repo.path()))?;
    match wt
        .is_locked()
        .map_err(git_err("worktree lock status", repo.path()))?
    {
        WorktreeLockStatus::Locked(Some(reason)) if reason.starts_with(LOCK_REASON_PREFIX) => {
            wt.unlock()
                .map_err(git_err("worktree unlock", repo.path()))?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Whether the worktree at `path` is still there for git: its directory holds a `.git`
/// file naming an admin entry that exists and points back at it. `rm -rf` of the directory
/// or `git worktree remove` (which removes both) make it false.
pub fn worktree_intact(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path.join(".git")) else {
        return false;
    };
    let Some(admin) = text
        .strip_prefix("gitdir:")
        .map(|t| PathBuf::from(t.trim()))
    else {
        return false;
    };
    let admin = if admin.is_absolute() {
        admin
    } else {
        path.join(admin)
    };
    let Ok(back) = std::fs::read_to_string(admin.join("gitdir")) else {
        return false;
    };
    let back = PathBuf::from(back.trim());
    real_path_lenient(&back) == real_path_lenient(&path.join(".git"))
}

/// The branch checked out in the worktree at `path` (`None` when detached or unreadable).
pub fn head_branch(path: &Path) -> Option<String> {
    let repo = Repository::open(path).ok()?;
    let head = repo.head().ok()?;
    if !head.is_branch() {
        return None;
    }
    head.shorthand().ok().map(str::to_string)
}

/// Reflog message okstra adds to a branch it creates; doctor recognises okstra's own
/// branches by it.
pub const BRANCH_REFLOG_PREFIX: &str = "okstra: provision ";

/// Adds okstra's reflog entry (`okstra: provision <owner>`, at `at`; `owner::tag`) to `branch`, so doctor can
/// tell a branch okstra made from anyone else's. Best effort: a repository without reflogs
/// only loses that hint.
pub fn mark_okstra_branch(main: &Repository, branch: &str, at: Oid, owner: &str) {
    let Ok(sig) = git2::Signature::now("okstra", "okstra@localhost") else {
        return;
    };
    if let Ok(mut log) = main.reflog(&format!("refs/heads/{branch}")) {
        if log
            .append(at, &sig, Some(&format!("{BRANCH_REFLOG_PREFIX}{owner}")))
            .is_ok()
        {
            let _ = retry_locked(|| log.write());
        }
    }
}

/// Whether the reflog of `branch` holds okstra's creation entry; returns the commit it was
/// created at.
pub fn okstra_created_at(main: &Repository, branch: &str) -> Option<Oid> {
    let log = main.reflog(&format!("refs/heads/{branch}")).ok()?;
    let entry = log.iter().find(|e| {
        e.message_bytes()
            .is_some_and(|m| m.starts_with(BRANCH_REFLOG_PREFIX.as_bytes()))
    })?;
    Some(entry.id_new())
}

/// Whether any worktree of the repository (the main one included) has `branch` checked out.
pub fn branch_checked_out(main: &Repository, branch: &str) -> bool {
    let want = format!("ref: refs/heads/{branch}");
    let head_is = |p: PathBuf| std::fs::read_to_string(p).is_ok_and(|h| h.trim() == want);
    if head_is(main.path().join("HEAD")) {
        return true;
    }
    let Ok(dirs) = std::fs::read_dir(main.path().join("worktrees")) else {
        return false;
    };
    dirs.flatten().any(|d| head_is(d.path().join("HEAD")))
}

/// A worktree at `path` (whose parent exists and which itself does not) with the existing
/// local `branch` checked out, locked in git with reason `okstra task <owner>`: the git CLI
/// when usable, else libgit2 (as [`create_branch_and_worktree`]). On failure the worktree
/// it made is removed; the branch is never touched.
pub fn worktree_on_branch(
    main: &Repository,
    path: &Path,
    branch: &str,
    owner: &str,
) -> Result<Created, WorktreeError> {
    // The branch comes from a registry row (a released key's): it reaches git's command
    // line, so it must be a branch name git cannot read as an option, whoever wrote the row.
    crate::git_arg::check_branch("branch", branch)?;
    let reason = format!("{LOCK_REASON_PREFIX}{owner}");
    let tip = main
        .refname_to_id(&format!("refs/heads/{branch}"))
        .map_err(git_err("resolve branch", main.path()))?;
    let mut undo = Undo {
        main,
        path,
        branch: None,
        armed: true,
    };
    let made = match cli::locate() {
        cli::Located::Usable(git) => git
            .worktree_add_at(main, path, branch, None, &reason, || undo.run())
            .map(|admin| Created {
                admin,
                notes: Vec::new(),
            }),
        other => {
            let notes = lib2::check(main, tip, other.why_not())?;
            lib2::add_worktree_on(main, path, branch, &reason).map(|admin| Created { admin, notes })
        }
    }?;
    undo.armed = false;
    Ok(made)
}

/// Locks the worktree `name` in git with okstra's reason for `owner` (`owner::tag`; no-op when locked).
/// Returns a rollback guard: dropped before [`Relock::keep`], it removes the lock this
/// call put (a lock that was already there is never touched).
pub fn lock_worktree(main: &Repository, name: &str, owner: &str) -> Result<Relock, WorktreeError> {
    let wt = main
        .find_worktree(name)
        .map_err(git_err("find worktree", main.path()))?;
    let mut guard = Relock { wt: None };
    if let Ok(WorktreeLockStatus::Locked(_)) = wt.is_locked() {
        return Ok(guard);
    }
    wt.lock(Some(&format!("{LOCK_REASON_PREFIX}{owner}")))
        .map_err(git_err("worktree lock", main.path()))?;
    guard.wt = Some(wt);
    Ok(guard)
}

/// The rollback guard of [`lock_worktree`].
pub struct Relock {
    /// The worktree this call locked; `None` when it was locked already.
    wt: Option<git2::Worktree>,
}

impl Relock {
    /// The operation the lock belongs to finished: keep the lock.
    pub fn keep(mut self) {
        self.wt = None;
    }
}

impl Drop for Relock {
    fn drop(&mut self) {
        if let Some(wt) = self.wt.take() {
            // Best effort: this is the rollback path; doctor reports a lock left behind.
            let _ = retry_locked(|| wt.unlock());
        }
    }
}
