//! The git side of provisioning, through git2: finding the repository and its main
//! worktree, resolving the base, creating branch + worktree (with retries while git's own
//! lock files are busy), git's worktree lock, and removal.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

use git2::build::CheckoutBuilder;
use git2::{
    Binding, BranchType, ErrorCode, Oid, Reference, Repository, Worktree, WorktreeLockStatus,
};
use libgit2_sys as raw;

use super::WorktreeError;

/// Prefix of the lock reason okstra writes; `release` only removes locks it wrote.
pub const LOCK_REASON_PREFIX: &str = "okstra task ";

/// How long a git call is retried while one of git's lock files (`config.lock`,
/// `index.lock`, a ref's `.lock`) is held by another process.
const GIT_LOCK_RETRY: Duration = Duration::from_secs(10);

pub fn git_err<'a>(
    op: &'static str,
    repo: &'a Path,
) -> impl FnOnce(git2::Error) -> WorktreeError + 'a {
    move |e| WorktreeError::Git {
        op,
        repo: repo.to_path_buf(),
        message: e.message().to_string(),
    }
}

/// The repository containing `path`, or `None` when `path` is not inside one.
pub fn discover(path: &Path) -> Option<Repository> {
    Repository::discover(path).ok()
}

/// The main repository (the one owning the common git dir) of `repo`.
pub fn open_main(repo: &Repository) -> Result<Repository, WorktreeError> {
    if !repo.is_worktree() {
        return Repository::open(repo.path()).map_err(git_err("open", repo.path()));
    }
    Repository::open(repo.commondir()).map_err(git_err("open", repo.commondir()))
}

/// The main worktree's directory (the common git dir itself for a bare repository).
pub fn workdir_of_main(main: &Repository) -> PathBuf {
    main.workdir()
        .unwrap_or_else(|| main.path())
        .to_path_buf()
        .components()
        .collect()
}

/// Whether `path` lies inside a linked (non-main) worktree. `false` outside git.
pub fn is_inside_linked_worktree(path: &Path) -> bool {
    discover(path).is_some_and(|r| r.is_worktree())
}

/// The main worktree of the repository containing `path`; `path` itself when it is not
/// inside a git repository (as the Python helper did, so callers can use the result as a
/// root either way).
pub fn main_worktree_path(path: &Path) -> Result<PathBuf, WorktreeError> {
    match discover(path) {
        None => Ok(path.to_path_buf()),
        Some(repo) => Ok(workdir_of_main(&open_main(&repo)?)),
    }
}

/// Resolves `reference` (branch, tag, remote ref, full or short sha; `None` = the main
/// worktree's HEAD) to a commit.
pub fn resolve_base(main: &Repository, reference: Option<&str>) -> Result<Oid, WorktreeError> {
    let unknown = |r: &str| WorktreeError::UnknownRef {
        reference: r.to_string(),
        repo: main.path().to_path_buf(),
    };
    match reference.map(str::trim).filter(|r| !r.is_empty()) {
        None => main
            .head()
            .and_then(|h| h.peel_to_commit())
            .map(|c| c.id())
            .map_err(|_| unknown("HEAD")),
        Some(r) => main
            .revparse_single(r)
            .and_then(|o| o.peel_to_commit())
            .map(|c| c.id())
            .map_err(|_| unknown(r)),
    }
}

/// Whether the local branch exists.
pub fn branch_exists(main: &Repository, branch: &str) -> bool {
    main.find_branch(branch, BranchType::Local).is_ok()
}

