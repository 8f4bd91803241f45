//! Finding the repository of a directory the way git does: the git CLI is asked first
//! (`git rev-parse`), so its ownership rules (`safe.directory` from every config source,
//! including `GIT_CONFIG_COUNT`/`KEY`/`VALUE`), `GIT_CEILING_DIRECTORIES` and its object
//! formats decide; libgit2 then opens the git dir git named. Only when git itself says
//! "not a git repository" is a directory outside git. A repository git accepts that libgit2
//! cannot open (SHA-256, reftable) is `E_REPO_UNSUPPORTED`, git's ownership refusal is
//! `E_REPO_UNSAFE`: never a skip that would let a task work in the user's checkout.

use std::path::{Path, PathBuf};
use std::sync::Once;

use git2::{ErrorCode, Repository, RepositoryOpenFlags};

use super::cli::{self, RevParse};
use crate::worktree::WorktreeError;

/// libgit2 has its own ownership check, which knows neither `safe.directory` from the
/// environment nor git's rules for root. Once a usable git is there, git decides (every
/// directory okstra starts from is asked to git first), so libgit2's check is switched off
/// for the process.
pub fn trust_git_ownership() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: a libgit2 global option, set once, before this call returns, under a
        // `Once`; it only changes which repositories libgit2 agrees to open.
        let _ = unsafe { git2::opts::set_verify_owner_validation(false) };
    });
}

/// The repository containing `path`: `Ok(None)` only when git says it is not in one.
pub fn find(path: &Path) -> Result<Option<Repository>, WorktreeError> {
    let located = cli::locate();
    crate::timing::mark("locate git (git --version)");
    match located {
        cli::Located::Usable(git) => match git
            .rev_parse(path)
            .inspect(|_| crate::timing::mark("git rev-parse"))?
        {
            RevParse::NotGit => Ok(None),
            RevParse::Dubious(said) => Err(WorktreeError::RepoUnsafe {
                path: path.to_path_buf(),
                said,
            }),
            RevParse::Repo {
                git_dir,
                object_format,
                ..
            } => {
                trust_git_ownership();
                if object_format != "sha1" {
                    return Err(unsupported(
                        path,
                        format!(
                            "its object format is {object_format}; libgit2, which okstra \
                             reads repositories with, only reads sha1"
                        ),
                    ));
                }
                open_git_dir(&git_dir).map(Some).map_err(|e| {
                    unsupported(path, format!("libgit2 cannot open it: {}", e.message()))
                })
            }
        },
        other => match Repository::discover(path) {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) if e.code() == ErrorCode::Owner => Err(WorktreeError::RepoUnsafe {
                path: path.to_path_buf(),
                said: format!(
                    "{} ({}; with git on PATH its safe.directory settings would be asked)",
                    e.message(),
                    other.why_not()
                ),
            }),
            Err(e) => Err(unsupported(
                path,
                format!(
                    "libgit2 cannot open it: {} ({})",
                    e.message(),
                    other.why_not()
                ),
            )),
        },
    }
}

/// The repository of `path` for a command that needs one (handoff, reconcile): [`find`],
/// and a path git says is in no repository is `E_INVALID_ARG` naming the argument `name`.
/// So every door finds a repository as provisioning does, with the same coded refusals
/// (`E_REPO_UNSAFE`, `E_REPO_UNSUPPORTED`).
pub fn require(name: &str, path: &Path) -> Result<Repository, WorktreeError> {
    find(path)?.ok_or_else(|| {
        crate::error::InvalidArg(format!(
            "{name} {} is not inside a git repository; pass a directory of the project's \
             repository",
            path.display()
        ))
        .into()
    })
}

/// Opens exactly the git dir git named (a `.git`, a linked worktree's
/// `.git/worktrees/<name>`, or a bare directory), never searching upwards.
fn open_git_dir(git_dir: &Path) -> Result<Repository, git2::Error> {
    Repository::open_ext(
        git_dir,
        RepositoryOpenFlags::NO_SEARCH,
        std::iter::empty::<&std::ffi::OsStr>(),
    )
}

fn unsupported(path: &Path, why: String) -> WorktreeError {
    WorktreeError::RepoUnsupported {
        path: PathBuf::from(path),
        why,
    }
}