/// Runs `f` again (with growing pauses) while it fails because one of git's lock files is
/// held by another process, for at most [`GIT_LOCK_RETRY`].
pub fn retry_locked<T>(mut f: impl FnMut() -> Result<T, git2::Error>) -> Result<T, git2::Error> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        match f() {
            Err(e) if is_lock_busy(&e) && start.elapsed() < GIT_LOCK_RETRY => {
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

/// The admin entry name `.git/worktrees/<name>` git records for a worktree, if any
/// worktree of `main` is registered at `path`.
pub fn admin_name_at(main: &Repository, path: &Path) -> Option<String> {
    let want = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let names = main.worktrees().ok()?;
    names.iter().filter_map(|n| n.ok().flatten()).find_map(|n| {
        let wt = main.find_worktree(n).ok()?;
        let p = wt.path();
        let p = p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        (p == want).then(|| n.to_string())
    })
}

/// Reflog message of a branch okstra creates; doctor recognises okstra's own branches by it.
pub const BRANCH_REFLOG_PREFIX: &str = "okstra: provision ";

/// Creates local `branch` at `base`, with a reflog entry naming `key` (how doctor tells a
/// branch okstra made from anyone else's).
pub fn create_branch(
    main: &Repository,
    branch: &str,
    base: Oid,
    key: &str,
) -> Result<(), WorktreeError> {
    let repo = main.path();
    let msg = format!("{BRANCH_REFLOG_PREFIX}{key}");
    retry_locked(|| main.reference(&format!("refs/heads/{branch}"), base, false, &msg))
        .map_err(git_err("branch", repo))?;
    Ok(())
}

/// Whether the reflog of `branch` starts with okstra's creation entry; returns the commit
/// it was created at.
pub fn okstra_created_at(main: &Repository, branch: &str) -> Option<Oid> {
    let log = main.reflog(&format!("refs/heads/{branch}")).ok()?;
    let first = log.iter().last()?;
    first
        .message_bytes()
        .is_some_and(|m| m.starts_with(BRANCH_REFLOG_PREFIX.as_bytes()))
        .then(|| first.id_new())
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

/// Adds a worktree registered as `name` at `path` with the existing local `branch` checked
/// out, and locks it in git with a reason naming `key`. On failure the half-made worktree
/// is removed again (the branch is the caller's).
pub fn add_worktree(
    main: &Repository,
    name: &str,
    path: &Path,
    branch: &str,
    key: &str,
) -> Result<(), WorktreeError> {
    let repo = main.path();
    let reference = main
        .find_reference(&format!("refs/heads/{branch}"))
        .map_err(git_err("find branch", repo))?;
    let commit = reference
        .peel_to_commit()
        .map_err(git_err("find commit", repo))?;
    let reason = format!("{LOCK_REASON_PREFIX}{key}");
    let filters = needs_filters(main, &commit);
    retry_locked(|| {
        let made = add_checked_out(main, name, path, &reference, filters)
            .and_then(|wt| wt.lock(Some(&reason)));
        if made.is_err() {
            // A half-made worktree would make the retry fail with "already exists".
            remove_worktree(main, name, path);
        }
        made
    })
    .map_err(git_err("worktree add", repo))
}

/// Locks the worktree `name` in git with okstra's reason for `key` (no-op when locked).
pub fn lock_worktree(main: &Repository, name: &str, key: &str) -> Result<(), WorktreeError> {
    let wt = main
        .find_worktree(name)
        .map_err(git_err("find worktree", main.path()))?;
    if let Ok(WorktreeLockStatus::Locked(_)) = wt.is_locked() {
        return Ok(());
    }
    wt.lock(Some(&format!("{LOCK_REASON_PREFIX}{key}")))
        .map_err(git_err("worktree lock", main.path()))
}

/// Whether checking out `commit` may need content filters (line-ending conversion, `ident`,
/// `filter=` drivers): any `.gitattributes` in its tree, `info/attributes`, a global
/// attributes file, or a `core.autocrlf` / `core.eol` / `core.attributesFile` setting.
///
/// Why it matters: with filters on, libgit2 resolves the attribute files of every checked
/// out path, including a `realpath()` of its directory (one `readlink` per path component:
/// 180,000 failed `readlink` calls for 10,000 files); that made provisioning ~1.8× slower
/// than `git worktree add`. Without any attributes source the filters are no-ops, so
/// skipping them writes the same bytes.
fn needs_filters(main: &Repository, commit: &git2::Commit) -> bool {
    if main.path().join("info/attributes").exists() {
        return true;
    }
    let configured = main.config().is_ok_and(|c| {
        ["core.autocrlf", "core.eol", "core.attributesFile"]
            .iter()
            .any(|k| c.get_entry(k).is_ok())
    });
    if configured {
        return true;
    }
    let global = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .is_some_and(|d| d.join("git/attributes").exists());
    if global || Path::new("/etc/gitattributes").exists() {
        return true;
    }
    let Ok(tree) = commit.tree() else {
        return true;
    };
    let mut found = false;
    let walked = tree.walk(git2::TreeWalkMode::PreOrder, |_, entry| {
        if entry.name_bytes() == b".gitattributes" {
            found = true;
            return git2::TreeWalkResult::Abort;
        }
        git2::TreeWalkResult::Ok
    });
    found || walked.is_err()
}

/// `git_worktree_add` with explicit checkout options, which git2's `WorktreeAddOptions`
/// does not expose: a forced checkout (the directory is new, nothing can be clobbered) and,
/// when no attributes apply, no content filters (see [`needs_filters`]).
fn add_checked_out(
    main: &Repository,
    name: &str,
    path: &Path,
    reference: &Reference,
    filters: bool,
) -> Result<Worktree, git2::Error> {
    let c_name = CString::new(name).map_err(|_| git2::Error::from_str("NUL in worktree name"))?;
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| git2::Error::from_str("NUL in worktree path"))?;
    let mut checkout = CheckoutBuilder::new();
    checkout.force().disable_filters(!filters);
    // SAFETY: `opts` is initialised by libgit2's own init function before use; the
    // reference, repository and C strings outlive the call; on success libgit2 hands us an
    // owned `git_worktree` that `Worktree::from_raw` takes over (and frees on drop).
    unsafe {
        let mut opts: raw::git_worktree_add_options = std::mem::zeroed();
        let rc =
            raw::git_worktree_add_options_init(&mut opts, raw::GIT_WORKTREE_ADD_OPTIONS_VERSION);
        if rc < 0 {
            return Err(git2::Error::last_error(rc));
        }
        opts.reference = reference.raw();
        checkout.configure(&mut opts.checkout_options);
        let mut out = std::ptr::null_mut();
        let rc = raw::git_worktree_add(
            &mut out,
            main.raw(),
            c_name.as_ptr(),
            c_path.as_ptr(),
            &opts,
        );
        if rc < 0 {
            return Err(git2::Error::last_error(rc));
        }
        Ok(Worktree::from_raw(out))
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

/// The branch checked out in the worktree at `path` (`None` when detached or unreadable).
pub fn head_branch(path: &Path) -> Option<String> {
    let repo = Repository::open(path).ok()?;
    let head = repo.head().ok()?;
    if !head.is_branch() {
        return None;
    }
    head.shorthand().ok().map(str::to_string)
}
